package io.influence.spark.config;

import io.influence.core.model.GradientRequest;

/**
 * Which curvature EK-FAC fits ({@code ekfac.fisher}): the Fisher of the data's own next tokens, or of labels drawn
 * from the model's predictive distribution, whose expectation is the Gauss-Newton matrix.
 */
public enum Fisher {
  /** Observed next tokens as labels: the empirical Fisher (cheaper to reason about; not the Gauss-Newton matrix). */
  EMPIRICAL,
  /**
   * One label per predicted position sampled from the model's softmax, seeded by {@code ekfac.fisher-seed}, the
   * sequence and the position (the same labels in any partitioning): the true Fisher of Kronfluence and Grosse et
   * al. (2023), an unbiased estimate of the Gauss-Newton matrix.
   */
  TRUE;

  /** The labels the covariance and correction passes differentiate against. */
  public GradientRequest.Labels labels(long seed) {
    return this == TRUE ? GradientRequest.Labels.sampled(seed) : GradientRequest.Labels.OBSERVED;
  }

  /** How the factor marker and provenance name it: {@code empirical}, or {@code true (seed 0)}. */
  public String describe(long seed) {
    return this == TRUE ? "true (seed " + seed + ")" : "empirical";
  }
}
