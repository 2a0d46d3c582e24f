package io.influence.core.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.truth.DenseMath;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * LiSSA's automatic scale, its divergence detection and power iteration, on a dense symmetric positive definite
 * operator whose largest eigenvalue (40) is above the old default scale 10, against the exact damped solve.
 */
class LissaScaleTest {

  private static final double DAMPING = 0.5;
  private static final int DIM = 12;

  /** {@code Q diag(λ) Qᵀ} with λ from 0.05 to 40 and a seeded random orthogonal Q (Gram-Schmidt). */
  private static double[][] spd(long seed) {
    return spd(seed, 0.05);
  }

  /** As {@link #spd(long)} with the smallest eigenvalue {@code smallest} (0: singular, as a Gauss-Newton matrix). */
  private static double[][] spd(long seed, double smallest) {
    Random r = new Random(seed);
    double[][] q = new double[DIM][DIM];
    for (int k = 0; k < DIM; k++) {
      for (int i = 0; i < DIM; i++) {
        q[k][i] = r.nextGaussian();
      }
      for (int j = 0; j < k; j++) {
        double d = DenseMath.dot(q[k], q[j]);
        for (int i = 0; i < DIM; i++) {
          q[k][i] -= d * q[j][i];
        }
      }
      double n = Math.sqrt(DenseMath.dot(q[k], q[k]));
      for (int i = 0; i < DIM; i++) {
        q[k][i] /= n;
      }
    }
    double[][] m = new double[DIM][DIM];
    for (int k = 0; k < DIM; k++) {
      double lambda = k == DIM - 1 ? 40 : smallest + k;
      for (int i = 0; i < DIM; i++) {
        for (int j = 0; j < DIM; j++) {
          m[i][j] += lambda * q[k][i] * q[k][j];
        }
      }
    }
    return m;
  }

  private static double[] rhs() {
    Random r = new Random(3);
    double[] b = new double[DIM];
    for (int i = 0; i < DIM; i++) {
      b[i] = r.nextGaussian();
    }
    return b;
  }

  private static double relativeError(double[] x, double[] exact) {
    double d = 0;
    double n = 0;
    for (int i = 0; i < x.length; i++) {
      d += (x[i] - exact[i]) * (x[i] - exact[i]);
      n += exact[i] * exact[i];
    }
    return Math.sqrt(d / n);
  }

  @Test
  void powerIteration_gappedSpectrum_estimatesLargestEigenvalueFromBelow() {
    double estimate = PowerIteration.largestEigenvalue(DenseMath.operator(spd(1)), 10, 0);
    assertTrue(estimate <= 40 * (1 + 1e-12), "Rayleigh quotient above λ_max: " + estimate);
    assertEquals(40, estimate, 40 * 1e-3);
    assertEquals(estimate, PowerIteration.largestEigenvalue(DenseMath.operator(spd(1)), 10, 0), "seeded: the same estimate");
  }

  @Test
  void lissa_oldDefaultScaleBelowLargestEigenvalue_stopsAsDivergedWithFiniteEstimate() {
    SolveResult r = IhvpSolver.lissa(DAMPING, 10.0, 1000, 1, 1e-10).solve(DenseMath.operator(spd(1)), rhs());
    assertTrue(r.diverged());
    assertFalse(r.converged());
    assertTrue(r.iterations() < 100, "stops as soon as it leaves the bound, not at depth: " + r.iterations());
    for (double v : r.x()) {
      assertTrue(Double.isFinite(v));
    }
    assertTrue(r.relativeResidual() > 1, "a diverged estimate is worse than x = 0: " + r.relativeResidual());
  }

  @Test
  void lissa_autoScale_convergesToTheExactDampedSolve() {
    double[][] m = spd(1);
    BlockLinearOperator h = BlockLinearOperator.oneAtATime(DenseMath.operator(m));
    double scale = LissaScale.Auto.DEFAULT.resolve(h, DAMPING);
    assertTrue(scale > 40 + DAMPING && scale < 1.5 * (40 + DAMPING) * (1 + 1e-9), "scale " + scale);
    SolveResult r = IhvpSolver.lissa(DAMPING, scale, 20_000, 1, 1e-13).solve(DenseMath.operator(m), rhs());
    assertTrue(r.converged() && !r.diverged(), r.toString());
    double err = relativeError(r.x(), DenseMath.solve(m, DAMPING, rhs()));
    assertTrue(err < 1e-6, "relative error " + err);
  }

  @Test
  void lissaScale_badValues_failNamingTheRule() {
    assertThrows(IllegalArgumentException.class, () -> new LissaScale.Fixed(0));
    assertThrows(IllegalArgumentException.class, () -> new LissaScale.Fixed(Double.NaN));
    assertThrows(IllegalArgumentException.class, () -> new LissaScale.Auto(0.9, 10, 0));
    assertThrows(IllegalArgumentException.class, () -> new LissaScale.Auto(1.5, 0, 0));
    assertEquals(7.0, new LissaScale.Fixed(7).resolve(null, 1));
  }

  @Test
  void conjugateGradient_tightTolerance_trueResidualMeetsIt() {
    double[][] m = spd(2);
    double[] b = rhs();
    SolveResult r = IhvpSolver.conjugateGradient(1e-3, 1e-10, 1000).solve(DenseMath.operator(m), b);
    assertTrue(r.converged(), r.toString());
    assertTrue(r.relativeResidual() <= 1e-10, "the recomputed residual meets the tolerance: " + r.relativeResidual());
    assertTrue(relativeError(r.x(), DenseMath.solve(m, 1e-3, b)) < 1e-6);
  }

  @Test
  void lissaChebyshev_smallDampingOnSingularCurvature_reachesTheExactSolveInAboutTheSquareRootOfTheSteps() {
    double lambda = 0.01;
    double[][] m = spd(2, 0);
    double scale = LissaScale.Auto.DEFAULT.resolve(BlockLinearOperator.oneAtATime(DenseMath.operator(m)), lambda);
    double tolerance = 1e-10;
    int depth = 5000;
    double[] exact = DenseMath.solve(m, lambda, rhs());
    SolveResult fast = IhvpSolver.lissa(lambda, scale, depth, 1, tolerance, LissaAcceleration.CHEBYSHEV)
        .solve(DenseMath.operator(m), rhs());
    assertTrue(fast.converged() && !fast.diverged(), fast.toString());
    assertTrue(fast.relativeResidual() <= 2 * tolerance, "residual " + fast.relativeResidual());
    // Chebyshev's bound on [λ, s]: residual <= 2((√κ − 1)/(√κ + 1))^j, κ = s/λ
    double kappa = scale / lambda;
    double q = (Math.sqrt(kappa) - 1) / (Math.sqrt(kappa) + 1);
    int bound = (int) Math.ceil(Math.log(tolerance / 2) / Math.log(q));
    assertTrue(fast.iterations() <= bound, fast.iterations() + " steps, the bound is " + bound);
    // residual 1e-10 and condition number (40 + λ)/λ: the error is at most their product
    double err = relativeError(fast.x(), exact);
    assertTrue(err < (40 + lambda) / lambda * 2 * tolerance, "relative error " + err);
    // the plain recursion over the same number of products is still far from it
    SolveResult plain = IhvpSolver.lissa(lambda, scale, depth, 1, tolerance).solve(DenseMath.operator(m), rhs());
    assertFalse(plain.converged());
    assertTrue(relativeError(plain.x(), exact) > 0.1, "plain LiSSA error " + relativeError(plain.x(), exact));
  }

  @Test
  void lissaChebyshev_scaleBelowLargestEigenvalue_stopsAsDiverged() {
    SolveResult r = IhvpSolver.lissa(DAMPING, 10.0, 1000, 1, 1e-10, LissaAcceleration.CHEBYSHEV)
        .solve(DenseMath.operator(spd(1)), rhs());
    assertTrue(r.diverged());
    assertFalse(r.converged());
    assertTrue(r.iterations() < 100, "stops as soon as it leaves the bound, not at depth: " + r.iterations());
    for (double v : r.x()) {
      assertTrue(Double.isFinite(v));
    }
  }
}
