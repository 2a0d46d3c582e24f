package io.influence.core.tokenizer;

import java.util.Arrays;

/** Binary min-heap of longs (the heap variant of the BPE merge loop keys it by rank and position). */
final class LongHeap {
  private long[] a;
  private int n;

  LongHeap(int capacity) {
    a = new long[Math.max(4, capacity)];
  }

  boolean isEmpty() {
    return n == 0;
  }

  long peek() {
    return a[0];
  }

  void push(long v) {
    if (n == a.length) a = Arrays.copyOf(a, n * 2);
    int i = n++;
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (a[parent] <= v) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = v;
  }

  long pop() {
    long top = a[0];
    long last = a[--n];
    int i = 0;
    while (true) {
      int c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && a[c + 1] < a[c]) c++;
      if (a[c] >= last) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = last;
    return top;
  }
}
