/**
 * Per-example gradients as the scoring methods see them, independent of how they were computed.
 *
 * <ul>
 *   <li>{@link io.influence.core.grad.TokenFactors}: one example's gradient of one linear layer as
 *       per-token factors {@code (a [T, dIn], g [T, dOut])}, {@code G = gᵀa}; what the K-FAC /
 *       EK-FAC passes and the Kronecker projections consume.</li>
 *   <li>{@link io.influence.core.grad.GradientExtractor}: per-example layer gradients of many
 *       sequences in batches, full {@code [dOut, dIn+1]} or Kronecker-projected {@code [kOut, kIn]};
 *       the one routine behind the extract stage, the TracIn checks and the benches.</li>
 *   <li>{@link io.influence.core.grad.Preconditioner}: turns a query gradient into the vector that
 *       training gradients are scored against (identity for TracIn, {@code (H + λI)⁻¹ v} for the
 *       influence functions); implemented in {@code solve} and in the {@code ekfac} module.</li>
 * </ul>
 */
package io.influence.core.grad;
