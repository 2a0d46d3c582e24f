package io.influence.core.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.TokenFactors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Dense GEMM scores, the per-layer breakdown, block sizes and the low-rank token path, each against a
 * brute-force float64 loop over explicitly formed gradients {@code G = Σ_t g_t a_tᵀ}.
 */
class ScoringEquivalenceTest {

  // one place for tolerances (relative to the largest |score|)
  private static final double FLOAT64_TOLERANCE = 1e-10;
  private static final double FLOAT32_TOLERANCE = 1e-5;

  /** Layers: dOut < dIn, dOut > dIn (bias column), and a square one. */
  private static final List<String> LAYERS = List.of("attn.c_attn", "mlp.c_proj", "mlp.c_fc");
  private static final int[][] SHAPES = {{5, 9}, {11, 4}, {6, 6}};
  private static final int N_QUERY = 3;
  private static final int N_TRAIN = 17;

  private static INDArray gaussian(Random r, int rows, int cols) {
    double[] v = new double[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextGaussian();
    }
    return Nd4j.create(v, new long[] {rows, cols}, 'c');
  }

  /** Token factors of one example: T tokens; the second layer's a has a trailing ones column (bias). */
  private static List<TokenFactors> example(Random r, int tokens) {
    List<TokenFactors> out = new ArrayList<>();
    for (int l = 0; l < LAYERS.size(); l++) {
      INDArray a = gaussian(r, tokens, SHAPES[l][1]);
      if (l == 1) {
        a.putColumn(SHAPES[l][1] - 1, Nd4j.ones(DataType.DOUBLE, tokens, 1));
      }
      out.add(new TokenFactors(LAYERS.get(l), a, gaussian(r, tokens, SHAPES[l][0])));
    }
    return out;
  }

  /** G = Σ_t g_t a_tᵀ by explicit loops. */
  private static Map<String, INDArray> dense(List<TokenFactors> example) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (TokenFactors f : example) {
      double[][] a = f.a().toDoubleMatrix();
      double[][] g = f.g().toDoubleMatrix();
      double[] m = new double[f.dOut() * f.dIn()];
      for (int t = 0; t < f.tokens(); t++) {
        for (int i = 0; i < f.dOut(); i++) {
          for (int j = 0; j < f.dIn(); j++) {
            m[i * f.dIn() + j] += g[t][i] * a[t][j];
          }
        }
      }
      out.put(f.layer(), Nd4j.create(m, new long[] {f.dOut(), f.dIn()}, 'c'));
    }
    return out;
  }

  private static Map<String, INDArray> randomQuery(Random r) {
    Map<String, INDArray> q = new LinkedHashMap<>();
    for (int l = 0; l < LAYERS.size(); l++) {
      q.put(LAYERS.get(l), gaussian(r, SHAPES[l][0], SHAPES[l][1]));
    }
    return q;
  }

  private static double frobenius(INDArray x, INDArray y) {
    double[] a = Nd4j.toFlattened('c', x).toDoubleVector();
    double[] b = Nd4j.toFlattened('c', y).toDoubleVector();
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  private static double bruteForce(Map<String, INDArray> q, Map<String, INDArray> g) {
    double s = 0;
    for (String layer : LAYERS) {
      s += frobenius(q.get(layer), g.get(layer));
    }
    return s;
  }

  private static LayerLayout layout() {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (int l = 0; l < LAYERS.size(); l++) {
      shapes.put(LAYERS.get(l), new long[] {SHAPES[l][0], SHAPES[l][1]});
    }
    return LayerLayout.of(LAYERS, shapes);
  }

  private static List<String> ids(String p, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(p + i);
    }
    return out;
  }

  private record Data(List<Map<String, INDArray>> queries, List<List<TokenFactors>> trainFactors,
      List<Map<String, INDArray>> train, double[][] truth, double scale) {}

  private static Data data(long seed) {
    Random r = new Random(seed);
    List<Map<String, INDArray>> queries = new ArrayList<>();
    for (int q = 0; q < N_QUERY; q++) {
      queries.add(randomQuery(r));
    }
    List<List<TokenFactors>> factors = new ArrayList<>();
    List<Map<String, INDArray>> train = new ArrayList<>();
    for (int t = 0; t < N_TRAIN; t++) {
      List<TokenFactors> f = example(r, 1 + r.nextInt(8));
      factors.add(f);
      train.add(dense(f));
    }
    double[][] truth = new double[N_QUERY][N_TRAIN];
    double scale = 0;
    for (int q = 0; q < N_QUERY; q++) {
      for (int t = 0; t < N_TRAIN; t++) {
        truth[q][t] = bruteForce(queries.get(q), train.get(t));
        scale = Math.max(scale, Math.abs(truth[q][t]));
      }
    }
    return new Data(queries, factors, train, truth, scale);
  }

  private static void assertClose(double[][] expected, double[][] actual, double tolerance, String what) {
    for (int q = 0; q < expected.length; q++) {
      for (int t = 0; t < expected[q].length; t++) {
        assertEquals(expected[q][t], actual[q][t], tolerance, what + " [" + q + "][" + t + "]");
      }
    }
  }

  @Test
  void score_float64Gemm_equalsBruteForce() {
    Data d = data(1);
    double[][] s = PairwiseScores.score(layout(), ids("q", N_QUERY), d.queries(), ids("t", N_TRAIN), d.train());
    assertClose(d.truth(), s, FLOAT64_TOLERANCE * d.scale(), "GEMM");
  }

  @Test
  void score_float32Gemm_equalsBruteForceWithinFloatRounding() {
    Data d = data(2);
    LayerLayout layout = layout();
    INDArray q = layout.toMatrix(ids("q", N_QUERY), d.queries(), DataType.FLOAT, "queries");
    INDArray t = layout.toMatrix(ids("t", N_TRAIN), d.train(), DataType.FLOAT, "train");
    INDArray out = Nd4j.create(DataType.FLOAT, new long[] {N_QUERY, N_TRAIN}, 'f');
    assertTrue(out == PairwiseScores.score(q, t, out), "writes into the preallocated output");
    assertClose(d.truth(), out.toDoubleMatrix(), FLOAT32_TOLERANCE * d.scale(), "float32 GEMM");
  }

  @Test
  void scoreInBlocks_anyBlockSize_equalsOneGemm() {
    Data d = data(3);
    LayerLayout layout = layout();
    INDArray q = layout.toMatrix(ids("q", N_QUERY), d.queries(), DataType.DOUBLE, "queries");
    INDArray t = layout.toMatrix(ids("t", N_TRAIN), d.train(), DataType.DOUBLE, "train");
    for (int block : new int[] {1, 4, 5, N_TRAIN, N_TRAIN + 9}) {
      assertClose(d.truth(), PairwiseScores.scoreInBlocks(q, t, block), FLOAT64_TOLERANCE * d.scale(),
          "block " + block);
    }
  }

  @Test
  void perLayer_breakdown_equalsBruteForcePerLayerAndSumsToTotal() {
    Data d = data(4);
    LayerLayout layout = layout();
    INDArray q = layout.toMatrix(ids("q", N_QUERY), d.queries(), DataType.DOUBLE, "queries");
    INDArray t = layout.toMatrix(ids("t", N_TRAIN), d.train(), DataType.DOUBLE, "train");
    Map<String, INDArray> per = PairwiseScores.perLayer(layout, q, t);
    assertEquals(LAYERS, List.copyOf(per.keySet()));
    double[][] sum = new double[N_QUERY][N_TRAIN];
    for (String layer : LAYERS) {
      double[][] s = per.get(layer).toDoubleMatrix();
      for (int a = 0; a < N_QUERY; a++) {
        for (int b = 0; b < N_TRAIN; b++) {
          double truth = frobenius(d.queries().get(a).get(layer), d.train().get(b).get(layer));
          assertEquals(truth, s[a][b], FLOAT64_TOLERANCE * d.scale(), layer);
          sum[a][b] += s[a][b];
        }
      }
    }
    assertClose(d.truth(), sum, FLOAT64_TOLERANCE * d.scale(), "sum of layers");
  }

  @Test
  void lowRankQuery_fullRank_equalsDenseScores() {
    Data d = data(5);
    for (int q = 0; q < N_QUERY; q++) {
      LowRankQuery lr = LowRankQuery.of("q" + q, LAYERS, d.queries().get(q), 1000);
      for (int l = 0; l < LAYERS.size(); l++) {
        assertEquals(Math.min(SHAPES[l][0], SHAPES[l][1]), lr.rank(LAYERS.get(l)));
      }
      for (int t = 0; t < N_TRAIN; t++) {
        assertEquals(d.truth()[q][t], lr.score("t" + t, d.trainFactors().get(t)), FLOAT64_TOLERANCE * d.scale(),
            "query " + q + " train " + t);
      }
    }
  }

  @Test
  void lowRankQuery_tokenContributions_sumToScoreAndEqualPerTokenBruteForce() {
    Data d = data(6);
    LowRankQuery lr = LowRankQuery.of("q0", LAYERS, d.queries().get(0), 1000);
    for (int t = 0; t < N_TRAIN; t++) {
      List<TokenFactors> f = d.trainFactors().get(t);
      double[] c = lr.tokenContributions("t" + t, f);
      assertEquals(f.get(0).tokens(), c.length);
      double sum = 0;
      for (int k = 0; k < c.length; k++) {
        sum += c[k];
        double truth = 0; // ⟨Q, g_k a_kᵀ⟩ over layers
        for (TokenFactors lf : f) {
          INDArray gk = lf.g().getRow(k).reshape(lf.dOut(), 1);
          INDArray ak = lf.a().getRow(k).reshape(1, lf.dIn());
          truth += frobenius(d.queries().get(0).get(lf.layer()), gk.mmul(ak));
        }
        assertEquals(truth, c[k], FLOAT64_TOLERANCE * d.scale(), "token " + k);
      }
      assertEquals(lr.score("t" + t, f), sum, 1e-12 * d.scale());
      assertEquals(d.truth()[0][t], sum, FLOAT64_TOLERANCE * d.scale());
    }
  }

  @Test
  void lowRankQuery_exactlyLowRankQuery_isReproducedAtThatRank() {
    Random r = new Random(7);
    Map<String, INDArray> q = new LinkedHashMap<>();
    for (int l = 0; l < LAYERS.size(); l++) {
      q.put(LAYERS.get(l), gaussian(r, SHAPES[l][0], 2).mmul(gaussian(r, 2, SHAPES[l][1]))); // rank 2
    }
    LowRankQuery lr = LowRankQuery.of("q", LAYERS, q, 2);
    Map<String, INDArray> approx = lr.dense();
    for (String layer : LAYERS) {
      assertEquals(2, lr.rank(layer));
      double err = q.get(layer).sub(approx.get(layer)).norm2Number().doubleValue();
      assertTrue(err < 1e-10 * q.get(layer).norm2Number().doubleValue(), layer + " error " + err);
    }
  }

  @Test
  void lowRankQuery_truncatedRank_errorFallsWithRankAndBeatsRandomSubspace() {
    Random r = new Random(8);
    INDArray full = gaussian(r, 8, 12);
    Map<String, INDArray> q = Map.of("w", full);
    double previous = Double.POSITIVE_INFINITY;
    for (int rank = 1; rank <= 8; rank++) {
      INDArray approx = LowRankQuery.of("q", List.of("w"), q, rank).dense().get("w");
      double err = full.sub(approx).norm2Number().doubleValue();
      assertTrue(err < previous || rank == 8 && err < 1e-10, "rank " + rank + " error " + err);
      // a random rank-r orthogonal projection P Pᵀ Q does no better than the truncated SVD (Eckart–Young)
      INDArray p = gaussian(r, 8, rank);
      INDArray basis = orthonormalColumns(p);
      double randomErr = full.sub(basis.mmul(basis.transpose()).mmul(full)).norm2Number().doubleValue();
      assertTrue(err <= randomErr + 1e-12, "rank " + rank + ": " + err + " > random " + randomErr);
      previous = err;
    }
  }

  /** Gram–Schmidt on the columns of p. */
  private static INDArray orthonormalColumns(INDArray p) {
    INDArray q = p.dup();
    for (int k = 0; k < q.columns(); k++) {
      INDArray col = q.getColumn(k).dup();
      for (int j = 0; j < k; j++) {
        INDArray prev = q.getColumn(j);
        col.subi(prev.mul(prev.mul(col).sumNumber().doubleValue()));
      }
      q.putColumn(k, col.div(col.norm2Number().doubleValue()));
    }
    return q;
  }

  @Test
  void lowRankQuery_missingLayerInFactors_throwsNamingExample() {
    Data d = data(9);
    LowRankQuery lr = LowRankQuery.of("q0", LAYERS, d.queries().get(0), 2);
    List<TokenFactors> partial = d.trainFactors().get(0).subList(0, 2);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lr.score("doc-42", partial));
    assertTrue(e.getMessage().contains("doc-42"), e.getMessage());
  }

  @Test
  void toMatrix_nanGradient_throwsNamingExampleAndLayer() {
    Data d = data(10);
    Map<String, INDArray> bad = new LinkedHashMap<>(d.train().get(3));
    INDArray w = bad.get("mlp.c_proj").dup();
    w.putScalar(2, 1, Double.NaN);
    bad.put("mlp.c_proj", w);
    List<Map<String, INDArray>> train = new ArrayList<>(d.train());
    train.set(3, bad);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> layout().toMatrix(ids("t", N_TRAIN), train, DataType.FLOAT, "train"));
    assertTrue(e.getMessage().contains("'t3'") && e.getMessage().contains("mlp.c_proj")
        && e.getMessage().contains("[2, 1]"), e.getMessage());
  }
}
