/**
 * SGD-influence (Hara, Nitanda &amp; Maehara 2019): the effect of leaving one training example out of a
 * recorded plain-SGD run, estimated by replaying the run backwards with Hessian-vector products.
 *
 * <ul>
 *   <li>{@link io.influence.core.sgdinfluence.SgdInfluence}: the recursions (query scores backwards,
 *       the effect on the final parameters forwards) and the check that a log is plain SGD.</li>
 *   <li>{@link io.influence.core.sgdinfluence.ReplayModel}: what they ask of a model (per-example
 *       gradients, batch HVPs at given parameters).</li>
 *   <li>{@link io.influence.core.sgdinfluence.LmReplay}: a causal-LM run read from its training log
 *       ({@link io.influence.checkpoints.TrainingLogs}), replayed forward bit-exactly, as a ReplayModel.</li>
 * </ul>
 * No Spark here.
 */
package io.influence.core.sgdinfluence;
