package io.influence.spark.config;

import com.typesafe.config.Config;
import io.influence.core.shapley.Budget;
import io.influence.core.shapley.FineTuneGame;
import java.util.Optional;

/**
 * The {@code influence.shapley} block: Data Shapley ({@code score.method = "tmc-shapley"} or {@code "g-shapley"}).
 *
 * @param permutations most permutations drawn (the budget)
 * @param window       convergence window: permutations over which the running estimates must be stable
 * @param threshold    convergence threshold on the mean relative change over the window (0 = run the whole budget)
 * @param round        permutations per round of Spark tasks (results do not depend on it)
 * @param truncation   TMC truncation tolerance: a permutation stops once {@code |V(D) − V(S)| < truncation·|V(D)|}
 *                     for every query (0 = no truncation)
 * @param seed         the permutations
 * @param group        corpus column whose values are the players (empty: each training sequence is a player)
 * @param checkpoint   the step of the run's checkpoint fine-tuned from (empty: the last)
 * @param fineTune     how each coalition is fine-tuned
 */
public record ShapleySettings(int permutations, int window, double threshold, int round, double truncation, long seed,
                              Optional<String> group, Optional<Long> checkpoint, FineTuneGame.Settings fineTune) {

  public ShapleySettings {
    if (!(truncation >= 0 && truncation < 1)) {
      throw new IllegalArgumentException("influence.shapley.truncation-tolerance must be in [0, 1), got " + truncation
          + ". HINT: 0 turns truncation off; the paper's tolerance is a few percent");
    }
    try {
      new Budget(permutations, window, threshold, round);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("influence.shapley: " + e.getMessage()
          + ". HINT: set shapley.permutations, shapley.convergence.window and shapley.round >= 1, and"
          + " shapley.convergence.threshold >= 0", e);
    }
  }

  /** The stopping rule. */
  public Budget budget() {
    return new Budget(permutations, window, threshold, round);
  }

  static ShapleySettings from(Config c) {
    String group = c.getString("shapley.group-column").trim();
    String checkpoint = c.getString("shapley.checkpoint").trim();
    Optional<Long> step;
    if (checkpoint.equals("last")) {
      step = Optional.empty();
    } else {
      try {
        step = Optional.of(Long.parseLong(checkpoint));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("influence.shapley.checkpoint must be \"last\" or a checkpoint's step, got \""
            + checkpoint + "\"");
      }
    }
    FineTuneGame.Settings fineTune;
    try {
      fineTune = new FineTuneGame.Settings(
          Choices.parse(FineTuneGame.OptimizerKind.class, "shapley.fine-tune.optimizer",
              c.getString("shapley.fine-tune.optimizer")),
          c.getDouble("shapley.fine-tune.learning-rate"), c.getInt("shapley.fine-tune.steps"),
          c.getInt("shapley.fine-tune.batch-size"), c.getLong("shapley.fine-tune.seed"));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("influence.shapley.fine-tune: " + e.getMessage(), e);
    }
    return new ShapleySettings(c.getInt("shapley.permutations"), c.getInt("shapley.convergence.window"),
        c.getDouble("shapley.convergence.threshold"), c.getInt("shapley.round"),
        c.getDouble("shapley.truncation-tolerance"), c.getLong("shapley.seed"),
        group.isEmpty() ? Optional.empty() : Optional.of(group), step, fineTune);
  }
}
