package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.checkpoints.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * PEFT LoRA adapters on Llama-family bases against torch_llama.py: losses, the gradients of every
 * adapter factor (the base frozen) from one padded batch, and per-example full / token-factor /
 * projected gradients of the lora_A and lora_B layers ({@code llama-linear-lora}: alpha/r on
 * q_proj, v_proj, down_proj; {@code qwen2-rslora}: alpha/√r on q, k, o, gate, up). Plus the refusals.
 */
class LlamaLoraGoldenTest {

  @TempDir
  Path tmp;

  static CausalLm load(String adapter, String base, DataType dt) throws Exception {
    return CausalLm.load(GoldenGradientsTest.golden(base), GoldenGradientsTest.golden(adapter), dt);
  }

  @ParameterizedTest
  @CsvSource({"llama-linear-lora, llama-linear", "qwen2-rslora, qwen2"})
  void adapter_parametersAndLayersAreTheAdaptersOnly(String adapter, String base) throws Exception {
    CausalLm m = load(adapter, base, DataType.DOUBLE);
    try (SafetensorsFile f = SafetensorsFile.open(GoldenGradientsTest.golden(adapter).resolve("adapter_model.safetensors"))) {
      assertEquals(new TreeSet<>(f.names()), new TreeSet<>(m.parameters().keySet()));
    }
    List<String> layers = m.linearLayers();
    assertEquals(m.parameters().size(), layers.size());
    String first = layers.get(0);
    assertEquals("model.layers.0.self_attn.q_proj.lora_A", first);
    LinearLayer a = m.linear(first);
    assertEquals("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", a.weight());
    assertNull(a.bias());
    assertFalse(a.weightIsInByOut());
    LinearLayer b = m.linear(layers.get(1));
    assertEquals(a.dOut(), b.dIn());
    assertThrows(IllegalArgumentException.class, () -> m.linear("model.layers.0.self_attn.q_proj"));
  }

  @ParameterizedTest
  @CsvSource({"llama-linear-lora, llama-linear", "qwen2-rslora, qwen2"})
  void adapterGradients_float64_matchPytorch(String adapter, String base) throws Exception {
    LlamaGoldenTest.check(load(adapter, base, DataType.DOUBLE), adapter, DataType.DOUBLE, LlamaGoldenTest.TOL_F64);
    LlamaPerExampleTest.check(load(adapter, base, DataType.DOUBLE), adapter, DataType.DOUBLE, LlamaGoldenTest.TOL_F64);
  }

  @ParameterizedTest
  @CsvSource({"llama-linear-lora, llama-linear", "qwen2-rslora, qwen2"})
  void adapterGradients_float32_matchPytorch(String adapter, String base) throws Exception {
    LlamaGoldenTest.check(load(adapter, base, DataType.FLOAT), adapter, DataType.FLOAT, LlamaGoldenTest.TOL_F32);
    LlamaPerExampleTest.check(load(adapter, base, DataType.FLOAT), adapter, DataType.FLOAT, LlamaGoldenTest.TOL_F32);
  }

  @Test
  void withDataType_keepsAdapter() throws Exception {
    CausalLm m = load("qwen2-rslora", "qwen2", DataType.DOUBLE);
    CausalLm f = m.withDataType(DataType.FLOAT);
    assertEquals(m.linearLayers(), f.linearLayers());
    int[] seq = GoldenGradientsTest.tokens("qwen2-rslora")[0];
    assertEquals(m.losses(TokenBatch.of(seq))[0], f.losses(TokenBatch.of(seq))[0], 1e-4);
  }

  /** Writes a copy of the llama-linear-lora adapter with {@code config} as adapter_config.json. */
  private Path adapterWith(String config, Map<String, double[]> extraTensors) throws Exception {
    Path src = GoldenGradientsTest.golden("llama-linear-lora");
    Path dir = Files.createDirectories(tmp.resolve("adapter" + System.nanoTime()));
    Files.writeString(dir.resolve("adapter_config.json"), config);
    if (extraTensors == null) {
      Files.copy(src.resolve("adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
    } else {
      SafetensorsWriter w = new SafetensorsWriter();
      try (SafetensorsFile f = SafetensorsFile.open(src.resolve("adapter_model.safetensors"))) {
        for (String n : f.names()) {
          w.put(n, f.info(n).shape(), f.readFloats(n));
        }
      }
      for (Map.Entry<String, double[]> e : extraTensors.entrySet()) {
        w.put(e.getKey(), new long[] {e.getValue().length}, toFloats(e.getValue()));
      }
      w.write(dir.resolve("adapter_model.safetensors"));
    }
    return dir;
  }

  private static float[] toFloats(double[] d) {
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  private static final String OK = "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":[%s],\"bias\":\"none\"}";

  @Test
  void targetMatchingNoProjection_refusedNamingIt() throws Exception {
    Path dir = adapterWith(String.format(OK, "\"q_proj\",\"v_proj\",\"down_proj\",\"lm_head\""), null);
    LlamaModel base = (LlamaModel) CausalLm.load(GoldenGradientsTest.golden("llama-linear"), DataType.DOUBLE);
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> base.withAdapter(dir));
    assertTrue(e.getMessage().contains("\"lm_head\"") && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void unknownAdapterTensor_refusedNamingIt() throws Exception {
    Path dir = adapterWith(String.format(OK, "\"q_proj\",\"v_proj\",\"down_proj\""),
        Map.of("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", new double[16]));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CausalLm.load(GoldenGradientsTest.golden("llama-linear"), dir, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("lora_magnitude_vector") && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void fewerTargetsThanTensors_unknownTensorRefused() throws Exception {
    Path dir = adapterWith(String.format(OK, "\"q_proj\",\"v_proj\""), null);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CausalLm.load(GoldenGradientsTest.golden("llama-linear"), dir, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("mlp.down_proj.lora_"), e.getMessage());
  }

  @Test
  void moreTargetsThanTensors_missingRefused() throws Exception {
    Path dir = adapterWith(String.format(OK, "\"q_proj\",\"v_proj\",\"down_proj\",\"k_proj\""), null);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CausalLm.load(GoldenGradientsTest.golden("llama-linear"), dir, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("missing adapter tensors") && e.getMessage().contains("k_proj.lora_A"), e.getMessage());
  }

  @Test
  void wrongRank_shapeRefused() throws Exception {
    Path dir = adapterWith(String.format(OK, "\"q_proj\",\"v_proj\",\"down_proj\"").replace("\"r\":4", "\"r\":5"), null);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CausalLm.load(GoldenGradientsTest.golden("llama-linear"), dir, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("has shape") && e.getMessage().contains("r=5"), e.getMessage());
  }

  @Test
  void adapterOnGpt2_refused() throws Exception {
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> CausalLm.load(
        GoldenGradientsTest.golden("gpt2-w16"), GoldenGradientsTest.golden("llama-linear-lora"), DataType.DOUBLE));
    assertTrue(e.getMessage().contains("Llama family"), e.getMessage());
  }

  @Test
  void missingWeightsFile_refused() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("empty"));
    Files.writeString(dir.resolve("adapter_config.json"), String.format(OK, "\"q_proj\""));
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
        () -> CausalLm.load(GoldenGradientsTest.golden("llama-linear"), dir, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("adapter_model.safetensors"), e.getMessage());
  }
}
