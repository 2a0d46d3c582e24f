package io.influence.core.shapley;

/**
 * Shapley values of every player for every target, with their Monte Carlo standard errors and what
 * the run cost. {@code values[p][t]} is player {@code p}'s value for target {@code t}; {@code stderr}
 * is the sample standard deviation of its per-permutation marginals over {@code √permutations} (0 for an
 * exact enumeration).
 *
 * <p>Efficiency: {@code total[t] = Σ_p values[p][t]} is the mean over permutations of each
 * permutation's summed marginals, and {@code totalStderr[t]} its standard error. A permutation that is
 * not truncated sums exactly to {@code V(D) − V(∅)} (the sum telescopes), so an untruncated TMC run is
 * efficient to rounding with {@code totalStderr = 0}; a truncated permutation sums to
 * {@code V(S) − V(∅)} with {@code |V(D) − V(S)| < tolerance·|V(D)|}, so the gap is bounded by the
 * tolerance. For G-Shapley the sum telescopes to the utility after one epoch minus the start.
 *
 * @param overall each player's value for the sum of the targets (Shapley values are linear in the utility)
 * @param overallStderr its standard error (from the per-permutation sums over targets)
 * @param permutations permutations used ({@code 0} for exact enumeration)
 * @param evaluations utility evaluations (retrainings, or learner steps for G-Shapley)
 * @param truncatedPermutations permutations whose tail the truncation rule cut
 * @param converged whether the convergence rule stopped the run (false: the budget ran out, or exact)
 * @param convergenceError the rule's last value ({@code NaN} before a full window)
 */
public record ShapleyValues(double[][] values, double[][] stderr, double[] overall, double[] overallStderr,
                            double[] total, double[] totalStderr, int permutations, long evaluations,
                            int truncatedPermutations, boolean converged, double convergenceError) {

  public int players() {
    return values.length;
  }

  public int targets() {
    return total.length;
  }

  /** Player values for target {@code t}. */
  public double[] target(int t) {
    double[] out = new double[values.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = values[p][t];
    }
    return out;
  }
}
