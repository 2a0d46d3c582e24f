package io.influence.core.train;

/**
 * Learning rate as a function of the optimizer step (1-based: step 1 is the first update).
 *
 * <p>Linear warm-up from {@code peak / warmupSteps} to {@code peak} over the first
 * {@code warmupSteps} steps, then either constant or a cosine decay from {@code peak} to
 * {@code minimum} at {@code totalSteps}. The value at a step is the rate used for that step's
 * update, which is also the rate recorded for a checkpoint saved right after it (TracIn weighs
 * each checkpoint by it).
 */
public record LearningRateSchedule(Shape shape, double peak, double minimum, int warmupSteps, int totalSteps) {

  /** The decay after warm-up. */
  public enum Shape { CONSTANT, COSINE }

  public LearningRateSchedule {
    if (shape == null) {
      throw new IllegalArgumentException("schedule shape is required (CONSTANT or COSINE)");
    }
    if (!(peak > 0) || !Double.isFinite(peak)) {
      throw new IllegalArgumentException("peak learning rate must be finite and > 0, got " + peak);
    }
    if (!(minimum >= 0) || minimum > peak) {
      throw new IllegalArgumentException("minimum learning rate must be in [0, peak=" + peak + "], got " + minimum);
    }
    if (warmupSteps < 0 || totalSteps < 1 || warmupSteps > totalSteps) {
      throw new IllegalArgumentException("need 0 <= warmupSteps <= totalSteps and totalSteps >= 1, got warmup="
          + warmupSteps + " total=" + totalSteps);
    }
  }

  public static LearningRateSchedule constant(double rate) {
    return new LearningRateSchedule(Shape.CONSTANT, rate, rate, 0, Integer.MAX_VALUE);
  }

  public static LearningRateSchedule cosine(double peak, double minimum, int warmupSteps, int totalSteps) {
    return new LearningRateSchedule(Shape.COSINE, peak, minimum, warmupSteps, totalSteps);
  }

  /** The rate for the update at {@code step} (1-based). */
  public double at(int step) {
    if (step < 1) {
      throw new IllegalArgumentException("steps are 1-based, got " + step);
    }
    if (step <= warmupSteps) {
      return peak * step / warmupSteps;
    }
    if (shape == Shape.CONSTANT) {
      return peak;
    }
    int decaySteps = totalSteps - warmupSteps;
    if (decaySteps == 0) {
      return peak;
    }
    double progress = Math.min(1.0, (double) (step - warmupSteps) / decaySteps);
    return minimum + 0.5 * (peak - minimum) * (1 + Math.cos(Math.PI * progress));
  }
}
