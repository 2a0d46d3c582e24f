package io.influence.core.grad;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import io.influence.core.model.Gpt2Model;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.train.Initialization;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

class GradientExtractorTest {

  private static final Gpt2Config CONFIG = new Gpt2Config(23, 12, 8, 2, 2, 1e-5, "gelu_new");

  private static double[] values(ExampleGradient g, String layer) {
    return g.layers().get(layer).dup('c').data().asDouble();
  }

  @Test
  void extract_batchSizes_giveTheSameGradientsAsOneAtATime() {
    Gpt2Model model = Initialization.gpt2(CONFIG, 9, DataType.DOUBLE);
    List<String> ids = List.of("a", "b", "c", "d", "e");
    List<int[]> tokens = List.of(new int[] {1, 2, 3}, new int[] {4, 5, 6, 7, 8}, new int[] {9, 1},
        new int[] {2, 2, 2, 2}, new int[] {7, 3, 11, 5, 1, 0});
    List<ExampleGradient> single = new GradientExtractor(model, Map.of(), 1).extract(ids, tokens, null);
    for (int batch : new int[] {2, 3, 5}) {
      // Later batches must not overwrite the gradients handed out for earlier ones.
      List<ExampleGradient> batched = new GradientExtractor(model, Map.of(), batch).extract(ids, tokens, null);
      assertEquals(ids.size(), batched.size());
      for (int i = 0; i < ids.size(); i++) {
        assertEquals(ids.get(i), batched.get(i).id());
        for (String layer : model.linearLayers()) {
          assertArrayEquals(values(single.get(i), layer), values(batched.get(i), layer), 1e-12,
              "example " + ids.get(i) + " layer " + layer + " batch " + batch);
        }
      }
    }
  }

  @Test
  void extract_maskOfOnes_equalsNoMask_andPartialMaskDiffers() {
    Gpt2Model model = Initialization.gpt2(CONFIG, 2, DataType.DOUBLE);
    int[] seq = {3, 4, 5, 6, 7};
    GradientExtractor extractor = new GradientExtractor(model, Map.of(), 2);
    ExampleGradient full = extractor.extract(List.of("x"), List.of(seq), null).get(0);
    ExampleGradient ones = extractor.extract(List.of("x"), List.of(seq), Arrays.asList(new int[] {0, 1, 1, 1, 1})).get(0);
    ExampleGradient last = extractor.extract(List.of("x"), List.of(seq), Arrays.asList(new int[] {0, 0, 0, 0, 1})).get(0);
    String layer = model.linearLayers().get(0);
    assertArrayEquals(values(full, layer), values(ones, layer), 1e-12);
    double[] f = values(full, layer);
    double[] l = values(last, layer);
    double diff = 0;
    for (int i = 0; i < f.length; i++) {
      diff = Math.max(diff, Math.abs(f[i] - l[i]));
    }
    assertTrue(diff > 1e-6, "masking targets must change the gradient, max difference " + diff);
  }

  /**
   * Adam-aware gradients against a brute-force loop: a checkpoint trained two AdamW steps by our trainer, its saved
   * second moment read back; each full per-example gradient entry divided by {@code √(v / (1 − β2^t)) + ε} (looked up
   * in the Hugging Face tensors: GPT-2's Conv1D weight is {@code [dIn, dOut]}, the bias column last), then projected
   * with explicit sums {@code Σ_o Σ_c P_out[k,o] G'[o,c] P_in[j,c]}; float64 throughout, agreement to 1e-9.
   */
  @Test
  void extract_adamScaling_equalsElementwiseDivisionThenProjection() throws Exception {
    java.nio.file.Path runDir = java.nio.file.Files.createTempDirectory("adam-scaling");
    List<int[]> tokens = List.of(new int[] {1, 2, 3, 4}, new int[] {4, 5, 6, 7, 8}, new int[] {9, 1, 3},
        new int[] {2, 7, 2, 2});
    var settings = new io.influence.core.train.Trainer.Settings(
        io.influence.core.train.Optimizer.adamW(0.9, 0.95, 1e-3, 0), io.influence.core.train.LearningRateSchedule
        .constant(1e-2), 2, 2, 2, 0, 5);
    io.influence.core.train.Trainer.train(Initialization.gpt2(CONFIG, 4, DataType.FLOAT), tokens, settings, runDir,
        java.util.Optional.empty(), s -> { });
    java.nio.file.Path cp = runDir.resolve("checkpoint-2");
    Gpt2Model model = Gpt2Model.load(cp, DataType.DOUBLE);
    io.influence.checkpoints.OptimizerState state = io.influence.checkpoints.OptimizerState.read(cp);
    List<String> layers = model.linearLayers();
    AdamScaling adam = AdamScaling.of(model, layers, state);
    Map<String, io.influence.core.model.KroneckerProjection> projections = model.projections(layers, 5, 3, 11);
    List<String> ids = List.of("a", "b", "c", "d");
    List<ExampleGradient> got = new GradientExtractor(model, projections, 3, adam).extract(ids, tokens, null);
    List<ExampleGradient> fullGot = new GradientExtractor(model, Map.of(), 3, adam).extract(ids, tokens, null);
    List<ExampleGradient> raw = new GradientExtractor(model, Map.of(), 1).extract(ids, tokens, null);
    double correction = 1 - Math.pow(0.95, 2);
    for (int e = 0; e < ids.size(); e++) {
      for (String layer : layers) {
        io.influence.core.model.LinearLayer ll = model.linear(layer);
        float[] vw = state.secondMoment("transformer." + ll.weight(), "");
        float[] vb = state.secondMoment("transformer." + ll.bias(), "");
        double[][] g = raw.get(e).layers().get(layer).toDoubleMatrix();
        double[][] scaled = new double[ll.dOut()][ll.cols()];
        for (int o = 0; o < ll.dOut(); o++) {
          for (int c = 0; c < ll.cols(); c++) {
            double v = c < ll.dIn() ? vw[c * ll.dOut() + o] : vb[o];
            scaled[o][c] = g[o][c] / (Math.sqrt(v / correction) + 1e-3);
          }
        }
        double[][] pOut = projections.get(layer).pOut().toDoubleMatrix();
        double[][] pIn = projections.get(layer).pIn().toDoubleMatrix();
        double[][] want = new double[pOut.length][pIn.length];
        double scale = 0;
        for (int k = 0; k < pOut.length; k++) {
          for (int j = 0; j < pIn.length; j++) {
            for (int o = 0; o < ll.dOut(); o++) {
              for (int c = 0; c < ll.cols(); c++) {
                want[k][j] += pOut[k][o] * scaled[o][c] * pIn[j][c];
              }
            }
            scale = Math.max(scale, Math.abs(want[k][j]));
          }
        }
        double[][] have = got.get(e).layers().get(layer).toDoubleMatrix();
        for (int k = 0; k < want.length; k++) {
          assertArrayEquals(want[k], have[k], 1e-9 * scale, ids.get(e) + " " + layer + " projected row " + k);
        }
        double[][] haveFull = fullGot.get(e).layers().get(layer).toDoubleMatrix();
        for (int o = 0; o < ll.dOut(); o++) {
          assertArrayEquals(scaled[o], haveFull[o], 1e-9 * Math.abs(scaled[o][0]) + 1e-12, layer + " full row " + o);
        }
      }
    }
  }
}
