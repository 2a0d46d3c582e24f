package io.influence.core.shapley;

import java.io.Serializable;

/**
 * When a Monte Carlo Shapley run stops: after {@code maxPermutations}, or earlier when it has
 * converged by the rule of Ghorbani &amp; Zou (2019, the code released with the paper): over the last
 * {@code window} permutations, the running estimates moved by less than {@code threshold} relative to
 * the current ones, i.e.
 * <pre>
 *   max_{r in last window}  mean_{player, target}  |φ_r − φ_now| / (|φ_now| + 1e-12)  &lt;  threshold
 * </pre>
 * (the paper: window 100, threshold 0.05). {@code round} permutations are drawn at a time (a
 * distributed run runs a round as tasks); the result does not depend on it, because the run stops at
 * the first permutation that meets the rule and ignores the rest of that round.
 */
public record Budget(int maxPermutations, int window, double threshold, int round) implements Serializable {

  public Budget {
    if (maxPermutations < 1 || window < 1 || round < 1) {
      throw new IllegalArgumentException("need maxPermutations, window and round >= 1, got " + maxPermutations
          + ", " + window + ", " + round);
    }
    if (!(threshold >= 0) || !Double.isFinite(threshold)) {
      throw new IllegalArgumentException("convergence threshold must be finite and >= 0 (0 = never stop early), got "
          + threshold);
    }
  }

  /** A fixed number of permutations (no early stop), drawn {@code round} at a time. */
  public static Budget fixed(int permutations, int round) {
    return new Budget(permutations, 1, 0, round);
  }
}
