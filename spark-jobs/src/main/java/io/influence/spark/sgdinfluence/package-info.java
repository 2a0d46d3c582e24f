/**
 * SGD-influence on Spark ({@link io.influence.spark.sgdinfluence.SgdInfluenceJob}): the training run
 * replayed once per block of queries, one Spark task per block, written in the score stage's schema.
 */
package io.influence.spark.sgdinfluence;
