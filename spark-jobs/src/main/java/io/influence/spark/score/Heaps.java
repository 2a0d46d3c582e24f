package io.influence.spark.score;

import io.influence.core.score.TopK;
import java.io.Serializable;

/** Per-query top-k and bottom-k heaps of one partition (or merged), and how many rows they saw. */
record Heaps(TopK[] top, TopK[] bottom, long rows) implements Serializable {

  /** Merges {@code other} into this (both for the same queries and k); returns this. */
  Heaps merge(Heaps other) {
    if (other.top.length != top.length) {
      throw new IllegalStateException("cannot merge heaps of " + other.top.length + " queries into " + top.length);
    }
    for (int q = 0; q < top.length; q++) {
      top[q].merge(other.top[q]);
      bottom[q].merge(other.bottom[q]);
    }
    return new Heaps(top, bottom, rows + other.rows);
  }
}
