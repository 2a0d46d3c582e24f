package io.influence.core.score;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.Preconditioner;
import io.influence.core.grad.TokenFactors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The wide-row kernels the Spark jobs call (ScoreSplit, SelfInfluenceScorer, BlockScorer.foldWeights) and token
 * attribution (TokenAttribution), each against a naive float64 loop over the same values.
 */
class RowKernelsTest {

  // one place for tolerances: the kernels sum float32 products in float64, as the loops do
  private static final double SUM_TOLERANCE = 1e-12;
  private static final double GEMM_TOLERANCE = 1e-10;
  private static final double FLOAT32_TOLERANCE = 1e-6;

  private static final List<String> LAYERS = List.of("h.0.attn.c_attn", "h.0.mlp.c_proj");
  private static final long[][] SHAPES = {{3, 5}, {4, 2}};
  private static final int C = 3;
  private static final double[] WEIGHTS = {0.5, 2.0, 1.25};

  private static LayerLayout layout() {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (int l = 0; l < LAYERS.size(); l++) {
      shapes.put(LAYERS.get(l), SHAPES[l]);
    }
    return LayerLayout.of(LAYERS, shapes);
  }

  private static float[] row(SplittableRandom r, int n) {
    float[] v = new float[n];
    for (int j = 0; j < n; j++) {
      v[j] = (float) (r.nextDouble() * 2 - 1);
    }
    return v;
  }

  @Test
  void scoreSplit_randomRows_equalsLoopPerCheckpointAndLayerAndBothSumToScore() {
    LayerLayout layout = layout();
    int d = layout.dim();
    SplittableRandom r = new SplittableRandom(21);
    float[] queries = row(r, 2 * C * d);  // two queries; split the second
    float[] train = row(r, C * d);
    ScoreSplit s = ScoreSplit.of(layout, WEIGHTS, queries, C * d, train);
    double total = 0;
    for (int i = 0; i < C; i++) {
      double ckpt = 0;
      for (int j = 0; j < d; j++) {
        ckpt += (double) queries[C * d + i * d + j] * train[i * d + j];
      }
      assertEquals(WEIGHTS[i] * ckpt, s.perCheckpoint()[i], SUM_TOLERANCE, "checkpoint " + i);
      total += WEIGHTS[i] * ckpt;
    }
    for (int l = 0; l < LAYERS.size(); l++) {
      double layer = 0;
      int off = layout.offset(LAYERS.get(l));
      for (int i = 0; i < C; i++) {
        double part = 0;
        for (int j = off; j < off + layout.size(LAYERS.get(l)); j++) {
          part += (double) queries[C * d + i * d + j] * train[i * d + j];
        }
        layer += WEIGHTS[i] * part;
      }
      assertEquals(layer, s.perLayer()[l], SUM_TOLERANCE, LAYERS.get(l));
    }
    assertEquals(total, s.perCheckpoint()[0] + s.perCheckpoint()[1] + s.perCheckpoint()[2], SUM_TOLERANCE);
    assertEquals(total, s.perLayer()[0] + s.perLayer()[1], SUM_TOLERANCE);
  }

  @Test
  void foldWeights_threeCheckpointsTwoQueries_scalesEachCheckpointBlock() {
    float[] q = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6};  // 2 queries x 3 checkpoints x dim 2
    float[] w = BlockScorer.foldWeights(q, 2, WEIGHTS);
    float[] want = new float[q.length];
    for (int j = 0; j < q.length; j++) {
      want[j] = q[j] * (float) WEIGHTS[(j / 2) % C];
    }
    assertArrayEquals(want, w);
    assertEquals(1f, q[0]);  // input untouched
    assertThrows(IllegalArgumentException.class, () -> BlockScorer.foldWeights(new float[7], 2, WEIGHTS));
  }

  @Test
  void selfInfluence_identity_equalsWeightedSumOfSquares() {
    LayerLayout layout = layout();
    int d = layout.dim();
    float[] g = row(new SplittableRandom(22), C * d);
    double want = 0;
    for (int i = 0; i < C; i++) {
      double sq = 0;
      for (int j = i * d; j < (i + 1) * d; j++) {
        sq += (double) g[j] * g[j];
      }
      want += WEIGHTS[i] * sq;
    }
    SelfInfluenceScorer s = new SelfInfluenceScorer(layout, List.of("a", "b", "c"), WEIGHTS, null);
    assertEquals(C * d, s.width());
    assertEquals(want, s.score("x", g), SUM_TOLERANCE);
  }

  @Test
  void selfInfluence_preconditioned_equalsLoopOverLayerwiseQuadraticForm() {
    LayerLayout layout = layout();
    int d = layout.dim();
    float[] g = row(new SplittableRandom(23), C * d);
    // P_i G = (i + 1) · S G per layer, S = the [rows, rows] matrix with 2 on the diagonal and 1 beside it
    Preconditioner.PerCheckpoint p = checkpoint -> Preconditioner.of("test", grad -> {
      Map<String, INDArray> out = new LinkedHashMap<>();
      grad.forEach((layer, x) -> out.put(layer, band(x.rows()).castTo(x.dataType()).mmul(x)
          .muli(1 + List.of("a", "b", "c").indexOf(checkpoint))));
      return out;
    });
    double want = 0;
    double scale = 0;  // Σ |terms|: float32 rounding of P g is relative to it
    for (int i = 0; i < C; i++) {
      double form = 0;
      for (int l = 0; l < LAYERS.size(); l++) {
        int rows = (int) SHAPES[l][0];
        int cols = (int) SHAPES[l][1];
        int off = i * d + layout.offset(LAYERS.get(l));
        for (int a = 0; a < rows; a++) {
          for (int c = 0; c < cols; c++) {
            double pg = 0;
            for (int b = 0; b < rows; b++) {
              pg += (a == b ? 2 : Math.abs(a - b) == 1 ? 1 : 0) * (double) g[off + b * cols + c];
            }
            form += g[off + a * cols + c] * (i + 1) * pg;
            scale += Math.abs(WEIGHTS[i] * g[off + a * cols + c] * (i + 1) * pg);
          }
        }
      }
      want += WEIGHTS[i] * form;
    }
    SelfInfluenceScorer s = new SelfInfluenceScorer(layout, List.of("a", "b", "c"), WEIGHTS, p);
    assertEquals(want, s.score("x", g), FLOAT32_TOLERANCE * scale);  // P runs in float32
  }

  private static INDArray band(long n) {
    INDArray m = Nd4j.zeros(DataType.DOUBLE, n, n);
    for (int a = 0; a < n; a++) {
      m.putScalar(a, a, 2);
      if (a + 1 < n) {
        m.putScalar(a, a + 1, 1);
        m.putScalar(a + 1, a, 1);
      }
    }
    return m;
  }

  @Test
  void selfInfluence_nanGradient_failsNamingExampleAndCheckpoint() {
    LayerLayout layout = layout();
    float[] g = new float[C * layout.dim()];
    g[layout.dim() + 3] = Float.NaN;
    SelfInfluenceScorer s = new SelfInfluenceScorer(layout, List.of("a", "b", "c"), WEIGHTS, null);
    var e = assertThrows(IllegalArgumentException.class, () -> s.score("doc-7", g));
    assertTrue(e.getMessage().contains("'doc-7'") && e.getMessage().contains("'b'") && e.getMessage().contains("HINT"),
        e.getMessage());
  }

  @Test
  void selfInfluence_preconditionerDropsLayer_failsNamingIt() {
    LayerLayout layout = layout();
    SelfInfluenceScorer s = new SelfInfluenceScorer(layout, List.of("a", "b", "c"), WEIGHTS,
        checkpoint -> Preconditioner.of("drops", grad -> Map.of(LAYERS.get(0), grad.get(LAYERS.get(0)))));
    var e = assertThrows(IllegalStateException.class, () -> s.score("doc-8", new float[C * layout.dim()]));
    assertTrue(e.getMessage().contains(LAYERS.get(1)) && e.getMessage().contains("doc-8"), e.getMessage());
  }

  @Test
  void tokenAttribution_perToken_equalsLoopAndSumsToLayerScore() {
    SplittableRandom r = new SplittableRandom(24);
    int t = 6;
    int dIn = 5;
    int dOut = 3;
    double[][] a = new double[t][dIn];
    double[][] g = new double[t][dOut];
    double[][] q = new double[dOut][dIn];
    for (double[][] m : List.of(a, g, q)) {
      for (double[] rowValues : m) {
        for (int j = 0; j < rowValues.length; j++) {
          rowValues[j] = r.nextDouble() * 2 - 1;
        }
      }
    }
    TokenFactors f = new TokenFactors("w", Nd4j.createFromArray(a).castTo(DataType.FLOAT),
        Nd4j.createFromArray(g).castTo(DataType.FLOAT));
    double[] c = TokenAttribution.perToken("doc", f, Nd4j.createFromArray(q));
    double[][] af = f.a().castTo(DataType.DOUBLE).toDoubleMatrix();
    double[][] gf = f.g().castTo(DataType.DOUBLE).toDoubleMatrix();
    double total = 0;
    double layer = 0;
    for (int k = 0; k < t; k++) {
      double want = 0;
      for (int i = 0; i < dOut; i++) {
        for (int j = 0; j < dIn; j++) {
          want += gf[k][i] * q[i][j] * af[k][j];
        }
      }
      assertEquals(want, c[k], GEMM_TOLERANCE, "token " + k);
      total += c[k];
    }
    for (int i = 0; i < dOut; i++) {
      for (int j = 0; j < dIn; j++) {
        double gij = 0;  // G = Σ_t g_t a_tᵀ
        for (int k = 0; k < t; k++) {
          gij += gf[k][i] * af[k][j];
        }
        layer += q[i][j] * gij;
      }
    }
    assertEquals(layer, total, GEMM_TOLERANCE);
    var e = assertThrows(IllegalArgumentException.class,
        () -> TokenAttribution.perToken("doc-9", f, Nd4j.zeros(DataType.DOUBLE, dIn, dOut)));
    assertTrue(e.getMessage().contains("doc-9") && e.getMessage().contains("HINT"), e.getMessage());
  }
}
