package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Drives the per-system iterations of the solvers against the operator: {@link #solve} gives one
 * system one product per step, {@link #solveAll} gives k systems one block product per step over
 * those still running. The solver owns the arithmetic (an {@link Iteration} per system); this class
 * owns the input checks, the NaN/Inf checks of the products and the final residuals, so both paths
 * do the same arithmetic in the same order and the results agree bit for bit.
 */
final class Lockstep {

  /** One system's iteration as the driver sees it. */
  interface Iteration {

    /** Whether the system needs another step. */
    boolean running();

    /** Counts a new step and returns its number (1-based, over the whole solve). */
    int beginStep();

    /** The vector the operator is applied to in this step. */
    double[] input();

    /** Where the driver writes {@code H · input()} (no damping added). */
    double[] product();

    /** Finishes the step after {@link #product()} is filled; {@code label} names the system in messages. */
    void update(String label);

    double[] solution();

    /** Steps taken (each one operator product). */
    int steps();

    boolean converged();

    /** Whether the iteration stopped because it was growing without bound. */
    default boolean diverged() {
      return false;
    }
  }

  private Lockstep() {}

  /** Solves one system, started by {@code start.apply(b)}. */
  static SolveResult solve(LinearOperator h, double[] b, String method, double damping,
      Function<double[], Iteration> start) {
    Vectors.requireDim(h, b, method);
    Vectors.requireFinite(b, method, "the right-hand side", 0);
    Iteration s = start.apply(b);
    while (s.running()) {
      int step = s.beginStep();
      h.apply(s.input(), s.product());
      Vectors.requireFinite(s.product(), method, "the Hessian-vector product", step);
      s.update("");
    }
    double[] x = s.solution();
    double residual = Vectors.relativeResidual(h, damping, x, b, method, s.steps() + 1);
    return new SolveResult(x, s.steps(), residual, s.converged(), s.diverged());
  }

  /** Solves {@code bs.size()} systems together, one block product per step. */
  static List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs, String method, double damping,
      Function<double[], Iteration> start) {
    Vectors.requireBlock(h, bs, method);
    int k = bs.size();
    Iteration[] systems = new Iteration[k];
    for (int j = 0; j < k; j++) {
      systems[j] = start.apply(bs.get(j));
    }
    double[][] in = new double[k][];
    double[][] out = new double[k][];
    int[] steps = new int[k];
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
        steps[j] = systems[j].beginStep();
        in[j] = systems[j].input();
        out[j] = systems[j].product();
      }
      Vectors.applyActive(h, block, in, out, method, steps);
      for (int j : block) {
        systems[j].update(" of system " + j);
      }
    }
    double[][] x = new double[k][];
    for (int j = 0; j < k; j++) {
      x[j] = systems[j].solution();
      steps[j] = systems[j].steps();
    }
    double[] residuals = Vectors.relativeResiduals(h, damping, x, bs, method, steps);
    List<SolveResult> results = new ArrayList<>(k);
    for (int j = 0; j < k; j++) {
      results.add(new SolveResult(x[j], steps[j], residuals[j], systems[j].converged(),
          systems[j].diverged()));
    }
    return results;
  }
}
