package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.ArrayList;
import java.util.List;

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
 *
 * solveAll runs the recursion of k right-hand sides in lockstep: per step one block product over
 * the systems still running (each may be in a different repetition), the update of each system
 * exactly as solve() does it; a system leaves the block after its last repetition.
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
  public List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs) {
    Vectors.requireBlock(h, bs, METHOD);
    int k = bs.size();
    int n = h.dim();
    double[][] sum = new double[k][n];
    double[][] cur = new double[k][];
    double[][] next = new double[k][n];
    double[][] hv = new double[k][n];
    int[] rep = new int[k];
    int[] step = new int[k];      // steps within the current repetition
    int[] steps = new int[k];     // steps over all repetitions
    boolean[] allConverged = new boolean[k];
    double keep = 1 - damping / scale;
    for (int j = 0; j < k; j++) {
      cur[j] = bs.get(j).clone();
      allConverged[j] = true;
    }
    while (true) {
      List<Integer> block = new ArrayList<>();
      for (int j = 0; j < k; j++) {
        if (rep[j] < repetitions) {
          block.add(j);
        }
      }
      if (block.isEmpty()) {
        break;
      }
      for (int j : block) {
        steps[j]++;
        step[j]++;
      }
      Vectors.applyActive(h, block, cur, hv, METHOD, steps);
      for (int j : block) {
        double[] b = bs.get(j);
        double[] c = cur[j];
        double[] nx = next[j];
        double[] hj = hv[j];
        double diff = 0;
        double size = 0;
        for (int i = 0; i < n; i++) {
          double v = b[i] + keep * c[i] - hj[i] / scale;
          double d = v - c[i];
          diff += d * d;
          size += v * v;
          nx[i] = v;
        }
        Vectors.requireFinite(nx, METHOD, "the iterate of system " + j, steps[j]);
        cur[j] = nx;
        next[j] = c;
        boolean converged = Math.sqrt(diff) <= tolerance * Math.sqrt(size);
        if (converged || step[j] >= depth) {
          allConverged[j] &= converged;
          double[] sj = sum[j];
          for (int i = 0; i < n; i++) {
            sj[i] += cur[j][i];
          }
          rep[j]++;
          step[j] = 0;
          if (rep[j] < repetitions) {
            System.arraycopy(b, 0, cur[j], 0, n);
          }
        }
      }
    }
    double[][] x = new double[k][n];
    for (int j = 0; j < k; j++) {
      for (int i = 0; i < n; i++) {
        x[j][i] = sum[j][i] / (scale * repetitions);
      }
    }
    double[] residuals = Vectors.relativeResiduals(h, damping, x, bs, METHOD, steps);
    List<SolveResult> out = new ArrayList<>(k);
    for (int j = 0; j < k; j++) {
      out.add(new SolveResult(x[j], steps[j], residuals[j], allConverged[j]));
    }
    return out;
  }

  @Override
  public String toString() {
    return "Lissa[damping=" + damping + ", scale=" + scale + ", depth=" + depth + ", repetitions=" + repetitions
        + ", tolerance=" + tolerance + "]";
  }
}
