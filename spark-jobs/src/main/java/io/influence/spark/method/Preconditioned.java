package io.influence.spark.method;

import io.influence.spark.score.QueryGradient;
import java.util.List;
import java.util.Map;

/**
 * Query gradients ready to score.
 *
 * @param queries one per query, in input order, with one gradient map per checkpoint
 * @param solver  per query id, the JSON solver report of an iterative method, or null
 * @param lambda  the absolute damping λ used, by checkpoint (CG, LiSSA) or checkpoint/layer (EK-FAC); empty for TracIn
 */
public record Preconditioned(List<QueryGradient> queries, Map<String, String> solver, Map<String, Double> lambda) {

  public Preconditioned {
    queries = List.copyOf(queries);
    solver = solver == null ? null : Map.copyOf(solver);
    lambda = lambda == null ? Map.of() : Map.copyOf(lambda);
  }

  /** Without damping (TracIn). */
  public Preconditioned(List<QueryGradient> queries, Map<String, String> solver) {
    this(queries, solver, Map.of());
  }
}
