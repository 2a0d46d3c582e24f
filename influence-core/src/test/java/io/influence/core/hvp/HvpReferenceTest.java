package io.influence.core.hvp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.SafetensorsFile;
import io.influence.core.linalg.LinearOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hessian- and Gauss-Newton-vector products of the mean masked training loss against PyTorch's
 * exact float64 products (double backward; J v by the double-vjp trick), fixtures in
 * src/test/resources/hvp made by src/test/python/hvp_reference.py.
 *
 * <p>Tolerances: the Hessian's central differences with h = 1e-5·‖θ_S‖ carry a truncation error
 * (h²/6)·M₄/M₂ and a rounding error ≈ 2⁻⁵³‖∇L‖/(h M₂) relative to ‖Hv‖ (HessianOperator's
 * comment); both are ~1e-10 here, so 1e-6 of max|Hv| leaves about three orders of margin while
 * still failing on any wrong term (a missing bias, a wrong layout or mask, the wrong curvature).
 * The GGN is exact (forward-mode J v, exact H_out, backward Jᵀ), so only float64 rounding remains.
 */
class HvpReferenceTest {

  /** Hessian: max|ours − torch| ≤ TOL_HESSIAN · max|torch| per product. */
  private static final double TOL_HESSIAN = 1e-6;
  /** GGN: the same with rounding only. */
  private static final double TOL_GGN = 1e-12;
  /** GGN of the float32 model: float32 rounding through the passes. */
  private static final double TOL_GGN_F32 = 1e-5;
  /** The gradient is exact float64 arithmetic in both. */
  private static final double TOL_GRADIENT = 1e-10;
  private static final int PROBES = 3;
  /** Quadratic truncation predicts 100 for a 10× smaller step; rounding may eat some of it. */
  private static final double MIN_ERROR_RATIO = 30;

  private static HvpFixture fx;

  @BeforeAll
  static void load() throws Exception {
    fx = new HvpFixture();
  }

  @Test
  void gradient_maskedPaddedBatches_matchesPytorch() throws Exception {
    HessianOperator h = HessianOperator.create(fx.model, fx.layers, fx.data(4));
    try (SafetensorsFile ref = SafetensorsFile.open(HvpFixture.DIR.resolve("hvp.safetensors"))) {
      double r = relativeError(ref.readDoubles("grad"), h.gradient());
      System.out.printf("mean-loss gradient vs torch: relative error %.3g%n", r);
      assertTrue(r <= TOL_GRADIENT, "gradient relative error " + r);
    }
  }

  @Test
  void hessianProducts_centralDifferences_matchPytorchDoubleBackward() throws Exception {
    compare(HessianOperator.create(fx.model, fx.layers, fx.data(4)), "hv", "Hessian", TOL_HESSIAN);
  }

  @Test
  void gaussNewtonProducts_forwardModeJv_matchPytorchJvpThenVjp() throws Exception {
    compare(GaussNewtonOperator.create(fx.model, fx.layers, fx.data(4)), "gv", "Gauss-Newton", TOL_GGN);
  }

  @Test
  void gaussNewtonProducts_float32Model_matchPytorchToFloat32Rounding() throws Exception {
    GaussNewtonOperator g = GaussNewtonOperator.create(fx.model.withDataType(org.nd4j.linalg.api.buffer.DataType.FLOAT),
        fx.layers, fx.data(4));
    compare(g, "gv", "Gauss-Newton (float32 model)", TOL_GGN_F32);
  }

  @Test
  void gaussNewtonProducts_wholeBlockOnOneForwardPass_matchPytorch() throws Exception {
    // the block form keeps each batch's forward pass and softmax for all probes (CausalLm.hold); a zero vector
    // in the block is skipped and must give zero
    GaussNewtonOperator g = GaussNewtonOperator.create(fx.model, fx.layers, fx.data(4));
    try (SafetensorsFile ref = SafetensorsFile.open(HvpFixture.DIR.resolve("hvp.safetensors"))) {
      double[][] vs = new double[PROBES + 1][];
      double[][] outs = new double[PROBES + 1][g.dim()];
      for (int k = 0; k < PROBES; k++) {
        vs[k] = ref.readDoubles("v." + k);
      }
      vs[PROBES] = new double[g.dim()];
      g.apply(vs, outs);
      for (int k = 0; k < PROBES; k++) {
        double r = relativeError(ref.readDoubles("gv." + k), outs[k]);
        assertTrue(r <= TOL_GGN, "block probe " + k + ": relative error " + r + " > " + TOL_GGN);
      }
      assertTrue(java.util.Arrays.stream(outs[PROBES]).allMatch(x -> x == 0), "the zero vector's product");
    }
  }

  @Test
  void heldForward_afterAnotherBatchUsedTheModel_recomputesAndStaysExact() throws Exception {
    // a hold whose buffers another call has overwritten must run its forward pass again, not read stale caches
    io.influence.core.model.TokenBatch a = fx.data(2).batches().get(0);
    int[][] other = new int[a.size()][];   // the same shape with other tokens
    for (int i = 0; i < other.length; i++) {
      other[i] = a.tokens()[i].clone();
      for (int t = 0; t < other[i].length; t++) {
        other[i][t] = (other[i][t] + 1 + t) % (int) fx.model.config().vocabSize();
      }
    }
    io.influence.core.model.TokenBatch b = new io.influence.core.model.TokenBatch(other, a.lossMask());
    GaussNewtonOperator g = GaussNewtonOperator.create(fx.model, fx.layers, fx.data(2));
    try (SafetensorsFile ref = SafetensorsFile.open(HvpFixture.DIR.resolve("hvp.safetensors"))) {
      var tangents = g.layout().fromVector(ref.readDoubles("v.0"), org.nd4j.linalg.api.buffer.DataType.DOUBLE);
      double[] fresh = fx.model.logitTangents(a, tangents).data().asDouble();
      var held = fx.model.hold(a);
      fx.model.logits(b);   // same shape, other tokens: overwrites the pass's caches
      double[] got = held.logitTangents(tangents).data().asDouble();
      assertEquals(0, relativeError(fresh, got), 1e-15, "tangents through a stale hold");
      double[] freshLogits = fx.model.logits(a).data().asDouble();
      assertEquals(0, relativeError(freshLogits, held.logits().data().asDouble()), 0, "held logits");
    }
  }

  @Test
  void hessianProducts_tenfoldSmallerStep_errorShrinksAboutQuadratically() throws Exception {
    // the stated bound: truncation (h²/6)·M₄ dominates at these steps, so 10× smaller h gives ~100× less error
    try (SafetensorsFile ref = SafetensorsFile.open(HvpFixture.DIR.resolve("hvp.safetensors"))) {
      double[] v = ref.readDoubles("v.0");
      double[] want = ref.readDoubles("hv.0");
      double[] coarse = new double[v.length];
      double[] fine = new double[v.length];
      HessianOperator.create(fx.model, fx.layers, fx.data(6), 1e-4).apply(v, coarse);
      HessianOperator.create(fx.model, fx.layers, fx.data(6), 1e-5).apply(v, fine);
      double ec = relativeError(want, coarse);
      double ef = relativeError(want, fine);
      System.out.printf("Hessian step 1e-4: error %.3g; step 1e-5: error %.3g; ratio %.1f%n", ec, ef, ec / ef);
      assertTrue(ec / ef >= MIN_ERROR_RATIO, "error ratio " + ec / ef + " for a 10x smaller step");
    }
  }

  @Test
  void products_batchSizeOneOrAll_agree() throws Exception {
    // batching (and hence right padding) must not change the products beyond rounding
    try (SafetensorsFile ref = SafetensorsFile.open(HvpFixture.DIR.resolve("hvp.safetensors"))) {
      double[] v = ref.readDoubles("v.0");
      double[] want = ref.readDoubles("gv.0");
      for (int bs : new int[] {1, 6}) {
        double[] got = new double[v.length];
        GaussNewtonOperator.create(fx.model, fx.layers, fx.data(bs)).apply(v, got);
        double r = relativeError(want, got);
        assertTrue(r <= TOL_GGN, "batch size " + bs + ": GGN relative error " + r);
      }
    }
  }

  private static void compare(LinearOperator op, String key, String what, double tol) throws Exception {
    try (SafetensorsFile ref = SafetensorsFile.open(HvpFixture.DIR.resolve("hvp.safetensors"))) {
      for (int k = 0; k < PROBES; k++) {
        double[] v = ref.readDoubles("v." + k);
        double[] want = ref.readDoubles(key + "." + k);
        assertEquals(op.dim(), v.length, "dimension");
        double[] got = new double[v.length];
        op.apply(v, got);
        double r = relativeError(want, got);
        System.out.printf("%s product, probe %d vs torch: max|diff|/max|ref| = %.3g (max|ref| %.4g)%n", what, k, r,
            maxAbs(want));
        assertTrue(r <= tol, what + " probe " + k + ": relative error " + r + " > " + tol);
      }
    }
  }

  static double relativeError(double[] want, double[] got) {
    assertEquals(want.length, got.length);
    double d = 0;
    for (int i = 0; i < want.length; i++) {
      d = Math.max(d, Math.abs(want[i] - got[i]));
    }
    double m = maxAbs(want);
    assertTrue(m > 0, "reference is all zeros");
    return d / m;
  }

  static double maxAbs(double[] a) {
    double m = 0;
    for (double x : a) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }
}
