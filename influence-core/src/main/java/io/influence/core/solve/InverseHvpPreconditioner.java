package io.influence.core.solve;

import io.influence.core.grad.Preconditioner;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.score.LayerLayout;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/*
 * Influence-function preconditioning (H + λI)⁻¹ v with an iterative solver (CG or LiSSA) on a
 * Hessian / Gauss-Newton operator defined over the flattened gradient.
 *
 * The per-layer gradient map is flattened with one LayerLayout (fixed layer order, each
 * [rows, cols] matrix row-major, float64), solved, and split back into the same layers, shapes
 * and dtype. The operator must be built over that same layout. Not block-diagonal: the
 * operator couples all layers, which is what makes this the exact-HVP method.
 *
 * Non-convergence: apply() throws IllegalStateException when requireConvergence is set;
 * otherwise it returns the unconverged estimate. solve() returns the estimate together with the
 * SolveResult (iterations, residual, converged) so a caller can log or decide.
 */
public final class InverseHvpPreconditioner implements Preconditioner {

  /** A preconditioned gradient and the solver report behind it. */
  public record Solved(Map<String, INDArray> preconditioned, SolveResult result) {}

  private final IhvpSolver solver;
  private final LinearOperator hessian;
  private final LayerLayout layout;
  private final boolean requireConvergence;

  private InverseHvpPreconditioner(IhvpSolver solver, LinearOperator hessian, LayerLayout layout,
      boolean requireConvergence) {
    this.solver = Objects.requireNonNull(solver, "solver");
    this.hessian = Objects.requireNonNull(hessian, "hessian");
    this.layout = Objects.requireNonNull(layout, "layout");
    if (hessian.dim() != layout.dim()) {
      throw new IllegalArgumentException("the operator has dimension " + hessian.dim() + " but the layout " + layout
          + " flattens to " + layout.dim() + ". HINT: build the Hessian operator over the same layers in the same order.");
    }
    this.requireConvergence = requireConvergence;
  }

  /**
   * @param solver CG or LiSSA, with its damping
   * @param hessian H over the vector {@code layout} flattens to
   * @param requireConvergence whether {@link #apply} throws when the solver misses its tolerance
   */
  public static InverseHvpPreconditioner of(IhvpSolver solver, LinearOperator hessian, LayerLayout layout,
      boolean requireConvergence) {
    return new InverseHvpPreconditioner(solver, hessian, layout, requireConvergence);
  }

  @Override
  public String method() {
    return solver.method();
  }

  public LayerLayout layout() {
    return layout;
  }

  /** Solves for one gradient and reports how the solve went; never throws on non-convergence. */
  public Solved solve(String id, Map<String, INDArray> gradient) {
    double[] b = layout.toVector(id, gradient);
    SolveResult r = solver.solve(hessian, b);
    INDArray first = gradient.get(layout.layers().get(0));
    return new Solved(layout.fromVector(r.x(), first.dataType()), r);
  }

  @Override
  public Map<String, INDArray> apply(Map<String, INDArray> gradient) {
    Solved s = solve("query", gradient);
    if (requireConvergence && !s.result().converged()) {
      throw new IllegalStateException(solver.method() + " did not converge: " + s.result().iterations()
          + " iterations, relative residual " + s.result().relativeResidual() + " (" + solver
          + "). HINT: raise the iteration limit or the damping; for LiSSA make scale exceed λ_max(H) + damping.");
    }
    return s.preconditioned();
  }
}
