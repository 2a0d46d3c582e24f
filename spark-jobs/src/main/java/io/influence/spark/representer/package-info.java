/**
 * {@code score.method = representer}: representer points of the output head on Spark. The numerics (fine-tune,
 * representer weights, factorised scores) live in {@code io.influence.core.representer}; this package computes
 * the final hidden states of the corpus on the executors, fits the head once on the driver (saved with a
 * fingerprint and reused), and scores every training sequence per block, writing the score stage's output schema.
 */
package io.influence.spark.representer;
