package io.influence.core.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.TokenBatch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Training on a small corpus, HF-layout checkpoints, manifest, and the PyTorch reference reading them. */
class TrainerTest {

  /** Relative tolerance of our float64 loss vs the reference's float64 loss on a saved checkpoint. */
  private static final double LOSS_TOL = 1e-9;
  /** Training must bring the mean token loss below this fraction of its starting value. */
  private static final double LOSS_DROP = 0.6;
  /** Learning rates are recomputed from the schedule: equal up to rounding. */
  private static final double LR_TOL = 1e-15;
  /** Half way through the cosine the rate is about (1 + floor) / 2; the exact midpoint is off by one step. */
  private static final double LR_MID_TOL = 0.01;
  private static final Path START = Path.of("src/test/resources/golden/gpt2-w16");
  private static final String REFERENCE = "/work/shared/reference/torch_gpt2.py";

  /** Sequences following simple deterministic rules (arithmetic progressions mod 97). */
  static List<int[]> corpus() {
    List<int[]> out = new ArrayList<>();
    for (int start = 0; start < 12; start++) {
      for (int stride : new int[] {1, 2, 5}) {
        int[] s = new int[12];
        for (int t = 0; t < s.length; t++) {
          s[t] = (start * 7 + stride * t) % 97;
        }
        out.add(s);
      }
    }
    return out;
  }

  static double meanTokenLoss(Gpt2Model m, List<int[]> corpus) {
    double[] l = m.losses(new TokenBatch(corpus.toArray(new int[0][]), null));
    double s = 0;
    long n = 0;
    for (int i = 0; i < l.length; i++) {
      s += l[i];
      n += corpus.get(i).length - 1;
    }
    return s / n;
  }

  @Test
  void train_adamwOnSmallCorpus_lossFallsAndManifestRecordsSchedule(@TempDir Path run) throws Exception {
    Gpt2Model model = Gpt2Model.load(START, DataType.FLOAT);
    List<int[]> corpus = corpus();
    double before = meanTokenLoss(model, corpus);
    TrainerSettings s = TrainerSettings.adamw(1e-2, 8, 60, 20, 3L);
    Trainer.Result r = Trainer.train(model, corpus, s, run);
    double after = meanTokenLoss(model, corpus);
    System.out.printf("mean token loss %.4f -> %.4f%n", before, after);
    assertTrue(after < LOSS_DROP * before, "mean token loss " + before + " -> " + after);
    TrainingRun read = TrainingRuns.read(run, OptionalDouble.empty());
    assertEquals(List.of(20L, 40L, 60L), read.checkpoints().stream().map(RunCheckpoint::step).toList());
    for (RunCheckpoint c : read.checkpoints()) {
      assertEquals(s.learningRateAt(c.step()), c.learningRate(), LR_TOL);
      assertTrue(Files.exists(c.dir().resolve("model.safetensors")));
    }
    assertEquals(60, r.stepLosses().length);
  }

  @Test
  void save_thenLoad_parametersBitIdentical(@TempDir Path run) throws Exception {
    Gpt2Model model = Gpt2Model.load(START, DataType.FLOAT);
    Trainer.Result r = Trainer.train(model, corpus(), TrainerSettings.sgd(0.05, 4, 3, 0, 1L), run);
    Gpt2Model back = Gpt2Model.load(r.checkpoints().get(0).dir(), DataType.FLOAT);
    Map<String, INDArray> want = model.parameters();
    Map<String, INDArray> got = back.parameters();
    assertEquals(want.keySet(), got.keySet());
    for (String k : want.keySet()) {
      assertArrayEquals(want.get(k).data().asFloat(), got.get(k).data().asFloat(), 0f, k);
    }
  }

  @Test
  void savedCheckpoint_readByPytorchReference_sameLoss(@TempDir Path run) throws Exception {
    Gpt2Model model = Gpt2Model.load(START, DataType.FLOAT);
    Trainer.Result r = Trainer.train(model, corpus(), TrainerSettings.adamw(1e-2, 8, 5, 0, 2L), run);
    Path ckpt = r.checkpoints().get(0).dir();
    int[] seq = {3, 10, 17, 24, 31, 38, 45, 52, 59};
    Files.writeString(run.resolve("tokens.json"), java.util.Arrays.toString(seq).replace(" ", "").replace("[", "[[").replace("]", "]]"));
    Process p = new ProcessBuilder("/usr/bin/python3", REFERENCE, "grads", "--model", ckpt.toString(),
        "--tokens", run.resolve("tokens.json").toString(), "--out", run.resolve("g.safetensors").toString(), "--threads", "1")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "reference timed out");
    assertEquals(0, p.exitValue(), out);
    double ref;
    try (SafetensorsFile f = SafetensorsFile.open(run.resolve("g.safetensors"))) {
      ref = f.readDoubles("loss.0")[0];
    }
    double ours = Gpt2Model.load(ckpt, DataType.DOUBLE).losses(TokenBatch.of(seq))[0];
    assertEquals(ref, ours, LOSS_TOL * Math.abs(ref));
  }

  @Test
  void learningRateAt_warmupThenCosine_positiveAndEndsAtFloor() {
    TrainerSettings s = new TrainerSettings("adamw", 1.0, "cosine", 10, 0.1, 0, 0.9, 0.999, 1e-8, 0, 1, 110, 0, 0);
    assertEquals(0.1, s.learningRateAt(1), LR_TOL);
    assertEquals(1.0, s.learningRateAt(10), LR_TOL);
    assertEquals(1.0, s.learningRateAt(11), LR_TOL);
    assertEquals(0.55, s.learningRateAt(60), LR_MID_TOL);
    assertEquals(0.1, s.learningRateAt(110), LR_TOL);
  }
}
