package io.influence.spark.sgdinfluence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.TrainingLogs;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.TopK;
import io.influence.core.sgdinfluence.LmReplay;
import io.influence.core.train.Initialization;
import io.influence.core.train.LearningRateSchedule;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * SgdInfluenceJob on the real local[2] engine against the core function it wraps (LmReplay.scores,
 * ranked by brute force here), on a tiny GPT-2 trained by our trainer with plain SGD; and its
 * refusals before any Spark work.
 */
class SgdInfluenceJobTest {

  private static final Gpt2Config CONFIG = new Gpt2Config(23, 12, 16, 1, 2, 1e-5, "gelu_new");

  @TempDir Path dir;

  private static List<int[]> corpus(int n, int offset) {
    List<int[]> out = new ArrayList<>();
    for (int i = offset; i < offset + n; i++) {
      int[] s = new int[5 + i % 4];
      for (int t = 0; t < s.length; t++) {
        s[t] = (i + t * (1 + i % 2)) % CONFIG.vocabSize();
      }
      out.add(s);
    }
    return out;
  }

  private Path train(String name, Optimizer optimizer, List<int[]> corpus) {
    Path run = dir.resolve(name);
    CausalLm model = Initialization.gpt2(CONFIG, 5, DataType.FLOAT);
    Trainer.train(model, corpus, new Trainer.Settings(optimizer, LearningRateSchedule.constant(0.1), 3, 4, 3, 0, 3),
        run, Optional.empty(), s -> { });
    return run;
  }

  @Test
  void run_threeQueriesInTwoBlocks_matchesCoreScoresAndRanking() throws Exception {
    List<int[]> corpus = corpus(8, 0);
    Path run = train("sgd", Optimizer.sgd(0), corpus);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < corpus.size(); i++) {
      ids.add("doc-" + i);
    }
    List<int[]> queryTokens = corpus(3, 50);
    List<SgdInfluenceJob.Query> queries = new ArrayList<>();
    for (int q = 0; q < 3; q++) {
      int[] mask = new int[queryTokens.get(q).length];
      for (int t = 2; t < mask.length; t++) {
        mask[t] = 1;   // only the "completion" tokens count
      }
      queries.add(new SgdInfluenceJob.Query("q" + q, queryTokens.get(q), mask));
    }
    long t0 = System.nanoTime();
    SparkSession spark = LocalSpark.get();
    long t1 = System.nanoTime();
    Dataset<Row> rows = SgdInfluenceJob.run(spark, new SgdInfluenceJob.Spec(run, ids, corpus, queries, 3, 2,
        new org.apache.hadoop.fs.Path(dir.resolve("out").toString())));
    List<Row> got = rows.collectAsList();
    System.out.printf("Spark session %.1f s, SgdInfluenceJob %.1f s%n", (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
    assertEquals(3 * 2 * 3, got.size());

    long tc = System.nanoTime();
    LmReplay replay = LmReplay.open(run, corpus);
    double[][] expected = replay.scores(queries.stream().map(SgdInfluenceJob.Query::batch).toList());
    for (int q = 0; q < 3; q++) {
      TopK top = TopK.largest(3);
      TopK bottom = TopK.smallest(3);
      for (int j = 0; j < corpus.size(); j++) {
        top.offer(ids.get(j), expected[q][j]);
        bottom.offer(ids.get(j), expected[q][j]);
      }
      for (String direction : List.of("top", "bottom")) {
        List<TopK.Scored> want = (direction.equals("top") ? top : bottom).result();
        for (int r = 0; r < 3; r++) {
          String query = "q" + q;
          int rank = r + 1;
          Row row = got.stream().filter(x -> x.getString(0).equals(query) && x.getString(1).equals(direction)
              && x.getInt(2) == rank).findFirst().orElseThrow();
          assertEquals(want.get(r).id(), row.getString(3), query + " " + direction + " rank " + rank);
          assertEquals(want.get(r).score(), row.getDouble(4), 1e-12 * Math.abs(want.get(r).score()));
          assertEquals("sgd-influence", row.getString(row.fieldIndex("method")));
        }
      }
    }
    System.out.printf("core replay and comparison %.1f s%n", (System.nanoTime() - tc) / 1e9);
    assertEquals(ScoreJob.SCHEMA.fieldNames().length + 2, rows.schema().fieldNames().length);
    assertTrue(Files.exists(dir.resolve("out").resolve(ScoreJob.SUMMARY_FILE)));

    // the complete output is reused for the same inputs and refused for others
    long t2 = System.nanoTime();
    var out = new org.apache.hadoop.fs.Path(dir.resolve("out").toString());
    assertEquals(got.size(), SgdInfluenceJob.run(spark, new SgdInfluenceJob.Spec(run, ids, corpus, queries, 3, 2, out))
        .count());
    var other = assertThrows(IllegalStateException.class, () -> SgdInfluenceJob.run(spark,
        new SgdInfluenceJob.Spec(run, ids, corpus, queries.subList(0, 2), 3, 2, out)));
    assertTrue(other.getMessage().contains("other inputs") && other.getMessage().contains("HINT"), other.getMessage());
    System.out.printf("reuse checks %.1f s%n", (System.nanoTime() - t2) / 1e9);
  }

  @Test
  void run_adamWRunOrMissingLog_refusedBeforeSparkNamingTheLog() throws Exception {
    List<int[]> corpus = corpus(6, 0);
    Path adam = train("adam", Optimizer.adamW(0.9, 0.99, 1e-8, 0), corpus);
    List<String> ids = List.of("a", "b", "c", "d", "e", "f");
    List<SgdInfluenceJob.Query> queries = List.of(new SgdInfluenceJob.Query("q", corpus.get(0), null));
    var e = assertThrows(IllegalArgumentException.class, () -> SgdInfluenceJob.run(LocalSpark.get(),
        new SgdInfluenceJob.Spec(adam, ids, corpus, queries, 2, 1, null)));
    assertTrue(e.getMessage().contains(TrainingLogs.FILE) && e.getMessage().contains("adamw")
        && e.getMessage().contains("HINT"), e.getMessage());
    Files.delete(adam.resolve(TrainingLogs.FILE));
    var missing = assertThrows(IllegalArgumentException.class, () -> SgdInfluenceJob.run(LocalSpark.get(),
        new SgdInfluenceJob.Spec(adam, ids, corpus, queries, 2, 1, null)));
    assertTrue(missing.getMessage().contains(TrainingLogs.FILE) && missing.getMessage().contains("HINT: retrain"),
        missing.getMessage());
  }
}
