/** Progress of long stages on standard error ({@link io.influence.spark.progress.Progress}). */
package io.influence.spark.progress;
