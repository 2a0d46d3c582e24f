package io.influence.spark.report;

/**
 * A Data Shapley player in a query's top-k or bottom-k list: a training sequence or a group of them (a source), its
 * value φ for the query and the Monte Carlo standard error of that value. {@code text} is the sequence's text, or
 * empty for a group (which has no single text).
 */
public record PlayerValue(int rank, String playerId, double value, double stderr, int sequences, String text) {
  public PlayerValue {
    Checks.notNull(playerId, "playerId");
    if (rank < 1) {
      throw new IllegalArgumentException("rank of player '" + playerId + "' is " + rank + ". HINT: ranks start at 1.");
    }
    Checks.finite(value, "value of player '" + playerId + "'");
    Checks.finite(stderr, "standard error of player '" + playerId + "'");
    if (sequences < 1) {
      throw new IllegalArgumentException("player '" + playerId + "' has " + sequences + " sequences; a player has at"
          + " least one");
    }
    Checks.notNull(text, "text of player '" + playerId + "'");
  }
}
