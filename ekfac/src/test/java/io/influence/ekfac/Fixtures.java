package io.influence.ekfac;

import io.influence.core.grad.TokenFactors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/** Random token factors shared by the tests (anisotropic, with a bias column of ones). */
final class Fixtures {

  private Fixtures() {}

  static List<TokenFactors> examples(String layer, int n, int dIn, int dOut, int maxTokens, DataType type, long seed) {
    Random rnd = new Random(seed);
    List<TokenFactors> out = new ArrayList<>();
    for (int e = 0; e < n; e++) {
      int t = 1 + rnd.nextInt(maxTokens);
      double[] a = new double[t * dIn];
      double[] g = new double[t * dOut];
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < dIn; j++) {
          a[i * dIn + j] = j == dIn - 1 ? 1.0 : rnd.nextGaussian() * (1.0 + j) + 0.3;
        }
        for (int j = 0; j < dOut; j++) {
          g[i * dOut + j] = rnd.nextGaussian() / (1.0 + j) + 0.1 * a[i * dIn];
        }
      }
      out.add(new TokenFactors(layer, Nd4j.create(a, new long[] {t, dIn}, 'c').castTo(type),
          Nd4j.create(g, new long[] {t, dOut}, 'c').castTo(type)));
    }
    return out;
  }

  static double maxAbs(double[] x) {
    double m = 0;
    for (double v : x) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  /** max |x - y| / max |y|. */
  static double relErr(double[] x, double[] y) {
    double m = 0;
    for (int i = 0; i < x.length; i++) {
      m = Math.max(m, Math.abs(x[i] - y[i]));
    }
    return m / Math.max(maxAbs(y), Double.MIN_NORMAL);
  }
}
