package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.SafetensorsFile;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Llama-family models (llama with llama3 and linear RoPE, mistral with a sliding window, qwen2,
 * qwen3) against the independent PyTorch reference {@code torch_llama.py}: per-example losses and
 * the gradient of every parameter, from ONE right-padded batch of all of a fixture's sequences
 * (unequal lengths), in float64 and float32. Fixtures in src/test/resources/golden (README there).
 */
class LlamaGoldenTest {

  /** max|ours − reference| ≤ TOL · max|reference|, per tensor. */
  static final double TOL_F64 = 1e-9;
  static final double TOL_F32 = 1e-4;
  /**
   * Against the files transformers itself wrote: the library computes RMSNorm and the rotary
   * cos/sin in float32 even for a float64 model, so its gradients carry ~1e-6 relative rounding
   * (golden/README.md: 8e-7 between it and torch_llama.py).
   */
  static final double TOL_HF = 1e-5;

  @ParameterizedTest
  @ValueSource(strings = {"llama-l3", "llama-linear", "mistral-sw", "qwen2", "qwen3"})
  void batchGradients_float64_matchPytorchForEveryParameter(String fixture) throws Exception {
    check(fixture, DataType.DOUBLE, TOL_F64);
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama-l3", "llama-linear", "mistral-sw", "qwen2", "qwen3"})
  void batchGradients_float32_matchPytorchForEveryParameter(String fixture) throws Exception {
    check(fixture, DataType.FLOAT, TOL_F32);
  }

  @ParameterizedTest
  @EnumSource(names = {"DOUBLE", "FLOAT"})
  void huggingFaceLlama_transformers5Files_matchLibraryGradients(DataType dt) throws Exception {
    CausalLm model = CausalLm.load(GoldenGradientsTest.golden("hf-llama"), dt);
    LlamaConfig c = (LlamaConfig) model.config();
    assertEquals(LlamaConfig.Rope.llama3(10000, 8, 0.5, 4, 32), c.rope());
    assertEquals(8, c.headDim());
    check(model, "hf-llama", dt, TOL_HF);
    LlamaPerExampleTest.check(model, "hf-llama", dt, TOL_HF);
  }

  @ParameterizedTest
  @EnumSource(names = {"DOUBLE", "FLOAT"})
  void huggingFacePeftAdapter_onQwen2_matchLibraryGradients(DataType dt) throws Exception {
    Path dir = GoldenGradientsTest.golden("hf-qwen2-peft");
    CausalLm model = CausalLm.load(dir.resolve("base"), dir.resolve("adapter"), dt);
    assertEquals(12, model.linearLayers().size());
    check(model, "hf-qwen2-peft", dt, TOL_HF);
    LlamaPerExampleTest.check(model, "hf-qwen2-peft", dt, TOL_HF);
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama-l3", "mistral-sw", "qwen3"})
  void singleSequences_float64_matchPytorchPerSequence(String fixture) throws Exception {
    CausalLm model = CausalLm.load(GoldenGradientsTest.golden(fixture), DataType.DOUBLE);
    int[][] seqs = GoldenGradientsTest.tokens(fixture);
    Worst worst = new Worst();
    try (SafetensorsFile ref = SafetensorsFile.open(GoldenGradientsTest.golden(fixture).resolve("grads.safetensors"))) {
      for (int i = 0; i < seqs.length; i++) {
        BatchGradients g = model.gradients(TokenBatch.of(seqs[i]), GradientRequest.allParameters());
        double want = ref.readDoubles("loss." + i)[0];
        assertEquals(want, g.losses()[0], TOL_F64 * Math.abs(want), fixture + " loss " + i);
        for (Map.Entry<String, INDArray> e : g.parameterGradients().entrySet()) {
          worst.add("example " + i + " " + e.getKey(), ref.readDoubles("grad." + i + "." + e.getKey()), values(e.getValue()));
        }
      }
    }
    worst.check(fixture + " single sequences", TOL_F64);
  }

  static void check(String fixture, DataType dt, double tol) throws Exception {
    CausalLm model = CausalLm.load(GoldenGradientsTest.golden(fixture), dt);
    assertTrue(model instanceof LlamaModel, model.getClass().toString());
    assertEquals(fixture.startsWith("llama") ? "llama" : fixture.replace("-sw", ""), model.config().modelType());
    check(model, fixture, dt, tol);
  }

  /** Losses and summed parameter gradients of {@code model} on the sequences of {@code fixture} vs its grads.safetensors. */
  static void check(CausalLm model, String fixture, DataType dt, double tol) throws Exception {
    Path dir = GoldenGradientsTest.golden(fixture);
    int[][] seqs = GoldenGradientsTest.tokens(fixture);
    BatchGradients g = model.gradients(TokenBatch.of(seqs), GradientRequest.allParameters());
    Worst worst = new Worst();
    try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("grads.safetensors"))) {
      for (int i = 0; i < seqs.length; i++) {
        double want = ref.readDoubles("loss." + i)[0];
        worst.add("loss " + i, new double[] {want}, new double[] {g.losses()[i]});
      }
      for (Map.Entry<String, INDArray> e : g.parameterGradients().entrySet()) {
        worst.add(e.getKey(), summed(ref, e.getKey(), seqs.length), values(e.getValue()));
      }
    }
    assertEquals(model.parameters().size(), g.parameterGradients().size());
    assertEquals(seqs.length + model.parameters().size(), worst.count);
    worst.check(fixture + " " + dt + " batch of " + seqs.length + " (" + ((LlamaConfig) model.config()).family() + ")", tol);
  }

  /** Σ_i of the reference's per-sequence gradients of {@code name}. */
  static double[] summed(SafetensorsFile ref, String name, int sequences) throws Exception {
    double[] s = null;
    for (int i = 0; i < sequences; i++) {
      double[] g = ref.readDoubles("grad." + i + "." + name);
      if (s == null) {
        s = g;
      } else {
        for (int k = 0; k < g.length; k++) {
          s[k] += g[k];
        }
      }
    }
    return s;
  }

  static double[] values(INDArray a) {
    return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
  }

  /** The worst per-tensor relative error max|diff| / max|ref| over a set of comparisons. */
  static final class Worst {
    double ratio = -1;
    String where;
    int count;

    void add(String name, double[] want, double[] got) {
      assertEquals(want.length, got.length, name + " length");
      double maxDiff = 0;
      double maxAbs = 0;
      for (int k = 0; k < want.length; k++) {
        maxDiff = Math.max(maxDiff, Math.abs(want[k] - got[k]));
        maxAbs = Math.max(maxAbs, Math.abs(want[k]));
      }
      assertTrue(maxAbs > 0, name + ": reference is all zeros");
      double r = maxDiff / maxAbs;
      if (!(r <= ratio)) {
        ratio = r;
        where = name + ": max|diff| " + maxDiff + ", max|ref| " + maxAbs;
      }
      count++;
    }

    void check(String what, double tol) {
      System.out.printf("%s: worst relative error %.3g (%s)%n", what, ratio, where);
      assertTrue(ratio <= tol, what + ": worst " + where + ", ratio " + ratio + " > " + tol);
    }
  }
}
