package io.influence.core.train;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.ModelConfigs;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.SafetensorsWriter;
import io.influence.checkpoints.TrainingLog;
import io.influence.checkpoints.TrainingLogs;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Trains a {@link CausalLm} on token sequences and saves checkpoints the Hugging Face way, with
 * our run manifest recording each checkpoint's step and learning rate (what TracIn weighs by).
 *
 * <p>Each step draws {@code batchSize} sequences from a seeded permutation of the corpus (a new
 * permutation each epoch), takes the gradient of the <em>mean token loss</em> of the batch (the
 * summed per-sequence losses divided by the number of predicted tokens, the usual LM objective),
 * clips it to a global norm when asked, and applies the optimizer with the schedule's rate for
 * that step. A checkpoint saved after step {@code n} records {@code schedule.at(n)}.
 * Checkpoints are written to {@code runDir/checkpoint-N/} ({@code config.json},
 * {@code model.safetensors} with {@code transformer.}-prefixed float32 tensors, and the
 * tokenizer file when one is given, and with AdamW its moments, {@code optimizer.safetensors}, see
 * {@link io.influence.checkpoints.OptimizerState}); the manifest {@code influence-run.json} is rewritten after
 * each checkpoint, so an interrupted run still lists every checkpoint it finished.
 *
 * <p>For an exact replay of the run (SGD-influence) the trainer also writes, beside the
 * checkpoints, the parameters before step 1 ({@code runDir/initial/}) and the training log
 * {@code training-log.jsonl} (per step: the batch's corpus indices, the learning rate, the loss
 * divisor and the clip factor; the optimizer and its settings in the header), see
 * {@link TrainingLogs}. {@link #trainWithout} retrains with one sequence left out and everything
 * else the same, the counterfactual that SGD-influence estimates.
 */
public final class Trainer {

  /** How to train. {@code saveEvery} steps (and the last step) produce a checkpoint. */
  public record Settings(Optimizer optimizer, LearningRateSchedule schedule, int steps, int batchSize, int saveEvery,
                         double clipNorm, long seed) {
    public Settings {
      if (optimizer == null || schedule == null) {
        throw new IllegalArgumentException("optimizer and schedule are required");
      }
      if (steps < 1 || batchSize < 1 || saveEvery < 1) {
        throw new IllegalArgumentException("steps, batchSize and saveEvery must be >= 1, got " + steps + ", "
            + batchSize + ", " + saveEvery);
      }
      if (!(clipNorm >= 0)) {
        throw new IllegalArgumentException("clipNorm must be >= 0 (0 = no clipping), got " + clipNorm);
      }
    }
  }

  /** What one step did, for progress reporting and tests. */
  public record Step(int step, double learningRate, double meanTokenLoss, double gradientNorm) {}

  private Trainer() {}

  /**
   * Trains {@code model} in place and returns the training run it saved under {@code runDir}.
   *
   * @param tokenizerJson copied into every checkpoint folder when present
   */
  public static TrainingRun train(CausalLm model, List<int[]> corpus, Settings settings, Path runDir,
                                  Optional<Path> tokenizerJson, Consumer<Step> progress) {
    checkCorpus(model, corpus);
    save(model, runDir.resolve(TrainingLogs.INITIAL), tokenizerJson);
    List<RunCheckpoint> saved = new ArrayList<>();
    try (TrainingLogs.Writer log = TrainingLogs.start(runDir, settings.optimizer().name(), settings.optimizer().settings(),
        settings.clipNorm(), settings.seed(), corpus.size())) {
      loop(model, corpus, settings, -1, (logged, step) -> {
        try {
          log.append(logged);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot append to the training log of " + runDir, e);
        }
        progress.accept(step);
        int n = step.step();
        if (n % settings.saveEvery() == 0 || n == settings.steps()) {
          Path dir = runDir.resolve("checkpoint-" + n);
          save(model, dir, tokenizerJson);
          try {
            settings.optimizer().saveState(dir, tensorPrefix(model), n);   // before hashing: the hash covers it
            saved.add(new RunCheckpoint(n, step.learningRate(), dir, TrainingRuns.sha256(dir)));
            TrainingRuns.writeManifest(runDir, saved);
          } catch (IOException e) {
            throw new UncheckedIOException("cannot write the manifest of " + runDir, e);
          } catch (CheckpointFormatException e) {
            throw new IllegalStateException("checkpoint just written is unreadable: " + e.getMessage(), e);
          }
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the training log of " + runDir, e);
    }
    return new TrainingRun(saved);
  }

  /**
   * Counterfactual retraining (Hara et al. 2019's "counterfactual SGD"): trains {@code model} in
   * place exactly as {@link #train} would (same seed, same example order, same schedule), except
   * that sequence {@code leftOut} contributes no loss to the mini-batches it is drawn into; each
   * batch's loss divisor (its predicted-token count, {@code leftOut} included) is unchanged, so
   * every other example's weight in every step is the same as in the full run. Saves nothing.
   * Use a fresh optimizer: AdamW keeps its moments in the {@link Optimizer} object.
   */
  public static void trainWithout(CausalLm model, List<int[]> corpus, Settings settings, int leftOut) {
    checkCorpus(model, corpus);
    if (leftOut < 0 || leftOut >= corpus.size()) {
      throw new IllegalArgumentException("left-out sequence " + leftOut + " is not in the corpus of " + corpus.size());
    }
    loop(model, corpus, settings, leftOut, (logged, step) -> { });
  }

  private static void checkCorpus(CausalLm model, List<int[]> corpus) {
    if (corpus.isEmpty()) {
      throw new IllegalArgumentException("cannot train on an empty corpus");
    }
    for (int i = 0; i < corpus.size(); i++) {
      int[] s = corpus.get(i);
      if (s.length < 2 || s.length > model.config().maxPositions()) {
        throw new IllegalArgumentException("training sequence " + i + " has " + s.length
            + " tokens; it needs 2.." + model.config().maxPositions());
      }
    }
  }

  /** The training loop; {@code leftOut} (or -1) is dropped from the batches' losses, not from their divisors. */
  private static void loop(CausalLm model, List<int[]> corpus, Settings settings, int leftOut,
                           BiConsumer<TrainingLog.Step, Step> afterStep) {
    Random random = new Random(settings.seed());
    int[] order = permutation(corpus.size(), random);
    int cursor = 0;
    Map<String, INDArray> parameters = model.parameterViews();
    for (int step = 1; step <= settings.steps(); step++) {
      int n = Math.min(settings.batchSize(), corpus.size());
      int[] indices = new int[n];
      long tokens = 0;
      List<int[]> kept = new ArrayList<>(n);
      for (int b = 0; b < n; b++) {
        if (cursor == order.length) {
          order = permutation(corpus.size(), random);
          cursor = 0;
        }
        indices[b] = order[cursor++];
        int[] sequence = corpus.get(indices[b]);
        tokens += sequence.length - 1;
        if (indices[b] != leftOut) {
          kept.add(sequence);
        }
      }
      MeanGradient g = meanGradient(model, parameters, kept, tokens);
      Map<String, INDArray> grads = g.gradients();
      double loss = g.loss();
      double norm = g.norm();
      if (!Double.isFinite(norm) || !Double.isFinite(loss)) {
        throw new IllegalStateException("training diverged at step " + step + " (loss " + loss + ", gradient norm "
            + norm + "). HINT: lower the learning rate or enable gradient clipping");
      }
      double clipScale = 1;
      if (settings.clipNorm() > 0 && norm > settings.clipNorm()) {
        clipScale = settings.clipNorm() / norm;
        double scale = clipScale;
        grads.values().forEach(x -> x.muli(scale));
      }
      double rate = settings.schedule().at(step);
      settings.optimizer().update(parameters, grads, rate, step);
      afterStep.accept(new TrainingLog.Step(step, rate, indices, tokens, clipScale),
          new Step(step, rate, loss / tokens, norm));
    }
  }

  /**
   * Writes {@code model} as a Hugging Face folder: {@code config.json} + {@code model.safetensors},
   * under the names transformers saves (GPT-2's with its {@code transformer.} prefix).
   */
  public static void save(CausalLm model, Path dir, Optional<Path> tokenizerJson) {
    try {
      Files.createDirectories(dir);
      ModelConfigs.write(dir.resolve("config.json"), model.config());
      SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
      String prefix = tensorPrefix(model);
      for (Map.Entry<String, INDArray> e : model.parameters().entrySet()) {
        INDArray t = e.getValue();
        writer.put(prefix + e.getKey(), t.shape(), t.dup('c').data().asFloat());
      }
      writer.write(dir.resolve("model.safetensors"));
      if (tokenizerJson.isPresent()) {
        Files.copy(tokenizerJson.get(), dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save checkpoint " + dir, e);
    }
  }

  /** The prefix of the tensor names {@link #save} writes: GPT-2's {@code transformer.}, none for the others. */
  static String tensorPrefix(CausalLm model) {
    return model.config() instanceof Gpt2Config ? "transformer." : "";
  }

  /**
   * Replays one logged step on {@code model} with the trainer's own arithmetic (same batch order,
   * divisor, clip factor and optimizer call), so a replay from the run's initial parameters
   * reproduces its checkpoints bit for bit. For SGD-influence's forward replay.
   */
  public static void replayStep(CausalLm model, List<int[]> corpus, TrainingLog.Step step, Optimizer optimizer) {
    int[] indices = step.examples();
    List<int[]> sequences = new ArrayList<>(indices.length);
    for (int i : indices) {
      if (i < 0 || i >= corpus.size()) {
        throw new IllegalArgumentException("step " + step.step() + " names sequence " + i + " but the corpus has "
            + corpus.size() + "; HINT: replay with the corpus the run was trained on");
      }
      sequences.add(corpus.get(i));
    }
    Map<String, INDArray> parameters = model.parameterViews();
    Map<String, INDArray> grads = meanGradient(model, parameters, sequences, step.lossDivisor()).gradients();
    if (step.clipScale() != 1) {
      grads.values().forEach(x -> x.muli(step.clipScale()));
    }
    optimizer.update(parameters, grads, step.learningRate(), step.step());
  }

  private record MeanGradient(Map<String, INDArray> gradients, double loss, double norm) {}

  /** The gradient of {@code Σ losses(kept) / divisor} (zero when nothing is kept), the summed loss, the gradient norm. */
  private static MeanGradient meanGradient(CausalLm model, Map<String, INDArray> parameters, List<int[]> kept,
                                           double divisor) {
    Map<String, INDArray> grads;
    double loss = 0;
    if (kept.isEmpty()) {
      grads = new java.util.LinkedHashMap<>();
      for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
        grads.put(e.getKey(), e.getValue().like());
      }
    } else {
      BatchGradients g = model.gradients(TokenBatch.of(kept.toArray(new int[0][])), GradientRequest.allParameters());
      for (double l : g.losses()) {
        loss += l;
      }
      grads = g.parameterGradients();
    }
    double norm = 0;
    for (INDArray x : grads.values()) {
      x.divi(divisor);
      double f = x.norm2Number().doubleValue();
      norm += f * f;
    }
    return new MeanGradient(grads, loss, Math.sqrt(norm));
  }

  /** A uniformly random order of {@code 0..n-1} from {@code random} (Fisher-Yates): how every epoch's batches are drawn. */
  public static int[] permutation(int n, Random random) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
