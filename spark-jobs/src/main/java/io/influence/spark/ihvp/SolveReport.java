package io.influence.spark.ihvp;

/**
 * How one query's system {@code (H + λI) x = ∇L(query)} was solved at one checkpoint.
 *
 * @param query            query id
 * @param checkpoint       checkpoint name
 * @param iterations       solver steps (each one curvature-vector product over the corpus)
 * @param relativeResidual {@code ‖b − (H + λI) x‖ / ‖b‖} of the returned x, recomputed with one more product
 * @param converged        whether the solver met its tolerance
 */
public record SolveReport(String query, String checkpoint, int iterations, double relativeResidual,
    boolean converged) implements java.io.Serializable {}
