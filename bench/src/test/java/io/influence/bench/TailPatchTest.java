package io.influence.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.TokenBatch;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Tail-patch against its first-order truth: for a small step η the completion's log-probability rises by
 * {@code η ⟨∇(−L_q), −∇L_p⟩ = η ⟨∇L_q, ∇L_p⟩} (gradients of the query's masked loss and of the proponent's loss, both
 * from the model's own backward pass, float64), up to O(η²). Measuring two proponents in a row checks that the
 * parameters are restored in between: a leftover step would add {@code η ⟨∇L_q, ∇L_p1⟩} to the second figure.
 */
class TailPatchTest {

  @Test
  void smallStep_equalsLearningRateTimesGradientInnerProduct_andParametersAreRestored(@TempDir Path dir) {
    TinyLm lm = TinyLm.from(new BenchOptions(true, 1, dir, Map.of()), "t", 20, 20, 1, 1);
    List<int[]> data = lm.sample(1, new Random(2), 24).sequences();
    CausalLm model = lm.train(data, 3, 4, 20, dir.resolve("run")).model().withDataType(DataType.DOUBLE);
    Map<String, int[]> train = new LinkedHashMap<>();
    for (int i = 0; i < 4; i++) {
      train.put("t" + i, data.get(i));
    }
    int[] tokens = data.get(10);
    int[] mask = new int[tokens.length];
    for (int t = tokens.length / 2; t < tokens.length; t++) {
      mask[t] = 1;   // the second half is the completion
    }
    TailPatch.Query q = new TailPatch.Query("q", tokens, mask);
    double rate = 1e-5;

    Map<String, INDArray> gq = model.gradients(new TokenBatch(new int[][] {tokens}, new int[][] {mask}),
        GradientRequest.allParameters()).parameterGradients();
    double[] expected = new double[train.size()];
    int i = 0;
    for (int[] p : train.values()) {
      Map<String, INDArray> gp = model.gradients(TokenBatch.of(p), GradientRequest.allParameters())
          .parameterGradients();
      double dot = 0;
      for (String name : gq.keySet()) {
        dot += gq.get(name).castTo(DataType.DOUBLE).mul(gp.get(name).castTo(DataType.DOUBLE)).sumNumber().doubleValue();
      }
      expected[i++] = rate * dot;
    }

    TailPatch patch = new TailPatch(model, train, rate);
    List<String> ids = List.copyOf(train.keySet());
    double firstTwo = patch.mean(List.of(q), Map.of("q", ids), 2);
    double all = patch.mean(List.of(q), Map.of("q", List.of(ids.get(3), ids.get(2), ids.get(1), ids.get(0))), 4);
    double one = patch.mean(List.of(q), Map.of("q", List.of(ids.get(2))), 1);
    double scale = Math.abs(expected[0]) + Math.abs(expected[1]) + Math.abs(expected[2]) + Math.abs(expected[3]);
    assertTrue(scale > 1e-8, "the proponents' gradients must move the query: " + scale);
    assertEquals((expected[0] + expected[1]) / 2, firstTwo, 1e-3 * scale);
    assertEquals((expected[0] + expected[1] + expected[2] + expected[3]) / 4, all, 1e-3 * scale);
    assertEquals(expected[2], one, 1e-3 * scale);
  }
}
