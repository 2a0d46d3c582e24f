package io.influence.core.train;

/**
 * Settings of {@link Trainer}.
 *
 * @param optimizer        {@code "adamw"} or {@code "sgd"}
 * @param learningRate     peak learning rate
 * @param schedule         {@code "constant"} or {@code "cosine"} (after warm-up, decays to
 *                         {@code minLrFraction · learningRate} at the last step)
 * @param warmupSteps      linear warm-up from {@code learningRate/warmupSteps} to {@code learningRate}; 0 for none
 * @param minLrFraction    floor of the cosine schedule, in (0, 1] (keeps every step's rate positive, as TracIn needs)
 * @param weightDecay      decoupled weight decay (AdamW) or L2 coefficient (SGD), applied to matrices only
 *                         (not to biases and LayerNorm parameters)
 * @param beta1            AdamW first-moment decay
 * @param beta2            AdamW second-moment decay
 * @param adamEpsilon      AdamW denominator epsilon
 * @param clipNorm         global gradient-norm clip; 0 disables clipping
 * @param batchSize        sequences per step
 * @param steps            optimizer steps
 * @param saveEvery        save a checkpoint every this many steps (and at the last step); 0 = only the last
 * @param seed             batch-order seed (a seeded shuffle per epoch)
 */
public record TrainerSettings(String optimizer, double learningRate, String schedule, int warmupSteps,
                              double minLrFraction, double weightDecay, double beta1, double beta2,
                              double adamEpsilon, double clipNorm, int batchSize, int steps, int saveEvery,
                              long seed) {

  public TrainerSettings {
    if (!optimizer.equals("adamw") && !optimizer.equals("sgd")) {
      throw new IllegalArgumentException("optimizer \"" + optimizer + "\" is not supported; HINT: adamw or sgd");
    }
    if (!schedule.equals("constant") && !schedule.equals("cosine")) {
      throw new IllegalArgumentException("schedule \"" + schedule + "\" is not supported; HINT: constant or cosine");
    }
    if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
      throw new IllegalArgumentException("learningRate = " + learningRate + " must be positive and finite");
    }
    if (warmupSteps < 0 || batchSize <= 0 || steps <= 0 || saveEvery < 0) {
      throw new IllegalArgumentException("need warmupSteps >= 0, batchSize > 0, steps > 0, saveEvery >= 0; got "
          + warmupSteps + ", " + batchSize + ", " + steps + ", " + saveEvery);
    }
    if (!(minLrFraction > 0 && minLrFraction <= 1)) {
      throw new IllegalArgumentException("minLrFraction = " + minLrFraction + " must be in (0, 1]");
    }
    if (weightDecay < 0 || clipNorm < 0 || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(adamEpsilon > 0)) {
      throw new IllegalArgumentException("need weightDecay >= 0, clipNorm >= 0, beta1/beta2 in [0, 1), adamEpsilon > 0");
    }
  }

  /** AdamW (0.9, 0.999, 1e-8), weight decay 0.01, cosine to 10% after {@code steps/10} warm-up steps, clip 1.0. */
  public static TrainerSettings adamw(double learningRate, int batchSize, int steps, int saveEvery, long seed) {
    return new TrainerSettings("adamw", learningRate, "cosine", steps / 10, 0.1, 0.01, 0.9, 0.999, 1e-8, 1.0,
        batchSize, steps, saveEvery, seed);
  }

  /** Plain SGD with a constant rate, no warm-up, no clipping. */
  public static TrainerSettings sgd(double learningRate, int batchSize, int steps, int saveEvery, long seed) {
    return new TrainerSettings("sgd", learningRate, "constant", 0, 1.0, 0.0, 0.9, 0.999, 1e-8, 0.0,
        batchSize, steps, saveEvery, seed);
  }

  /** The learning rate used by optimizer step {@code step} (1-based). */
  public double learningRateAt(long step) {
    if (warmupSteps > 0 && step <= warmupSteps) {
      return learningRate * step / warmupSteps;
    }
    if (schedule.equals("constant")) {
      return learningRate;
    }
    long decay = steps - warmupSteps;
    double progress = decay <= 1 ? 1.0 : (double) (step - warmupSteps - 1) / (decay - 1);
    double min = minLrFraction * learningRate;
    return min + (learningRate - min) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1.0, progress)));
  }
}
