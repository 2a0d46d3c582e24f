package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.Locale;
import java.util.Random;

/**
 * An interval holding the spectrum of {@code M A}, {@code A = H + λI}, for Chebyshev-accelerated LiSSA preconditioned by
 * {@code M ≈ A⁻¹} (symmetric positive definite, e.g. the fitted EK-FAC's inverse). {@code M A} is self-adjoint in the
 * {@code A} inner product, so power iteration there gives Rayleigh quotients {@code (Av)ᵀ M (Av) / vᵀ A v} that lie
 * inside its spectrum: on {@code M A} for the largest eigenvalue, then on {@code c I − M A} (with {@code c} that
 * estimate widened by {@code safety}) for the smallest. Each step is one curvature product. The estimates lie inside the spectrum, so the
 * interval is widened by {@code safety} at both ends; Chebyshev still converges (more slowly) on eigenvalues below
 * the lower end, and on any up to the sum of both ends, and the solve stops as diverged beyond.
 */
public final class PreconditionedRange {

  /** {@code [lower, upper]} and the raw estimates it was widened from. */
  public record Range(double lower, double upper, double smallestEstimate, double largestEstimate, int products) {
    @Override
    public String toString() {
      return String.format(Locale.ROOT, "[%.4g, %.4g] (power iteration %.4g .. %.4g, %d products)", lower, upper,
          smallestEstimate, largestEstimate, products);
    }
  }

  private PreconditionedRange() {}

  /**
   * @param h          the curvature {@code H} (no damping)
   * @param damping    λ
   * @param m          the preconditioner {@code M}
   * @param iterations power-iteration steps for each end
   * @param seed       seed of the start vector
   * @param safety     factor (>= 1) the lower end is divided by and the upper end multiplied by
   */
  public static Range estimate(BlockLinearOperator h, double damping, LinearOperator m, int iterations, long seed,
      double safety) {
    if (iterations < 1 || !(safety >= 1) || m.dim() != h.dim()) {
      throw new IllegalArgumentException("preconditioned range: iterations >= 1, safety >= 1 and matching dimensions, "
          + "got " + iterations + ", " + safety + ", " + m.dim() + " vs " + h.dim());
    }
    double largest = rayleigh(h, damping, m, iterations, seed, Double.NaN);
    // shifted by the widened upper end, so that every eigenvalue of c I − M A below it is positive
    double smallest = rayleigh(h, damping, m, iterations, seed + 1, safety * largest);
    if (!(largest > 0) || !(smallest > 0)) {
      throw new IllegalStateException("preconditioned range: estimates " + smallest + " .. " + largest + " are not "
          + "positive: the preconditioner or the damped curvature is not positive definite");
    }
    // both are Rayleigh quotients of M A, so both lie in its spectrum, whichever is larger after few steps
    return new Range(Math.min(smallest, largest) / safety, safety * Math.max(smallest, largest), smallest, largest,
        2 * iterations);
  }

  /**
   * Power iteration in the A inner product on {@code M A} ({@code shift} NaN: returns its largest eigenvalue's
   * estimate) or on {@code shift·I − M A} (returns {@code shift −} that operator's largest: the smallest of M A).
   */
  private static double rayleigh(BlockLinearOperator h, double damping, LinearOperator m, int iterations, long seed,
      double shift) {
    int n = h.dim();
    Random random = new Random(seed);
    double[][] v = {new double[n]};
    double[][] u = {new double[n]};
    double[] w = new double[n];
    for (int i = 0; i < n; i++) {
      v[0][i] = random.nextGaussian();
    }
    double estimate = Double.NaN;
    for (int k = 1; k <= iterations; k++) {
      double norm = Vectors.norm(v[0]);
      for (int i = 0; i < n; i++) {
        v[0][i] /= norm;
      }
      h.apply(v, u);
      for (int i = 0; i < n; i++) {
        u[0][i] += damping * v[0][i];
      }
      Vectors.requireFinite(u[0], "preconditioned range", "the curvature product", k);
      m.apply(u[0], w);
      Vectors.requireFinite(w, "preconditioned range", "the preconditioned product", k);
      double vAv = Vectors.dot(v[0], u[0]);
      double quotient = Vectors.dot(u[0], w) / vAv;   // (Av)ᵀ M (Av) / vᵀAv: a Rayleigh quotient of M A
      estimate = quotient;
      if (!Double.isNaN(shift)) {
        for (int i = 0; i < n; i++) {
          w[i] = shift * v[0][i] - w[i];
        }
      }
      System.arraycopy(w, 0, v[0], 0, n);
    }
    return estimate;
  }
}
