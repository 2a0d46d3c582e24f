package io.influence.spark.score;

import io.influence.spark.config.LongText;
import java.io.Serializable;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Which (training sequence, query) pairs a candidate-restricted score ranks: per corpus row id, the bit set of the
 * queries whose candidate list holds it. A training sequence is looked up by its row id ({@link LongText#rowId}),
 * so every window of a candidate row is a candidate. Broadcast to the executors by {@link ScoreJob}.
 */
final class CandidateMask implements Serializable {

  private static final long serialVersionUID = 1L;

  private final Map<String, BitSet> queriesOfRow;

  private CandidateMask(Map<String, BitSet> queriesOfRow) {
    this.queriesOfRow = queriesOfRow;
  }

  /** The mask of {@code candidates} (query id → row ids) for queries in {@code queryIds} order; null when null. */
  static CandidateMask of(Map<String, Set<String>> candidates, String[] queryIds) {
    if (candidates == null) {
      return null;
    }
    Map<String, BitSet> rows = new HashMap<>();
    for (int q = 0; q < queryIds.length; q++) {
      for (String row : candidates.get(queryIds[q])) {
        rows.computeIfAbsent(row, x -> new BitSet()).set(q);
      }
    }
    return new CandidateMask(rows);
  }

  /** Whether some query has this training sequence's row among its candidates. */
  boolean anyQuery(String trainId) {
    return queriesOfRow.containsKey(LongText.rowId(trainId));
  }

  /** Whether query {@code q} has this training sequence's row among its candidates. */
  boolean allows(String trainId, int q) {
    BitSet b = queriesOfRow.get(LongText.rowId(trainId));
    return b != null && b.get(q);
  }
}
