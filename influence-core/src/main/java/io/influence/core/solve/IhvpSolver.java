package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.List;

/**
 * Solves {@code (H + λI) x = b} for a symmetric positive semi-definite {@code H} given only through
 * Hessian-vector products, with the damping {@code λ} fixed at construction.
 *
 * <p>Implementations: {@link #conjugateGradient} and {@link #lissa}. Neither throws on
 * non-convergence: the {@link SolveResult} says whether the tolerance was met. Both throw
 * {@link IllegalStateException} naming the iteration when {@code b} or a product {@code H v} holds
 * NaN or infinity (iteration 0 means the input).
 */
public interface IhvpSolver {

  /** Short method name written into score rows: {@code "cg"} or {@code "lissa"}. */
  String method();

  /** The damping {@code λ} added to the operator's diagonal. */
  double damping();

  /** Solves {@code (H + λI) x = b}; {@code b.length} must equal {@code h.dim()}. {@code b} is not modified. */
  SolveResult solve(LinearOperator h, double[] b);

  /**
   * Solves k independent systems {@code (H + λI) x_j = bs[j]} together: each iteration applies {@code h} once
   * to the block of the systems still running (a system leaves the block when it stops), and the final
   * residuals take one more block product. Result {@code j} equals {@code solve(h, bs[j])} (same arithmetic
   * and stopping rule, so the same iterates bit for bit) when {@code h}'s product of a vector does not depend
   * on the rest of the block. The number of block products is that of the slowest system, plus one.
   * Non-finite input or products throw IllegalStateException naming the system and the iteration.
   */
  List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs);

  /**
   * Conjugate gradients from {@code x = 0}, stopping when the true relative residual
   * {@code ‖b − (H + λI) x‖/‖b‖ <= tolerance} (checked with one extra product once the recursive residual meets
   * it; CG restarts from {@code x} if the true one does not) or after {@code maxIterations} CG updates.
   * {@link SolveResult#iterations()} counts products, the checks included.
   */
  static IhvpSolver conjugateGradient(double damping, double tolerance, int maxIterations) {
    return new ConjugateGradient(damping, tolerance, maxIterations);
  }

  /**
   * Preconditioned conjugate gradients: as {@link #conjugateGradient}, with {@code preconditioner} {@code M}, a
   * symmetric positive definite approximation of {@code (H + λI)⁻¹} over the same vector (e.g. EK-FAC's, wrapped by
   * {@link PreconditionerOperator}), applied to every residual. Same solution and stopping rule (the true
   * residual of the unpreconditioned system); with a good {@code M} far fewer products.
   */
  static IhvpSolver conjugateGradient(double damping, double tolerance, int maxIterations,
      LinearOperator preconditioner) {
    return new ConjugateGradient(damping, tolerance, maxIterations, java.util.Objects.requireNonNull(preconditioner,
        "preconditioner"));
  }

  /**
   * LiSSA (Agarwal et al. 2017; Koh and Liang 2017): per repetition, {@code h_0 = b},
   * {@code h_j = b + (1 − λ/scale) h_{j−1} − (H h_{j−1})/scale} for up to {@code depth} steps, stopping
   * early once {@code ‖h_j − h_{j−1}‖ <= tolerance · ‖h_j‖}; the estimate is {@code h/scale} averaged over
   * {@code repetitions}. Converges only when {@code scale > λ_max(H) + λ} (see {@link LissaScale} for a scale
   * estimated from {@code H}); a recursion that grows past the bound any converging one obeys stops at once with
   * {@link SolveResult#diverged()} set.
   */
  static IhvpSolver lissa(double damping, double scale, int depth, int repetitions, double tolerance) {
    return new Lissa(damping, scale, depth, repetitions, tolerance, LissaAcceleration.NONE);
  }

  /**
   * LiSSA with {@code acceleration}: {@link LissaAcceleration#NONE} is {@link #lissa(double, double, int, int,
   * double)}; {@link LissaAcceleration#CHEBYSHEV} spends the same products (one per step, up to {@code depth} per
   * repetition) on Chebyshev semi-iteration over {@code [λ, scale]}, stopping a repetition once the relative
   * residual {@code ‖b − (H + λI) x‖/‖b‖ <= tolerance}: about {@code √(scale/λ)/2 · ln(2/tolerance)} steps instead
   * of {@code (scale/λ) · ln(1/tolerance)}. The same bounds on {@code scale} and the same divergence stop apply.
   */
  static IhvpSolver lissa(double damping, double scale, int depth, int repetitions, double tolerance,
      LissaAcceleration acceleration) {
    return new Lissa(damping, scale, depth, repetitions, tolerance, acceleration);
  }

  /**
   * Chebyshev-accelerated LiSSA preconditioned by {@code preconditioner} {@code M ≈ (H + λI)⁻¹} (ASTRA, Wang et al.
   * 2025): the semi-iteration runs on {@code M (H + λI)} over {@code range} (its spectrum, {@link
   * PreconditionedRange}), one curvature product and one {@code M} per step, stopping on the same true relative
   * residual {@code ‖b − (H + λI) x‖/‖b‖ <= tolerance}; about {@code √(upper/lower)/2 · ln(2/tolerance)} steps.
   */
  static IhvpSolver lissa(double damping, PreconditionedRange.Range range, int depth, int repetitions,
      double tolerance, LinearOperator preconditioner) {
    return new Lissa(damping, range.lower(), range.upper(), depth, repetitions, tolerance, preconditioner);
  }
}
