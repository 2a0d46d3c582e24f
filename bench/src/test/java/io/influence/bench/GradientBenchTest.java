package io.influence.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.model.BatchGradients;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The Llama gradient bench on a tiny batch (the reference's model, 2 × 16 tokens, one step): its figures
 * are finite, positive and consistent (linear GFLOP/s = 6 × linear weights × tokens/s), and what it times
 * is right: each example's full per-example gradient from the batch equals the model's parameter gradient
 * of that example alone, and its projected one is {@code P_out G P_inᵀ} of that gradient. No speed is asserted.
 */
class GradientBenchTest {

  /** float32, relative to the largest entry of the layer's gradient (batched and single GEMMs round differently). */
  private static final double TOL_F32 = 1e-4;

  /** The reference's count (torch_llama.py bench): 4 × (q, o 256² + k, v 256·128 + gate, up, down 256·688). */
  private static final long LLAMA_LINEAR_WEIGHTS = 4L * (2 * 256 * 256 + 2 * 256 * 128 + 3 * 256 * 688);

  private static final GradientBench.Sizes TINY = new GradientBench.Sizes(2, 16, 8, 0, 1);

  @Test
  void llamaBench_tinySizes_figuresFinitePositiveAndConsistent() {
    GradientBench bench = GradientBench.create(GradientBench.Model.LLAMA, TINY);
    assertEquals(LLAMA_LINEAR_WEIGHTS, bench.linearParams());
    for (GradientBench.ModeResult r : List.of(bench.full(64, 1), bench.projected(64, 1))) {
      for (double v : new double[] {r.tokensPerS(), r.examplesPerS(), r.linearGflops(), r.gemmPeakGflops(),
          r.msPerStep(), r.fractionOfPeak()}) {
        assertTrue(Double.isFinite(v) && v > 0, r.mode() + ": every figure must be finite and > 0: " + r);
      }
      assertEquals(6.0 * LLAMA_LINEAR_WEIGHTS * r.tokensPerS() / 1e9, r.linearGflops(), 1e-9 * r.linearGflops());
      assertEquals(r.tokensPerS() / TINY.seq(), r.examplesPerS(), 1e-9 * r.examplesPerS());
      assertTrue(!r.phaseMsPerStep().isEmpty(), r.mode() + ": phases timed");
    }
  }

  @Test
  void llamaBench_perExampleGradients_equalEachExampleAlone() {
    GradientBench bench = GradientBench.create(GradientBench.Model.LLAMA, TINY);
    CausalLm model = bench.model();
    TokenBatch batch = bench.batch();
    List<String> layers = model.linearLayers();
    assertEquals(7 * 4, layers.size());
    Map<String, KroneckerProjection> proj = model.projections(layers, TINY.rank(), TINY.rank(), 0L);
    GradientRequest both = GradientRequest.perExampleFull().withProjections(proj);
    BatchGradients g = model.gradients(batch, both);
    for (int i = 0; i < batch.size(); i++) {
      Map<String, INDArray> full = g.fullPerExample().get(i);
      Map<String, INDArray> projected = g.projectedPerExample().get(i);
      // a batch of one has another shape: it does not overwrite the batch's reused per-example buffers
      Map<String, INDArray> alone = model.gradients(batch.single(i), GradientRequest.allParameters())
          .parameterGradients();
      for (String layer : layers) {
        INDArray want = alone.get(layer + ".weight");
        assertNotNull(want, layer + ".weight in " + alone.keySet());
        String what = "example " + i + " " + layer;
        close(what + " full", want, full.get(layer));
        close(what + " projected", proj.get(layer).projectGradient(want), projected.get(layer));
      }
    }
  }

  @Test
  void model_unknownName_refusedWithChoices() {
    assertEquals(GradientBench.Model.LLAMA, GradientBench.Model.parse("Llama"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GradientBench.Model.parse("gpt3"));
    assertTrue(e.getMessage().contains("gpt2 or llama"), e.getMessage());
  }

  private static void close(String what, INDArray want, INDArray got) {
    assertEquals(List.of(want.rows(), want.columns()), List.of(got.rows(), got.columns()), what + " shape");
    INDArray w = want.castTo(DataType.DOUBLE);
    double scale = w.amaxNumber().doubleValue();
    double worst = w.sub(got.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    assertTrue(scale > 0, what + ": a zero gradient checks nothing");
    assertTrue(worst <= TOL_F32 * scale, what + ": worst |difference| " + worst + " vs largest entry " + scale);
  }
}
