/**
 * Harmful-data flagging ({@code influence flag}): {@link io.influence.spark.flag.FlagJob#run} ranks every stored
 * training sequence by its aggregate normalised influence on examples of unwanted behaviour and writes
 * {@code (train_id, score, mean, max, quantile, flagged, rank, strongest_example, reason)} for a cleaning pipeline.
 */
package io.influence.spark.flag;
