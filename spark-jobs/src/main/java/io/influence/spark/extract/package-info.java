/**
 * The extract stage: the corpus tokenised and checked once ({@link io.influence.spark.extract.TokenizedCorpus}),
 * then per-example gradients of every checkpoint written to the gradient store
 * ({@link io.influence.spark.extract.ExtractJob}); executors load each checkpoint's model once per JVM
 * ({@link io.influence.spark.extract.ExecutorModels}).
 */
package io.influence.spark.extract;
