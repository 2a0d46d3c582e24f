/**
 * Damped inverse-Hessian-vector products {@code (H + λI)⁻¹ b} for influence functions, float64,
 * with {@code H} given only as a {@link io.influence.core.linalg.LinearOperator}.
 *
 * <ul>
 *   <li>{@link io.influence.core.solve.IhvpSolver}: the entry point, with the factories
 *       {@link io.influence.core.solve.IhvpSolver#conjugateGradient} and
 *       {@link io.influence.core.solve.IhvpSolver#lissa}; {@code solve} one system, or
 *       {@code solveAll} several in lockstep with one block product per iteration. Each returns a
 *       {@link io.influence.core.solve.SolveResult} that says whether the tolerance was met
 *       (non-convergence is reported, not thrown).</li>
 *   <li>{@link io.influence.core.solve.InverseHvpPreconditioner}: a solver and an operator as a
 *       {@link io.influence.core.grad.Preconditioner} over per-layer gradient maps (flattened with a
 *       {@link io.influence.core.score.LayerLayout}); {@link io.influence.core.solve.IdentityPreconditioner}
 *       is TracIn's identity.</li>
 * </ul>
 * The solver classes themselves are package-private; NaN or Inf in the input or a product is an
 * IllegalStateException naming the system and the iteration.
 */
package io.influence.core.solve;
