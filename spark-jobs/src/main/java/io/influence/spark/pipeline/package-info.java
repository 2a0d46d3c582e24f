/**
 * The pipeline's stages as functions of {@code (SparkSession, InfluenceSettings)} ({@link
 * io.influence.spark.pipeline.Stages}): extract, fit-ekfac, self-influence, score, report, and {@code run} for all
 * of them. The command line and the tests call these; each stage resolves its method once and asks it what it needs.
 */
package io.influence.spark.pipeline;
