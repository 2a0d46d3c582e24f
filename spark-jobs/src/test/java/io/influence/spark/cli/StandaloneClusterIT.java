package io.influence.spark.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.StandaloneCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Submits the shaded application jar to a real standalone cluster (a Master and two Workers on
 * loopback) and checks that it computes what local mode computes.
 */
class StandaloneClusterIT {

  @TempDir Path dir;

  @Test
  void inspect_onStandaloneCluster_matchesLocalMode() throws Exception {
    Path appJar = Path.of("target", "influence-engine.jar").toAbsolutePath();
    assertTrue(Files.isRegularFile(appJar), "the application jar " + appJar + " is built by `mvn package`");
    Path corpus = dir.resolve("corpus.jsonl");
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 500; i++) {
      lines.append("{\"id\": \"s").append(i).append("\", \"input_ids\": [").append(i % 7).append(", ").append(i)
          .append("]}\n");
    }
    Files.writeString(corpus, lines);
    String expected = InspectCommand.summary(LocalSpark.get(), corpus);

    try (StandaloneCluster cluster = StandaloneCluster.start(2, 1, "1g")) {
      Path log = dir.resolve("submit.log");
      Process p = cluster.submit(appJar, log, List.of("--class", InfluenceCommand.class.getName(),
          "--conf", "spark.executor.memory=512m", appJar.toString(), "inspect", "--corpus", corpus.toString()));
      assertTrue(p.waitFor(180, TimeUnit.SECONDS), "spark-submit did not finish; log: " + log);
      String out = Files.readString(log);
      assertEquals(0, p.exitValue(), out);
      String line = out.lines().filter(l -> l.startsWith("{\"corpus\"")).findFirst().orElse("<none>\n" + out);
      assertEquals(expected, line);
      assertTrue(expected.contains("\"rows\":500"), expected);
    }
  }
}
