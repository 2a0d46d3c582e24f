package io.influence.spark.report.html;

import io.influence.spark.report.Report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

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
   * Renders {@code report} into {@code file} atomically: the document is written to a temporary
   * file in the same folder and renamed over {@code file}, so a reader never sees half a report.
   * Missing parent folders are created.
   */
  public static void write(Report report, Path file) throws IOException {
    java.util.Objects.requireNonNull(file, "report file");
    byte[] bytes = render(report).getBytes(StandardCharsets.UTF_8);
    Path target = file.toAbsolutePath();
    Path dir = target.getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
    try {
      Files.write(tmp, bytes);
      try {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
      } catch (UnsupportedOperationException notPosix) {
        // keep the file system's default permissions
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
