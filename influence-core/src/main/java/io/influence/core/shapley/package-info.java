/**
 * Data Shapley (Ghorbani &amp; Zou, ICML 2019): the value of each training point, or group of points, as its
 * Shapley value in the game whose utility is a model's performance after training on a coalition.
 *
 * <ul>
 *   <li>{@link io.influence.core.shapley.Utility}: a coalition → one utility per target (query), so one
 *       retraining serves every query; {@link io.influence.core.shapley.Stepwise}: a learner taking one step per
 *       player (for G-Shapley).</li>
 *   <li>{@link io.influence.core.shapley.TmcShapley}: truncated Monte Carlo over seeded permutations, with the
 *       paper's truncation; {@link io.influence.core.shapley.GShapley}: one epoch of per-player steps per
 *       permutation; {@link io.influence.core.shapley.ExactShapley}: all 2^n coalitions (checks).</li>
 *   <li>{@link io.influence.core.shapley.MonteCarlo} and {@link io.influence.core.shapley.Budget}: the shared loop
 *       and the stopping rule; permutations are computed by a {@link io.influence.core.shapley.MonteCarlo.Runner},
 *       which a Spark job runs as tasks, with results independent of how they were split
 *       ({@link io.influence.core.shapley.Permutations}).</li>
 *   <li>{@link io.influence.core.shapley.FineTuneGame}: the language-model game, fine-tuning a checkpoint on the
 *       coalition and scoring each query's completion.</li>
 * </ul>
 */
package io.influence.core.shapley;
