package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import io.influence.core.hvp.GaussNewtonOperator;
import io.influence.core.hvp.TrainingSequences;
import io.influence.core.score.LayerLayout;
import io.influence.core.train.Initialization;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradients against labels sampled from the model's own predictive distribution (the true Fisher's), checked
 * against the exact Gauss-Newton matrix: for one sequence, {@code E_y[g_y g_yᵀ] = Jᵀ H_logits J = G} and
 * {@code E_y[g_y] = 0}. Over many seeds the sample mean of {@code (vᵀg)²} must match {@code vᵀ G v} (computed by
 * forward-mode products, an independent path) within four standard errors of that mean, and the mean of
 * {@code vᵀg} must be within four standard errors of 0. Labels depend on the seed, the example's tokens and the
 * position only: the same example gets the same gradient alone and in a padded batch.
 */
class SampledLabelsTest {

  private static final Gpt2Config CONFIG = new Gpt2Config(11, 16, 8, 1, 2, 1e-5, "gelu_new");
  private static final int SEEDS = 300;
  private static final String LAYER = "h.0.mlp.c_proj";

  @Test
  void sampledLabelGradients_haveTheGaussNewtonMatrixAsSecondMoment() {
    Gpt2Model model = Initialization.gpt2(CONFIG, 4, DataType.DOUBLE);
    int[] seq = {1, 5, 2, 7, 3, 9, 4};
    GaussNewtonOperator gn = GaussNewtonOperator.create(model, List.of(LAYER), TrainingSequences.of(List.of(seq), 1));
    LayerLayout layout = gn.layout();
    double[] v = new double[gn.dim()];
    SplittableRandom r = new SplittableRandom(3);
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextGaussian();
    }
    double[] gv = new double[gn.dim()];
    gn.apply(v, gv);
    double exact = dot(v, gv);

    double sum = 0;
    double sumSq = 0;
    double first = 0;
    double firstSq = 0;
    for (int s = 0; s < SEEDS; s++) {
      double p = dot(v, gradient(model, layout, seq, GradientRequest.Labels.sampled(s)));
      first += p;
      firstSq += p * p;
      sum += p * p;
      sumSq += p * p * p * p;
    }
    double mean = sum / SEEDS;
    double se = Math.sqrt((sumSq / SEEDS - mean * mean) / SEEDS);
    double mean1 = first / SEEDS;
    double se1 = Math.sqrt((firstSq / SEEDS - mean1 * mean1) / SEEDS);
    double observed = dot(v, gradient(model, layout, seq, GradientRequest.Labels.OBSERVED));
    System.out.printf("vᵀGv %.6e, sampled-label mean of (vᵀg)² %.6e ± %.2e; mean vᵀg %.3e ± %.2e; observed-label "
        + "(vᵀg)² %.6e%n", exact, mean, se, mean1, se1, observed * observed);
    assertTrue(Math.abs(mean - exact) <= 4 * se, "E[(vᵀg)²] " + mean + " ± " + se + " vs vᵀGv " + exact);
    assertTrue(Math.abs(mean1) <= 4 * se1, "E[vᵀg] " + mean1 + " ± " + se1 + " should be 0");
  }

  @Test
  void sampledLabels_dependOnTheExampleNotTheBatch() {
    Gpt2Model model = Initialization.gpt2(CONFIG, 4, DataType.DOUBLE);
    int[] a = {1, 5, 2, 7, 3};
    int[] b = {4, 4, 8, 1, 2, 6, 10, 3};
    GradientRequest req = GradientRequest.perExampleFull().withTrackedLayers(List.of(LAYER))
        .withLabels(GradientRequest.Labels.sampled(9));
    INDArray alone = model.gradients(TokenBatch.of(a), req).fullPerExample().get(0).get(LAYER);
    INDArray inBatch = model.gradients(TokenBatch.of(b, a), req).fullPerExample().get(1).get(LAYER);
    assertArrayEquals(alone.data().asDouble(), inBatch.data().asDouble(), 1e-12);
    INDArray other = model.gradients(TokenBatch.of(a), req.withLabels(GradientRequest.Labels.sampled(10)))
        .fullPerExample().get(0).get(LAYER);
    assertTrue(alone.sub(other).norm2Number().doubleValue() > 0, "another seed must draw other labels");
    double[] losses = model.gradients(TokenBatch.of(a), req).losses();
    assertEquals(model.losses(TokenBatch.of(a))[0], losses[0], 1e-12, "the loss stays the observed-label loss");
  }

  private static double[] gradient(Gpt2Model model, LayerLayout layout, int[] seq, GradientRequest.Labels labels) {
    GradientRequest req = GradientRequest.perExampleFull().withTrackedLayers(List.of(LAYER)).withLabels(labels);
    Map<String, INDArray> g = model.gradients(TokenBatch.of(seq), req).fullPerExample().get(0);
    return layout.toVector("seq", g);
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
