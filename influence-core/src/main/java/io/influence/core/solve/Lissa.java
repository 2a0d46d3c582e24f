package io.influence.core.solve;

import io.influence.core.linalg.LinearOperator;

/*
 * LiSSA: the Neumann-series estimator of (H + λI)⁻¹ b (Agarwal, Bullins and Hazan 2017, as used
 * for influence functions by Koh and Liang 2017), in float64.
 *
 * Recursion per repetition: h_0 = b, h_j = b + (1 − λ/s) h_{j−1} − (H h_{j−1})/s, whose fixed
 * point is s (H + λI)⁻¹ b, so the estimate is h/s. It converges iff every eigenvalue of
 * (H + λI)/s lies in (0, 2); in practice choose s above λ_max(H) + λ. A repetition stops early
 * once ‖h_j − h_{j−1}‖ <= tolerance · ‖h_j‖; the result is converged only if every repetition
 * stopped that way. With an exact operator all repetitions are identical; repetitions matter
 * when the operator is a stochastic (mini-batch) estimate of H.
 */
final class Lissa implements IhvpSolver {

  private static final String METHOD = "lissa";

  private final double damping;
  private final double scale;
  private final int depth;
  private final int repetitions;
  private final double tolerance;

  Lissa(double damping, double scale, int depth, int repetitions, double tolerance) {
    if (!(damping >= 0) || !Double.isFinite(damping)) {
      throw new IllegalArgumentException("lissa: damping must be finite and >= 0, got " + damping);
    }
    if (!(scale > damping) || !Double.isFinite(scale)) {
      throw new IllegalArgumentException("lissa: scale must be finite and > damping (" + damping + "), got " + scale
          + ". HINT: use a scale above the largest eigenvalue of H plus the damping.");
    }
    if (depth < 1 || repetitions < 1) {
      throw new IllegalArgumentException("lissa: depth and repetitions must be >= 1, got " + depth + " and " + repetitions);
    }
    if (!(tolerance >= 0) || !Double.isFinite(tolerance)) {
      throw new IllegalArgumentException("lissa: tolerance must be finite and >= 0, got " + tolerance);
    }
    this.damping = damping;
    this.scale = scale;
    this.depth = depth;
    this.repetitions = repetitions;
    this.tolerance = tolerance;
  }

  @Override
  public String method() {
    return METHOD;
  }

  @Override
  public double damping() {
    return damping;
  }

  @Override
  public SolveResult solve(LinearOperator h, double[] b) {
    Vectors.requireDim(h, b, METHOD);
    Vectors.requireFinite(b, METHOD, "the right-hand side", 0);
    int n = b.length;
    double[] sum = new double[n];
    double[] cur = new double[n];
    double[] next = new double[n];
    double[] hv = new double[n];
    double keep = 1 - damping / scale;
    int steps = 0;
    boolean allConverged = true;
    for (int rep = 0; rep < repetitions; rep++) {
      System.arraycopy(b, 0, cur, 0, n);
      boolean converged = false;
      for (int j = 1; j <= depth; j++) {
        steps++;
        h.apply(cur, hv);
        Vectors.requireFinite(hv, METHOD, "the Hessian-vector product", steps);
        double diff = 0;
        double size = 0;
        for (int i = 0; i < n; i++) {
          double v = b[i] + keep * cur[i] - hv[i] / scale;
          double d = v - cur[i];
          diff += d * d;
          size += v * v;
          next[i] = v;
        }
        Vectors.requireFinite(next, METHOD, "the iterate", steps);
        double[] t = cur;
        cur = next;
        next = t;
        if (Math.sqrt(diff) <= tolerance * Math.sqrt(size)) {
          converged = true;
          break;
        }
      }
      allConverged &= converged;
      for (int i = 0; i < n; i++) {
        sum[i] += cur[i];
      }
    }
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = sum[i] / (scale * repetitions);
    }
    double residual = Vectors.relativeResidual(h, damping, x, b, METHOD, steps + 1);
    return new SolveResult(x, steps, residual, allConverged);
  }

  @Override
  public String toString() {
    return "Lissa[damping=" + damping + ", scale=" + scale + ", depth=" + depth + ", repetitions=" + repetitions
        + ", tolerance=" + tolerance + "]";
  }
}
