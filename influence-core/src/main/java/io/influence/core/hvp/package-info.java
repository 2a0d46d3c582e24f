/**
 * Curvature of the mean training loss of a GPT-2 as {@link io.influence.core.linalg.LinearOperator}s
 * over the weights and biases of chosen tracked linear layers, in the flat
 * {@link io.influence.core.score.LayerLayout} order of per-example gradients (per layer the
 * {@code [dOut, dIn+1]} matrix row-major, bias last column), for the inverse-Hessian solvers of
 * {@link io.influence.core.solve.IhvpSolver}:
 * <ul>
 *   <li>{@link io.influence.core.hvp.GaussNewtonOperator}: the generalised Gauss-Newton matrix
 *       {@code (1/N) Σ Jᵀ H_out J} (symmetric PSD; the default curvature for language models), exact:
 *       forward-mode {@code J v}, the softmax cross-entropy Hessian per counted position, backward {@code Jᵀ}.
 *   <li>{@link io.influence.core.hvp.HessianOperator}: the true Hessian (indefinite in general; damp
 *       above {@code |λ_min|}), by central differences of exact float64 gradients with an
 *       {@code O(ε²)} truncation error (bound in the class comment).
 * </ul>
 * Both need a float64 model and take the training set as {@link io.influence.core.hvp.TrainingSequences}
 * (sequences, optional loss masks, batch size). Checked against PyTorch's exact products and by
 * exact dense solves in the tests of this package.
 */
package io.influence.core.hvp;
