package io.influence.core.shapley;

import java.util.SplittableRandom;

/**
 * The seeded permutations the Monte Carlo estimators walk: permutation {@code index} of a run depends
 * only on {@code (seed, index)}, so the same permutations are drawn whichever machine or task draws
 * them, and a distributed run equals the one-machine loop.
 */
public final class Permutations {

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private Permutations() {}

  /** Permutation number {@code index} (0-based) of {@code 0..n-1} for {@code seed} (Fisher-Yates). */
  public static int[] of(int n, long seed, long index) {
    if (n < 0 || index < 0) {
      throw new IllegalArgumentException("need n >= 0 and index >= 0, got " + n + ", " + index);
    }
    SplittableRandom random = new SplittableRandom(seed * GOLDEN + (index + 1) * 0xBF58476D1CE4E5B9L);
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
