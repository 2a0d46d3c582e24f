package io.influence.core.train;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.ModelConfigs;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.SafetensorsWriter;
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
 * tokenizer file when one is given); the manifest {@code influence-run.json} is rewritten after
 * each checkpoint, so an interrupted run still lists every checkpoint it finished.
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
    Random random = new Random(settings.seed());
    int[] order = permutation(corpus.size(), random);
    int cursor = 0;
    Map<String, INDArray> parameters = model.parameterViews();
    List<RunCheckpoint> saved = new ArrayList<>();
    for (int step = 1; step <= settings.steps(); step++) {
      int n = Math.min(settings.batchSize(), corpus.size());
      int[][] batch = new int[n][];
      for (int b = 0; b < n; b++) {
        if (cursor == order.length) {
          order = permutation(corpus.size(), random);
          cursor = 0;
        }
        batch[b] = corpus.get(order[cursor++]);
      }
      BatchGradients g = model.gradients(TokenBatch.of(batch), GradientRequest.allParameters());
      long tokens = 0;
      double loss = 0;
      for (int b = 0; b < n; b++) {
        tokens += batch[b].length - 1;
        loss += g.losses()[b];
      }
      Map<String, INDArray> grads = g.parameterGradients();
      double norm = 0;
      for (INDArray x : grads.values()) {
        x.divi(tokens);
        double f = x.norm2Number().doubleValue();
        norm += f * f;
      }
      norm = Math.sqrt(norm);
      if (!Double.isFinite(norm) || !Double.isFinite(loss)) {
        throw new IllegalStateException("training diverged at step " + step + " (loss " + loss + ", gradient norm "
            + norm + "). HINT: lower the learning rate or enable gradient clipping");
      }
      if (settings.clipNorm() > 0 && norm > settings.clipNorm()) {
        double scale = settings.clipNorm() / norm;
        grads.values().forEach(x -> x.muli(scale));
      }
      double rate = settings.schedule().at(step);
      settings.optimizer().update(parameters, grads, rate, step);
      progress.accept(new Step(step, rate, loss / tokens, norm));
      if (step % settings.saveEvery() == 0 || step == settings.steps()) {
        Path dir = runDir.resolve("checkpoint-" + step);
        save(model, dir, tokenizerJson);
        try {
          saved.add(new RunCheckpoint(step, rate, dir, TrainingRuns.sha256(dir)));
          TrainingRuns.writeManifest(runDir, saved);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot write the manifest of " + runDir, e);
        } catch (CheckpointFormatException e) {
          throw new IllegalStateException("checkpoint just written is unreadable: " + e.getMessage(), e);
        }
      }
    }
    return new TrainingRun(saved);
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
      String prefix = model.config() instanceof Gpt2Config ? "transformer." : "";
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

  private static int[] permutation(int n, Random random) {
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
