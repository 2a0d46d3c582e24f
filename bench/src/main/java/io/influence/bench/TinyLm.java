package io.influence.bench;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.TrainingRun;
import io.influence.core.model.CausalLm;
import io.influence.core.train.Initialization;
import io.influence.core.train.LearningRateSchedule;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The tiny GPT-2 and its generated language used by the bench's GPT-2 truths (exactness, LDS).
 *
 * <p>Language: {@code topics} first-order Markov chains over {@code vocab} tokens, drawn from the seed. In each
 * chain every token has {@code branching} likely successors with random weights; with probability
 * {@code noise} the next token is uniform instead. A sequence picks one topic and a uniform first token. So
 * training sequences of a query's topic are the ones that should help it, which gives influence something to
 * find, and the model learns the chains in a few hundred steps.
 *
 * <p>Model and training: GPT-2 with {@code layers} blocks of width {@code width} (heads of width 8), trained
 * with the engine's {@link Trainer} (AdamW, constant rate, batch {@code batch}, clipping at 1), from a seeded
 * initialisation; the same seeds give the same model.
 *
 * <p>Parameters ({@code -P prefix.key=value}, defaults): vocab (24), seq (16), width (16), layers, topics (4),
 * branching (2), noise (0.1), steps, batch (16), lr (0.01); each task gives its own layers and steps.
 */
record TinyLm(int vocab, int seq, int width, int layers, int topics, int branching, double noise, int steps,
              int batch, double learningRate) {

  /** Sizes from {@code -P prefix.key} flags over the given defaults (quick and full share them). */
  static TinyLm from(BenchOptions o, String prefix, int quickSteps, int fullSteps, int quickLayers, int fullLayers) {
    return new TinyLm(o.intParam(prefix + ".vocab", 24, 24), o.intParam(prefix + ".seq", 16, 16),
        o.intParam(prefix + ".width", 16, 16), o.intParam(prefix + ".layers", quickLayers, fullLayers), o.intParam(prefix + ".topics", 4, 4),
        o.intParam(prefix + ".branching", 2, 2), o.doubleParam(prefix + ".noise", 0.1, 0.1),
        o.intParam(prefix + ".steps", quickSteps, fullSteps), o.intParam(prefix + ".batch", 16, 16),
        o.doubleParam(prefix + ".lr", 0.01, 0.01));
  }

  TinyLm {
    if (vocab < 4 || seq < 3 || width < 8 || width % 8 != 0 || layers < 1 || topics < 1 || branching < 1
        || branching > vocab || !(noise >= 0 && noise <= 1) || steps < 1 || batch < 1 || !(learningRate > 0)) {
      throw new IllegalArgumentException("tiny GPT-2 settings out of range: " + this + "; HINT: vocab >= 4, seq >= 3, "
          + "width a multiple of 8, layers/topics/steps/batch >= 1, 1 <= branching <= vocab, noise in [0, 1], lr > 0");
    }
  }

  Gpt2Config config() {
    return new Gpt2Config(vocab, seq, width, layers, width / 8, 1e-5, "gelu_new");
  }

  /**
   * The Llama of the same sizes: hidden {@code width}, SwiGLU MLP of {@code 2 · width}, heads of width 8 with
   * grouped-query attention (half as many key/value heads when there are at least two), RMSNorm, rotary positions.
   */
  LlamaConfig llamaConfig() {
    int heads = width / 8;
    return new LlamaConfig(vocab, width, 2 * width, layers, heads, heads >= 2 ? heads / 2 : 1, 1e-6, 10000, false,
        seq);
  }

  /** A seeded sample of the language: the chains come from {@code languageSeed}, the sequences from {@code random}. */
  Sample sample(long languageSeed, Random random, int count) {
    int[][][] next = new int[topics][vocab][branching];
    double[][][] weight = new double[topics][vocab][branching];
    Random lang = new Random(languageSeed);
    for (int k = 0; k < topics; k++) {
      for (int v = 0; v < vocab; v++) {
        double sum = 0;
        for (int b = 0; b < branching; b++) {
          next[k][v][b] = lang.nextInt(vocab);
          weight[k][v][b] = -Math.log(1 - lang.nextDouble());
          sum += weight[k][v][b];
        }
        for (int b = 0; b < branching; b++) {
          weight[k][v][b] /= sum;
        }
      }
    }
    List<int[]> sequences = new ArrayList<>();
    int[] topic = new int[count];
    for (int i = 0; i < count; i++) {
      int k = random.nextInt(topics);
      topic[i] = k;
      int[] s = new int[seq];
      s[0] = random.nextInt(vocab);
      for (int t = 1; t < seq; t++) {
        if (random.nextDouble() < noise) {
          s[t] = random.nextInt(vocab);
        } else {
          double u = random.nextDouble();
          int b = 0;
          while (b < branching - 1 && (u -= weight[k][s[t - 1]][b]) > 0) {
            b++;
          }
          s[t] = next[k][s[t - 1]][b];
        }
      }
      sequences.add(s);
    }
    return new Sample(sequences, topic);
  }

  /** Token sequences and the topic each came from. */
  record Sample(List<int[]> sequences, int[] topics) {}

  /**
   * Trains a fresh model (initialisation seed {@code initSeed}, batch order seed {@code orderSeed}) on
   * {@code corpus}, saving a checkpoint every {@code saveEvery} steps under {@code runDir}; returns the run.
   */
  Trained train(List<int[]> corpus, long initSeed, long orderSeed, int saveEvery, Path runDir) {
    return train(Initialization.gpt2(config(), initSeed, DataType.FLOAT), corpus, orderSeed, saveEvery, runDir);
  }

  /** {@link #train} of the Llama of the same sizes ({@link #llamaConfig}). */
  Trained trainLlama(List<int[]> corpus, long initSeed, long orderSeed, int saveEvery, Path runDir) {
    return train(Initialization.llama(llamaConfig(), initSeed, DataType.FLOAT), corpus, orderSeed, saveEvery, runDir);
  }

  private Trained train(CausalLm model, List<int[]> corpus, long orderSeed, int saveEvery, Path runDir) {
    Trainer.Settings settings = new Trainer.Settings(Optimizer.adamW(0.9, 0.999, 1e-8, 0.0),
        LearningRateSchedule.constant(learningRate), steps, batch, saveEvery, 1.0, orderSeed);
    double[] last = new double[1];
    TrainingRun run = Trainer.train(model, corpus, settings, runDir, Optional.empty(), s -> last[0] = s.meanTokenLoss());
    return new Trained(model, run, last[0]);
  }

  /** The trained float32 model (in memory), its saved run, and the mean token loss of the last batch. */
  record Trained(CausalLm model, TrainingRun run, double lastLoss) {}
}
