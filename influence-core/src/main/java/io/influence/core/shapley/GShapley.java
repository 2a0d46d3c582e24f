package io.influence.core.shapley;

import java.util.ArrayList;
import java.util.List;

/**
 * Gradient Shapley (G-Shapley; Ghorbani &amp; Zou 2019, Algorithm 2): instead of retraining on every
 * prefix of a permutation, train the model for one epoch in the permutation's order, one gradient step
 * per player, and take as player {@code π_j}'s marginal the change of the utility caused by its step.
 * Cost per permutation: one epoch ({@code players} steps and utility evaluations) instead of
 * {@code players} retrainings. It approximates the Shapley value of a different game (the one-epoch
 * learner), so it is cheaper and biased; averaging and stopping follow {@link MonteCarlo}.
 *
 * <p>Each permutation's marginals telescope to the utility after the epoch minus the start's.
 */
public final class GShapley {

  private GShapley() {}

  /** One-machine run until {@code budget} stops. */
  public static ShapleyValues run(Stepwise game, long seed, Budget budget) {
    return MonteCarlo.estimate(game.players(), game.targets(), budget, (first, count) -> {
      List<Marginals> out = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        out.add(permutation(game, seed, first + i));
      }
      return out;
    });
  }

  /** Permutation {@code index}'s marginals: one epoch from the start state, one step per player. */
  public static Marginals permutation(Stepwise game, long seed, long index) {
    int n = game.players();
    int targets = game.targets();
    int[] order = Permutations.of(n, seed, index);
    Stepwise.Learner learner = game.start();
    double[] previous = learner.utility();
    double[] marginal = new double[n * targets];
    for (int p : order) {
      learner.step(p);
      double[] now = learner.utility();
      for (int t = 0; t < targets; t++) {
        marginal[p * targets + t] = now[t] - previous[t];
      }
      previous = now;
    }
    return new Marginals(index, marginal, n, false);
  }
}
