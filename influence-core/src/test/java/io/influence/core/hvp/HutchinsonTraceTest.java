package io.influence.core.hvp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.solve.HutchinsonTrace;
import io.influence.core.truth.DenseMath;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link HutchinsonTrace} against exact traces: a diagonal operator (exact for any probe), and the dense Gauss-Newton
 * matrix of a small GPT-2 layer (the curvature CG's relative damping is resolved on) formed from its products.
 */
class HutchinsonTraceTest {

  /** Standard errors an estimate may be off by (a 4σ miss has probability about 6e-5 for a normal estimate). */
  private static final double SIGMAS = 4;

  @Test
  void estimate_diagonalOperator_isExactForOneProbe() {
    double[] d = {3, -1, 0.5, 7, 2};
    LinearOperator diag = DenseMath.operator(new double[][] {
        {d[0], 0, 0, 0, 0}, {0, d[1], 0, 0, 0}, {0, 0, d[2], 0, 0}, {0, 0, 0, d[3], 0}, {0, 0, 0, 0, d[4]}});
    HutchinsonTrace.Estimate e = HutchinsonTrace.estimate(diag, 1, 42);
    assertEquals(11.5, e.trace(), 1e-12);
    assertEquals(11.5 / 5, e.meanEigenvalue(), 1e-12);
    assertTrue(Double.isNaN(e.standardError()), "one probe has no standard error");
  }

  @Test
  void estimate_gaussNewtonOfGpt2Layer_withinFourStandardErrorsOfExactTrace() throws Exception {
    HvpFixture fx = new HvpFixture();
    GaussNewtonOperator ggn = GaussNewtonOperator.create(fx.model, List.of("h.1.attn.c_proj"), fx.data(4));
    double[][] m = DenseMath.matrix(ggn);
    double exact = 0;
    for (int i = 0; i < m.length; i++) {
      exact += m[i][i];
    }
    HutchinsonTrace.Estimate e = HutchinsonTrace.estimate((io.influence.core.linalg.BlockLinearOperator) ggn, 16, 7);
    System.out.printf("GGN trace: exact %.6g, Hutchinson %.6g ± %.3g (16 probes, dim %d)%n", exact, e.trace(),
        e.standardError(), e.dim());
    assertEquals(m.length, e.dim());
    assertTrue(e.standardError() > 0, "a non-diagonal curvature has a positive standard error");
    assertEquals(exact, e.trace(), SIGMAS * e.standardError(), "trace within 4 standard errors");
    assertEquals(exact / m.length, e.meanEigenvalue(), SIGMAS * e.standardError() / m.length);
  }

  @Test
  void estimate_allProbes_oneBlockProductAndSeeded() {
    int[] calls = {0};
    LinearOperator m = DenseMath.operator(new double[][] {{2, 1, 0}, {1, 3, 1}, {0, 1, 4}});
    BlockLinearOperator counted = new BlockLinearOperator() {
      @Override
      public int dim() {
        return 3;
      }

      @Override
      public void apply(double[][] vs, double[][] outs) {
        calls[0]++;
        BlockLinearOperator.oneAtATime(m).apply(vs, outs);
      }
    };
    HutchinsonTrace.Estimate a = HutchinsonTrace.estimate(counted, 5, 1);
    assertEquals(1, calls[0], "five probes are one block product");
    assertEquals(a, HutchinsonTrace.estimate(counted, 5, 1), "the same seed gives the same estimate");
    assertNotEquals(a.trace(), HutchinsonTrace.estimate(counted, 5, 2).trace(), "another seed, other probes");
  }

  @Test
  void estimate_zeroProbes_refusedNamingProbes() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> HutchinsonTrace.estimate(DenseMath.operator(new double[][] {{1}}), 0, 0));
    assertTrue(e.getMessage().contains("probes"), e.getMessage());
  }
}
