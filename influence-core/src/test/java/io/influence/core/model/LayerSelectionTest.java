package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class LayerSelectionTest {

  private static final List<String> LLAMA = List.of(
      "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.mlp.down_proj",
      "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.k_proj", "model.layers.1.mlp.down_proj",
      "model.layers.10.self_attn.q_proj");

  @Test
  void empty_selectsEveryLayerInModelOrder() {
    assertEquals(LLAMA, LayerSelection.select(List.of(), LLAMA, "k"));
  }

  @Test
  void namesAndPatterns_inModelOrder_eachOnce() {
    assertEquals(List.of("model.layers.0.mlp.down_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.mlp.down_proj"),
        LayerSelection.select(List.of("*.mlp.*", "model.layers.1.self_attn.q_proj", "model.layers.1.*.down_proj"), LLAMA, "k"));
    // a pattern is anchored at both ends and dots are literal: "model.layers.1.*" does not match layer 10
    assertEquals(List.of("model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.k_proj", "model.layers.1.mlp.down_proj"),
        LayerSelection.select(List.of("model.layers.1.*"), LLAMA, "k"));
    // regex characters in an entry are literal
    assertEquals(List.of("model.layers.0.q_proj"),
        LayerSelection.select(List.of("model.layers.0.q_proj"), List.of("modelXlayers.0.q_proj", "model.layers.0.q_proj"), "k"));
  }

  @Test
  void entryMatchingNothing_namesEntryKeyAndExamples() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LayerSelection.select(List.of("h.0.mlp.c_fc"), LLAMA, "influence.extract.layers"));
    assertTrue(e.getMessage().startsWith("influence.extract.layers entry \"h.0.mlp.c_fc\" matches no linear layer"), e.getMessage());
    assertTrue(e.getMessage().contains("model.layers.0.self_attn.q_proj"), e.getMessage());
  }
}
