package io.influence.spark.config;

import com.typesafe.config.Config;
import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.ModelConfig;
import io.influence.core.train.LearningRateSchedule;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;

/**
 * The {@code influence.train} settings block: a byte-level BPE vocabulary and a small GPT-2 or
 * Llama trained from scratch with AdamW or plain SGD ({@code train.optimizer}). See {@code conf/reference.conf} for each key's meaning.
 */
public record TrainSettings(Family family, int vocabSize, int context, int width, int layers, int heads, int kvHeads,
                            int steps, int batchSize,
                            double learningRate, double minLearningRate, Schedule schedule, int warmupSteps,
                            double weightDecay, double clipNorm, int checkpoints, long seed, TrainOptimizer optimizer) {

  public TrainSettings {
    if (vocabSize < 257) {
      throw new IllegalArgumentException("influence.train.vocab-size is " + vocabSize
          + ". HINT: a byte-level BPE needs at least 257 tokens (256 bytes + end of text)");
    }
    if (context < 4 || width < 1 || layers < 1 || heads < 1 || width % heads != 0) {
      throw new IllegalArgumentException("influence.train: need context >= 4, width, layers, heads >= 1 and width "
          + "divisible by heads, got context=" + context + " width=" + width + " layers=" + layers + " heads=" + heads);
    }
    if (kvHeads < 0 || (kvHeads > 0 && heads % kvHeads != 0)) {
      throw new IllegalArgumentException("influence.train.kv-heads is " + kvHeads + " with " + heads + " heads. HINT: "
          + "0 (as many as heads) or a divisor of train.heads");
    }
    if (checkpoints < 1 || checkpoints > steps) {
      throw new IllegalArgumentException("influence.train.checkpoints is " + checkpoints + " with " + steps
          + " steps. HINT: save between 1 and steps checkpoints");
    }
  }

  /** {@code train.family}: the architecture trained. */
  public enum Family {
    /** GPT-2: learned positions, LayerNorm, GELU MLP, tied head. */
    GPT2,
    /** Llama: RoPE, RMSNorm, SwiGLU MLP, grouped-query attention, untied head. */
    LLAMA
  }

  /** {@code train.optimizer}: how the parameters are updated. */
  public enum TrainOptimizer {
    /** AdamW (betas 0.9, 0.95), with {@code weight-decay} and {@code clip-norm}. */
    ADAMW,
    /**
     * Plain SGD {@code θ ← θ − η g}: no momentum, no weight decay, no clipping ({@code weight-decay} and
     * {@code clip-norm} are not used), the runs SGD-influence ({@code score.method = sgd-influence}) replays.
     */
    SGD
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
    return new TrainSettings(Choices.parse(Family.class, "train.family", t.getString("family")), t.getInt("vocab-size"),
        t.getInt("context"), t.getInt("width"), t.getInt("layers"), t.getInt("heads"), t.getInt("kv-heads"), t.getInt("steps"), t.getInt("batch-size"), t.getDouble("learning-rate"),
        t.getDouble("min-learning-rate"),
        Choices.parse(Schedule.class, "train.schedule", t.getString("schedule")), t.getInt("warmup-steps"),
        t.getDouble("weight-decay"), t.getDouble("clip-norm"), t.getInt("checkpoints"), t.getLong("seed"),
        Choices.parse(TrainOptimizer.class, "train.optimizer", t.getString("optimizer")));
  }

  /**
   * The architecture to train, with the vocabulary the BPE reached. A Llama gets Llama's MLP width
   * (8/3 of the width, rounded up to a multiple of 8), RoPE with theta 10000 and an untied head.
   */
  public ModelConfig modelConfig(int actualVocab) {
    if (family == Family.GPT2) {
      return new Gpt2Config(actualVocab, context, width, layers, heads, 1e-5, "gelu_new");
    }
    int intermediate = (int) Math.ceil(width * 8.0 / 3 / 8) * 8;
    return new LlamaConfig(actualVocab, width, intermediate, layers, heads, kvHeads == 0 ? heads : kvHeads, 1e-6,
        LlamaConfig.DEFAULT_ROPE_THETA, false, context);
  }

  /** The learning-rate schedule of the optimizer steps. */
  public LearningRateSchedule learningRateSchedule() {
    int warmup = Math.min(warmupSteps, steps);
    return schedule == Schedule.COSINE ? LearningRateSchedule.cosine(learningRate, minLearningRate, warmup, steps)
        : new LearningRateSchedule(LearningRateSchedule.Shape.CONSTANT, learningRate, learningRate, warmup, steps);
  }

  /**
   * The trainer's settings: AdamW (with weight decay and clipping) or plain SGD (without either), the schedule,
   * checkpoints every steps/checkpoints steps.
   */
  public Trainer.Settings trainer() {
    int every = Math.max(1, steps / checkpoints);
    if (optimizer == TrainOptimizer.SGD) {
      return new Trainer.Settings(Optimizer.sgd(0), learningRateSchedule(), steps, batchSize, every, 0, seed);
    }
    return new Trainer.Settings(Optimizer.adamW(0.9, 0.95, 1e-8, weightDecay), learningRateSchedule(), steps,
        batchSize, every, clipNorm, seed);
  }
}
