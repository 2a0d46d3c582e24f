package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.model.KroneckerProjection;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** PrincipalProjection against covariances built from known eigenvectors (an independent Gram-Schmidt basis). */
class PrincipalProjectionTest {

  /** Row-major d × d with orthonormal columns, by Gram-Schmidt on Gaussian columns. */
  private static double[] orthonormal(int d, Random rnd) {
    double[][] cols = new double[d][d];
    for (int j = 0; j < d; j++) {
      for (int i = 0; i < d; i++) {
        cols[j][i] = rnd.nextGaussian();
      }
      for (int p = 0; p < j; p++) {
        double dot = 0;
        for (int i = 0; i < d; i++) {
          dot += cols[j][i] * cols[p][i];
        }
        for (int i = 0; i < d; i++) {
          cols[j][i] -= dot * cols[p][i];
        }
      }
      double norm = 0;
      for (int i = 0; i < d; i++) {
        norm += cols[j][i] * cols[j][i];
      }
      for (int i = 0; i < d; i++) {
        cols[j][i] /= Math.sqrt(norm);
      }
    }
    double[] q = new double[d * d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        q[i * d + j] = cols[j][i];
      }
    }
    return q;
  }

  /** Q diag(values) Qᵀ, row-major. */
  private static double[] covariance(double[] q, double[] values, int d) {
    double[] x = new double[d * d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        double s = 0;
        for (int k = 0; k < d; k++) {
          s += q[i * d + k] * values[k] * q[j * d + k];
        }
        x[i * d + j] = s;
      }
    }
    return x;
  }

  @Test
  void rows_areTheTopEigenvectorsLargestFirstWithFixedSign() {
    Random rnd = new Random(5);
    int dIn = 7;
    int dOut = 5;
    double[] qa = orthonormal(dIn, rnd);
    double[] qs = orthonormal(dOut, rnd);
    double[] la = {0.3, 5.0, 0.01, 2.0, 9.0, 0.7, 1.1};   // order: 4, 1, 3, 6, 5, 0, 2
    double[] ls = {4.0, 0.2, 8.0, 1.5, 0.05};              // order: 2, 0, 3, 1, 4
    Covariances c = new Covariances("l", dIn, dOut, covariance(qa, la, dIn), covariance(qs, ls, dOut), 10, 2, 10, 2);
    KroneckerProjection p = PrincipalProjection.of(c, 3, 2, DataType.DOUBLE);
    assertEquals(3, p.kIn());
    assertEquals(2, p.kOut());
    assertRows(p.pIn(), qa, dIn, new int[] {4, 1, 3});
    assertRows(p.pOut(), qs, dOut, new int[] {2, 0});
  }

  private static void assertRows(INDArray p, double[] q, int d, int[] columns) {
    for (int r = 0; r < columns.length; r++) {
      double[] want = new double[d];
      int arg = 0;
      for (int i = 0; i < d; i++) {
        want[i] = q[i * d + columns[r]];
        if (Math.abs(want[i]) > Math.abs(want[arg])) {
          arg = i;
        }
      }
      double sign = want[arg] < 0 ? -1 : 1;
      for (int i = 0; i < d; i++) {
        assertEquals(sign * want[i], p.getDouble(r, i), 1e-10, "row " + r + " entry " + i);
      }
      assertTrue(p.getDouble(r, arg) > 0, "sign: the largest entry is positive");
    }
  }

  @Test
  void fullRank_isARotation_soProjectedInnerProductsAreExact() {
    Random rnd = new Random(8);
    int dIn = 6;
    int dOut = 4;
    double[] la = {1, 2, 3, 4, 5, 6};
    double[] ls = {0.5, 1.5, 2.5, 3.5};
    Covariances c = new Covariances("l", dIn, dOut, covariance(orthonormal(dIn, rnd), la, dIn),
        covariance(orthonormal(dOut, rnd), ls, dOut), 10, 2, 10, 2);
    KroneckerProjection p = PrincipalProjection.of(c, dIn, dOut, DataType.DOUBLE);
    Nd4j.getRandom().setSeed(2);
    INDArray g1 = Nd4j.randn(DataType.DOUBLE, dOut, dIn);
    INDArray g2 = Nd4j.randn(DataType.DOUBLE, dOut, dIn);
    double full = g1.mul(g2).sumNumber().doubleValue();
    double projected = p.projectGradient(g1).mul(p.projectGradient(g2)).sumNumber().doubleValue();
    assertEquals(full, projected, 1e-12 * Math.abs(full) + 1e-12);
  }

  @Test
  void sizesOutsideTheLayerAreRefused() {
    Covariances c = new Covariances("h.0.mlp", 2, 2, new double[] {1, 0, 0, 1}, new double[] {1, 0, 0, 1}, 1, 1, 1, 1);
    var e = assertThrows(IllegalArgumentException.class, () -> PrincipalProjection.of(c, 3, 1, DataType.FLOAT));
    assertTrue(e.getMessage().contains("h.0.mlp") && e.getMessage().contains("kIn=3"), e.getMessage());
  }
}
