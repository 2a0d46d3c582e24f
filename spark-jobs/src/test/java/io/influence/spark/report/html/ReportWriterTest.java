package io.influence.spark.report.html;

import io.influence.spark.report.Report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportWriterTest {

  @TempDir Path dir;

  @Test
  void write_missingParentFolder_createsItAndLeavesNoTempFile() throws Exception {
    Path file = dir.resolve("out/nested/report.html");
    Report report = SampleReports.realistic();
    ReportWriter.write(report, file);
    assertArrayEquals(ReportWriter.render(report).getBytes(StandardCharsets.UTF_8), Files.readAllBytes(file));
    try (Stream<Path> files = Files.list(file.getParent())) {
      assertEquals(List.of(file), files.toList());
    }
  }

  @Test
  void write_existingFile_replacedWhole() throws Exception {
    Path file = dir.resolve("report.html");
    Files.writeString(file, "x".repeat(10_000_000));
    Report report = SampleReports.hostile("second");
    ReportWriter.write(report, file);
    assertArrayEquals(ReportWriter.render(report).getBytes(StandardCharsets.UTF_8), Files.readAllBytes(file));
  }
}
