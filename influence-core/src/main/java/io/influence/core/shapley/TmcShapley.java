package io.influence.core.shapley;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Truncated Monte Carlo Shapley (TMC-Shapley; Ghorbani &amp; Zou, "Data Shapley", ICML 2019, Algorithm 1).
 *
 * <p>Each permutation {@code π} (seeded, {@link Permutations}) adds players one at a time; player
 * {@code π_j}'s marginal is {@code V(π_1..π_j) − V(π_1..π_{j−1})}, one retraining per prefix. Truncation:
 * once the prefix's utility is within {@code tolerance·|V(D)|} of the full set's for every target, the
 * remaining players of that permutation get marginal 0 and are not retrained (the paper's "performance
 * tolerance"; {@code tolerance = 0} turns truncation off). The last prefix is the full set, whose utility
 * is computed once and reused. Averaging over permutations and stopping follow {@link MonteCarlo} and
 * {@link Budget}.
 *
 * <p>Efficiency: an untruncated permutation's marginals telescope to exactly {@code V(D) − V(∅)}; a
 * truncated one's to {@code V(S) − V(∅)}, off by less than {@code tolerance·|V(D)|} per target. The paper's
 * code also waits for five consecutive prefixes within tolerance before cutting; this class cuts at the first.
 */
public final class TmcShapley {

  private TmcShapley() {}

  /** One-machine run: {@code V(∅)}, {@code V(D)}, then permutations until {@code budget} stops. */
  public static ShapleyValues run(Utility utility, double tolerance, long seed, Budget budget) {
    double[] empty = utility.value(new int[0]);
    double[] full = utility.value(all(utility.players()));
    requireRoom(empty, full, tolerance);
    ShapleyValues v = MonteCarlo.estimate(utility.players(), utility.targets(), budget, (first, count) -> {
      List<Marginals> out = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        out.add(permutation(utility, empty, full, tolerance, seed, first + i));
      }
      return out;
    });
    return v;
  }

  /**
   * Permutation {@code index}'s marginals. {@code empty} and {@code full} are {@code V(∅)} and {@code V(D)}
   * of {@code utility} (computed once by the caller).
   */
  public static Marginals permutation(Utility utility, double[] empty, double[] full, double tolerance, long seed,
      long index) {
    if (!(tolerance >= 0)) {
      throw new IllegalArgumentException("truncation tolerance must be >= 0, got " + tolerance);
    }
    int n = utility.players();
    int targets = utility.targets();
    int[] order = Permutations.of(n, seed, index);
    double[] marginal = new double[n * targets];
    double[] previous = empty;
    int evaluations = 0;
    boolean truncated = false;
    for (int j = 0; j < n; j++) {
      if (tolerance > 0 && close(previous, full, tolerance)) {
        truncated = true;
        break;
      }
      double[] now = j == n - 1 ? full : utility.value(Arrays.copyOf(order, j + 1));
      if (j < n - 1) {
        evaluations++;
      }
      int p = order[j];
      for (int t = 0; t < targets; t++) {
        marginal[p * targets + t] = now[t] - previous[t];
      }
      previous = now;
    }
    return new Marginals(index, marginal, evaluations, truncated);
  }

  /**
   * Refuses a tolerance under which every permutation would stop before its first player (all values 0): when
   * {@code V(∅)} is already within {@code tolerance·|V(D)|} of {@code V(D)} for every target, as happens when the
   * utility is a loss that training on the whole set barely moves.
   */
  public static void requireRoom(double[] empty, double[] full, double tolerance) {
    if (tolerance > 0 && close(empty, full, tolerance)) {
      StringBuilder gaps = new StringBuilder();
      for (int t = 0; t < full.length && t < 5; t++) {
        gaps.append(t == 0 ? "" : ", ").append(String.format(java.util.Locale.ROOT, "%.3g of %.3g",
            Math.abs(full[t] - empty[t]), Math.abs(full[t])));
      }
      throw new IllegalArgumentException("TMC truncation tolerance " + tolerance + " would cut every permutation"
          + " before its first player: |V(D) − V(∅)| < tolerance·|V(D)| for every target (" + gaps + "). HINT: lower"
          + " the truncation tolerance (0 turns truncation off), or make training on the whole set move the utility"
          + " more (more fine-tuning steps or a higher learning rate)");
    }
  }

  /** The truncation test: {@code |V(D) − V(S)| < tolerance·|V(D)|} for every target. */
  static boolean close(double[] prefix, double[] full, double tolerance) {
    for (int t = 0; t < full.length; t++) {
      if (!(Math.abs(full[t] - prefix[t]) < tolerance * Math.abs(full[t]))) {
        return false;
      }
    }
    return true;
  }

  static int[] all(int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = i;
    }
    return a;
  }
}
