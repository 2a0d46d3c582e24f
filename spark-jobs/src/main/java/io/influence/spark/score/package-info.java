/**
 * The score stage: {@link io.influence.spark.score.ScoreJob#run} ranks every stored training example
 * for each query with blocked float32 GEMMs per partition and keeps the top-k and bottom-k
 * ({@link io.influence.spark.score.ScoreSpec} says what; {@link io.influence.spark.score.ScoreJob#SCHEMA}
 * gives the output columns). Its throughput is measured by {@code io.influence.bench.ScoreBench} in the
 * {@code bench} module ({@code influence bench scoring}).
 */
package io.influence.spark.score;
