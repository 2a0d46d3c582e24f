package io.influence.core.shapley;

/**
 * A game played by a learner that takes one gradient step per player, for G-Shapley: the learner
 * starts from a fixed state, {@link Learner#step} applies the update of one player's data, and
 * {@link Learner#utility} is one utility per target of the current state.
 */
public interface Stepwise {

  /** Number of players. */
  int players();

  /** Number of utilities per state (one per query). */
  int targets();

  /** A learner in the starting state (a fresh one each call; the state is not shared). */
  Learner start();

  /** A learner being trained one player at a time. */
  interface Learner {

    /** One update on player {@code player}'s data (the learner counts its own steps). */
    void step(int player);

    /** One utility per target of the current state. */
    double[] utility();
  }
}
