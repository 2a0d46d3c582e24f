package io.influence.spark.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.pipeline.Stages;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.store.GradientStore;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.StandaloneCluster;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The shaded application jar on a real standalone cluster (a Master and two Workers on
 * loopback, each its own JVM, started from the Maven jars): the same results as local mode, also
 * when an executor is killed in the middle of extraction.
 */
class StandaloneClusterIT {

  /** One cluster for both tests (starting a Master and two Workers costs tens of seconds); each submits its own app. */
  private static StandaloneCluster cluster;

  @TempDir Path dir;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster = StandaloneCluster.start(2, 1, "1500m");
  }

  @AfterAll
  static void stopCluster() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static Path appJar() {
    Path jar = Path.of("target", "influence-engine.jar").toAbsolutePath();
    assertTrue(Files.isRegularFile(jar), "the application jar " + jar + " is built by `mvn package`");
    return jar;
  }

  @Test
  void inspect_onStandaloneCluster_matchesLocalMode() throws Exception {
    Path corpus = dir.resolve("corpus.jsonl");
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 500; i++) {
      lines.append("{\"id\": \"s").append(i).append("\", \"input_ids\": [").append(i % 7).append(", ").append(i)
          .append("]}\n");
    }
    Files.writeString(corpus, lines);
    String expected = InspectCommand.summary(LocalSpark.get(), corpus);
    String out = submit(cluster, List.of("inspect", "--corpus", corpus.toString()), null);
    String line = out.lines().filter(l -> l.startsWith("{\"corpus\"")).findFirst().orElse("<none>\n" + out);
    assertEquals(expected, line);
    assertTrue(expected.contains("\"rows\":500"), expected);
  }

  @Test
  void run_onClusterWithAnExecutorKilledDuringExtract_givesLocalModeResults() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    // A larger corpus (the same sentences under many ids) so extraction lasts long enough to be interrupted.
    Path corpus = dir.resolve("big.jsonl");
    StringBuilder lines = new StringBuilder();
    for (int copy = 0; copy < 20; copy++) {
      for (int i = 0; i < tiny.texts().size(); i++) {
        lines.append("{\"id\": \"c").append(copy).append("-").append(i).append("\", \"text\": \"")
            .append(tiny.texts().get(i)).append("\"}\n");
      }
    }
    Files.writeString(corpus, lines);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n");
    List<String> common = List.of("--corpus", corpus.toString(), "--run", dir.resolve("run").toString(),
        "--queries", queries.toString(), "-D", "score.top-k=10", "-D", "extract.projection.enabled=false",
        "-D", "extract.batch-size=4", "-D", "extract.partitions=24");

    Path localOut = dir.resolve("local");
    List<String> local = new ArrayList<>(List.of("run", "--master", "local[2]", "--out", localOut.toString()));
    local.addAll(common);
    assertEquals(0, new CommandLine(new InfluenceCommand()).execute(local.toArray(new String[0])));

    Path clusterOut = dir.resolve("cluster");
    List<String> args = new ArrayList<>(List.of("run", "--out", clusterOut.toString()));
    args.addAll(common);
    String log;
    {
      Path store = clusterOut.resolve(Stages.GRADIENTS);
      boolean[] killed = {false};
      log = submit(cluster, args, () -> {
        // Kill one executor once the first checkpoint's extraction is writing, before it is published.
        if (!killed[0] && hasTemporary(store) && GradientStore.checkpoints(store).isEmpty()) {
          List<ProcessHandle> executors = cluster.executors();
          if (!executors.isEmpty()) {
            executors.get(0).destroyForcibly();
            killed[0] = true;
          }
        }
      });
      assertTrue(killed[0], "the test must kill an executor during extraction; log:\n" + log);
      assertTrue(log.contains("extract: wrote"), log);
    }
    assertEquals(ranked(localOut), ranked(clusterOut));
    assertEquals(LocalSpark.get().read().parquet(localOut.resolve(Stages.GRADIENTS).resolve("checkpoint=step-6")
        .toString()).count(), LocalSpark.get().read().parquet(clusterOut.resolve(Stages.GRADIENTS)
        .resolve("checkpoint=step-6").toString()).count());
    assertFalse(hasTemporary(clusterOut.resolve(Stages.GRADIENTS)), () -> "no temporary folder may be left behind;"
        + " the store holds:\n" + listing(clusterOut.resolve(Stages.GRADIENTS)) + "\n---- the run's log ----\n" + log);
  }

  private static List<String> ranked(Path out) {
    List<Row> rows = LocalSpark.get().read().parquet(out.resolve(Stages.SCORES).resolve(ScoreJob.SCORES_FOLDER)
        .toString()).collectAsList();
    return rows.stream().sorted(Comparator.comparing((Row r) -> (String) r.getAs("direction"))
            .thenComparing(r -> (int) r.getAs("rank")))
        .map(r -> r.getAs("direction") + " " + r.getAs("rank") + " " + r.getAs("train_id")
            + String.format(" %.4e", (double) r.getAs("score")))
        .toList();
  }

  private static boolean hasTemporary(Path store) {
    if (!Files.isDirectory(store)) {
      return false;
    }
    try (Stream<Path> s = Files.list(store)) {
      return s.anyMatch(p -> p.getFileName().toString().startsWith("_tmp-"));
    } catch (java.io.IOException e) {
      return false;
    }
  }

  /** The log's error lines and exception messages, without stack frames or repeats. */
  private static String salient(String log) {
    return log.lines().filter(l -> !l.startsWith("\tat ") && !l.startsWith("\t... ")
            && (l.contains("ERROR") || l.contains("Exception") || l.contains("HINT") || l.startsWith("error")))
        .distinct().limit(40).collect(java.util.stream.Collectors.joining("\n"));
  }

  /** Every file under {@code folder} with its size and modification time, for a failure message. */
  private static String listing(Path folder) {
    try (Stream<Path> s = Files.walk(folder)) {
      return s.map(p -> {
        try {
          return folder.relativize(p) + "  " + (Files.isDirectory(p) ? "dir" : Files.size(p) + " B") + "  "
              + Files.getLastModifiedTime(p);
        } catch (java.io.IOException e) {
          return folder.relativize(p) + "  (" + e.getMessage() + ")";
        }
      }).collect(java.util.stream.Collectors.joining("\n"));
    } catch (java.io.IOException e) {
      return "(cannot list " + folder + ": " + e.getMessage() + ")";
    }
  }

  /** Submits the app jar, polling {@code watch} while it runs; returns the log after a zero exit. */
  private String submit(StandaloneCluster cluster, List<String> arguments, Runnable watch) throws Exception {
    // the executors of the other test's application must be gone, so that only this one's can be killed
    long quiet = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!cluster.executors().isEmpty() && System.nanoTime() < quiet) {
      Thread.sleep(100);
    }
    assertTrue(cluster.executors().isEmpty(), "executors of an earlier application are still running");
    Path log = Files.createTempFile(dir, "submit", ".log");
    List<String> all = new ArrayList<>(List.of("--class", InfluenceCommand.class.getName(),
        "--conf", "spark.executor.memory=1g", appJar().toString()));
    all.addAll(arguments);
    Process p = cluster.submit(appJar(), log, all);
    // 24 extraction tasks per checkpoint (extract.partitions), not thousands of 16 KB splits of every stage's input;
    // 480 s leaves room for a loaded machine without hiding a hang
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(480);
    while (p.isAlive() && System.nanoTime() < deadline) {
      if (watch != null) {
        watch.run();
      }
      Thread.sleep(50);
    }
    assertFalse(p.isAlive(), "spark-submit did not finish in 480 s; log: " + log);
    String out = Files.readString(log);
    // the lines that say why first (CI shows the start of a failure message), then the whole log
    assertEquals(0, p.exitValue(), () -> "spark-submit failed:\n" + salient(out) + "\n---- whole log ----\n" + out);
    return out;
  }
}
