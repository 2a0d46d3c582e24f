package io.influence.spark.config;

import com.typesafe.config.Config;

/**
 * The {@code influence.representer} block ({@code score.method = representer}): the L2-regularised fine-tune of the
 * output head that representer points need (io.influence.core.representer.HeadFit), checked on the driver.
 *
 * @param lambda        the L2 coefficient {@code λ} of {@code (1/n) Σ_t CE(W f_t, y_t) + λ‖W‖²}, {@code > 0}
 * @param tolerance     the fit stops when {@code ‖∇J‖ / (2λ‖W‖) ≤ tolerance}: the relative error of the
 *                      representer decomposition of the head; in {@code (0, 1)}
 * @param maxIterations Newton steps at most; a fit that misses the tolerance fails the stage
 * @param batchSize     sequences per forward pass when computing the final hidden states
 */
public record RepresenterSettings(double lambda, double tolerance, int maxIterations, int batchSize) {

  private static final String P = "influence.representer.";

  public RepresenterSettings {
    if (!(lambda > 0) || !Double.isFinite(lambda)) {
      throw new IllegalArgumentException(P + "lambda must be a finite number > 0, got " + lambda
          + ". HINT: e.g. 1e-3; larger λ shrinks the fine-tuned head towards zero");
    }
    if (!(tolerance > 0 && tolerance < 1)) {
      throw new IllegalArgumentException(P + "tolerance must be in (0, 1), got " + tolerance + ". HINT: e.g. 1e-10");
    }
    if (maxIterations < 1) {
      throw new IllegalArgumentException(P + "max-iterations must be >= 1, got " + maxIterations);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException(P + "batch-size must be >= 1, got " + batchSize);
    }
  }

  static RepresenterSettings from(Config c) {
    return new RepresenterSettings(c.getDouble("representer.lambda"), c.getDouble("representer.tolerance"),
        c.getInt("representer.max-iterations"), c.getInt("representer.batch-size"));
  }
}
