package io.influence.core.tokenizer;

import java.util.Arrays;

/** Growable int list without boxing (token ids being encoded). */
final class IntBuffer {
  private int[] a;
  private int n;

  IntBuffer(int capacity) {
    a = new int[capacity];
  }

  void add(int v) {
    if (n == a.length) a = Arrays.copyOf(a, a.length * 2);
    a[n++] = v;
  }

  void addAll(int[] v) {
    if (n + v.length > a.length) a = Arrays.copyOf(a, Math.max(a.length * 2, n + v.length));
    System.arraycopy(v, 0, a, n, v.length);
    n += v.length;
  }

  int size() {
    return n;
  }

  int[] toArray() {
    return Arrays.copyOf(a, n);
  }
}
