package io.influence.core.shapley;

/**
 * A cooperative game over {@link #players()} players with a vector payoff: {@link #value} of a
 * coalition is one utility per target (per query), so that one retraining on a coalition serves
 * every query at once.
 *
 * <p>A utility is a <em>set</em> function: implementations must return the same numbers for the
 * same members in any order (sort them before training), and the same numbers on every call
 * (seeded training). The Monte Carlo estimators and the exact enumeration rely on both.
 */
public interface Utility {

  /** Number of players (training points, or groups of them). */
  int players();

  /** Number of utilities per coalition (one per query). */
  int targets();

  /**
   * The utilities of the coalition {@code members} (distinct player indices in {@code [0, players)}, any order;
   * empty for the empty coalition). The array is not modified.
   */
  double[] value(int[] members);
}
