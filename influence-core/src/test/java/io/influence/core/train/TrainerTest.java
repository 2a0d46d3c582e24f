package io.influence.core.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.OptimizerState;
import io.influence.checkpoints.ReferencePython;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.checkpoints.TrainingLog;
import io.influence.checkpoints.TrainingLogs;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.TokenBatch;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

class TrainerTest {

  private static final Gpt2Config CONFIG = new Gpt2Config(31, 16, 16, 2, 2, 1e-5, "gelu_new");

  @TempDir Path dir;

  /** Sequences with learnable structure: counting upwards from a start, with a per-sequence stride. */
  private static List<int[]> countingCorpus(int n) {
    List<int[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int len = 8 + i % 7;
      int stride = 1 + i % 3;
      int[] s = new int[len];
      for (int t = 0; t < len; t++) {
        s[t] = (i + t * stride) % CONFIG.vocabSize();
      }
      out.add(s);
    }
    return out;
  }

  private static double meanTokenLoss(CausalLm model, List<int[]> corpus) {
    double[] losses = model.losses(TokenBatch.of(corpus.toArray(new int[0][])));
    double sum = 0;
    long tokens = 0;
    for (int i = 0; i < losses.length; i++) {
      sum += losses[i];
      tokens += corpus.get(i).length - 1;
    }
    return sum / tokens;
  }

  @Test
  void train_adamWOnStructuredCorpus_lossFalls() {
    List<int[]> corpus = countingCorpus(48);
    Gpt2Model model = Initialization.gpt2(CONFIG, 7, DataType.FLOAT);
    double before = meanTokenLoss(model, corpus);
    var settings = new Trainer.Settings(Optimizer.adamW(0.9, 0.95, 1e-8, 0.01),
        LearningRateSchedule.cosine(3e-3, 3e-4, 10, 150), 150, 16, 50, 1.0, 1);
    List<Trainer.Step> steps = new ArrayList<>();
    TrainingRun run = Trainer.train(model, corpus, settings, dir.resolve("run"), Optional.empty(), steps::add);
    double after = meanTokenLoss(model, corpus);
    assertTrue(before > Math.log(CONFIG.vocabSize()) - 0.3, "initial loss should be near log(V): " + before);
    assertTrue(after < 0.5 * before, "mean token loss should at least halve: " + before + " -> " + after);
    assertEquals(List.of(50L, 100L, 150L), run.checkpoints().stream().map(c -> c.step()).toList());
    assertEquals(settings.schedule().at(100), run.checkpoints().get(1).learningRate(), 0);
  }

  @Test
  void train_sgdConstantRate_lossFalls() {
    List<int[]> corpus = countingCorpus(32);
    Gpt2Model model = Initialization.gpt2(CONFIG, 3, DataType.FLOAT);
    double before = meanTokenLoss(model, corpus);
    var settings = new Trainer.Settings(Optimizer.sgd(0), LearningRateSchedule.constant(0.5), 60, 8, 60, 0, 2);
    Trainer.train(model, corpus, settings, dir.resolve("sgd"), Optional.empty(), s -> { });
    double after = meanTokenLoss(model, corpus);
    assertTrue(after < before - 0.3, "SGD should lower the loss: " + before + " -> " + after);
    assertFalse(Files.exists(dir.resolve("sgd/checkpoint-60").resolve(OptimizerState.FILE)), "SGD has no state to save");
  }

  /**
   * Two AdamW steps saving after each: the {@code optimizer.safetensors} beside each checkpoint holds Adam's moments
   * as an independent loop computes them from the batches' mean gradients in float64 (at the run's initial weights
   * and at checkpoint 1): {@code m_t = β1 m_{t-1} + (1 − β1) g_t}, {@code v_t = β2 v_{t-1} + (1 − β2) g_t²}.
   */
  @Test
  void train_adamWTwoSteps_savesMomentsOfAnIndependentAdamLoop() throws Exception {
    List<int[]> corpus = countingCorpus(8);
    double beta1 = 0.9;
    double beta2 = 0.95;
    var settings = new Trainer.Settings(Optimizer.adamW(beta1, beta2, 1e-8, 0.01), LearningRateSchedule.constant(1e-2),
        2, 4, 1, 0, 3);
    Path runDir = dir.resolve("adam");
    Trainer.train(Initialization.gpt2(CONFIG, 13, DataType.FLOAT), corpus, settings, runDir, Optional.empty(), s -> { });
    TrainingLog log = TrainingLogs.read(runDir);
    Path[] before = {TrainingLogs.initialState(runDir), runDir.resolve("checkpoint-1")};
    Map<String, double[]> m = new java.util.HashMap<>();
    Map<String, double[]> v = new java.util.HashMap<>();
    for (int t = 1; t <= 2; t++) {
      TrainingLog.Step step = log.steps().get(t - 1);
      List<int[]> batch = java.util.Arrays.stream(step.examples()).mapToObj(corpus::get).toList();
      Map<String, INDArray> g = Gpt2Model.load(before[t - 1], DataType.DOUBLE)
          .gradients(TokenBatch.of(batch.toArray(new int[0][])), GradientRequest.allParameters()).parameterGradients();
      for (Map.Entry<String, INDArray> e : g.entrySet()) {
        double[] gi = e.getValue().dup('c').data().asDouble();
        double[] mi = m.computeIfAbsent(e.getKey(), k -> new double[gi.length]);
        double[] vi = v.computeIfAbsent(e.getKey(), k -> new double[gi.length]);
        for (int i = 0; i < gi.length; i++) {
          double x = gi[i] / step.lossDivisor();
          mi[i] = beta1 * mi[i] + (1 - beta1) * x;
          vi[i] = beta2 * vi[i] + (1 - beta2) * x * x;
        }
      }
      OptimizerState state = OptimizerState.read(runDir.resolve("checkpoint-" + t));
      assertEquals(new OptimizerState.Settings("adamw", t, beta1, beta2, 1e-8, 0.01), state.settings());
      assertEquals(v.size(), state.parameters().size());
      try (SafetensorsFile f = SafetensorsFile.open(state.file())) {
        for (String name : v.keySet()) {
          float[] savedV = state.secondMoment(name, "transformer.");
          float[] savedM = f.readFloats("transformer." + name + OptimizerState.FIRST_MOMENT);
          // float32 training against float64 here: agreement relative to each tensor's largest entry
          double vMax = java.util.Arrays.stream(v.get(name)).max().orElse(0);
          double mMax = java.util.Arrays.stream(m.get(name)).map(Math::abs).max().orElse(0);
          assertTrue(vMax > 0, name + " has a zero second moment");
          for (int i = 0; i < savedV.length; i++) {
            assertEquals(v.get(name)[i], savedV[i], 1e-4 * vMax, name + " v[" + i + "] at step " + t);
            assertEquals(m.get(name)[i], savedM[i], 1e-4 * mMax, name + " m[" + i + "] at step " + t);
          }
        }
      }
    }
  }

  /**
   * The reader refuses what does not match the weights (a transposed moment), negative second moments and a pickled
   * {@code optimizer.pt} without {@code optimizer.safetensors}, naming the file and tensor and saying what to do.
   */
  @Test
  void optimizerState_badShapeNegativeOrPickle_isRefusedWithFileTensorAndFix() throws Exception {
    Path runDir = dir.resolve("adam-bad");
    Trainer.train(Initialization.gpt2(CONFIG, 13, DataType.FLOAT), countingCorpus(4),
        new Trainer.Settings(Optimizer.adamW(0.9, 0.95, 1e-8, 0), LearningRateSchedule.constant(1e-2), 1, 4, 1, 0, 3),
        runDir, Optional.empty(), s -> { });
    Path cp = runDir.resolve("checkpoint-1");
    OptimizerState good = OptimizerState.read(cp);
    String name = "transformer.h.0.mlp.c_fc.weight";
    long[] shape = good.shape(name, "");
    float[] values = good.secondMoment(name, "");
    OptimizerState.Settings st = good.settings();

    OptimizerState.write(cp, st, Map.of(name, new long[] {shape[1], shape[0]}), Map.of(name, values),
        Map.of(name, values));
    var e = assertThrows(CheckpointFormatException.class, () -> OptimizerState.read(cp));
    assertTrue(e.getMessage().contains(OptimizerState.FILE) && e.getMessage().contains(name + ".exp_a")
        && e.getMessage().contains("has shape [" + shape[1] + ", " + shape[0] + "]") && e.getMessage().contains("HINT"),
        e.getMessage());

    float[] negative = values.clone();
    negative[3] = -1e-3f;
    OptimizerState.write(cp, st, Map.of(name, shape), Map.of(name, values), Map.of(name, negative));
    e = assertThrows(CheckpointFormatException.class, () -> OptimizerState.read(cp));
    assertTrue(e.getMessage().contains(name + OptimizerState.SECOND_MOMENT) && e.getMessage().contains("element 3"),
        e.getMessage());

    Files.delete(cp.resolve(OptimizerState.FILE));
    Files.write(cp.resolve("optimizer.pt"), new byte[] {(byte) 0x80, 2});
    e = assertThrows(CheckpointFormatException.class, () -> OptimizerState.read(cp));
    assertTrue(e.getMessage().contains("optimizer.pt") && e.getMessage().contains("torch.load")
        && e.getMessage().contains("save_file") && e.getMessage().contains(".exp_avg_sq"), e.getMessage());
  }

  @Test
  void save_thenLoad_isBitIdentical_andManifestReadsBack() throws Exception {
    List<int[]> corpus = countingCorpus(16);
    Gpt2Model model = Initialization.gpt2(CONFIG, 11, DataType.FLOAT);
    var settings = new Trainer.Settings(Optimizer.adamW(0.9, 0.999, 1e-8, 0.0), LearningRateSchedule.constant(1e-3),
        5, 4, 5, 0, 4);
    Path runDir = dir.resolve("run");
    Trainer.train(model, corpus, settings, runDir, Optional.empty(), s -> { });
    TrainingRun run = TrainingRuns.read(runDir, OptionalDouble.empty());
    assertEquals(1, run.checkpoints().size());
    assertEquals(1e-3, run.checkpoints().get(0).learningRate(), 0);
    Gpt2Model reloaded = Gpt2Model.load(run.checkpoints().get(0).dir(), DataType.FLOAT);
    Map<String, INDArray> a = model.parameters();
    Map<String, INDArray> b = reloaded.parameters();
    assertEquals(a.keySet(), b.keySet());
    for (String name : a.keySet()) {
      assertArrayEquals(a.get(name).data().asFloat(), b.get(name).data().asFloat(), 0f, name);
    }
  }

  @Test
  void save_readByPyTorchReference_givesSameLosses() throws Exception {
    List<int[]> corpus = countingCorpus(4).stream().map(s -> java.util.Arrays.copyOf(s, 8)).toList();
    Gpt2Model model = Initialization.gpt2(CONFIG, 5, DataType.FLOAT);
    var settings = new Trainer.Settings(Optimizer.sgd(0), LearningRateSchedule.constant(0.1), 3, 4, 3, 0, 5);
    Path runDir = dir.resolve("run");
    TrainingRun run = Trainer.train(model, corpus, settings, runDir, Optional.empty(), s -> { });
    Path checkpoint = run.checkpoints().get(0).dir();
    Path tokens = dir.resolve("tokens.json");
    StringBuilder json = new StringBuilder("[");
    for (int i = 0; i < corpus.size(); i++) {
      json.append(i == 0 ? "" : ",").append(java.util.Arrays.toString(corpus.get(i)));
    }
    Files.writeString(tokens, json.append("]").toString());
    Path out = dir.resolve("grads.safetensors");
    Process p = new ProcessBuilder("/usr/bin/python3", ReferencePython.referenceScript().toString(), "grads",
        "--model", checkpoint.toString(), "--tokens", tokens.toString(), "--out", out.toString(), "--threads", "1")
        .redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "reference timed out");
    assertEquals(0, p.exitValue(), "the PyTorch reference could not read our checkpoint:\n" + log
        + "\nHINT: apt-get install python3-torch python3-numpy");
    double[] ours = Gpt2Model.load(checkpoint, DataType.DOUBLE).losses(TokenBatch.of(corpus.toArray(new int[0][])));
    try (SafetensorsFile f = SafetensorsFile.open(out)) {
      for (int i = 0; i < corpus.size(); i++) {
        double theirs = f.readDoubles("loss." + i)[0];
        assertEquals(theirs, ours[i], 1e-9 * Math.abs(theirs), "loss of sequence " + i);
      }
    }
  }

  private static final LlamaConfig LLAMA = new LlamaConfig(31, 16, 48, 2, 4, 2, 1e-6, 10000, false, 16);

  @Test
  void trainLlama_adamW_lossFalls_andSavedCheckpointReadByLlamaReferenceGivesSameLosses() throws Exception {
    List<int[]> corpus = countingCorpus(48);
    CausalLm model = Initialization.of(LLAMA, 7, DataType.FLOAT);
    double before = meanTokenLoss(model, corpus);
    var settings = new Trainer.Settings(Optimizer.adamW(0.9, 0.95, 1e-8, 0.01),
        LearningRateSchedule.cosine(3e-3, 3e-4, 10, 150), 150, 16, 150, 1.0, 1);
    TrainingRun run = Trainer.train(model, corpus, settings, dir.resolve("llama"), Optional.empty(), s -> { });
    double after = meanTokenLoss(model, corpus);
    assertTrue(before > Math.log(LLAMA.vocabSize()) - 0.3, "initial loss should be near log(V): " + before);
    assertTrue(after < 0.5 * before, "mean token loss should at least halve: " + before + " -> " + after);

    Path checkpoint = run.checkpoints().get(0).dir();
    CausalLm reloaded = CausalLm.load(checkpoint, DataType.DOUBLE);
    assertEquals(LLAMA, reloaded.config());
    List<int[]> some = corpus.subList(0, 3);
    Path tokens = dir.resolve("llama-tokens.json");
    StringBuilder json = new StringBuilder("[");
    for (int i = 0; i < some.size(); i++) {
      json.append(i == 0 ? "" : ",").append(java.util.Arrays.toString(some.get(i)));
    }
    Files.writeString(tokens, json.append("]").toString());
    Path out = dir.resolve("llama-grads.safetensors");
    Path script = ReferencePython.referenceScript().resolveSibling("torch_llama.py");
    Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), "grads",
        "--model", checkpoint.toString(), "--tokens", tokens.toString(), "--out", out.toString(), "--threads", "1")
        .redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "reference timed out");
    assertEquals(0, p.exitValue(), "torch_llama.py could not read the trained checkpoint:\n" + log);
    double[] ours = reloaded.losses(TokenBatch.of(some.toArray(new int[0][])));
    try (SafetensorsFile f = SafetensorsFile.open(out)) {
      for (int i = 0; i < some.size(); i++) {
        double theirs = f.readDoubles("loss." + i)[0];
        assertEquals(theirs, ours[i], 1e-9 * Math.abs(theirs), "loss of sequence " + i);
      }
    }
  }

  @Test
  void train_sequenceLongerThanContext_failsNamingIt() {
    Gpt2Model model = Initialization.gpt2(CONFIG, 1, DataType.FLOAT);
    List<int[]> corpus = List.of(new int[] {1, 2, 3}, new int[20]);
    var settings = new Trainer.Settings(Optimizer.sgd(0), LearningRateSchedule.constant(0.1), 1, 2, 1, 0, 1);
    var e = assertThrows(IllegalArgumentException.class,
        () -> Trainer.train(model, corpus, settings, dir.resolve("x"), Optional.empty(), s -> { }));
    assertTrue(e.getMessage().contains("training sequence 1"), e.getMessage());
  }

  @Test
  void schedule_warmupThenCosine_hitsPeakAndMinimum() {
    LearningRateSchedule s = LearningRateSchedule.cosine(1.0, 0.1, 4, 14);
    assertEquals(0.25, s.at(1), 1e-15);
    assertEquals(1.0, s.at(4), 1e-15);
    assertEquals(0.55, s.at(9), 1e-12);
    assertEquals(0.1, s.at(14), 1e-15);
    assertEquals(0.1, s.at(100), 1e-15);
  }
}
