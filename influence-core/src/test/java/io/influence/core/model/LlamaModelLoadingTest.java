package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.ModelConfigs;
import io.influence.checkpoints.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Llama-family loading: names, shapes, known buffers, tied heads, and refusals whose messages name the culprit. */
class LlamaModelLoadingTest {

  @TempDir
  Path tmp;

  private static LlamaModel tied;     // qwen2: tied head, q/k/v biases
  private static LlamaModel untied;   // llama-linear

  @BeforeAll
  static void load() throws Exception {
    tied = (LlamaModel) CausalLm.load(GoldenGradientsTest.golden("qwen2"), DataType.DOUBLE);
    untied = (LlamaModel) CausalLm.load(GoldenGradientsTest.golden("llama-linear"), DataType.DOUBLE);
  }

  private static IllegalArgumentException refused(LlamaModel m, Map<String, INDArray> t) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LlamaModel.fromTensors(m.config(), t, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("HINT"), e.getMessage());
    return e;
  }

  @Test
  void trackedLayers_sevenProjectionsPerBlockInForwardOrder() {
    List<String> l = untied.linearLayers();
    assertEquals(List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
        "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj", "model.layers.0.mlp.gate_proj",
        "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"), l.subList(0, 7));
    assertEquals(14, l.size());
    LinearLayer k = tied.linear("model.layers.1.self_attn.k_proj");
    assertEquals(new LinearLayer("model.layers.1.self_attn.k_proj", 24, 12, "model.layers.1.self_attn.k_proj.weight",
        "model.layers.1.self_attn.k_proj.bias", false), k);
    assertEquals(null, tied.linear("model.layers.1.self_attn.o_proj").bias());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tied.linear("h.0.attn.c_attn"));
    assertTrue(e.getMessage().contains("model.layers.0.self_attn.q_proj"), e.getMessage());
  }

  @Test
  void fromTensors_rotaryBuffersAndEqualTiedHead_accepted() {
    Map<String, INDArray> t = new LinkedHashMap<>(tied.parameters());
    t.put("model.rotary_emb.inv_freq", Nd4j.ones(DataType.DOUBLE, 3));
    t.put("model.layers.1.self_attn.rotary_emb.inv_freq", Nd4j.ones(DataType.DOUBLE, 3));
    t.put("lm_head.weight", t.get("model.embed_tokens.weight").dup());
    LlamaModel copy = LlamaModel.fromTensors(tied.config(), t, DataType.DOUBLE);
    TokenBatch b = TokenBatch.of(new int[] {1, 2, 3, 4, 100});
    assertArrayEquals(tied.losses(b), copy.losses(b), 0.0);
  }

  @Test
  void fromTensors_differentTiedHead_refused() {
    Map<String, INDArray> t = new LinkedHashMap<>(tied.parameters());
    t.put("lm_head.weight", t.get("model.embed_tokens.weight").add(1e-3));
    assertTrue(refused(tied, t).getMessage().contains("tie_word_embeddings"));
  }

  @Test
  void fromTensors_unknownTensor_namedWithHint() {
    Map<String, INDArray> t = new LinkedHashMap<>(untied.parameters());
    t.put("model.layers.2.mlp.up_proj.weight", Nd4j.zeros(DataType.DOUBLE, 36, 16));
    assertTrue(refused(untied, t).getMessage().contains("unknown tensor model.layers.2.mlp.up_proj.weight"));
    Map<String, INDArray> bias = new LinkedHashMap<>(untied.parameters());
    bias.put("model.layers.0.self_attn.o_proj.bias", Nd4j.zeros(DataType.DOUBLE, 16));
    assertTrue(refused(untied, bias).getMessage().contains("attention_bias"));
  }

  @Test
  void fromTensors_wrongShape_namesTensorAndBothShapes() {
    Map<String, INDArray> t = new LinkedHashMap<>(untied.parameters());
    t.put("model.layers.1.mlp.gate_proj.weight", Nd4j.zeros(DataType.DOUBLE, 16, 36));   // transposed
    String m = refused(untied, t).getMessage();
    assertTrue(m.contains("model.layers.1.mlp.gate_proj.weight") && m.contains("[16, 36]") && m.contains("[36, 16]"), m);
  }

  @Test
  void fromTensors_missingOrNonFinite_refused() {
    Map<String, INDArray> t = new LinkedHashMap<>(untied.parameters());
    t.remove("lm_head.weight");
    assertTrue(refused(untied, t).getMessage().contains("missing tensors [lm_head.weight]"));
    Map<String, INDArray> nan = new LinkedHashMap<>(untied.parameters());
    nan.get("model.norm.weight").putScalar(3, Double.NaN);
    assertTrue(refused(untied, nan).getMessage().contains("model.norm.weight contains NaN"));
  }

  @Test
  void load_checkpointWithUnknownTensor_messageNamesFolderAndTensor() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("ckpt"));
    ModelConfigs.write(dir.resolve("config.json"), untied.config());
    SafetensorsWriter w = new SafetensorsWriter();
    for (Map.Entry<String, INDArray> e : untied.parameters().entrySet()) {
      w.put(e.getKey(), e.getValue().shape(), e.getValue().castTo(DataType.FLOAT).data().asFloat());
    }
    w.put("model.layers.0.self_attn.q_proj.lora_A.weight", new long[] {2, 16}, new float[32]);
    w.write(dir.resolve("model.safetensors"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CausalLm.load(dir, DataType.FLOAT));
    assertTrue(e.getMessage().startsWith(dir.toString()) && e.getMessage().contains("lora_A.weight"), e.getMessage());
  }

  @Test
  void load_writtenConfigAndWeights_sameLosses() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("roundtrip"));
    ModelConfigs.write(dir.resolve("config.json"), untied.config());
    SafetensorsWriter w = new SafetensorsWriter();
    for (Map.Entry<String, INDArray> e : untied.parameters().entrySet()) {
      w.put(e.getKey(), e.getValue().shape(), e.getValue().dup('c').data().asDouble());
    }
    w.write(dir.resolve("model.safetensors"));
    CausalLm back = CausalLm.load(dir, DataType.DOUBLE);
    TokenBatch b = TokenBatch.of(new int[] {5, 17, 96, 0, 42}, new int[] {7, 7});
    assertArrayEquals(untied.losses(b), back.losses(b), 0.0);
  }

  @Test
  void load_unsupportedRopeType_refusedNamingKey() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("yarn"));
    String cfg = Files.readString(GoldenGradientsTest.golden("llama-linear").resolve("config.json"))
        .replace("\"type\": \"linear\"", "\"type\": \"yarn\"");
    Files.writeString(dir.resolve("config.json"), cfg);
    Files.copy(GoldenGradientsTest.golden("llama-linear").resolve("model.safetensors"), dir.resolve("model.safetensors"));
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> CausalLm.load(dir, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("\"rope_scaling\"") && e.getMessage().contains("\"yarn\"")
        && e.getMessage().contains("[default, linear, llama3]"), e.getMessage());
  }

  @Test
  void losses_sequenceLongerThanContext_refused() {
    LlamaConfig c = untied.config();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> untied.losses(TokenBatch.of(new int[c.maxPositionEmbeddings() + 1])));
    assertTrue(e.getMessage().contains("n_positions") || e.getMessage().contains("" + c.maxPositionEmbeddings()), e.getMessage());
  }

  @Test
  void withDataType_float32_sameLossesToRounding() {
    TokenBatch b = TokenBatch.of(new int[] {5, 17, 96, 0, 42, 3}, new int[] {64, 2});
    double[] want = tied.losses(b);
    double[] got = tied.withDataType(DataType.FLOAT).losses(b);
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 1e-5 * Math.abs(want[i]));
    }
  }
}
