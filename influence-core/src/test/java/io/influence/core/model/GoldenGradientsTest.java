package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-example losses and the gradient of every parameter against the independent PyTorch
 * reference (float64 fixtures in src/test/resources/golden, see the README there).
 */
class GoldenGradientsTest {

  /** max|ours − reference| ≤ TOL · max|reference|, per tensor. */
  private static final double TOL_F64 = 1e-9;
  private static final double TOL_F32 = 1e-4;

  static Path golden(String config) {
    return Path.of("src/test/resources/golden", config);
  }

  static int[][] tokens(String config) throws Exception {
    String json = Files.readString(golden(config).resolve("tokens.json")).trim();
    json = json.substring(1, json.length() - 1).trim();
    List<int[]> out = new ArrayList<>();
    for (String seq : json.split("\\]\\s*,?")) {
      String s = seq.replace("[", "").replace(",", " ").trim();
      if (s.isEmpty()) {
        continue;
      }
      String[] parts = s.split("\\s+");
      int[] t = new int[parts.length];
      for (int i = 0; i < parts.length; i++) {
        t[i] = Integer.parseInt(parts[i]);
      }
      out.add(t);
    }
    return out.toArray(new int[0][]);
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt2-w16", "gpt2-w24"})
  void gradients_float64_matchPytorchReferenceForEveryParameter(String config) throws Exception {
    check(config, DataType.DOUBLE, TOL_F64);
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt2-w16", "gpt2-w24"})
  void gradients_float32_matchPytorchReferenceForEveryParameter(String config) throws Exception {
    check(config, DataType.FLOAT, TOL_F32);
  }

  private static void check(String config, DataType dt, double tol) throws Exception {
    Gpt2Model model = Gpt2Model.load(golden(config), dt);
    int[][] seqs = tokens(config);
    try (SafetensorsFile ref = SafetensorsFile.open(golden(config).resolve("grads.safetensors"))) {
      String worst = null;
      double worstRatio = -1;
      int checked = 0;
      for (int i = 0; i < seqs.length; i++) {
        BatchGradients g = model.gradients(TokenBatch.of(seqs[i]), GradientRequest.allParameters());
        double refLoss = ref.readDoubles("loss." + i)[0];
        assertEquals(refLoss, g.losses()[0], tol * Math.abs(refLoss), config + " example " + i + " loss");
        for (Map.Entry<String, INDArray> e : g.parameterGradients().entrySet()) {
          double[] want = ref.readDoubles("grad." + i + ".transformer." + e.getKey());
          double[] got = e.getValue().dup('c').castTo(DataType.DOUBLE).data().asDouble();
          assertEquals(want.length, got.length, e.getKey());
          double maxDiff = 0;
          double maxAbs = 0;
          for (int k = 0; k < want.length; k++) {
            maxDiff = Math.max(maxDiff, Math.abs(want[k] - got[k]));
            maxAbs = Math.max(maxAbs, Math.abs(want[k]));
          }
          double ratio = maxDiff / Math.max(maxAbs, Double.MIN_NORMAL);
          if (ratio > worstRatio) {
            worstRatio = ratio;
            worst = "example " + i + " " + e.getKey() + ": max|diff| " + maxDiff + ", max|ref| " + maxAbs;
          }
          checked++;
        }
      }
      assertEquals(seqs.length * model.parameters().size(), checked);
      System.out.printf("%s %s worst relative error %.3g (%s)%n", config, dt, worstRatio, worst);
      assertTrue(worstRatio <= tol, config + " " + dt + ": worst tensor " + worst + ", ratio " + worstRatio + " > " + tol);
    }
  }
}
