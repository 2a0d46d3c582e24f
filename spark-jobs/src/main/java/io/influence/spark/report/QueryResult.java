package io.influence.spark.report;

import java.util.List;
import java.util.Map;

/**
 * One query (prompt + completion) with its most positive ({@code top}) and most negative
 * ({@code bottom}) training sequences, a sample of all its scores for the distribution
 * histogram, and a query-level per-layer breakdown (iteration order kept; may be empty). {@code folder} is the score
 * folder the rows come from (the column of the report's side-by-side table; two folders may share a method).
 */
public record QueryResult(
    String queryId,
    String prompt,
    String completion,
    String method,
    List<RankedSequence> top,
    List<RankedSequence> bottom,
    double[] allScoresSample,
    Map<String, Double> perLayer,
    String folder) {
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
    Checks.notNull(folder, "folder" + where);
  }

  /** A result whose folder is named after its method. */
  public QueryResult(String queryId, String prompt, String completion, String method, List<RankedSequence> top,
                     List<RankedSequence> bottom, double[] allScoresSample, Map<String, Double> perLayer) {
    this(queryId, prompt, completion, method, top, bottom, allScoresSample, perLayer, method);
  }

  /** A copy of the score sample. */
  @Override
  public double[] allScoresSample() {
    return allScoresSample.clone();
  }
}
