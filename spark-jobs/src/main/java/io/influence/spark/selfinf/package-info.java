/**
 * The self-influence stage for data cleaning: {@link io.influence.spark.selfinf.SelfInfluenceJob#run}
 * writes {@code (train_id, score, quantile, flagged)} for every stored training example.
 */
package io.influence.spark.selfinf;
