package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SymmetricEigenTest {

  private static final double TOL = 1e-10;

  static double[] randomPsd(int n, int rank, Random rnd) {
    double[] b = new double[n * rank];
    for (int i = 0; i < b.length; i++) {
      b[i] = rnd.nextGaussian() * (1 + (i % n));
    }
    double[] x = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int k = 0; k < rank; k++) {
          s += b[i * rank + k] * b[j * rank + k];
        }
        x[i * n + j] = s;
      }
    }
    return x;
  }

  private static double maxAbs(double[] x) {
    double m = 0;
    for (double v : x) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  @Test
  void decompose_randomPsd_reconstructsAndSatisfiesEigenEquations() {
    Random rnd = new Random(7);
    for (int n : new int[] {1, 2, 5, 33}) {
      for (int rank : new int[] {1, n, n + 3}) {
        double[] x = randomPsd(n, rank, rnd);
        SymmetricEigen.Result r = SymmetricEigen.decompose(x, n, "test");
        double scale = maxAbs(x);
        double[] q = r.vectors();
        double[] lam = r.values();
        for (int i = 0; i < n; i++) {
          for (int j = 0; j < n; j++) {
            double rec = 0;
            double orth = 0;
            for (int k = 0; k < n; k++) {
              rec += q[i * n + k] * lam[k] * q[j * n + k];
              orth += q[k * n + i] * q[k * n + j];
            }
            assertEquals(x[i * n + j], rec, TOL * scale, "V Λ Vᵀ = A at (" + i + "," + j + ") n=" + n);
            assertEquals(i == j ? 1.0 : 0.0, orth, TOL, "Vᵀ V = I at (" + i + "," + j + ") n=" + n);
          }
        }
        for (int k = 0; k < n; k++) {
          assertTrue(lam[k] >= 0, "clamped at 0");
          for (int i = 0; i < n; i++) {
            double av = 0;
            for (int j = 0; j < n; j++) {
              av += x[i * n + j] * q[j * n + k];
            }
            assertEquals(lam[k] * q[i * n + k], av, TOL * scale, "A v = λ v, pair " + k + " n=" + n);
          }
        }
      }
    }
  }

  @Test
  void decompose_knownDiagonalAndRotation_givesKnownEigenvalues() {
    // [[2,1],[1,2]] has eigenvalues 1 and 3 with eigenvectors (1,-1)/√2 and (1,1)/√2.
    SymmetricEigen.Result r = SymmetricEigen.decompose(new double[] {2, 1, 1, 2}, 2, "test");
    assertEquals(1.0, r.values()[0], TOL);
    assertEquals(3.0, r.values()[1], TOL);
    assertEquals(Math.abs(r.vectors()[0 * 2 + 1]), Math.sqrt(0.5), TOL);
    assertEquals(r.vectors()[0 * 2 + 1], r.vectors()[1 * 2 + 1], TOL);
  }

  @Test
  void decompose_rankDeficientWithRoundingNegatives_clampsToZero() {
    Random rnd = new Random(3);
    double[] x = randomPsd(20, 2, rnd);
    SymmetricEigen.Result r = SymmetricEigen.decompose(x, 20, "test");
    for (int k = 0; k < 18; k++) {
      assertTrue(r.values()[k] >= 0 && r.values()[k] < 1e-9 * maxAbs(x), "null space eigenvalue " + r.values()[k]);
    }
  }
}
