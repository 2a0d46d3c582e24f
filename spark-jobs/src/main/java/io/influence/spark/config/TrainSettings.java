package io.influence.spark.config;

import com.typesafe.config.Config;
import io.influence.checkpoints.Gpt2Config;
import io.influence.core.train.LearningRateSchedule;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;

/**
 * The {@code influence.train} settings block: a byte-level BPE vocabulary and a small GPT-2
 * trained from scratch with AdamW. See {@code conf/reference.conf} for each key's meaning.
 */
public record TrainSettings(int vocabSize, int context, int width, int layers, int heads, int steps, int batchSize,
                            double learningRate, double minLearningRate, Schedule schedule, int warmupSteps,
                            double weightDecay, double clipNorm, int checkpoints, long seed) {

  public TrainSettings {
    if (vocabSize < 257) {
      throw new IllegalArgumentException("influence.train.vocab-size is " + vocabSize
          + ". HINT: a byte-level BPE needs at least 257 tokens (256 bytes + end of text)");
    }
    if (context < 4 || width < 1 || layers < 1 || heads < 1 || width % heads != 0) {
      throw new IllegalArgumentException("influence.train: need context >= 4, width, layers, heads >= 1 and width "
          + "divisible by heads, got context=" + context + " width=" + width + " layers=" + layers + " heads=" + heads);
    }
    if (checkpoints < 1 || checkpoints > steps) {
      throw new IllegalArgumentException("influence.train.checkpoints is " + checkpoints + " with " + steps
          + " steps. HINT: save between 1 and steps checkpoints");
    }
  }

  /** {@code train.schedule}: the learning rate after the warm-up. */
  public enum Schedule {
    /** Flat (TracIn weighs the checkpoints alike). */
    CONSTANT,
    /** Cosine decay to {@code min-learning-rate}. */
    COSINE
  }

  static TrainSettings from(Config s) {
    Config t = s.getConfig("train");
    return new TrainSettings(t.getInt("vocab-size"), t.getInt("context"), t.getInt("width"), t.getInt("layers"),
        t.getInt("heads"), t.getInt("steps"), t.getInt("batch-size"), t.getDouble("learning-rate"),
        t.getDouble("min-learning-rate"),
        Choices.parse(Schedule.class, "train.schedule", t.getString("schedule")), t.getInt("warmup-steps"),
        t.getDouble("weight-decay"), t.getDouble("clip-norm"), t.getInt("checkpoints"), t.getLong("seed"));
  }

  /** The GPT-2 shape to train, with the vocabulary the BPE reached. */
  public Gpt2Config modelConfig(int actualVocab) {
    return new Gpt2Config(actualVocab, context, width, layers, heads, 1e-5, "gelu_new");
  }

  /** The learning-rate schedule of the optimizer steps. */
  public LearningRateSchedule learningRateSchedule() {
    int warmup = Math.min(warmupSteps, steps);
    return schedule == Schedule.COSINE ? LearningRateSchedule.cosine(learningRate, minLearningRate, warmup, steps)
        : new LearningRateSchedule(LearningRateSchedule.Shape.CONSTANT, learningRate, learningRate, warmup, steps);
  }

  /** The trainer's settings: AdamW, the schedule, checkpoints every steps/checkpoints steps. */
  public Trainer.Settings trainer() {
    int every = Math.max(1, steps / checkpoints);
    return new Trainer.Settings(Optimizer.adamW(0.9, 0.95, 1e-8, weightDecay), learningRateSchedule(), steps,
        batchSize, every, clipNorm, seed);
  }
}
