package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.influence.checkpoints.SafetensorsFile;
import io.influence.core.grad.TokenFactors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-example gradients of every tracked layer of Llama-family models from one padded batch, against
 * the per-sequence gradients of the PyTorch reference in the {@link LinearLayer} orientation
 * ({@code [dOut, dIn]} weight, bias as last column): full gradients, token factors ({@code Σ_t g_t a_tᵀ})
 * and Kronecker projections ({@code P_out G P_inᵀ}). The fixture's sequences are repeated three times
 * so that the batch has {@code B·T >= 64} columns and the kernels run multi-threaded.
 */
class LlamaPerExampleTest {

  private static final int REPEAT = 3;

  @ParameterizedTest
  @ValueSource(strings = {"llama-l3", "llama-linear", "mistral-sw", "qwen2", "qwen3"})
  void perExample_float64_fullFactorsAndProjectedMatchPytorchPerSequence(String fixture) throws Exception {
    check(fixture, DataType.DOUBLE, LlamaGoldenTest.TOL_F64);
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama-l3", "qwen2"})
  void perExample_float32_fullFactorsAndProjectedMatchPytorchPerSequence(String fixture) throws Exception {
    check(fixture, DataType.FLOAT, LlamaGoldenTest.TOL_F32);
  }

  static void check(String fixture, DataType dt, double tol) throws Exception {
    CausalLm model = CausalLm.load(GoldenGradientsTest.golden(fixture), dt);
    assertEquals(7 * model.config().numLayers(), model.linearLayers().size());
    check(model, fixture, dt, tol);
  }

  /** Per-example parts of {@code model} on the sequences of {@code fixture} vs its per-sequence grads.safetensors. */
  static void check(CausalLm model, String fixture, DataType dt, double tol) throws Exception {
    int[][] seqs = GoldenGradientsTest.tokens(fixture);
    int[][] batch = new int[seqs.length * REPEAT][];
    for (int i = 0; i < batch.length; i++) {
      batch[i] = seqs[i % seqs.length];
    }
    List<String> layers = model.linearLayers();
    Map<String, KroneckerProjection> proj = model.projections(layers, 5, 3, 42L);
    GradientRequest req = new GradientRequest(false, true, true, proj, null);
    BatchGradients g = model.gradients(new TokenBatch(batch, null), req);
    assertNull(g.parameterGradients());
    LlamaGoldenTest.Worst full = new LlamaGoldenTest.Worst();
    LlamaGoldenTest.Worst factors = new LlamaGoldenTest.Worst();
    LlamaGoldenTest.Worst projected = new LlamaGoldenTest.Worst();
    try (SafetensorsFile ref = SafetensorsFile.open(GoldenGradientsTest.golden(fixture).resolve("grads.safetensors"))) {
      for (int i = 0; i < batch.length; i++) {
        int s = i % seqs.length;
        for (String layer : layers) {
          LinearLayer ll = model.linear(layer);
          double[] want = expected(ref, s, ll);
          String what = "example " + i + " " + layer;
          INDArray got = g.fullPerExample().get(i).get(layer);
          assertEquals(List.of(ll.dOut(), ll.cols()), List.of((int) got.rows(), (int) got.columns()), what);
          full.add(what, want, rowMajor(got));
          TokenFactors tf = g.tokenFactors().get(i).get(layer);
          assertEquals(batch[i].length, tf.tokens(), what + " tokens");
          INDArray sum = tf.g().castTo(DataType.DOUBLE).transpose().mmul(tf.a().castTo(DataType.DOUBLE));
          factors.add(what, want, rowMajor(sum));
          INDArray wantMatrix = Nd4j.create(want, new long[] {ll.dOut(), ll.cols()}, 'c').castTo(dt);
          projected.add(what, rowMajor(proj.get(layer).projectGradient(wantMatrix)),
              rowMajor(g.projectedPerExample().get(i).get(layer)));
        }
      }
    }
    full.check(fixture + " " + dt + " full per-example", tol);
    factors.check(fixture + " " + dt + " token factors", tol);
    projected.check(fixture + " " + dt + " projected", tol);
  }

  /** The reference's gradient of sequence {@code s} for {@code layer} as a row-major {@code [dOut, cols]} matrix. */
  static double[] expected(SafetensorsFile ref, int s, LinearLayer ll) throws Exception {
    Map<String, INDArray> named = new LinkedHashMap<>();
    named.put(ll.weight(), Nd4j.create(ref.readDoubles("grad." + s + "." + ll.weight())));
    if (ll.hasBias()) {
      named.put(ll.bias(), Nd4j.create(ref.readDoubles("grad." + s + "." + ll.bias())));
    }
    double[] out = new double[(int) ll.size()];
    ll.addTo(named, 1.0, out, 0);
    return out;
  }

  static double[] rowMajor(INDArray a) {
    return a.castTo(DataType.DOUBLE).dup('c').data().asDouble();
  }

  @Test
  void tokenFactors_biasLayers_endWithOnesColumn() throws Exception {
    CausalLm model = CausalLm.load(GoldenGradientsTest.golden("llama-l3"), DataType.DOUBLE);
    String q = "model.layers.0.self_attn.q_proj";
    LinearLayer ll = model.linear(q);
    assertEquals(q + ".bias", ll.bias());
    assertEquals(24 + 1, ll.cols());
    BatchGradients g = model.gradients(TokenBatch.of(new int[] {1, 2, 3}), GradientRequest.perExampleTokenFactors());
    INDArray a = g.tokenFactors().get(0).get(q).a();
    for (int t = 0; t < 3; t++) {
      assertEquals(1.0, a.getDouble(t, 24));
    }
    CausalLm noBias = CausalLm.load(GoldenGradientsTest.golden("llama-linear"), DataType.DOUBLE);
    assertNull(noBias.linear("model.layers.1.mlp.down_proj").bias());
    assertEquals(36, noBias.linear("model.layers.1.mlp.down_proj").cols());
  }
}
