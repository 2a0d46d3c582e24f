package io.influence.core.train;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.ModelConfigs;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.SafetensorsWriter;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.TokenBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Trains a {@link Gpt2Model} in place on token sequences and saves checkpoints in Hugging Face
 * layout: {@code runDir/checkpoint-N/} with {@code config.json} and {@code model.safetensors}
 * (float32, {@code transformer.}-prefixed names), plus our manifest {@code influence-run.json}
 * (step, learning rate used at that step, SHA-256) via {@link TrainingRuns#writeManifest}.
 *
 * <p>Objective per step: the mean over the batch's counted tokens of {@code −log p(x_t|x_<t)}
 * (the summed per-sequence losses divided by the number of target tokens). Batch order: each epoch
 * is a {@link Random}{@code (seed + epoch)} shuffle of the corpus, cut into consecutive batches.
 * Optimisers: AdamW (Loshchilov &amp; Hutter 2019; decoupled decay on matrices only) and SGD
 * (optional L2 on matrices), with optional global-norm clipping.
 */
public final class Trainer {

  /** What a run produced: the saved checkpoints and the mean token loss of every step. */
  public record Result(List<RunCheckpoint> checkpoints, double[] stepLosses) {}

  private Trainer() {}

  public static Result train(Gpt2Model model, List<int[]> corpus, TrainerSettings s, Path runDir) throws IOException {
    if (corpus.isEmpty()) {
      throw new IllegalArgumentException("empty corpus; HINT: pass at least one sequence of two or more tokens");
    }
    Files.createDirectories(runDir);
    Map<String, INDArray> params = model.parameterViews();
    Map<String, INDArray> m1 = new HashMap<>();
    Map<String, INDArray> m2 = new HashMap<>();
    for (Map.Entry<String, INDArray> e : params.entrySet()) {
      m1.put(e.getKey(), e.getValue().ulike().assign(0));
      m2.put(e.getKey(), e.getValue().ulike().assign(0));
    }
    List<Integer> order = new ArrayList<>();
    int cursor = 0;
    int epoch = 0;
    List<RunCheckpoint> saved = new ArrayList<>();
    double[] losses = new double[s.steps()];
    for (int step = 1; step <= s.steps(); step++) {
      int[][] batch = new int[Math.min(s.batchSize(), corpus.size())][];
      for (int i = 0; i < batch.length; i++) {
        if (cursor == order.size()) {
          order.clear();
          for (int k = 0; k < corpus.size(); k++) {
            order.add(k);
          }
          Collections.shuffle(order, new Random(s.seed() + epoch++));
          cursor = 0;
        }
        batch[i] = corpus.get(order.get(cursor++));
      }
      TokenBatch tb = new TokenBatch(batch, null);
      long targets = 0;
      for (int[] t : batch) {
        targets += t.length - 1;
      }
      if (targets == 0) {
        throw new IllegalArgumentException("step " + step + ": the batch has no target tokens; HINT: drop sequences "
            + "shorter than two tokens");
      }
      BatchGradients g = model.gradients(tb, GradientRequest.allParameters());
      double sum = 0;
      for (double l : g.losses()) {
        sum += l;
      }
      losses[step - 1] = sum / targets;
      double scale = 1.0 / targets;
      if (s.clipNorm() > 0) {
        double sq = 0;
        for (INDArray gr : g.parameterGradients().values()) {
          double nrm = gr.norm2Number().doubleValue();
          sq += nrm * nrm;
        }
        double norm = Math.sqrt(sq) * scale;
        if (!Double.isFinite(norm)) {
          throw new IllegalStateException("step " + step + ": gradient norm is " + norm
              + "; HINT: lower the learning rate or enable clipping");
        }
        if (norm > s.clipNorm()) {
          scale *= s.clipNorm() / norm;
        }
      }
      double lr = s.learningRateAt(step);
      for (Map.Entry<String, INDArray> e : params.entrySet()) {
        String name = e.getKey();
        INDArray p = e.getValue();
        INDArray gr = g.parameterGradients().get(name).mul(scale);
        boolean decay = p.rank() == 2 && s.weightDecay() > 0;
        if (s.optimizer().equals("sgd")) {
          if (decay) {
            gr.addi(p.mul(s.weightDecay()));
          }
          p.subi(gr.muli(lr));
        } else {
          INDArray a = m1.get(name);
          INDArray b = m2.get(name);
          a.muli(s.beta1()).addi(gr.mul(1 - s.beta1()));
          b.muli(s.beta2()).addi(gr.mul(gr).muli(1 - s.beta2()));
          double c1 = 1 - Math.pow(s.beta1(), step);
          double c2 = 1 - Math.pow(s.beta2(), step);
          INDArray denom = Transforms.sqrt(b.div(c2), false).addi(s.adamEpsilon());
          INDArray update = a.div(c1).divi(denom);
          if (decay) {
            update.addi(p.mul(s.weightDecay()));
          }
          p.subi(update.muli(lr));
        }
      }
      if (step == s.steps() || (s.saveEvery() > 0 && step % s.saveEvery() == 0)) {
        Path dir = runDir.resolve("checkpoint-" + step);
        save(model, dir);
        try {
          saved.add(new RunCheckpoint(step, lr, dir, TrainingRuns.sha256(dir)));
        } catch (CheckpointFormatException ex) {
          throw new IOException(ex.getMessage(), ex);
        }
        TrainingRuns.writeManifest(runDir, saved);
      }
    }
    return new Result(List.copyOf(saved), losses);
  }

  /** Writes {@code config.json} and float32 {@code model.safetensors} (transformer.-prefixed names) into {@code dir}. */
  public static void save(Gpt2Model model, Path dir) throws IOException {
    Files.createDirectories(dir);
    SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
    for (Map.Entry<String, INDArray> e : model.parameters().entrySet()) {
      INDArray v = e.getValue().castTo(DataType.FLOAT).dup('c');
      w.put("transformer." + e.getKey(), v.shape(), v.data().asFloat());
    }
    w.write(dir.resolve("model.safetensors"));
    ModelConfigs.write(dir.resolve("config.json"), model.config());
  }
}
