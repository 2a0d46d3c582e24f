package io.influence.spark.ihvp;

import io.influence.ekfac.ResolvedDamping;

/**
 * How one query's system {@code (H + λI) x = ∇L(query)} was solved at one checkpoint.
 *
 * @param query            query id
 * @param checkpoint       checkpoint name
 * @param iterations       solver steps (each one curvature-vector product over the corpus)
 * @param relativeResidual {@code ‖b − (H + λI) x‖ / ‖b‖} of the returned x, recomputed with one more product
 * @param converged        whether the solver met its tolerance
 * @param diverged         whether the solver stopped a recursion growing without bound (LiSSA's scale too small)
 * @param solver           the solver and its parameters as used, e.g. LiSSA's resolved scale
 * @param damping          the damping setting and the λ it resolved to at this checkpoint
 */
public record SolveReport(String query, String checkpoint, int iterations, double relativeResidual,
    boolean converged, boolean diverged, String solver, ResolvedDamping damping) implements java.io.Serializable {}
