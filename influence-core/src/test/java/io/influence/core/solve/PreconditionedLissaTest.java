package io.influence.core.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.truth.DenseMath;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Chebyshev LiSSA preconditioned by an approximate inverse (ASTRA): on a dense SPD curvature of two diagonal blocks
 * with eigenvalues over six decades, coupled by a rank-one term, and a preconditioner that inverts the damped blocks
 * exactly (ignoring the coupling, as a block-diagonal EK-FAC does), the solve
 * equals the dense damped solve, takes at most the Chebyshev bound for the estimated interval and far fewer steps
 * than the unpreconditioned semi-iteration, and an interval whose upper end is far too low stops as diverged.
 */
class PreconditionedLissaTest {

  private static final int DIM = 40;
  private static final double DAMPING = 1e-3;

  @Test
  void solve_equalsDenseSolve_inFewerStepsThanUnpreconditioned_andAWrongIntervalDiverges() {
    Random rnd = new Random(11);
    // two diagonal blocks, each with eigenvalues over six decades, coupled by a rank-one term
    double[][] blocks = new double[DIM][DIM];
    double[][] first = spd(rnd, DIM / 2);
    double[][] second = spd(rnd, DIM / 2);
    for (int i = 0; i < DIM / 2; i++) {
      for (int j = 0; j < DIM / 2; j++) {
        blocks[i][j] = first[i][j];
        blocks[DIM / 2 + i][DIM / 2 + j] = second[i][j];
      }
    }
    double[] u = new double[DIM];
    for (int i = 0; i < DIM; i++) {
      u[i] = rnd.nextGaussian();
    }
    double[][] h = new double[DIM][DIM];
    for (int i = 0; i < DIM; i++) {
      for (int j = 0; j < DIM; j++) {
        h[i][j] = blocks[i][j] + 0.5 * u[i] * u[j];
      }
    }
    double[][] inverse = new double[DIM][];
    for (int j = 0; j < DIM; j++) {
      double[] e = new double[DIM];
      e[j] = 1;
      inverse[j] = DenseMath.solve(blocks, DAMPING, e);   // column j; symmetric
    }
    LinearOperator m = DenseMath.operator(inverse);
    LinearOperator op = DenseMath.operator(h);
    double[] b = new double[DIM];
    for (int i = 0; i < DIM; i++) {
      b[i] = rnd.nextGaussian();
    }
    double[] exact = DenseMath.solve(h, DAMPING, b);

    PreconditionedRange.Range range = PreconditionedRange.estimate(BlockLinearOperator.oneAtATime(op), DAMPING, m, 20,
        0, 1.5);
    SolveResult pre = IhvpSolver.lissa(DAMPING, range, 5000, 1, 1e-10, m).solve(op, b);
    assertTrue(pre.converged(), pre.toString());
    double err = 0;
    double size = 0;
    for (int i = 0; i < DIM; i++) {
      err = Math.max(err, Math.abs(pre.x()[i] - exact[i]));
      size = Math.max(size, Math.abs(exact[i]));
    }
    assertTrue(err <= 1e-6 * size, "max error " + err + " of " + size);
    double bound = Math.sqrt(range.upper() / range.lower()) / 2 * Math.log(2 / 1e-10);
    assertTrue(pre.iterations() <= bound + 2, pre.iterations() + " steps, bound " + bound);

    double scale = 1.5 * (DenseMath.eigenvalues(h)[DIM - 1] + DAMPING);
    SolveResult plain = IhvpSolver.lissa(DAMPING, scale, 50_000, 1, 1e-10, LissaAcceleration.CHEBYSHEV).solve(op, b);
    assertTrue(plain.converged(), plain.toString());
    assertTrue(pre.iterations() * 3 < plain.iterations(), "preconditioned " + pre.iterations() + " vs plain "
        + plain.iterations() + " steps, interval " + range);
    System.out.printf("PreconditionedLissaTest: %d steps preconditioned (interval %s) vs %d plain%n",
        pre.iterations(), range, plain.iterations());

    PreconditionedRange.Range low = new PreconditionedRange.Range(range.lower(), range.upper() / 20,
        range.smallestEstimate(), range.largestEstimate(), 0);
    SolveResult wrong = IhvpSolver.lissa(DAMPING, low, 5000, 1, 1e-10, m).solve(op, b);
    assertTrue(wrong.diverged(), wrong.toString());
    assertFalse(wrong.converged());
    assertEquals(true, wrong.iterations() < 5000, wrong.toString());
  }

  /** {@code Q diag(e) Qᵀ} of size {@code n}, eigenvalues 1e-4 .. 1e2 (log-uniform), a random orthogonal {@code Q}. */
  private static double[][] spd(Random rnd, int n) {
    double[][] q = new double[n][n];
    for (int k = 0; k < n; k++) {
      double[] v = new double[n];
      for (int i = 0; i < n; i++) {
        v[i] = rnd.nextGaussian();
      }
      for (int j = 0; j < k; j++) {
        double d = DenseMath.dot(v, q[j]);
        for (int i = 0; i < n; i++) {
          v[i] -= d * q[j][i];
        }
      }
      double len = Math.sqrt(DenseMath.dot(v, v));
      for (int i = 0; i < n; i++) {
        q[k][i] = v[i] / len;
      }
    }
    double[][] h = new double[n][n];
    for (int k = 0; k < n; k++) {
      double e = Math.pow(10, -4 + 6.0 * k / (n - 1));
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
          h[i][j] += e * q[k][i] * q[k][j];
        }
      }
    }
    return h;
  }

}
