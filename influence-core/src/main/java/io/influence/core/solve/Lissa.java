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
 * the systems still running (each may be in a different repetition), then the same per-system
 * update as solve() (State); a system leaves the block after its last repetition.
 */
final class Lissa implements IhvpSolver {

  private static final String METHOD = "lissa";

  private final double damping;
  private final double scale;
  private final int depth;
  private final int repetitions;
  private final double tolerance;

  Lissa(double damping, double scale, int depth, int repetitions, double tolerance) {
    this.damping = Vectors.requireNonNegative(METHOD, "damping", damping);
    if (!(scale > damping) || !Double.isFinite(scale)) {
      throw new IllegalArgumentException("lissa: scale must be finite and > damping (" + damping + "), got " + scale
          + ". HINT: use a scale above the largest eigenvalue of H plus the damping.");
    }
    if (depth < 1 || repetitions < 1) {
      throw new IllegalArgumentException("lissa: depth and repetitions must be >= 1, got " + depth + " and " + repetitions);
    }
    this.scale = scale;
    this.depth = depth;
    this.repetitions = repetitions;
    this.tolerance = Vectors.requireNonNegative(METHOD, "tolerance", tolerance);
  }

  @Override
  public String method() {
    return METHOD;
  }

  @Override
  public double damping() {
    return damping;
  }

  /** One system's recursion: the running iterate, the sum over finished repetitions, the counters. */
  private final class State {
    final double[] b;
    final double[] sum;
    final double[] hv;   // H cur, filled by the caller before each update
    double[] cur;
    double[] next;
    int rep;             // finished repetitions
    int step;            // steps within the current repetition
    int steps;           // steps over all repetitions
    boolean allConverged = true;

    State(double[] b) {
      int n = b.length;
      this.b = b;
      sum = new double[n];
      hv = new double[n];
      cur = b.clone();
      next = new double[n];
    }

    boolean running() {
      return rep < repetitions;
    }

    /**
     * After {@code hv = H cur}: {@code cur ← b + (1 − λ/s) cur − hv/s}; a repetition ends when the
     * step changed the iterate by at most {@code tolerance} relative to it, or at {@code depth}.
     * {@code iterate} names the iterate in the NaN/Inf message.
     */
    void update(String iterate) {
      double keep = 1 - damping / scale;
      double diff = 0;
      double size = 0;
      for (int i = 0; i < b.length; i++) {
        double v = b[i] + keep * cur[i] - hv[i] / scale;
        double d = v - cur[i];
        diff += d * d;
        size += v * v;
        next[i] = v;
      }
      Vectors.requireFinite(next, METHOD, iterate, steps);
      double[] t = cur;
      cur = next;
      next = t;
      boolean converged = Math.sqrt(diff) <= tolerance * Math.sqrt(size);
      if (converged || step >= depth) {
        allConverged &= converged;
        for (int i = 0; i < sum.length; i++) {
          sum[i] += cur[i];
        }
        rep++;
        step = 0;
        if (rep < repetitions) {
          System.arraycopy(b, 0, cur, 0, b.length);
        }
      }
    }

    /** The estimate of {@code (H + λI)⁻¹ b}: the repetitions' mean of {@code h/s}. */
    double[] estimate() {
      double[] x = new double[sum.length];
      for (int i = 0; i < x.length; i++) {
        x[i] = sum[i] / (scale * repetitions);
      }
      return x;
    }
  }

  @Override
  public SolveResult solve(LinearOperator h, double[] b) {
    Vectors.requireDim(h, b, METHOD);
    Vectors.requireFinite(b, METHOD, "the right-hand side", 0);
    State s = new State(b);
    while (s.running()) {
      s.steps++;
      s.step++;
      h.apply(s.cur, s.hv);
      Vectors.requireFinite(s.hv, METHOD, "the Hessian-vector product", s.steps);
      s.update("the iterate");
    }
    double[] x = s.estimate();
    double residual = Vectors.relativeResidual(h, damping, x, b, METHOD, s.steps + 1);
    return new SolveResult(x, s.steps, residual, s.allConverged);
  }

  @Override
  public List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs) {
    Vectors.requireBlock(h, bs, METHOD);
    int k = bs.size();
    State[] systems = new State[k];
    double[][] cur = new double[k][];
    double[][] hv = new double[k][];
    int[] steps = new int[k];
    for (int j = 0; j < k; j++) {
      systems[j] = new State(bs.get(j));
      hv[j] = systems[j].hv;
    }
    while (true) {
      List<Integer> block = new ArrayList<>();
      for (int j = 0; j < k; j++) {
        if (systems[j].running()) {
          block.add(j);
        }
      }
      if (block.isEmpty()) {
        break;
      }
      for (int j : block) {
        State s = systems[j];
        steps[j] = ++s.steps;
        s.step++;
        cur[j] = s.cur;
      }
      Vectors.applyActive(h, block, cur, hv, METHOD, steps);
      for (int j : block) {
        systems[j].update("the iterate of system " + j);
      }
    }
    double[][] x = new double[k][];
    for (int j = 0; j < k; j++) {
      x[j] = systems[j].estimate();
    }
    double[] residuals = Vectors.relativeResiduals(h, damping, x, bs, METHOD, steps);
    List<SolveResult> out = new ArrayList<>(k);
    for (int j = 0; j < k; j++) {
      out.add(new SolveResult(x[j], steps[j], residuals[j], systems[j].allConverged));
    }
    return out;
  }

  @Override
  public String toString() {
    return "Lissa[damping=" + damping + ", scale=" + scale + ", depth=" + depth + ", repetitions=" + repetitions
        + ", tolerance=" + tolerance + "]";
  }
}
