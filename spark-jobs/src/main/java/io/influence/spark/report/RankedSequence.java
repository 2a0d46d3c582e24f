package io.influence.spark.report;

import java.util.List;
import java.util.Map;

/**
 * A training sequence in a query's top-k or bottom-k list. {@code perLayer} and
 * {@code perCheckpoint} keep their iteration order in the report (pass a LinkedHashMap in layer
 * / step order); either may be empty.
 */
public record RankedSequence(
    int rank,
    String trainId,
    double score,
    List<TokenContribution> tokens,
    Map<String, Double> perLayer,
    Map<String, Double> perCheckpoint) {
  public RankedSequence {
    Checks.notNull(trainId, "trainId");
    if (rank < 1) {
      throw new IllegalArgumentException(
          "rank of training sequence '" + trainId + "' is " + rank + ". HINT: ranks start at 1.");
    }
    Checks.finite(score, "score of training sequence '" + trainId + "'");
    tokens = Checks.list(tokens, "tokens of training sequence '" + trainId + "'");
    perLayer = Checks.finiteMap(perLayer, "perLayer of training sequence '" + trainId + "'");
    perCheckpoint =
        Checks.finiteMap(perCheckpoint, "perCheckpoint of training sequence '" + trainId + "'");
  }
}
