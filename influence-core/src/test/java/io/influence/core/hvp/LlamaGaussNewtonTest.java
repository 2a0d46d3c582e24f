package io.influence.core.hvp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.core.model.CausalLm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Gauss-Newton-vector products {@code (1/N) Σ_n J_nᵀ H_out J_n v} of Llama-family models (and a LoRA
 * adapter) through the family-independent {@link GaussNewtonOperator}, against PyTorch's exact float64
 * products (J v by the double-vjp trick, then a vjp) made by src/test/python/llama_gn_reference.py on
 * the golden fixtures (gn.json, gn.safetensors): this checks the model's forward-mode
 * {@code logitTangents} and its backward from logits gradients together. Loss masks and right padding
 * (batches of 2 and of all 3 sequences) are exercised.
 */
class LlamaGaussNewtonTest {

  private static final Path GOLDEN = Path.of("src/test/resources/golden");
  /** Exact products in float64: rounding only (as HvpReferenceTest's GGN tolerance). */
  private static final double TOL = 1e-12;
  /** The float32 model: float32 rounding through the passes. */
  private static final double TOL_F32 = 1e-5;

  @ParameterizedTest
  @ValueSource(strings = {"llama-l3", "qwen3", "mistral-sw", "qwen2-rslora"})
  void gaussNewtonProducts_float64_matchPytorch(String fixture) throws Exception {
    for (int batchSize : new int[] {2, 3}) {
      compare(fixture, DataType.DOUBLE, batchSize, TOL);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama-l3", "qwen2-rslora"})
  void gaussNewtonProducts_float32_matchPytorchToFloat32Rounding(String fixture) throws Exception {
    compare(fixture, DataType.FLOAT, 3, TOL_F32);
  }

  private static void compare(String fixture, DataType dt, int batchSize, double tol) throws Exception {
    Path dir = GOLDEN.resolve(fixture);
    JsonNode in = new ObjectMapper().readTree(dir.resolve("gn.json").toFile());
    JsonNode adapter = in.get("adapter");
    CausalLm model = CausalLm.load(GOLDEN.resolve(in.get("base").asText()),
        adapter.isNull() ? null : GOLDEN.resolve(adapter.asText()), dt);
    List<String> layers = new ArrayList<>();
    in.get("layers").forEach(n -> layers.add(n.asText()));
    List<int[]> tokens = new ArrayList<>();
    List<int[]> masks = new ArrayList<>();
    in.get("tokens").forEach(n -> tokens.add(ints(n)));
    in.get("masks").forEach(n -> masks.add(n.isNull() ? null : ints(n)));
    GaussNewtonOperator g = GaussNewtonOperator.create(model, layers, new TrainingSequences(tokens, masks, batchSize));
    try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("gn.safetensors"))) {
      // the whole block at once: one forward pass per batch serves every probe (CausalLm.hold)
      List<double[]> vs = new ArrayList<>();
      for (int k = 0; ref.contains("v." + k); k++) {
        vs.add(ref.readDoubles("v." + k));
      }
      double[][] block = new double[vs.size()][g.dim()];
      g.apply(vs.toArray(new double[0][]), block);
      for (int k = 0; k < vs.size(); k++) {
        double r = HvpReferenceTest.relativeError(ref.readDoubles("gv." + k), block[k]);
        assertTrue(r <= tol, fixture + " " + dt + " block probe " + k + ": relative error " + r + " > " + tol);
      }
      for (int k = 0; ref.contains("v." + k); k++) {
        double[] v = ref.readDoubles("v." + k);
        double[] want = ref.readDoubles("gv." + k);
        assertEquals(g.dim(), v.length, "dimension");
        double[] got = new double[v.length];
        g.apply(v, got);
        double r = HvpReferenceTest.relativeError(want, got);
        System.out.printf("%s %s batch %d GN probe %d vs torch: max|diff|/max|ref| = %.3g%n", fixture, dt, batchSize, k, r);
        assertTrue(r <= tol, fixture + " " + dt + " probe " + k + ": relative error " + r + " > " + tol);
      }
    }
  }

  private static int[] ints(JsonNode n) {
    int[] out = new int[n.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = n.get(i).asInt();
    }
    return out;
  }
}
