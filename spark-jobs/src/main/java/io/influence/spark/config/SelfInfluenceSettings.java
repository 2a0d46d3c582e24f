package io.influence.spark.config;

import com.typesafe.config.Config;

/**
 * The {@code influence.self-influence} block.
 *
 * @param flagFraction fraction of the corpus flagged (highest self-influence), in [0, 1]
 * @param normalize    self-influence of the summed loss, or divided by each sequence's predicted tokens
 * @param method       TracIn, EK-FAC, representer points or SGD-influence (the iterative solvers and Data Shapley
 *                     are offered by the score stage only)
 * @param sgdInfluenceMaxSequences with {@code method = sgd-influence}, the most training sequences whose
 *                     self-influence is replayed (one backward replay of the whole run per sequence), {@code >= 1}
 */
public record SelfInfluenceSettings(double flagFraction, Normalization normalize, Method method,
                                    int sgdInfluenceMaxSequences) {

  /** {@code self-influence.normalize}. */
  public enum Normalization {
    /** Self-influence of the summed sequence loss (grows with length). */
    SUM,
    /** Divided by the sequence's number of predicted tokens (tokens − 1). */
    PER_TOKEN
  }

  public SelfInfluenceSettings {
    if (!(flagFraction >= 0 && flagFraction <= 1)) {
      throw new IllegalArgumentException("influence.self-influence.flag-fraction must be in [0, 1], got "
          + flagFraction);
    }
    if (sgdInfluenceMaxSequences < 1) {
      throw new IllegalArgumentException("influence.self-influence.sgd-influence-max-sequences must be >= 1, got "
          + sgdInfluenceMaxSequences);
    }
    if (method.iterative() || method.retrains()) {
      throw new IllegalArgumentException("influence.self-influence.method must be \"tracin\", \"ekfac\", "
          + "\"representer\" or \"sgd-influence\", got \"" + method.word() + "\". HINT: the iterative solvers (cg, "
          + "lissa) would need one solve per training sequence, and Data Shapley (tmc-shapley, g-shapley) values players by retraining on subsets"
          + " (a player's value is defined by the queries' utility, and valuing each sequence against its own loss would"
          + " be one Shapley game per sequence): both are offered by score.method only");
    }
  }

  static SelfInfluenceSettings from(Config c) {
    return new SelfInfluenceSettings(c.getDouble("self-influence.flag-fraction"),
        Choices.parse(Normalization.class, "self-influence.normalize", c.getString("self-influence.normalize")),
        Choices.parse(Method.class, "self-influence.method", c.getString("self-influence.method")),
        c.getInt("self-influence.sgd-influence-max-sequences"));
  }
}
