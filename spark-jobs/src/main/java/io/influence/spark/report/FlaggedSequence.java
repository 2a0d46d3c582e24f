package io.influence.spark.report;

/**
 * A training sequence with high self-influence: its score, the quantile of that score among all
 * training sequences (in [0, 1]) and whether the cleaning rule flagged it.
 */
public record FlaggedSequence(
    String trainId, double score, double quantile, boolean flagged, String text) {
  public FlaggedSequence {
    Checks.notNull(trainId, "trainId");
    Checks.finite(score, "self-influence score of '" + trainId + "'");
    Checks.finite(quantile, "quantile of '" + trainId + "'");
    if (quantile < 0 || quantile > 1) {
      throw new IllegalArgumentException(
          "quantile of '" + trainId + "' is " + quantile + ". HINT: quantiles lie in [0, 1].");
    }
    Checks.notNull(text, "text of '" + trainId + "'");
  }
}
