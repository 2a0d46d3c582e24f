package io.influence.core.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.influence.checkpoints.Gpt2Config;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GemmFlops;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.train.Initialization;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The cost model's counts against brute force: the FLOPs of a per-example gradient pass against the GEMMs the model
 * actually runs ({@link GemmFlops}), the stored floats per row against the gradients the extractor returns, and the
 * parameter count against the model's parameters. GPT-2 (random), Llama (grouped-query attention) and Qwen2 with a
 * LoRA adapter (golden fixtures); full and projected, every and some layers, ragged batches.
 */
class CostModelTest {

  private static final Path GOLDEN = Path.of("src/test/resources/golden");

  private static CausalLm gpt2() {
    return Initialization.gpt2(new Gpt2Config(61, 16, 24, 2, 3, 1e-5, "gelu_new"), 7, DataType.FLOAT);
  }

  private static CausalLm llama() throws Exception {
    return CausalLm.load(GOLDEN.resolve("hf-llama"), DataType.FLOAT);
  }

  private static CausalLm lora() throws Exception {
    return CausalLm.load(GOLDEN.resolve("hf-qwen2-peft/base"), GOLDEN.resolve("hf-qwen2-peft/adapter"), DataType.FLOAT);
  }

  private static int[][] ragged(CausalLm model, long seed, int... lengths) {
    Random r = new Random(seed);
    int[][] out = new int[lengths.length][];
    for (int i = 0; i < lengths.length; i++) {
      out[i] = r.ints(lengths[i], 0, model.config().vocabSize()).toArray();
    }
    return out;
  }

  /** Checks both spaces and two layer choices on one model. */
  private static void checkPassFlops(CausalLm model) {
    int[][] tokens = ragged(model, 3, 9, 5, 12);
    long real = 9 + 5 + 12;
    List<String> all = model.linearLayers();
    List<String> some = List.of(all.get(1), all.get(all.size() - 1));
    for (List<String> layers : List.of(all, some)) {
      CostModel cost = CostModel.of(model, layers);
      long full = GemmFlops.count(() -> model.gradients(new TokenBatch(tokens, null),
          GradientRequest.perExampleFull().withTrackedLayers(layers)));
      assertEquals(cost.passFlops(3, 12, real, GradientSpace.full()), full, "full, layers " + layers);
      Map<String, KroneckerProjection> p = model.projections(layers, 3, 2, 11);
      long projected = GemmFlops.count(() -> model.gradients(new TokenBatch(tokens, null),
          GradientRequest.perExampleProjected(p)));
      assertEquals(cost.passFlops(3, 12, real, GradientSpace.projected(3, 2)), projected, "projected, layers " + layers);
    }
  }

  @Test
  void passFlops_gpt2_equalsTheCountedGemms() {
    checkPassFlops(gpt2());
  }

  @Test
  void passFlops_llamaGroupedQuery_equalsTheCountedGemms() throws Exception {
    checkPassFlops(llama());
  }

  @Test
  void passFlops_qwen2WithLoraAdapter_equalsTheCountedGemms() throws Exception {
    checkPassFlops(lora());
  }

  @Test
  void storedFloatsPerRow_equalsTheExtractedGradientSizes() throws Exception {
    for (CausalLm model : List.of(gpt2(), llama(), lora())) {
      List<String> layers = model.linearLayers();
      CostModel cost = CostModel.of(model, layers);
      int[][] tokens = ragged(model, 5, 6);
      for (GradientSpace space : List.of(GradientSpace.full(), GradientSpace.projected(2, 3))) {
        Map<String, KroneckerProjection> p = space.projected()
            ? model.projections(layers, space.kIn(), space.kOut(), 1) : Map.of();
        ExampleGradient g = new GradientExtractor(model, p, 1).extract(List.of("x"), List.of(tokens[0]), null).get(0);
        long counted = 0;
        for (INDArray m : g.layers().values()) {
          counted += m.length();
        }
        assertEquals(counted, cost.storedFloatsPerRow(space), model.config().modelType() + " " + space.describe());
      }
    }
  }

  @Test
  void parameterCount_equalsTheModelsParameters() throws Exception {
    for (CausalLm model : List.of(gpt2(), llama())) {
      long counted = 0;
      for (INDArray a : model.parameterViews().values()) {
        counted += a.length();
      }
      assertEquals(counted, CostModel.of(model, model.linearLayers()).parameterCount(), model.config().modelType());
    }
    // LoRA: the model's parameters are the adapter's; the cost counts the frozen base too
    CausalLm base = CausalLm.load(GOLDEN.resolve("hf-qwen2-peft/base"), DataType.FLOAT);
    CausalLm adapted = lora();
    long adapter = 0;
    for (INDArray a : adapted.parameterViews().values()) {
      adapter += a.length();
    }
    long baseCount = 0;
    for (INDArray a : base.parameterViews().values()) {
      baseCount += a.length();
    }
    assertEquals(baseCount + adapter, CostModel.of(adapted, adapted.linearLayers()).parameterCount());
  }
}
