/**
 * The score stage: {@link io.influence.spark.score.ScoreJob#run} ranks every stored training example
 * for each query with blocked float32 GEMMs per partition and keeps the top-k and bottom-k
 * ({@link io.influence.spark.score.ScoreSpec} says what; {@link io.influence.spark.score.ScoreJob#SCHEMA}
 * gives the output columns). {@link io.influence.spark.score.ScoreBench} measures its throughput.
 */
package io.influence.spark.score;
