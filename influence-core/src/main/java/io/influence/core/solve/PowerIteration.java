package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.Random;

/*
 * The largest eigenvalue of a symmetric positive semi-definite operator H by power iteration, in float64:
 * v_0 a seeded standard Gaussian vector, v_{k+1} = H v_k / ‖H v_k‖, estimate = the Rayleigh quotient v_kᵀ H v_k
 * of the last normalised iterate. Each iteration is one product (one vector in a block of one, so over a Spark
 * corpus one job). The Rayleigh quotient never exceeds λ_max(H) (it is a lower bound for any v), and its relative
 * error after k iterations shrinks like (λ_2/λ_1)^{2k}; callers that need an upper bound (LiSSA's scale) multiply
 * by a safety factor and must still check for divergence, which LiSSA does.
 *
 * If H v = 0 (a zero operator, or a start orthogonal to its range) the estimate is 0.
 */
public final class PowerIteration {

  private PowerIteration() {}

  /** The estimate of {@code λ_max(H)} after {@code iterations} products from a start seeded by {@code seed}. */
  public static double largestEigenvalue(BlockLinearOperator h, int iterations, long seed) {
    if (iterations < 1) {
      throw new IllegalArgumentException("power iteration: iterations must be >= 1, got " + iterations);
    }
    Random random = new Random(seed);
    double[][] v = {new double[h.dim()]};
    double[][] hv = {new double[h.dim()]};
    for (int i = 0; i < v[0].length; i++) {
      v[0][i] = random.nextGaussian();
    }
    double estimate = 0;
    for (int k = 1; k <= iterations; k++) {
      double norm = Vectors.norm(v[0]);
      if (norm == 0) {
        return 0;
      }
      for (int i = 0; i < v[0].length; i++) {
        v[0][i] /= norm;
      }
      h.apply(v, hv);
      Vectors.requireFinite(hv[0], "power iteration", "the Hessian-vector product", k);
      estimate = Vectors.dot(v[0], hv[0]);
      double[][] t = v;
      v = hv;
      hv = t;
    }
    return estimate;
  }

  /** {@link #largestEigenvalue(BlockLinearOperator, int, long)} for an operator applied one vector at a time. */
  public static double largestEigenvalue(LinearOperator h, int iterations, long seed) {
    return largestEigenvalue(BlockLinearOperator.oneAtATime(h), iterations, seed);
  }
}
