package io.influence.core.tokenizer;

import java.util.Arrays;

/**
 * The merge ranks of a byte-level BPE as an open-addressing hash map from the pair (left id, right
 * id), packed in a long, to {@code rank << 32 | merged id}; an absent pair reads as
 * {@code Long.MAX_VALUE}, so the smallest value is always the lowest-ranked merge. No boxing and
 * no allocation per lookup: the encoder's inner loop is lookups only.
 */
final class MergeTable {
  private final long[] keys;
  private final long[] values;
  private final int mask;

  MergeTable(int expected) {
    int cap = Integer.highestOneBit(Math.max(4, expected * 2 + 1)) << 1;
    keys = new long[cap];
    values = new long[cap];
    Arrays.fill(keys, -1L);
    mask = cap - 1;
  }

  private static long key(int left, int right) {
    return ((long) left << 32) | (right & 0xFFFFFFFFL);
  }

  private int slot(long key) {
    long h = key * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 29)) & mask;
  }

  void put(int left, int right, int rank, int merged) {
    long k = key(left, right);
    int i = slot(k);
    while (keys[i] != -1L && keys[i] != k) i = (i + 1) & mask;
    keys[i] = k; // a repeated pair keeps its last rank, as dict(zip(merges, ranks)) does
    values[i] = ((long) rank << 32) | (merged & 0xFFFFFFFFL);
  }

  long get(int left, int right) {
    long k = key(left, right);
    int i = slot(k);
    while (true) {
      long at = keys[i];
      if (at == k) return values[i];
      if (at == -1L) return Long.MAX_VALUE;
      i = (i + 1) & mask;
    }
  }
}
