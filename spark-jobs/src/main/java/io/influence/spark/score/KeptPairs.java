package io.influence.spark.score;

import io.influence.core.score.QueryHeaps;
import io.influence.core.score.ScoreSplit;
import io.influence.core.score.TopK;
import java.io.Serializable;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The score stage's one pass over the store, per partition and merged: the top-k and bottom-k heaps of every query
 * and the float64 per-checkpoint and per-layer parts ({@link ScoreSplit}) of the pairs those heaps keep, keyed by
 * {@link #key}. The parts are computed when a pair is offered to a heap, while its row is still in the scorer's block
 * buffer ({@link io.influence.core.score.BlockScorer.OfferListener}), so no second read of the store is needed;
 * {@link #prune} drops the parts of pairs the heaps no longer keep, so what a task and the driver hold is bounded by
 * queries × 2k, not by the rows.
 */
final class KeptPairs implements Serializable {

  private static final long serialVersionUID = 1L;

  private final QueryHeaps heaps;
  private final HashMap<Pair, ScoreSplit> parts;

  /**
   * A pair (query index, training id). Its hash is the id's, cached by the String, mixed with the query index: the
   * pass looks a pair up on every offer, and a new {@code query + id} string per offer (hashed anew each time) was
   * the largest Java cost of the pass at a million rows (JFR, {@code influence bench scale}). The query index is
   * spread by a multiplicative (Fibonacci) hash before it is mixed in: with {@code 31 · q + hash(id)}, ids that
   * differ in their last characters (consecutive row ids) and neighbouring queries gave equal hashes by the
   * thousand, so the map's buckets turned into trees searched on every offer (JFR at 2,048 queries).
   */
  record Pair(int q, String id) implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public int hashCode() {
      return (q * 0x9E3779B9) ^ id.hashCode();
    }
  }

  KeptPairs(QueryHeaps heaps, HashMap<Pair, ScoreSplit> parts) {
    this.heaps = heaps;
    this.parts = parts;
  }

  /** The key of pair (query index {@code q}, training id). */
  static Pair key(int q, String trainId) {
    return new Pair(q, trainId);
  }

  QueryHeaps heaps() {
    return heaps;
  }

  /** The parts of pair ({@code q}, {@code trainId}), or null when it was never offered. */
  ScoreSplit parts(int q, String trainId) {
    return parts.get(key(q, trainId));
  }

  /** Keeps in {@code parts} only the pairs that {@code heaps} keep now. */
  static void prune(QueryHeaps heaps, Map<Pair, ScoreSplit> parts) {
    Set<Pair> kept = new HashSet<>();
    for (int q = 0; q < heaps.top().length; q++) {
      for (TopK h : new TopK[] {heaps.top()[q], heaps.bottom()[q]}) {
        for (TopK.Scored s : h.result()) {
          kept.add(key(q, s.id()));
        }
      }
    }
    parts.keySet().retainAll(kept);
  }

  /** Merges {@code other} into this (same queries and k): heaps merged, parts of the pairs still kept. */
  KeptPairs merge(KeptPairs other) {
    QueryHeaps merged = heaps.merge(other.heaps);
    parts.putAll(other.parts);
    prune(merged, parts);
    return new KeptPairs(merged, parts);
  }
}
