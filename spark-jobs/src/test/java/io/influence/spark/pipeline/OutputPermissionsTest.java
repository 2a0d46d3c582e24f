package io.influence.spark.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.report.ReportBuilder;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.train.TrainJob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every file {@code train}, extract, score and the report write has the permissions of the process's umask
 * ({@code 0666 & ~umask}; {@code rw-r--r--} under the usual 022), not {@code rw-------}.
 */
class OutputPermissionsTest {

  @TempDir
  Path dir;

  @Test
  void trainExtractScoreReport_everyFile_hasTheUmasksPermissions() throws Exception {
    Path corpus = dir.resolve("corpus.jsonl");
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      rows.append("{\"id\": \"r").append(i).append("\", \"text\": \"the river runs north ").append(i).append("\"}\n");
    }
    Files.writeString(corpus, rows);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q\", \"prompt\": \"the river\", \"completion\": \" runs\"}\n");
    Map<String, String> o = new LinkedHashMap<>();
    o.put("train.vocab-size", "270");
    o.put("train.context", "16");
    o.put("train.width", "16");
    o.put("train.layers", "1");
    o.put("train.heads", "2");
    o.put("train.steps", "2");
    o.put("train.batch-size", "4");
    o.put("train.checkpoints", "1");
    o.put("input.corpus", corpus.toString());
    o.put("input.queries", queries.toString());
    o.put("input.run", dir.resolve("run").toString());
    o.put("output.dir", dir.resolve("out").toString());
    InfluenceSettings s = Settings.load(Optional.empty(), o);
    TrainJob.run(corpus, dir.resolve("run"), s.train(), s.input().longText(), line -> { });
    SparkSession spark = LocalSpark.get();
    Stages.extract(spark, s);
    Stages.score(spark, s).collectAsList();
    ReportBuilder.write(spark, s);

    int umask = umask();
    Set<PosixFilePermission> expected = permissions(0666 & ~umask);
    List<String> wrong = new ArrayList<>();
    int files = 0;
    for (Path root : List.of(dir.resolve("run"), dir.resolve("out"))) {
      try (Stream<Path> all = Files.walk(root)) {
        for (Path p : (Iterable<Path>) all.filter(Files::isRegularFile)::iterator) {
          files++;
          Set<PosixFilePermission> got = Files.getPosixFilePermissions(p);
          if (!got.equals(expected)) {
            wrong.add(dir.relativize(p) + " " + java.nio.file.attribute.PosixFilePermissions.toString(got));
          }
        }
      }
    }
    assertTrue(files > 10, "train, extract, score and report write files, found " + files);
    assertEquals(List.of(), wrong, "umask " + Integer.toOctalString(umask) + ": every file must be "
        + java.nio.file.attribute.PosixFilePermissions.toString(expected));
  }

  /** The process's umask, from /proc/self/status (Linux). */
  private static int umask() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("Umask:")) {
        return Integer.parseInt(line.substring("Umask:".length()).trim(), 8);
      }
    }
    throw new IllegalStateException("no Umask line in /proc/self/status");
  }

  private static Set<PosixFilePermission> permissions(int mode) {
    Set<PosixFilePermission> out = java.util.EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] bits = PosixFilePermission.values();   // OWNER_READ .. OTHERS_EXECUTE, high bit first
    for (int i = 0; i < bits.length; i++) {
      if ((mode & (1 << (bits.length - 1 - i))) != 0) {
        out.add(bits[i]);
      }
    }
    return out;
  }
}
