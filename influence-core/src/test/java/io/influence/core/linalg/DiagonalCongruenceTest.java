package io.influence.core.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link DiagonalCongruence} against the dense product {@code S M S} formed entry by entry. */
class DiagonalCongruenceTest {

  @Test
  void apply_equalsDenseCongruence_forEveryVectorOfTheBlock() {
    int n = 7;
    Random r = new Random(3);
    double[][] m = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        m[i][j] = m[j][i] = r.nextGaussian();
      }
    }
    double[] s = new double[n];
    for (int i = 0; i < n; i++) {
      s[i] = Math.exp(2 * r.nextGaussian());
    }
    BlockLinearOperator dense = new BlockLinearOperator() {
      @Override
      public int dim() {
        return n;
      }

      @Override
      public void apply(double[][] vs, double[][] outs) {
        for (int k = 0; k < vs.length; k++) {
          for (int i = 0; i < n; i++) {
            double acc = 0;
            for (int j = 0; j < n; j++) {
              acc += m[i][j] * vs[k][j];
            }
            outs[k][i] = acc;
          }
        }
      }
    };
    DiagonalCongruence c = new DiagonalCongruence(dense, s);
    double[][] vs = new double[3][n];
    for (double[] v : vs) {
      for (int i = 0; i < n; i++) {
        v[i] = r.nextGaussian();
      }
    }
    double[][] outs = new double[3][n];
    c.apply(vs, outs);
    for (int k = 0; k < vs.length; k++) {
      for (int i = 0; i < n; i++) {
        double want = 0;
        for (int j = 0; j < n; j++) {
          want += s[i] * m[i][j] * s[j] * vs[k][j];
        }
        assertEquals(want, outs[k][i], 1e-12 * (1 + Math.abs(want)), "vector " + k + " entry " + i);
      }
    }
    double[] scaled = c.scale(vs[0]);
    for (int i = 0; i < n; i++) {
      assertEquals(vs[0][i] * s[i], scaled[i], 0.0);
    }
    assertThrows(IllegalArgumentException.class, () -> new DiagonalCongruence(dense, new double[n - 1]));
    double[] bad = s.clone();
    bad[2] = Double.NaN;
    assertThrows(IllegalArgumentException.class, () -> new DiagonalCongruence(dense, bad));
  }
}
