package io.influence.spark.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.score.BruteForce;
import io.influence.core.score.TopK;
import io.influence.core.tracin.CheckpointGradients;
import io.influence.core.tracin.CheckpointSource;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.tracin.TracInCp;
import io.influence.core.tracin.TracInScores;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.SyntheticGradients;
import io.influence.spark.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** ScoreJob on local[2] against brute force and against influence-core's single-machine TracInCp. */
class ScoreJobTest {

  /** Score tolerance: float32 GEMM over 3 × 25 products of values in [-1, 1), weights <= 0.03. */
  private static final double SCORE_TOL = 1e-5;
  /** Contributions are float64 sums of float32 products: equal to the float64 reference up to rounding. */
  private static final double CONTRIBUTION_TOL = 1e-12;

  private static final int N_TRAIN = 60;
  private static final double[] LR = {0.01, 0.02, 0.03};

  @TempDir static Path dir;
  private static SyntheticGradients grads;
  private static Path store;
  private static List<QueryGradient> queries;

  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void writeStore() {
    grads = new SyntheticGradients(21, 3, N_TRAIN, false);
    store = dir.resolve("store");
    grads.writeAll(LocalSpark.get(), store, 3);
    SplittableRandom r = new SplittableRandom(22);
    queries = new ArrayList<>();
    for (int q = 0; q < 4; q++) {
      List<Map<String, float[]>> per = new ArrayList<>();
      for (int c = 0; c < 3; c++) {
        per.add(SyntheticGradients.randomExample(r, false));
      }
      queries.add(new QueryGradient("query-" + q, per));
    }
  }

  private static ScoreSpec spec(int k, int block, Path corpus, Path output) {
    return new ScoreSpec(store, grads.checkpoints, List.of(LR[0], LR[1], LR[2]), queries, k, block, "tracin", null, corpus,
        output);
  }

  /** score[q][t] by a double loop over checkpoints and entries. */
  private static double[][] bruteForce() {
    double[][] s = new double[queries.size()][N_TRAIN];
    for (int q = 0; q < queries.size(); q++) {
      for (int t = 0; t < N_TRAIN; t++) {
        for (int c = 0; c < 3; c++) {
          for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
            s[q][t] += LR[c] * BruteForce.dot(queries.get(q).perCheckpoint().get(c).get(l.name()),
                grads.grads.get(c).get(grads.ids.get(t)).get(l.name()));
          }
        }
      }
    }
    return s;
  }

  private static INDArray matrix(StoreMetadata.Layer l, float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return Nd4j.create(d, new long[] {l.rows(), l.cols()}, 'c');
  }

  private static Map<String, INDArray> matrices(Map<String, float[]> m) {
    Map<String, INDArray> out = new HashMap<>();
    for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
      out.put(l.name(), matrix(l, m.get(l.name())));
    }
    return out;
  }

  /** The same scores from influence-core's single-machine TracInCP (float64). */
  private static TracInScores tracInCp() {
    List<CheckpointGradients> cps = new ArrayList<>();
    for (int c = 0; c < 3; c++) {
      List<ExampleGradient> qs = new ArrayList<>();
      for (QueryGradient q : queries) {
        qs.add(new ExampleGradient(q.id(), matrices(q.perCheckpoint().get(c))));
      }
      List<ExampleGradient> ts = new ArrayList<>();
      for (String id : grads.ids) {
        ts.add(new ExampleGradient(id, matrices(grads.grads.get(c).get(id))));
      }
      cps.add(new CheckpointGradients(grads.checkpoints.get(c), LR[c], qs, ts));
    }
    return TracInCp.scores(SyntheticGradients.meta("x", 0, 1).layout(), CheckpointSource.of(cps));
  }

  private static void checkRows(List<Row> rows, int k) {
    double[][] want = bruteForce();
    TracInScores core = tracInCp();
    int kept = Math.min(k, N_TRAIN);
    assertEquals(queries.size() * 2 * kept, rows.size());
    int i = 0;
    for (int q = 0; q < queries.size(); q++) {
      for (String direction : List.of("top", "bottom")) {
        List<TopK.Scored> ref = BruteForce.sorted(grads.ids, want[q], direction.equals("top"), k);
        for (int r = 0; r < kept; r++, i++) {
          Row row = rows.get(i);
          String what = queries.get(q).id() + " " + direction + " rank " + (r + 1);
          assertEquals(queries.get(q).id(), row.getAs("query_id"), what);
          assertEquals(direction, row.getAs("direction"), what);
          assertEquals(r + 1, (int) row.getAs("rank"), what);
          assertEquals(ref.get(r).id(), row.getAs("train_id"), what);
          assertEquals(ref.get(r).score(), (double) row.getAs("score"), SCORE_TOL, what);
          int t = grads.ids.indexOf(ref.get(r).id());
          List<Double> contributions = row.getList(row.fieldIndex("contributions"));
          double sum = 0;
          for (int c = 0; c < 3; c++) {
            assertEquals(core.perCheckpoint()[c][q][t], contributions.get(c), CONTRIBUTION_TOL, what + " ckpt " + c);
            sum += contributions.get(c);
          }
          assertEquals(core.total()[q][t], sum, CONTRIBUTION_TOL, what);
          Map<String, Double> layers = row.getJavaMap(row.fieldIndex("layer_scores"));
          double layerSum = 0;
          for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
            double ref1 = 0;
            for (int c = 0; c < 3; c++) {
              ref1 += LR[c] * BruteForce.dot(queries.get(q).perCheckpoint().get(c).get(l.name()),
                  grads.grads.get(c).get(ref.get(r).id()).get(l.name()));
            }
            assertEquals(ref1, layers.get(l.name()), CONTRIBUTION_TOL, what + " layer " + l.name());
            layerSum += layers.get(l.name());
          }
          assertEquals(sum, layerSum, CONTRIBUTION_TOL);
          assertEquals(grads.checkpoints, row.getList(row.fieldIndex("checkpoints")));
          assertEquals(List.of("sha-step-100", "sha-step-200", "sha-step-300"),
              row.getList(row.fieldIndex("checkpoint_sha256")));
          assertEquals("tracin", row.getAs("method"));
          assertNull(row.getAs("damping"));
          assertEquals("kronecker-gaussian(seed=42)", row.getAs("projection"));
        }
      }
    }
  }

  private void withConf(Map<String, String> conf, Runnable body) {
    Map<String, String> old = new LinkedHashMap<>();
    for (String key : conf.keySet()) {
      old.put(key, spark.conf().getOption(key).isDefined() ? spark.conf().get(key) : null);
      spark.conf().set(key, conf.get(key));
    }
    try {
      body.run();
    } finally {
      old.forEach((key, v) -> {
        if (v == null) {
          spark.conf().unset(key);
        } else {
          spark.conf().set(key, v);
        }
      });
    }
  }

  @Test
  void run_threeCheckpoints_equalsBruteForceAndTracInCpForKBelowAtAbove() {
    for (int k : new int[] {N_TRAIN, N_TRAIN + 5}) {
      checkRows(ScoreJob.run(spark, spec(k, 16, null, null)).collectAsList(), k);
    }
  }

  @Test
  void run_unitGradients_equalsBruteForceCosines() {
    int k = 7;
    List<Row> rows = ScoreJob.run(spark, spec(k, 16, null, null).withUnitGradients(true)).collectAsList();
    double[][] want = new double[queries.size()][N_TRAIN];
    for (int q = 0; q < queries.size(); q++) {
      for (int t = 0; t < N_TRAIN; t++) {
        for (int c = 0; c < 3; c++) {
          Map<String, float[]> qc = queries.get(q).perCheckpoint().get(c);
          Map<String, float[]> tc = grads.grads.get(c).get(grads.ids.get(t));
          double dot = 0;
          double qq = 0;
          double tt = 0;
          for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
            dot += BruteForce.dot(qc.get(l.name()), tc.get(l.name()));
            qq += BruteForce.dot(qc.get(l.name()), qc.get(l.name()));
            tt += BruteForce.dot(tc.get(l.name()), tc.get(l.name()));
          }
          want[q][t] += LR[c] * dot / Math.sqrt(qq * tt);
        }
      }
    }
    int i = 0;
    for (int q = 0; q < queries.size(); q++) {
      for (String direction : List.of("top", "bottom")) {
        List<TopK.Scored> ref = BruteForce.sorted(grads.ids, want[q], direction.equals("top"), k);
        for (int r = 0; r < k; r++, i++) {
          Row row = rows.get(i);
          String what = "unit " + queries.get(q).id() + " " + direction + " rank " + (r + 1);
          assertEquals(ref.get(r).id(), row.getAs("train_id"), what);
          assertEquals(ref.get(r).score(), (double) row.getAs("score"), SCORE_TOL, what);
          List<Double> contributions = row.getList(row.fieldIndex("contributions"));
          assertEquals(ref.get(r).score(), contributions.stream().mapToDouble(Double::doubleValue).sum(), 1e-6, what);
          assertEquals("{\"gradients\":\"unit\"}", row.getAs("solver"), what);
        }
      }
    }
  }

  @Test
  void run_partitionsOneThreeSeven_sameRowsAsBruteForce() {
    for (int p : new int[] {1, 3, 7}) {
      withConf(Map.of("spark.sql.shuffle.partitions", Integer.toString(p), "spark.sql.adaptive.enabled", "false",
          "spark.sql.autoBroadcastJoinThreshold", "-1"), () -> {
            int got = GradientStore.table(spark, store, grads.checkpoints).rows().queryExecution().toRdd()
                .getNumPartitions();
            assertEquals(p, got, "partitions of the joined table");
            checkRows(ScoreJob.run(spark, spec(4, p == 7 ? 1 : 5, null, null)).collectAsList(), 4);
          });
    }
  }

  @Test
  void pass_pruningBeforeEveryNewOffer_keepsExactPartsOfEveryKeptPair() {
    // one partition, one row per block, prune at 1: the parts of offered pairs are cut back to the kept pairs before
    // every new offer (the path a large store takes), and every kept pair must still carry its exact float64 parts
    withConf(Map.of("spark.sql.shuffle.partitions", "1", "spark.sql.adaptive.enabled", "false",
        "spark.sql.autoBroadcastJoinThreshold", "-1"), () -> {
          var table = GradientStore.table(spark, store, grads.checkpoints);
          float[] raw = QueryMatrix.rowMajor(io.influence.spark.io.Locations.local(store), queries,
              table.checkpoints());
          float[] weighted = io.influence.core.score.BlockScorer.foldWeights(raw, table.dim(), LR);
          String[] ids = queries.stream().map(QueryGradient::id).toArray(String[]::new);
          int k = 3;
          KeptPairs kept = ScoreJob.pass(org.apache.spark.api.java.JavaSparkContext.fromSparkContext(
              spark.sparkContext()), table, ids, weighted, raw, LR, k, 1, null, null, 0, 1);
          double[][] want = bruteForce();
          for (int q = 0; q < queries.size(); q++) {
            for (boolean top : new boolean[] {true, false}) {
              List<TopK.Scored> ref = BruteForce.sorted(grads.ids, want[q], top, k);
              List<TopK.Scored> got = (top ? kept.heaps().top() : kept.heaps().bottom())[q].result();
              assertEquals(ref.stream().map(TopK.Scored::id).toList(), got.stream().map(TopK.Scored::id).toList());
              for (TopK.Scored s : got) {
                var parts = kept.parts(q, s.id());
                String what = ids[q] + " " + s.id();
                assertTrue(parts != null, what + " has no parts");
                for (int c = 0; c < 3; c++) {
                  double ref1 = 0;
                  for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
                    ref1 += LR[c] * BruteForce.dot(queries.get(q).perCheckpoint().get(c).get(l.name()),
                        grads.grads.get(c).get(s.id()).get(l.name()));
                  }
                  assertEquals(ref1, parts.perCheckpoint()[c], CONTRIBUTION_TOL, what + " ckpt " + c);
                }
              }
            }
          }
        });
  }

  @Test
  void run_withOutputAndCorpus_writesParquetSummaryAndText_secondRunIsNoOp() throws Exception {
    Path corpus = dir.resolve("corpus.parquet");
    StructType schema = new StructType().add("id", DataTypes.StringType).add("text", DataTypes.StringType);
    List<Row> texts = new ArrayList<>();
    for (String id : grads.ids) {
      texts.add(RowFactory.create(id, "text of " + id));
    }
    spark.createDataFrame(texts, schema).write().parquet(corpus.toString());
    Path out = dir.resolve("scores-out");
    List<Row> rows = ScoreJob.run(spark, spec(5, 8, corpus, out)).collectAsList();
    checkRows(rows, 5);
    for (Row r : rows) {
      assertEquals("text of " + r.getAs("train_id"), r.getAs("text"));
    }
    List<String> lines = Files.readAllLines(out.resolve(ScoreJob.SUMMARY_FILE));
    assertEquals(rows.size(), lines.size());
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < lines.size(); i++) {
      JsonNode n = json.readTree(lines.get(i));
      Row r = rows.get(i);
      assertEquals(r.<String>getAs("query_id"), n.get("query_id").asText());
      assertEquals(r.<String>getAs("train_id"), n.get("train_id").asText());
      assertEquals((double) r.getAs("score"), n.get("score").asDouble(), 0);
      assertEquals(3, n.get("contributions").size());
      assertEquals(r.<String>getAs("text"), n.get("text").asText());
    }
    long stamp = Files.getLastModifiedTime(out.resolve(ScoreJob.SUMMARY_FILE)).toMillis();
    List<Row> again = ScoreJob.run(spark, spec(5, 8, corpus, out)).collectAsList();
    assertEquals(rows, again);
    assertEquals(stamp, Files.getLastModifiedTime(out.resolve(ScoreJob.SUMMARY_FILE)).toMillis());
    try (var s = Files.list(dir)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith("_tmp-")));
    }
  }

  @Test
  void run_queryLayerShapeDiffersFromStore_failsNamingStoreJson() {
    List<Map<String, float[]>> per = new ArrayList<>();
    for (int c = 0; c < 3; c++) {
      Map<String, float[]> m = new HashMap<>(queries.get(0).perCheckpoint().get(c));
      m.put("lm_head", new float[4]);
      per.add(m);
    }
    ScoreSpec bad = new ScoreSpec(store, grads.checkpoints, List.of(1.0, 1.0, 1.0), List.of(new QueryGradient("qx", per)),
        3, 8, "tracin", null, null, null);
    var e = assertThrows(IllegalArgumentException.class, () -> ScoreJob.run(spark, bad));
    assertTrue(e.getMessage().contains("_store.json") && e.getMessage().contains("qx")
        && e.getMessage().contains("lm_head") && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void run_queryWithNaN_failsNamingQueryAndLayer() {
    List<Map<String, float[]>> per = new ArrayList<>();
    for (int c = 0; c < 3; c++) {
      Map<String, float[]> m = new HashMap<>(queries.get(0).perCheckpoint().get(c));
      float[] v = new float[3];
      v[2] = Float.POSITIVE_INFINITY;
      m.put("lm_head", v);
      per.add(m);
    }
    ScoreSpec bad = new ScoreSpec(store, grads.checkpoints, List.of(1.0, 1.0, 1.0), List.of(new QueryGradient("qn", per)),
        3, 8, "tracin", null, null, null);
    var e = assertThrows(IllegalArgumentException.class, () -> ScoreJob.run(spark, bad));
    assertTrue(e.getMessage().contains("qn") && e.getMessage().contains("lm_head"), e.getMessage());
  }

  @Test
  void spec_weightsAndCheckpointsDiffer_failsInConstructor() {
    var e = assertThrows(IllegalArgumentException.class, () -> new ScoreSpec(store, List.of("a", "b"), List.of(1.0),
        queries, 3, 8, "tracin", null, null, null));
    assertTrue(e.getMessage().contains("weights"), e.getMessage());
    var k0 = assertThrows(IllegalArgumentException.class, () -> new ScoreSpec(store, grads.checkpoints,
        List.of(1.0, 1.0, 1.0), List.of(queries.get(0)), 0, 8, "tracin", null, null, null));
    assertTrue(k0.getMessage().contains("k must be >= 1"), k0.getMessage());
  }
}
