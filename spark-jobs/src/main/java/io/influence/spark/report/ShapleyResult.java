package io.influence.spark.report;

import java.util.List;

/**
 * One query's Data Shapley values from one run: the highest-valued ({@code top}) and lowest-valued ({@code bottom})
 * players with their standard errors, every player's value for the distribution chart, and the run's provenance.
 * Shown in the report beside the same query's {@link QueryResult}s of the other methods.
 */
public record ShapleyResult(String queryId, String prompt, String completion, ShapleyRun run, List<PlayerValue> top,
                            List<PlayerValue> bottom, double[] allValues) {
  public ShapleyResult {
    Checks.notNull(queryId, "queryId");
    String where = " of query '" + queryId + "'";
    Checks.notNull(prompt, "prompt" + where);
    Checks.notNull(completion, "completion" + where);
    Checks.notNull(run, "Shapley run" + where);
    top = Checks.list(top, "top players" + where);
    bottom = Checks.list(bottom, "bottom players" + where);
    allValues = Checks.finiteCopy(allValues, "Shapley values" + where);
  }

  /** A copy of every player's value for the query. */
  @Override
  public double[] allValues() {
    return allValues.clone();
  }
}
