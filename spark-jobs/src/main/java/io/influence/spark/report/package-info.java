/**
 * The report: what a person reads. {@link io.influence.spark.report.ReportBuilder} gathers an output
 * folder (scores, self-influence, token contributions) into the data model; the {@code html}
 * subpackage renders it.
 *
 * <p>Public surface: the data model ({@link io.influence.spark.report.Report},
 * {@link io.influence.spark.report.Provenance}, {@link io.influence.spark.report.CheckpointInfo},
 * {@link io.influence.spark.report.QueryResult}, {@link io.influence.spark.report.RankedSequence},
 * {@link io.influence.spark.report.TokenContribution},
 * {@link io.influence.spark.report.SelfInfluenceSection},
 * {@link io.influence.spark.report.FlaggedSequence}, {@link io.influence.spark.report.MethodRun} (how one score folder
 * was computed), {@link io.influence.spark.report.Agreement} (how far the methods' top-k lists overlap)) — records that
 * validate in their compact
 * constructors (non-null, finite numbers; IllegalArgumentException with a HINT) — and
 * {@link io.influence.spark.report.html.ReportWriter} ({@code render} to a string, {@code write}
 * atomically to a file).
 *
 * <p>The document is one UTF-8 file that opens offline from {@code file://}: inline CSS, inline
 * SVG charts drawn in Java, no JavaScript, no fonts or images from anywhere; collapsible parts use
 * {@code <details>}. Every piece of text from the corpus, the queries, the ids and the settings
 * is HTML-escaped ({@code Html}), and a Content-Security-Policy ({@code default-src 'none';
 * style-src 'unsafe-inline'; img-src data:}) forbids all scripts, so a missed escape still could
 * not run code. Output is deterministic: the same report gives the same bytes (no clock, no
 * default locale, maps in their given order, settings sorted).
 *
 * <p>Sign convention (shown in the report's legend): a positive score means upweighting the
 * training sequence lowers the query loss, i.e. it supports the completion.
 *
 * <p>{@code bin/report-screenshot REPORT.html OUT.png [WIDTHxHEIGHT]} renders a report to PNG
 * with headless Chromium for a quick look.
 */
package io.influence.spark.report;
