package io.influence.spark.selfinf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.grad.Preconditioner;
import io.influence.core.tracin.CheckpointGradients;
import io.influence.core.tracin.CheckpointSource;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.tracin.SelfInfluence;
import io.influence.core.tracin.TracInCp;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.SyntheticGradients;
import io.influence.spark.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** SelfInfluenceJob on local[2] against brute-force loops and influence-core's TracInCp.selfInfluence. */
class SelfInfluenceJobTest {

  /** Integer-valued gradients and learning rates 0.25, 0.5, 1: every score is exact in float64. */
  private static final double EXACT = 0;
  /** Against the float64 preconditioned reference (float32 P·g on the executor). */
  private static final double PRECONDITIONED_REL_TOL = 1e-6;

  private static final int N = 50;
  private static final double[] LR = {0.25, 0.5, 1.0};

  @TempDir static Path dir;
  private static SyntheticGradients grads;
  private static Path store;

  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void writeStore() {
    grads = new SyntheticGradients(31, 3, N, true);
    store = dir.resolve("store");
    grads.writeAll(LocalSpark.get(), store, 3);
  }

  private static List<Double> lr() {
    return List.of(LR[0], LR[1], LR[2]);
  }

  private static Map<String, Double> bruteForce() {
    Map<String, Double> s = new HashMap<>();
    for (String id : grads.ids) {
      double total = 0;
      for (int c = 0; c < 3; c++) {
        double sq = 0;
        for (double x : grads.flat(c, id)) {
          sq += x * x;
        }
        total += LR[c] * sq;
      }
      s.put(id, total);
    }
    return s;
  }

  /** Checks scores, quantile = (position in (score, id) order + 1) / n, and the flag on the top ceil(f·n). */
  private static void check(List<Row> rows, Map<String, Double> want, double fraction, double relTol) {
    assertEquals(want.size(), rows.size());
    List<String> order = new ArrayList<>(want.keySet());
    order.sort(Comparator.comparingDouble((String id) -> want.get(id)).thenComparing(id -> id));
    int n = order.size();
    long flagged = (long) Math.ceil(fraction * n - 1e-9);
    Map<String, Row> byId = new HashMap<>();
    for (Row r : rows) {
      byId.put(r.getString(0), r);
    }
    for (int p = 0; p < n; p++) {
      String id = order.get(p);
      Row r = byId.get(id);
      assertEquals(want.get(id), r.getDouble(1), relTol * Math.abs(want.get(id)), id);
      assertEquals((p + 1) / (double) n, r.getDouble(2), 0, "quantile of " + id);
      assertEquals(p >= n - flagged, r.getBoolean(3), "flag of " + id);
    }
    for (int i = 1; i < rows.size(); i++) {
      assertTrue(rows.get(i - 1).getDouble(1) >= rows.get(i).getDouble(1), "rows ordered by score descending");
    }
  }

  @Test
  void run_tracInIdentity_equalsBruteForceAndTracInCpWithTiesById() {
    Map<String, Double> want = bruteForce();
    assertTrue(new HashSet<>(want.values()).size() < N, "the data must contain tied scores for this test to mean much");
    List<Row> rows = SelfInfluenceJob.run(spark, SelfInfluenceSpec.tracIn(store, grads.checkpoints, lr(), null))
        .collectAsList();
    check(rows, want, 0.05, EXACT);
    assertEquals(3, rows.stream().filter(r -> r.getBoolean(3)).count());

    List<CheckpointGradients> cps = new ArrayList<>();
    for (int c = 0; c < 3; c++) {
      List<ExampleGradient> ts = new ArrayList<>();
      for (String id : grads.ids) {
        Map<String, INDArray> m = new HashMap<>();
        for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
          m.put(l.name(), Nd4j.create(grads.grads.get(c).get(id).get(l.name()), new long[] {l.rows(), l.cols()}, 'c')
              .castTo(DataType.DOUBLE));
        }
        ts.add(new ExampleGradient(id, m));
      }
      cps.add(new CheckpointGradients(grads.checkpoints.get(c), LR[c], List.of(), ts));
    }
    SelfInfluence core = TracInCp.selfInfluence(SyntheticGradients.meta("x", 0, 1).layout(), CheckpointSource.of(cps));
    Map<String, Row> byId = new HashMap<>();
    rows.forEach(r -> byId.put(r.getString(0), r));
    for (int t = 0; t < N; t++) {
      assertEquals(core.total()[t], byId.get(core.ids().get(t)).getDouble(1), EXACT, core.ids().get(t));
    }
  }

  @Test
  void run_flagFractions_flagCeilOfFractionTimesN() {
    Map<String, Double> want = bruteForce();
    for (double f : new double[] {0.0, 0.33, 1.0}) {
      List<Row> rows = SelfInfluenceJob.run(spark, new SelfInfluenceSpec(store, grads.checkpoints, lr(), f, null, null))
          .collectAsList();
      check(rows, want, f, EXACT);
    }
  }

  @Test
  void run_partitionsOneAndSeven_sameRows() {
    List<List<Row>> results = new ArrayList<>();
    String before = spark.conf().get("spark.sql.shuffle.partitions");
    for (String p : List.of("1", "7")) {
      spark.conf().set("spark.sql.shuffle.partitions", p);
      spark.conf().set("spark.sql.adaptive.enabled", "false");
      try {
        results.add(SelfInfluenceJob.run(spark, SelfInfluenceSpec.tracIn(store, grads.checkpoints, lr(), null))
            .collectAsList());
      } finally {
        spark.conf().set("spark.sql.shuffle.partitions", before);
        spark.conf().unset("spark.sql.adaptive.enabled");
      }
    }
    assertEquals(results.get(0), results.get(1));
    check(results.get(0), bruteForce(), 0.05, EXACT);
  }

  @Test
  void run_perLayerPreconditioner_equalsBruteForceQuadraticForm() {
    // P(G) = A_l G with a fixed symmetric A_l per layer: score = Σ_i η_i Σ_l ⟨G_l, A_l G_l⟩
    Map<String, double[][]> a = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
      double[][] m = new double[l.rows()][l.rows()];
      for (int i = 0; i < l.rows(); i++) {
        for (int j = 0; j < l.rows(); j++) {
          m[i][j] = i == j ? 2.0 + i : 0.25 / (1 + i + j);
        }
      }
      a.put(l.name(), m);
    }
    Preconditioner.PerCheckpoint p = checkpoint -> Preconditioner.of("test", g -> {
      Map<String, INDArray> out = new HashMap<>();
      g.forEach((layer, x) -> out.put(layer, Nd4j.create(a.get(layer)).castTo(DataType.FLOAT).mmul(x)));
      return out;
    });
    Map<String, Double> want = new HashMap<>();
    for (String id : grads.ids) {
      double total = 0;
      for (int c = 0; c < 3; c++) {
        for (StoreMetadata.Layer l : SyntheticGradients.LAYERS) {
          float[] g = grads.grads.get(c).get(id).get(l.name());
          double[][] m = a.get(l.name());
          for (int r = 0; r < l.rows(); r++) {
            for (int col = 0; col < l.cols(); col++) {
              double pg = 0;
              for (int k = 0; k < l.rows(); k++) {
                pg += m[r][k] * g[k * l.cols() + col];
              }
              total += LR[c] * g[r * l.cols() + col] * pg;
            }
          }
        }
      }
      want.put(id, total);
    }
    List<Row> rows = SelfInfluenceJob.run(spark, new SelfInfluenceSpec(store, grads.checkpoints, lr(), 0.1, p, null))
        .collectAsList();
    check(rows, want, 0.1, PRECONDITIONED_REL_TOL);
  }

  @Test
  void run_withOutput_writesParquetAndSummaryAtomically_secondRunIsNoOp() throws Exception {
    Path out = dir.resolve("self-out");
    List<Row> rows = SelfInfluenceJob.run(spark, SelfInfluenceSpec.tracIn(store, grads.checkpoints, lr(), out))
        .collectAsList();
    check(rows, bruteForce(), 0.05, EXACT);
    List<String> lines = Files.readAllLines(out.resolve(SelfInfluenceJob.SUMMARY_FILE));
    assertEquals(N, lines.size());
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < N; i++) {
      JsonNode n = json.readTree(lines.get(i));
      assertEquals(rows.get(i).getString(0), n.get("train_id").asText());
      assertEquals(rows.get(i).getDouble(1), n.get("score").asDouble(), 0);
      assertEquals(rows.get(i).getDouble(2), n.get("quantile").asDouble(), 0);
      assertEquals(rows.get(i).getBoolean(3), n.get("flagged").asBoolean());
    }
    long stamp = Files.getLastModifiedTime(out.resolve(SelfInfluenceJob.SUMMARY_FILE)).toMillis();
    assertEquals(rows, SelfInfluenceJob.run(spark, SelfInfluenceSpec.tracIn(store, grads.checkpoints, lr(), out))
        .collectAsList());
    assertEquals(stamp, Files.getLastModifiedTime(out.resolve(SelfInfluenceJob.SUMMARY_FILE)).toMillis());
  }

  @Test
  void spec_flagFractionOutsideUnitInterval_fails() {
    var e = assertThrows(IllegalArgumentException.class, () -> new SelfInfluenceSpec(store, grads.checkpoints, lr(), 1.5,
        null, null));
    assertTrue(e.getMessage().contains("flagFraction"), e.getMessage());
  }
}
