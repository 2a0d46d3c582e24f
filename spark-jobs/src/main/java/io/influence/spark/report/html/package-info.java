/**
 * Rendering of a {@link io.influence.spark.report.Report} as one self-contained, escaped HTML
 * document: {@link io.influence.spark.report.html.ReportWriter} is the entry point; the rest
 * (markup escaping, CSS, inline SVG charts, number formats) is private to this package.
 */
package io.influence.spark.report.html;
