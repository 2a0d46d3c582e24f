package io.influence.spark.report;

import java.util.OptionalDouble;

/**
 * The provenance of one Data Shapley run as the report shows it, read from the folder's {@code values.jsonl} and its
 * rows' {@code solver} JSON (io.influence.spark.shapley.ShapleyJob).
 *
 * @param folder               the score folder under the output folder
 * @param method               {@code tmc-shapley} or {@code g-shapley}
 * @param utility              what {@code V(S)} is, in words (the fine-tuning and the loss it is measured by)
 * @param permutations         permutations run
 * @param maxPermutations      the budget ({@code shapley.permutations})
 * @param retrainings          fine-tunings (TMC) or single steps (G) spent
 * @param truncated            permutations cut by the truncation rule
 * @param truncationTolerance  the tolerance of that rule (0 for G-Shapley, which does not truncate)
 * @param converged            whether the stopping rule fired before the budget ran out
 * @param convergenceError     the rule's last measured relative change, when one was measured
 * @param seed                 the permutations' seed
 * @param players              number of players
 * @param groupColumn          the corpus column players are grouped by, or empty (one player per sequence)
 * @param checkpoint           the checkpoint fine-tuned from
 * @param stderr               the values' Monte Carlo standard errors over every player and query
 */
public record ShapleyRun(String folder, String method, String utility, int permutations, int maxPermutations,
                         long retrainings, int truncated, double truncationTolerance, boolean converged,
                         OptionalDouble convergenceError, long seed, int players, String groupColumn,
                         String checkpoint, StandardErrors stderr) {

  /**
   * The standard errors of a run's values, over its players × {@code queries} queries: the largest and the median
   * (the mean of the middle two for an even count).
   */
  public record StandardErrors(int queries, double largest, double median) {
    public StandardErrors {
      Checks.finite(largest, "largest Shapley standard error");
      Checks.finite(median, "median Shapley standard error");
    }

    /** The summary of {@code values} (every player's standard error for every one of {@code queries} queries). */
    public static StandardErrors of(int queries, double[] values) {
      if (values.length == 0) {
        throw new IllegalArgumentException("no Shapley standard errors to summarise");
      }
      double[] sorted = values.clone();
      java.util.Arrays.sort(sorted);
      int n = sorted.length;
      return new StandardErrors(queries, sorted[n - 1],
          n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2);
    }
  }

  public ShapleyRun {
    Checks.notNull(folder, "Shapley folder");
    Checks.notNull(method, "Shapley method of " + folder);
    Checks.notNull(utility, "Shapley utility of " + folder);
    Checks.notNull(convergenceError, "Shapley convergence error of " + folder);
    Checks.notNull(groupColumn, "Shapley group column of " + folder);
    Checks.notNull(checkpoint, "Shapley checkpoint of " + folder);
    Checks.finite(truncationTolerance, "Shapley truncation tolerance of " + folder);
    Checks.notNull(stderr, "Shapley standard errors of " + folder);
  }
}
