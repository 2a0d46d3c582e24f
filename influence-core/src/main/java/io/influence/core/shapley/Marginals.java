package io.influence.core.shapley;

import java.io.Serializable;

/**
 * What one permutation contributes: the marginal utility of every player, row-major
 * {@code [player][target]}, plus how many utilities it evaluated (retrainings) and whether it was truncated.
 * Serializable so that a distributed run can return it from a task.
 *
 * @param index the permutation's number in the run (see {@link Permutations#of})
 * @param marginal {@code players × targets} values, row-major
 * @param evaluations utility evaluations (retrainings or steps) it cost
 * @param truncated whether the tail of the permutation was cut by the truncation rule (marginals 0 there)
 */
public record Marginals(long index, double[] marginal, int evaluations, boolean truncated) implements Serializable {}
