package io.influence.spark.config;

import io.influence.core.model.GradientRequest;
import java.util.ArrayList;
import java.util.List;

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

  /**
   * The labels the covariance and correction passes differentiate against, one entry per pass over each batch: the
   * observed tokens once, or {@code samples} sampled draws seeded {@code seed, seed + 1, …} (averaged with equal
   * weights: more draws, less sampling noise in the estimate of the Gauss-Newton matrix).
   */
  public List<GradientRequest.Labels> draws(long seed, int samples) {
    if (samples < 1) {
      throw new IllegalArgumentException("influence.ekfac.fisher-samples must be >= 1, got " + samples);
    }
    if (this == EMPIRICAL) {
      return List.of(GradientRequest.Labels.OBSERVED);
    }
    List<GradientRequest.Labels> out = new ArrayList<>();
    for (int s = 0; s < samples; s++) {
      out.add(GradientRequest.Labels.sampled(seed + s));
    }
    return out;
  }

  /**
   * How the factor marker and provenance name it: {@code empirical}, {@code true (seed 0)}, or with several draws
   * {@code true (seed 0, 4 samples per position)}.
   */
  public String describe(long seed, int samples) {
    if (this == EMPIRICAL) {
      return "empirical";
    }
    return samples == 1 ? "true (seed " + seed + ")" : "true (seed " + seed + ", " + samples + " samples per position)";
  }
}
