package io.influence.spark.config;

/** {@code input.bad-rows}: rows that cannot be used (empty, too long, unknown token ids) stop the job or are left out. */
public enum BadRows {
  /** Stop the job, naming the rows. */
  FAIL,
  /** Leave them out and report their ids and count in the stage summary. */
  SKIP
}
