package io.influence.core.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link RankOneScaling}: exact on a rank-one scaling (the scaled factors' gradient equals the elementwise-scaled
 * gradient, summed over tokens by hand), and on a general scaling the least-squares fit in log space (its residual
 * is orthogonal to every row and column pattern: each row and column of {@code log S − log r cᵀ} sums to zero).
 */
class RankOneScalingTest {

  @Test
  void apply_onRankOneScaling_givesTheElementwiseScaledGradient() {
    Random rnd = new Random(5);
    int t = 4;
    int dIn = 3;
    int dOut = 2;
    double[] r = {0.5, 40};
    double[] c = {2, 1e-3, 7};
    double[][] s = new double[dOut][dIn];
    for (int i = 0; i < dOut; i++) {
      for (int j = 0; j < dIn; j++) {
        s[i][j] = r[i] * c[j];
      }
    }
    double[][] a = gaussian(rnd, t, dIn);
    double[][] g = gaussian(rnd, t, dOut);
    TokenFactors scaled = RankOneScaling.fit(Nd4j.create(s)).apply(new TokenFactors("l", Nd4j.create(a),
        Nd4j.create(g)));
    for (int i = 0; i < dOut; i++) {
      for (int j = 0; j < dIn; j++) {
        double want = 0;
        double got = 0;
        for (int k = 0; k < t; k++) {
          want += g[k][i] * a[k][j] * s[i][j];
          got += scaled.g().getDouble(k, i) * scaled.a().getDouble(k, j);
        }
        assertEquals(want, got, 1e-12 * Math.abs(want) + 1e-15, "[" + i + ", " + j + "]");
      }
    }
  }

  @Test
  void fit_onGeneralScaling_isTheLogSpaceLeastSquaresFit_andBadEntriesAreRefused() {
    Random rnd = new Random(9);
    int n = 5;
    int m = 4;
    double[][] s = new double[n][m];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < m; j++) {
        s[i][j] = Math.exp(3 * rnd.nextGaussian());
      }
    }
    RankOneScaling f = RankOneScaling.fit(Nd4j.create(s));
    double[] r = f.rowFactors();
    double[] c = f.columnFactors();
    double[] rowSums = new double[n];
    double[] colSums = new double[m];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < m; j++) {
        double residual = Math.log(s[i][j]) - Math.log(r[i] * c[j]);
        rowSums[i] += residual;
        colSums[j] += residual;
      }
    }
    for (double x : rowSums) {
      assertEquals(0, x, 1e-12);
    }
    for (double x : colSums) {
      assertEquals(0, x, 1e-12);
    }
    s[1][2] = 0;
    var e = assertThrows(IllegalArgumentException.class, () -> RankOneScaling.fit(Nd4j.create(s)));
    assertTrue(e.getMessage().contains("[1, 2]"), e.getMessage());
    INDArray wrong = Nd4j.ones(DataType.DOUBLE, 3, 3);
    assertThrows(IllegalArgumentException.class, () -> RankOneScaling.fit(wrong).apply(new TokenFactors("l",
        Nd4j.ones(DataType.DOUBLE, 2, 4), Nd4j.ones(DataType.DOUBLE, 2, 3))));
  }

  private static double[][] gaussian(Random rnd, int rows, int cols) {
    double[][] x = new double[rows][cols];
    for (double[] row : x) {
      for (int j = 0; j < cols; j++) {
        row[j] = rnd.nextGaussian();
      }
    }
    return x;
  }
}
