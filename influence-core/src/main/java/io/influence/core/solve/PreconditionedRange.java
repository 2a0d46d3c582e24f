package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.Locale;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An interval holding the spectrum of {@code M A}, {@code A = H + λI}, for Chebyshev-accelerated LiSSA preconditioned by
 * {@code M ≈ A⁻¹} (symmetric positive definite, e.g. the fitted EK-FAC's inverse). {@code M A} is self-adjoint in the
 * {@code A} inner product; {@code k} steps of preconditioned conjugate gradients on a seeded random right-hand side
 * are {@code k} steps of Lanczos on it, and the tridiagonal matrix built from the CG coefficients ({@code T_jj = 1/α_j
 * + β_(j−1)/α_(j−1)}, {@code T_j,j+1 = √β_j / α_j}; Saad, Iterative Methods for Sparse Linear Systems, §6.7) has the
 * Ritz values of {@code M A} as eigenvalues. The extreme Ritz values converge to the extreme eigenvalues far faster
 * than power iteration (on the bench GPT-2 two power iterations of 10 steps left the lower end 13× too high) and lie
 * inside the spectrum, so the interval is widened by {@code safety} at both ends; Chebyshev still converges (more
 * slowly) on eigenvalues below the lower end, and on any up to the sum of both ends, and the solve stops as diverged
 * beyond. Each step is one curvature product and one {@code M}.
 */
public final class PreconditionedRange {

  /** {@code [lower, upper]} and the extreme Ritz values it was widened from. */
  public record Range(double lower, double upper, double smallestEstimate, double largestEstimate, int products) {
    @Override
    public String toString() {
      return String.format(Locale.ROOT, "[%.4g, %.4g] (Ritz values %.4g .. %.4g after %d products)", lower, upper,
          smallestEstimate, largestEstimate, products);
    }
  }

  private PreconditionedRange() {}

  /**
   * @param h          the curvature {@code H} (no damping)
   * @param damping    λ
   * @param m          the preconditioner {@code M}
   * @param iterations Lanczos (preconditioned CG) steps, each one product
   * @param seed       seed of the start vector
   * @param safety     factor (>= 1) the lower end is divided by and the upper end multiplied by
   */
  public static Range estimate(BlockLinearOperator h, double damping, LinearOperator m, int iterations, long seed,
      double safety) {
    if (iterations < 1 || !(safety >= 1) || m.dim() != h.dim()) {
      throw new IllegalArgumentException("preconditioned range: iterations >= 1, safety >= 1 and matching dimensions, "
          + "got " + iterations + ", " + safety + ", " + m.dim() + " vs " + h.dim());
    }
    int n = h.dim();
    Random random = new Random(seed);
    double[] r = new double[n];
    for (int i = 0; i < n; i++) {
      r[i] = random.nextGaussian();
    }
    double[] z = new double[n];
    m.apply(r, z);
    double[][] p = {z.clone()};
    double[][] ap = {new double[n]};
    double rz = Vectors.dot(r, z);
    double[] diag = new double[iterations];
    double[] off = new double[iterations];
    int steps = 0;
    double alphaPrev = Double.NaN;
    double betaPrev = 0;
    for (int j = 0; j < iterations; j++) {
      h.apply(p, ap);
      for (int i = 0; i < n; i++) {
        ap[0][i] += damping * p[0][i];
      }
      Vectors.requireFinite(ap[0], "preconditioned range", "the curvature product", j + 1);
      double pap = Vectors.dot(p[0], ap[0]);
      if (!(pap > 0) || !(rz > 0)) {
        throw new IllegalStateException("preconditioned range: pᵀAp = " + pap + ", rᵀMr = " + rz + " at step " + (j + 1)
            + ": the preconditioner or the damped curvature is not positive definite");
      }
      double alpha = rz / pap;
      for (int i = 0; i < n; i++) {
        r[i] -= alpha * ap[0][i];
      }
      m.apply(r, z);
      Vectors.requireFinite(z, "preconditioned range", "the preconditioned residual", j + 1);
      double rzNew = Vectors.dot(r, z);
      double beta = rzNew / rz;
      diag[j] = 1 / alpha + (j > 0 ? betaPrev / alphaPrev : 0);
      off[j] = Math.sqrt(Math.max(0, beta)) / alpha;
      steps = j + 1;
      if (!(rzNew > 1e-28 * Math.abs(Vectors.dot(p[0], p[0])))) {   // the Krylov space is exhausted: T is exact
        break;
      }
      for (int i = 0; i < n; i++) {
        p[0][i] = z[i] + beta * p[0][i];
      }
      rz = rzNew;
      alphaPrev = alpha;
      betaPrev = beta;
    }
    double[][] t = new double[steps][steps];
    for (int j = 0; j < steps; j++) {
      t[j][j] = diag[j];
      if (j + 1 < steps) {
        t[j][j + 1] = t[j + 1][j] = off[j];
      }
    }
    double[] ritz = steps == 1 ? new double[] {t[0][0]}
        : Eigen.symmetricGeneralizedEigenvalues(Nd4j.create(t).castTo(DataType.DOUBLE), false).toDoubleVector();
    double smallest = Double.POSITIVE_INFINITY;
    double largest = Double.NEGATIVE_INFINITY;
    for (double v : ritz) {
      smallest = Math.min(smallest, v);
      largest = Math.max(largest, v);
    }
    if (!(smallest > 0) || !Double.isFinite(largest)) {
      throw new IllegalStateException("preconditioned range: Ritz values " + smallest + " .. " + largest + " are not "
          + "positive: the preconditioner or the damped curvature is not positive definite");
    }
    return new Range(smallest / safety, safety * largest, smallest, largest, steps);
  }
}
