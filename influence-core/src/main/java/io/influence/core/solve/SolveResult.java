package io.influence.core.solve;

import java.util.Objects;

/**
 * The outcome of one damped inverse-Hessian-vector solve {@code (H + λI) x = b}.
 *
 * @param x the approximate solution (length {@code dim})
 * @param iterations solver steps taken (CG iterations; LiSSA recursion steps summed over repetitions);
 *     each step costs one Hessian-vector product
 * @param relativeResidual {@code ‖b − (H + λI) x‖ / ‖b‖} of the returned {@code x}, computed with one
 *     extra Hessian-vector product (0 when {@code b = 0})
 * @param converged whether the solver met its stated tolerance; a non-converged result is returned,
 *     not thrown, so the caller decides whether it is good enough
 * @param diverged whether the solver saw its iteration grow without bound and stopped (LiSSA with a scale
 *     below the damped curvature's largest eigenvalue); {@code x} is then worthless, never converged
 */
public record SolveResult(double[] x, int iterations, double relativeResidual, boolean converged, boolean diverged) {

  public SolveResult {
    Objects.requireNonNull(x, "x");
    if (iterations < 0) {
      throw new IllegalArgumentException("iterations must be >= 0, got " + iterations);
    }
    if (converged && diverged) {
      throw new IllegalArgumentException("a solve cannot both converge and diverge");
    }
  }
}
