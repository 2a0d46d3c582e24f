/**
 * Progress of long stages: console lines on standard error and JSON Lines in {@code output.dir/_progress/}
 * ({@link io.influence.spark.progress.Progress}, {@link io.influence.spark.progress.ProgressLog}); tasks report each
 * batch through a {@link io.influence.spark.progress.ProgressCounter}.
 */
package io.influence.spark.progress;
