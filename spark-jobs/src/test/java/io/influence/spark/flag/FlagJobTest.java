package io.influence.spark.flag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.score.BruteForce;
import io.influence.spark.config.FlagSettings.Aggregate;
import io.influence.spark.score.QueryGradient;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.SyntheticGradients;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.io.Locations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** FlagJob on local[2] against a float64 brute force over the same stored gradients and example vectors. */
class FlagJobTest {

  /** Float64 GEMM vs float64 loop over the same float32 inputs: rounding only, far below the 1e-9 asked. */
  private static final double REL_TOL = 1e-9;

  private static final int N_TRAIN = 60;
  private static final double[] LR = {0.01, 0.02, 0.03};

  @TempDir static Path dir;
  private static SyntheticGradients grads;
  private static Path store;
  private static List<QueryGradient> examples;

  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void writeStore() {
    grads = new SyntheticGradients(31, 3, N_TRAIN, false);
    store = dir.resolve("store");
    grads.writeAll(LocalSpark.get(), store, 3);
    SplittableRandom r = new SplittableRandom(32);
    examples = new ArrayList<>();
    for (int e = 0; e < 4; e++) {
      List<Map<String, float[]>> per = new ArrayList<>();
      for (int c = 0; c < 3; c++) {
        Map<String, float[]> m = SyntheticGradients.randomExample(r, false);
        if (e == 0) {   // one example with a gradient 1000x larger: must not dominate the mean
          m.values().forEach(v -> { for (int j = 0; j < v.length; j++) { v[j] *= 1000; } });
        }
        per.add(m);
      }
      examples.add(new QueryGradient("ex-" + e, per));
    }
  }

  private static FlagSpec spec(Aggregate aggregate, org.apache.spark.sql.Dataset<Row> self, double fraction, int topK,
      int blockRows, Path output) {
    return new FlagSpec(Locations.local(store), grads.checkpoints, List.of(LR[0], LR[1], LR[2]), examples, aggregate,
        self, fraction, topK, blockRows, new FlagSpec.Provenance("tracin", null, "examples.jsonl", "abc", null),
        output == null ? null : Locations.local(output));
  }

  /** normalised[t][e] = Σ_c η_c ⟨q_e,c, g_c(t)⟩ / ‖(η_c q_e,c)_c‖, by loops in float64. */
  private static double[][] normalised() {
    double[][] s = new double[N_TRAIN][examples.size()];
    for (int e = 0; e < examples.size(); e++) {
      double sq = 0;
      for (int c = 0; c < 3; c++) {
        for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
          float[] q = examples.get(e).perCheckpoint().get(c).get(l.name());
          sq += LR[c] * LR[c] * BruteForce.dot(q, q);
        }
      }
      for (int t = 0; t < N_TRAIN; t++) {
        double dot = 0;
        for (int c = 0; c < 3; c++) {
          for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
            dot += LR[c] * BruteForce.dot(examples.get(e).perCheckpoint().get(c).get(l.name()),
                grads.grads.get(c).get(grads.ids.get(t)).get(l.name()));
          }
        }
        s[t][e] = dot / Math.sqrt(sq);
      }
    }
    return s;
  }

  private static void assertClose(double want, double got, String what) {
    assertEquals(want, got, REL_TOL * Math.abs(want) + 1e-300, what);
  }

  @Test
  void mean_aggregatesAndRanking_equalBruteForce_andOutputIsPublished() throws Exception {
    Path out = dir.resolve("flag-mean");
    List<Row> rows = FlagJob.run(spark, spec(Aggregate.MEAN, null, 0.1, 0, 7, out)).collectAsList();
    double[][] s = normalised();
    Map<String, Row> byId = new HashMap<>();
    rows.forEach(r -> byId.put(r.getAs("train_id"), r));
    assertEquals(N_TRAIN, byId.size());
    double[] mean = new double[N_TRAIN];
    for (int i = 0; i < N_TRAIN; i++) {
      final int t = i;
      Row r = byId.get(grads.ids.get(t));
      mean[t] = IntStream.range(0, examples.size()).mapToDouble(e -> s[t][e]).sum() / examples.size();
      int arg = IntStream.range(0, examples.size()).boxed().max(Comparator.comparingDouble(e -> s[t][e])).orElseThrow();
      assertClose(mean[t], r.getAs("mean"), "mean of " + grads.ids.get(t));
      assertClose(s[t][arg], r.getAs("max"), "max of " + grads.ids.get(t));
      assertEquals((double) r.getAs("mean"), (double) r.getAs("score"), 0.0);
      assertEquals("ex-" + arg, r.getAs("strongest_example"));
    }
    // ranked by mean, highest first, ties by id as brute force ranks them; the top 10% (6 of 60) flagged
    var want = BruteForce.sorted(grads.ids, mean, true, N_TRAIN);
    for (int i = 0; i < N_TRAIN; i++) {
      Row r = rows.get(i);
      assertEquals(want.get(i).id(), r.getAs("train_id"), "rank " + (i + 1));
      assertEquals(i + 1L, (long) r.getAs("rank"));
      assertEquals((N_TRAIN - i) / (double) N_TRAIN, (double) r.getAs("quantile"), 1e-15);
      assertEquals(i < 6, r.getAs("flagged"), "flag at rank " + (i + 1));
    }
    assertEquals("mean normalised influence on 4 unwanted examples in the top 10% (rank 1 of 60); strongest on example "
        + rows.get(0).getAs("strongest_example"), rows.get(0).getAs("reason"));
    assertTrue(((String) rows.get(6).getAs("reason")).contains("at rank 7 of 60, outside the top 10%"));

    // flagged.jsonl: one object per row with the documented columns; _flag.json: provenance
    List<String> lines = Files.readAllLines(out.resolve(FlagJob.JSON_LINES));
    assertEquals(N_TRAIN, lines.size());
    ObjectMapper json = new ObjectMapper();
    List<String> keys = new ArrayList<>();
    for (Iterator<String> it = json.readTree(lines.get(0)).fieldNames(); it.hasNext(); ) {
      keys.add(it.next());
    }
    assertEquals(List.of(FlagJob.SCHEMA.fieldNames()), keys);
    JsonNode p = json.readTree(out.resolve(FlagJob.PROVENANCE).toFile());
    assertEquals("tracin", p.get("method").asText());
    assertEquals(3, p.get("checkpoints").size());
    assertEquals(6, p.get("flagged").asLong());
    assertEquals("abc", p.get("settings_fingerprint").asText());

    // complete output: reused, not recomputed
    long before = Files.getLastModifiedTime(out.resolve(FlagJob.JSON_LINES)).toMillis();
    assertEquals(N_TRAIN, FlagJob.run(spark, spec(Aggregate.MEAN, null, 0.1, 0, 7, out)).count());
    assertEquals(before, Files.getLastModifiedTime(out.resolve(FlagJob.JSON_LINES)).toMillis());
  }

  @Test
  void unitGradients_aggregatesOfCosines_equalBruteForce_andProvenanceSaysUnit() throws Exception {
    FlagSpec raw = spec(Aggregate.MEAN, null, 0.1, 0, 7, dir.resolve("flag-unit"));
    FlagSpec unit = new FlagSpec(raw.store(), raw.checkpoints(), raw.weights(), raw.examples(), raw.aggregate(), null,
        raw.fraction(), raw.topK(), raw.blockRows(), raw.provenance(), raw.output(), true);
    List<Row> rows = FlagJob.run(spark, unit).collectAsList();
    // cosines by loops: each checkpoint's example and training gradient (all layers) divided by its own norm
    double[][] want = new double[N_TRAIN][examples.size()];
    double weightNorm = Math.sqrt(LR[0] * LR[0] + LR[1] * LR[1] + LR[2] * LR[2]);
    for (int e = 0; e < examples.size(); e++) {
      for (int t = 0; t < N_TRAIN; t++) {
        double sum = 0;
        for (int c = 0; c < 3; c++) {
          double dot = 0;
          double qq = 0;
          double gg = 0;
          for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
            float[] q = examples.get(e).perCheckpoint().get(c).get(l.name());
            float[] g = grads.grads.get(c).get(grads.ids.get(t)).get(l.name());
            dot += BruteForce.dot(q, g);
            qq += BruteForce.dot(q, q);
            gg += BruteForce.dot(g, g);
          }
          sum += LR[c] * dot / Math.sqrt(qq * gg);
        }
        want[t][e] = sum / weightNorm;
      }
    }
    assertEquals(N_TRAIN, rows.size());
    for (Row r : rows) {
      int t = grads.ids.indexOf((String) r.getAs("train_id"));
      double mean = java.util.Arrays.stream(want[t]).sum() / examples.size();
      double max = java.util.Arrays.stream(want[t]).max().orElseThrow();
      assertEquals(mean, (double) r.getAs("mean"), 1e-5, "mean of " + grads.ids.get(t));
      assertEquals(max, (double) r.getAs("max"), 1e-5, "max of " + grads.ids.get(t));
      assertTrue(Math.abs(max) <= 1 + 1e-6, "a weighted mean of cosines lies in [-1, 1]: " + max);
    }
    JsonNode p = new ObjectMapper().readTree(dir.resolve("flag-unit").resolve(FlagJob.PROVENANCE).toFile());
    assertEquals("unit", p.get("gradients").asText());
  }

  @Test
  void max_withTopK_flagsExactlyK_rankedByMax() {
    List<Row> rows = FlagJob.run(spark, spec(Aggregate.MAX, null, 0.5, 5, 1024, null)).collectAsList();
    double[][] s = normalised();
    double[] max = new double[N_TRAIN];
    for (int t = 0; t < N_TRAIN; t++) {
      max[t] = java.util.Arrays.stream(s[t]).max().orElseThrow();
    }
    var want = BruteForce.sorted(grads.ids, max, true, N_TRAIN);
    for (int i = 0; i < N_TRAIN; i++) {
      assertEquals(want.get(i).id(), rows.get(i).getAs("train_id"), "rank " + (i + 1));
      assertClose(want.get(i).score(), rows.get(i).getAs("score"), "score at rank " + (i + 1));
      assertEquals(i < 5, rows.get(i).getAs("flagged"));
    }
    assertTrue(((String) rows.get(0).getAs("reason")).startsWith("max normalised influence over 4 unwanted examples in "
        + "the top 5 (rank 1 of 60)"), (String) rows.get(0).getAs("reason"));
  }

  @Test
  void rankMean_scoreIsTheMeanOfTheAggregateQuantileAndTheSelfInfluenceQuantile() {
    // self-influence quantiles that reverse the id order: the combined score must follow both
    List<Row> self = new ArrayList<>();
    for (int t = 0; t < N_TRAIN; t++) {
      self.add(RowFactory.create(grads.ids.get(t), (N_TRAIN - t) / (double) N_TRAIN));
    }
    StructType schema = new StructType().add("train_id", DataTypes.StringType).add("quantile", DataTypes.DoubleType);
    List<Row> rows = FlagJob.run(spark, spec(Aggregate.MEAN, spark.createDataFrame(self, schema), 0.1, 0, 16, null))
        .collectAsList();
    double[][] s = normalised();
    double[] mean = new double[N_TRAIN];
    for (int t = 0; t < N_TRAIN; t++) {
      mean[t] = java.util.Arrays.stream(s[t]).sum() / examples.size();
    }
    var ascending = BruteForce.sorted(grads.ids, mean, false, N_TRAIN);
    Map<String, Double> qAggregate = new HashMap<>();
    for (int i = 0; i < N_TRAIN; i++) {
      qAggregate.put(ascending.get(i).id(), (i + 1) / (double) N_TRAIN);
    }
    for (Row r : rows) {
      String id = r.getAs("train_id");
      double qSelf = (N_TRAIN - grads.ids.indexOf(id)) / (double) N_TRAIN;
      assertEquals((qAggregate.get(id) + qSelf) / 2, (double) r.getAs("score"), 1e-15, id);
    }
    assertTrue(((String) rows.get(0).getAs("reason")).contains("combined with self-influence"));
  }

  @Test
  void positiveTokens_onAnAdamStore_isRefusedNamingTheSettings() {
    StoreMetadata adam = StoreMetadata.of("step-1", 1, 1.0, null, List.of(new StoreMetadata.Layer("h.0.mlp.c_fc", 2, 3)),
        StoreMetadata.FULL, null, "test").withAdam("0".repeat(64));
    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> TokenFlag.aggregates(
        LocalSpark.get(), LocalSpark.get().emptyDataFrame(), List.of(), List.of(adam), new String[] {"e"},
        new double[6], false));
    assertTrue(e.getMessage().contains("flag.span") && e.getMessage().contains("optimizer-preconditioning"),
        e.getMessage());
  }
}
