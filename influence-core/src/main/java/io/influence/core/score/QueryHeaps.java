package io.influence.core.score;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per-query top-k and bottom-k heaps of one partition (or merged), and how many training rows they saw.
 * {@code top[q]} and {@code bottom[q]} belong to the q-th query of the scorer that filled them. Serializable so
 * Spark can merge partitions' heaps with {@code treeReduce(QueryHeaps::merge)}.
 */
public record QueryHeaps(TopK[] top, TopK[] bottom, long rows) implements Serializable {

  private static final long serialVersionUID = 1L;

  public QueryHeaps {
    if (top.length != bottom.length) {
      throw new IllegalArgumentException("need as many bottom-k heaps as top-k heaps, got " + bottom.length + " and "
          + top.length);
    }
  }

  /** Empty top-k and bottom-k heaps for {@code queries} queries. */
  public static QueryHeaps empty(int queries, int k) {
    TopK[] top = new TopK[queries];
    TopK[] bottom = new TopK[queries];
    for (int q = 0; q < queries; q++) {
      top[q] = TopK.largest(k);
      bottom[q] = TopK.smallest(k);
    }
    return new QueryHeaps(top, bottom, 0);
  }

  /** Merges {@code other} into this (both for the same queries and k); returns the merged heaps. */
  public QueryHeaps merge(QueryHeaps other) {
    if (other.top.length != top.length) {
      throw new IllegalStateException("cannot merge heaps of " + other.top.length + " queries into " + top.length);
    }
    for (int q = 0; q < top.length; q++) {
      top[q].merge(other.top[q]);
      bottom[q].merge(other.bottom[q]);
    }
    return new QueryHeaps(top, bottom, rows + other.rows);
  }

  /** The kept examples per query id, best first; {@code queryIds.get(q)} names heap {@code q}. */
  public Ranking ranking(List<String> queryIds) {
    if (queryIds.size() != top.length) {
      throw new IllegalArgumentException(queryIds.size() + " query ids for heaps of " + top.length + " queries");
    }
    Map<String, List<TopK.Scored>> best = new LinkedHashMap<>();
    Map<String, List<TopK.Scored>> worst = new LinkedHashMap<>();
    for (int q = 0; q < top.length; q++) {
      best.put(queryIds.get(q), top[q].result());
      worst.put(queryIds.get(q), bottom[q].result());
    }
    return new Ranking(best, worst, rows);
  }
}
