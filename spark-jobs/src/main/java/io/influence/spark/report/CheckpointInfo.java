package io.influence.spark.report;

/** A checkpoint the scores were computed at (TracIn sums over these with weight {@code learningRate}). */
public record CheckpointInfo(long step, double learningRate, String sha256) {
  public CheckpointInfo {
    Checks.finite(learningRate, "learningRate of checkpoint step " + step);
    Checks.notNull(sha256, "sha256 of checkpoint step " + step);
  }
}
