package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Name and shape handling when building a model from Hugging Face-named tensors. */
class Gpt2ModelLoadingTest {

  private static Gpt2Model model;

  @BeforeAll
  static void load() throws Exception {
    model = Gpt2Model.load(GoldenGradientsTest.golden("gpt2-w24"), DataType.DOUBLE);
  }

  private static Map<String, INDArray> tensors() {
    return new LinkedHashMap<>(model.parameters());
  }

  @Test
  void fromTensors_namesWithoutPrefixPlusTiedHeadAndMaskBuffers_sameLosses() {
    Map<String, INDArray> t = tensors();
    t.put("lm_head.weight", t.get("wte.weight").dup());
    t.put("h.0.attn.bias", Nd4j.ones(1, 1, 24, 24));
    t.put("h.1.attn.masked_bias", Nd4j.scalar(-1e4));
    Gpt2Model copy = Gpt2Model.fromTensors(model.config(), t, DataType.DOUBLE);
    TokenBatch b = TokenBatch.of(new int[] {1, 2, 3, 4, 100});
    assertArrayEquals(model.losses(b), copy.losses(b), 0.0);
  }

  @Test
  void fromTensors_wrongShape_namesTensorAndBothShapes() {
    Map<String, INDArray> t = tensors();
    t.put("h.1.mlp.c_fc.weight", Nd4j.zeros(DataType.DOUBLE, 96, 24));  // transposed: HF Conv1D is [in, out]
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Gpt2Model.fromTensors(model.config(), t, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("h.1.mlp.c_fc.weight") && e.getMessage().contains("[96, 24]")
        && e.getMessage().contains("[24, 96]"), e.getMessage());
  }

  @Test
  void fromTensors_missingTensor_namesIt() {
    Map<String, INDArray> t = tensors();
    t.remove("h.0.ln_2.bias");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Gpt2Model.fromTensors(model.config(), t, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("h.0.ln_2.bias"), e.getMessage());
  }

  @Test
  void fromTensors_unknownTensor_namesIt() {
    Map<String, INDArray> t = tensors();
    t.put("transformer.h.2.ln_1.weight", Nd4j.ones(DataType.DOUBLE, 24));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Gpt2Model.fromTensors(model.config(), t, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("transformer.h.2.ln_1.weight"), e.getMessage());
  }

  @Test
  void fromTensors_nanValue_isRejected() {
    Map<String, INDArray> t = tensors();
    t.get("ln_f.bias").putScalar(3, Double.NaN);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Gpt2Model.fromTensors(model.config(), t, DataType.DOUBLE));
    assertTrue(e.getMessage().contains("ln_f.bias"), e.getMessage());
  }

  @Test
  void losses_tokenOutsideVocabulary_namesExampleAndPosition() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> model.losses(TokenBatch.of(new int[] {1, 2}, new int[] {4, 101, 3})));
    assertTrue(e.getMessage().contains("example 1") && e.getMessage().contains("position 1"), e.getMessage());
  }

  @Test
  void config_oddSizes_linearShapesIncludeBiasColumn() {
    Gpt2Config c = model.config();
    assertEquals(24, c.nEmbd());
    assertArrayEquals(new int[] {72, 25}, model.linearShape("h.0.attn.c_attn"));
    assertArrayEquals(new int[] {24, 97}, model.linearShape("h.1.mlp.c_proj"));
    assertEquals(2L * (24 * 72 + 24 * 24 + 24 * 96 + 96 * 24), model.linearWeightCount());
  }
}
