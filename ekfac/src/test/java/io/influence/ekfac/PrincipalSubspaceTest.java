package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.TokenFactors;
import io.influence.core.model.KroneckerProjection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * PrincipalSubspace against the exact eigenvectors of the covariances formed explicitly from the same token factors
 * (PrincipalProjection on CovarianceAccumulator's matrices, itself checked against known eigenvectors).
 */
class PrincipalSubspaceTest {

  private static final int D_IN = 12;
  private static final int D_OUT = 20;

  /** Examples of random token factors whose columns have geometrically decaying scales (a spectrum with gaps). */
  private static List<TokenFactors> examples(long seed, int n) {
    Random rnd = new Random(seed);
    INDArray mixIn = Nd4j.randn(DataType.DOUBLE, D_IN, D_IN);
    INDArray mixOut = Nd4j.randn(DataType.DOUBLE, D_OUT, D_OUT);
    List<TokenFactors> out = new ArrayList<>();
    for (int e = 0; e < n; e++) {
      int t = 3 + rnd.nextInt(5);
      double[] a = new double[t * D_IN];
      double[] g = new double[t * D_OUT];
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < D_IN; j++) {
          a[i * D_IN + j] = rnd.nextGaussian() * Math.pow(0.7, j);
        }
        for (int j = 0; j < D_OUT; j++) {
          g[i * D_OUT + j] = rnd.nextGaussian() * Math.pow(0.8, j);
        }
      }
      out.add(new TokenFactors("l", Nd4j.create(a, new long[] {t, D_IN}, 'c').mmul(mixIn).castTo(DataType.FLOAT),
          Nd4j.create(g, new long[] {t, D_OUT}, 'c').mmul(mixOut).castTo(DataType.FLOAT)));
    }
    return out;
  }

  private static KroneckerProjection exact(List<TokenFactors> data, int kIn, int kOut) {
    CovarianceAccumulator acc = new CovarianceAccumulator("l", D_IN, D_OUT);
    data.forEach(acc::add);
    return PrincipalProjection.of(acc.finish(), kIn, kOut, DataType.DOUBLE);
  }

  private static KroneckerProjection fit(List<TokenFactors> data, int kIn, int kOut, int oversample, int passes) {
    PrincipalSubspace s = PrincipalSubspace.start(Map.of("l", new int[] {D_IN, D_OUT}), kIn, kOut, oversample, 7);
    for (int p = 1; ; p++) {
      PrincipalSubspace.Sums sums = s.sums();
      for (TokenFactors f : data) {
        s.add(sums, f);
      }
      if (p == passes) {
        return s.finish(sums, DataType.DOUBLE).get("l");
      }
      s = s.next(sums);
    }
  }

  @Test
  void fullWidthBasis_isExactAfterOnePass() {
    Nd4j.getRandom().setSeed(1);
    List<TokenFactors> data = examples(3, 40);
    KroneckerProjection want = exact(data, 5, 7);
    KroneckerProjection got = fit(data, 5, 7, 100, 1);   // oversampling reaches d: Q spans everything
    assertClose(want.pIn(), got.pIn(), 1e-6, "P_in");
    assertClose(want.pOut(), got.pOut(), 1e-6, "P_out");
  }

  @Test
  void fewerColumns_convergeToTheTopEigenvectors_keepingTheirEnergyInThreePasses() {
    Nd4j.getRandom().setSeed(2);
    List<TokenFactors> data = examples(4, 60);
    CovarianceAccumulator acc = new CovarianceAccumulator("l", D_IN, D_OUT);
    data.forEach(acc::add);
    Covariances c = acc.finish();
    KroneckerProjection want = PrincipalProjection.of(c, 3, 4, DataType.DOUBLE);
    // m = 6 of 12 and 7 of 20 columns; each pass more is another power step. Measured: largest entry error 0.98 /
    // 0.015 / 2.7e-6 after 1 / 3 / 8 passes; energy kept after 3: 1 - 1.9e-5 (A), 1 - 1.3e-4 (S); after 1: 0.64, 0.43
    double[] err = new double[3];
    int[] passes = {1, 3, 8};
    for (int i = 0; i < passes.length; i++) {
      KroneckerProjection got = fit(data, 3, 4, 3, passes[i]);
      err[i] = Math.max(want.pIn().sub(got.pIn()).amaxNumber().doubleValue(),
          want.pOut().sub(got.pOut()).amaxNumber().doubleValue());
      if (passes[i] == 3) {   // the energy kept: Σ of the rows' Rayleigh quotients vs Σ of the top eigenvalues
        assertTrue(energy(c.a(), D_IN, got.pIn()) > (1 - 1e-3) * energy(c.a(), D_IN, want.pIn()), "A energy");
        assertTrue(energy(c.s(), D_OUT, got.pOut()) > (1 - 1e-3) * energy(c.s(), D_OUT, want.pOut()), "S energy");
      }
    }
    assertTrue(err[0] > err[1] && err[1] > err[2], "error by passes 1/3/8: " + Arrays.toString(err));
    assertTrue(err[2] < 1e-4, "eight passes: " + Arrays.toString(err));
  }

  /** Σ_r p_r C p_rᵀ over the rows of p. */
  private static double energy(double[] cov, int d, INDArray p) {
    INDArray c = Nd4j.create(cov, new long[] {d, d}, 'c');
    return p.mmul(c).mul(p).sumNumber().doubleValue();
  }

  private static void assertClose(INDArray want, INDArray got, double tol, String what) {
    assertEquals(Arrays.toString(want.shape()), Arrays.toString(got.shape()), what);
    double diff = want.castTo(DataType.DOUBLE).sub(got.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    assertTrue(diff < tol, what + " differs by " + diff);
  }
}
