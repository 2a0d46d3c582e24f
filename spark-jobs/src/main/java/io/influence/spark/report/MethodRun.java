package io.influence.spark.report;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How one score folder of the report was computed, as that method did it: the report shows one of these per column, so
 * EK-FAC's relative damping is never shown as CG's absolute λ and a unit-normalised TracIn is not read as a raw one.
 *
 * @param folder the score folder under the output folder ({@code scores}, {@code scores-ekfac}, ...)
 * @param method the settings word of the method ({@code tracin}, {@code ekfac}, {@code cg}, ...)
 * @param damping the damping in that method's own terms ({@link DampingText}), or "none"
 * @param gradients "unit" (cosines of unit-normalised gradients) or "raw"
 * @param solver the solver's report summed over the queries (iterations, residual, converged), or "" when none
 * @param checkpoints the checkpoints the scores were summed over, in step order
 * @param weights checkpoint → the weight its scores were summed with (empty when the folder does not record them)
 * @param projection the gradient store's projection as the score rows record it
 */
public record MethodRun(String folder, String method, String damping, String gradients, String solver,
                        java.util.List<String> checkpoints, Map<String, Double> weights, String projection) {
  public MethodRun {
    Checks.notNull(folder, "method run folder");
    Checks.notNull(method, "method of folder " + folder);
    Checks.notNull(damping, "damping of folder " + folder);
    Checks.notNull(gradients, "gradients of folder " + folder);
    Checks.notNull(solver, "solver of folder " + folder);
    checkpoints = Checks.list(checkpoints, "checkpoints of folder " + folder);
    weights = Collections.unmodifiableMap(new LinkedHashMap<>(
        Checks.finiteMap(weights, "checkpoint weights of folder " + folder)));
    Checks.notNull(projection, "projection of folder " + folder);
  }
}
