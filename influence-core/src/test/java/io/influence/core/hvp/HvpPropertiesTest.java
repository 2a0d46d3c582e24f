package io.influence.core.hvp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.LinearOperator;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.TokenBatch;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Properties of the operators on the fixture GPT-2 (float64): symmetry, the GGN's positive
 * semi-definiteness against the indefinite Hessian, exact restoration of the parameters, linearity,
 * the logits-gradient backward against the model's own loss gradient, and bad input.
 */
class HvpPropertiesTest {

  /** Hessian symmetry and linearity hold up to the O(ε²) difference error: relative to ‖v‖‖Hw‖ + ‖w‖‖Hv‖. */
  private static final double TOL_SYMMETRY = 1e-7;
  /** The GGN is exact: symmetry and linearity up to float64 rounding. */
  private static final double TOL_SYMMETRY_GGN = 1e-13;
  /** vᵀGv ≥ −TOL_PSD · ‖v‖‖Gv‖. */
  private static final double TOL_PSD = 1e-13;
  /** Two float64 evaluations of the same gradient by different routes, relative to max|value|. */
  private static final double TOL_GRADIENT = 1e-12;
  private static final int PROBES = 8;

  private static HvpFixture fx;
  private static HessianOperator hessian;
  private static GaussNewtonOperator ggn;

  @BeforeAll
  static void setUp() throws Exception {
    fx = new HvpFixture();
    hessian = HessianOperator.create(fx.model, fx.layers, fx.data(4));
    ggn = GaussNewtonOperator.create(fx.model, fx.layers, fx.data(4));
  }

  private static double tolerance(LinearOperator op) {
    return op instanceof GaussNewtonOperator ? TOL_SYMMETRY_GGN : TOL_SYMMETRY;
  }

  private static double[] random(SplittableRandom r, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = r.nextDouble(-1, 1);
    }
    return v;
  }

  private static double[] apply(LinearOperator op, double[] v) {
    double[] out = new double[op.dim()];
    op.apply(v, out);
    return out;
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  private static double norm(double[] a) {
    return Math.sqrt(dot(a, a));
  }

  @Test
  void hessianAndGaussNewton_randomPairs_areSymmetric() {
    SplittableRandom r = new SplittableRandom(3);
    for (LinearOperator op : List.of(hessian, ggn)) {
      for (int k = 0; k < 3; k++) {
        double[] v = random(r, op.dim());
        double[] w = random(r, op.dim());
        double[] hv = apply(op, v);
        double[] hw = apply(op, w);
        double a = dot(v, hw);
        double b = dot(w, hv);
        double scale = norm(v) * norm(hw) + norm(w) * norm(hv);
        System.out.printf("%s symmetry: vᵀMw %.12g, wᵀMv %.12g, relative gap %.2e%n", op.getClass().getSimpleName(), a, b,
            Math.abs(a - b) / scale);
        assertTrue(Math.abs(a - b) <= tolerance(op) * scale, op.getClass().getSimpleName() + ": vᵀMw " + a + " ≠ wᵀMv " + b);
      }
    }
  }

  @Test
  void gaussNewton_randomVectors_nonNegativeWhereHessianIsNot() {
    SplittableRandom r = new SplittableRandom(5);
    int hessianNegative = 0;
    double minRatio = Double.POSITIVE_INFINITY;
    for (int k = 0; k < PROBES; k++) {
      double[] v = random(r, ggn.dim());
      double[] gv = apply(ggn, v);
      double q = dot(v, gv);
      minRatio = Math.min(minRatio, q / (norm(v) * norm(gv)));
      assertTrue(q >= -TOL_PSD * norm(v) * norm(gv), "probe " + k + ": vᵀGv = " + q);
      if (dot(v, apply(hessian, v)) < 0) {
        hessianNegative++;
      }
    }
    System.out.printf("GGN: min vᵀGv/(‖v‖‖Gv‖) over %d probes %.4f; Hessian negative on %d of them%n", PROBES, minRatio,
        hessianNegative);
    assertTrue(hessianNegative > 0, "the fixture's Hessian should be indefinite along some random direction");
  }

  @Test
  void apply_bothOperators_leaveParametersBitIdentical() {
    // the Hessian moves the parameters to θ ± εv and back; the GGN must never touch them
    Map<String, INDArray> before = fx.model.parameters();
    double[] v = random(new SplittableRandom(9), hessian.dim());
    apply(hessian, v);
    apply(ggn, v);
    Map<String, INDArray> after = fx.model.parameters();
    assertEquals(before.keySet(), after.keySet());
    for (String k : before.keySet()) {
      assertArrayEquals(before.get(k).data().asDouble(), after.get(k).data().asDouble(), 0.0, k + " changed");
    }
  }

  @Test
  void apply_scaledVector_scalesProduct() {
    double[] v = random(new SplittableRandom(13), hessian.dim());
    double[] v3 = v.clone();
    for (int i = 0; i < v3.length; i++) {
      v3[i] *= -3;
    }
    for (LinearOperator op : List.of(hessian, ggn)) {
      double[] a = apply(op, v);
      double[] b = apply(op, v3);
      double gap = 0;
      for (int i = 0; i < a.length; i++) {
        gap = Math.max(gap, Math.abs(-3 * a[i] - b[i]));
      }
      assertTrue(gap <= tolerance(op) * 3 * HvpReferenceTest.maxAbs(a), op.getClass().getSimpleName() + ": gap " + gap);
    }
  }

  @Test
  void apply_zeroVector_givesZero() {
    double[] out = new double[hessian.dim()];
    java.util.Arrays.fill(out, 7);
    hessian.apply(new double[hessian.dim()], out);
    assertArrayEquals(new double[hessian.dim()], out, 0.0);
    java.util.Arrays.fill(out, 7);
    ggn.apply(new double[ggn.dim()], out);
    assertArrayEquals(new double[ggn.dim()], out, 0.0);
  }

  @Test
  void parameterGradientsFromLogitGradients_lossSeedWithPaddingGarbage_equalsLossGradient() {
    TokenBatch batch = fx.data(6).batches().get(0);
    Map<String, INDArray> want = fx.model.gradients(batch, GradientRequest.allParameters()).parameterGradients();
    INDArray seed = OutputCurvature.lossGradient(fx.model.logits(batch), batch);
    // rows at or past each example's length must be ignored: fill them with garbage
    for (int i = 0; i < batch.size(); i++) {
      for (int t = batch.length(i); t < batch.maxLength(); t++) {
        for (int k = 0; k < fx.model.config().vocabSize(); k++) {
          seed.putScalar(new long[] {i, t, k}, 1e3 * (k + 1));
        }
      }
    }
    Map<String, INDArray> got = fx.model.parameterGradientsFromLogitGradients(batch, seed);
    assertEquals(want.keySet(), got.keySet());
    for (String k : want.keySet()) {
      double[] a = want.get(k).dup('c').data().asDouble();
      double[] b = got.get(k).dup('c').data().asDouble();
      double d = 0;
      for (int i = 0; i < a.length; i++) {
        d = Math.max(d, Math.abs(a[i] - b[i]));
      }
      assertTrue(d <= TOL_GRADIENT * Math.max(HvpReferenceTest.maxAbs(a), 1e-300), k + ": max|diff| " + d);
    }
  }

  @Test
  void create_badInput_failsWithHint() {
    Gpt2Model f32 = fx.model.withDataType(DataType.FLOAT);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> HessianOperator.create(f32, fx.layers, fx.data(4)));   // differences need float64
    assertTrue(e.getMessage().contains("float64") && e.getMessage().contains("HINT"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> GaussNewtonOperator.create(fx.model, List.of("h.9.attn.c_proj"), fx.data(4)));
    assertTrue(e.getMessage().contains("h.9.attn.c_proj"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> hessian.apply(new double[3], new double[3]));
    assertTrue(e.getMessage().contains(String.valueOf(hessian.dim())), e.getMessage());
    double[] nan = new double[ggn.dim()];
    nan[5] = Double.NaN;
    assertThrows(IllegalArgumentException.class, () -> ggn.apply(nan, new double[ggn.dim()]));
    e = assertThrows(IllegalArgumentException.class,
        () -> fx.model.parameterGradientsFromLogitGradients(TokenBatch.of(new int[] {1, 2, 3}),
            org.nd4j.linalg.factory.Nd4j.zeros(DataType.DOUBLE, 1, 2, 13)));
    assertTrue(e.getMessage().contains("[1, 3, 13]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> HessianOperator.create(fx.model, fx.layers, TrainingSequences.of(List.of(new int[] {1, 2}, new int[] {3, 13}), 4)));
    assertTrue(e.getMessage().contains("training sequence 1, position 1") && e.getMessage().contains("HINT"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new TrainingSequences(List.of(new int[] {1, 2}), List.of(), 4));
    assertTrue(e.getMessage().contains("HINT"), e.getMessage());
  }
}
