package io.influence.spark.report.html;

import io.influence.spark.io.Locations;
import io.influence.spark.report.Report;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Writes a {@link Report} as one self-contained HTML file (UTF-8). See {@link HtmlRenderer} for
 * what the document contains and why it needs no scripts.
 */
public final class ReportWriter {

  private ReportWriter() {}

  /** The report as an HTML document; the same report always gives the same string. */
  public static String render(Report report) {
    java.util.Objects.requireNonNull(report, "report");
    return HtmlRenderer.render(report);
  }

  /**
   * Renders {@code report} into {@code file} (on any Hadoop file system) atomically: the document is written to a
   * temporary file in the same folder and renamed over {@code file}, so a reader never sees half a report. Missing
   * parent folders are created; the file has the permissions of the process's umask.
   */
  public static void write(Report report, Path file, Configuration conf) {
    java.util.Objects.requireNonNull(file, "report file");
    byte[] bytes = render(report).getBytes(StandardCharsets.UTF_8);
    Locations.writeBytes(conf, file, bytes, null);
  }

  /** {@link #write(Report, Path, Configuration)} into a local file. */
  public static void write(Report report, java.nio.file.Path file) throws IOException {
    java.util.Objects.requireNonNull(file, "report file");
    try {
      write(report, Locations.local(file), Locations.conf());
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }
}
