package io.influence.spark.report;

import java.util.List;
import java.util.Map;

/**
 * One query (prompt + completion) with its most positive ({@code top}) and most negative
 * ({@code bottom}) training sequences, a sample of all its scores for the distribution
 * histogram, and a query-level per-layer breakdown (iteration order kept; may be empty).
 */
public record QueryResult(
    String queryId,
    String prompt,
    String completion,
    String method,
    List<RankedSequence> top,
    List<RankedSequence> bottom,
    double[] allScoresSample,
    Map<String, Double> perLayer) {
  public QueryResult {
    Checks.notNull(queryId, "queryId");
    String where = " of query '" + queryId + "'";
    Checks.notNull(prompt, "prompt" + where);
    Checks.notNull(completion, "completion" + where);
    Checks.notNull(method, "method" + where);
    top = Checks.list(top, "top" + where);
    bottom = Checks.list(bottom, "bottom" + where);
    allScoresSample = Checks.finiteCopy(allScoresSample, "allScoresSample" + where);
    perLayer = Checks.finiteMap(perLayer, "perLayer" + where);
  }

  /** A copy of the score sample. */
  @Override
  public double[] allScoresSample() {
    return allScoresSample.clone();
  }
}
