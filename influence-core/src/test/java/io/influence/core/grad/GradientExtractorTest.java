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
}
