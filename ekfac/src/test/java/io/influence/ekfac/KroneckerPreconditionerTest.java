package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.Preconditioner;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The damped identity: multiplying the preconditioned {@code V} by the dense matrix
 * {@code M = Σ_ij Λ_ij vec(q_S,i q_A,jᵀ) vec(q_S,i q_A,jᵀ)ᵀ + λI}, built entry by entry, gives
 * back {@code V}.
 */
class KroneckerPreconditionerTest {

  private static final double TOL_F64 = 1e-10;
  private static final double TOL_F32 = 2e-4;

  private static LayerFactors randomFactors(String layer, int dIn, int dOut, long seed, boolean corrected) {
    Random rnd = new Random(seed);
    Covariances c = new Covariances(layer, dIn, dOut, SymmetricEigenTest.randomPsd(dIn, dIn + 2, rnd),
        SymmetricEigenTest.randomPsd(dOut, dOut + 2, rnd), 100, 20, 100, 20);
    LayerFactors f = LayerFactors.fromCovariances(c);
    if (!corrected) {
      return f;
    }
    double[] lambda = new double[dOut * dIn];
    for (int k = 0; k < lambda.length; k++) {
      lambda[k] = Math.exp(3 * rnd.nextGaussian());
    }
    return f.withCorrection(lambda, 20);
  }

  /** Dense {@code M vec(X)}, row-major vec, computed with plain loops. */
  private static double[] denseCurvatureTimes(LayerFactors f, double[] eig, double damping, double[] x) {
    int dIn = f.dIn();
    int dOut = f.dOut();
    int dim = dIn * dOut;
    double[] m = new double[dim * dim];
    for (int i = 0; i < dOut; i++) {
      for (int j = 0; j < dIn; j++) {
        double[] u = new double[dim]; // vec(q_S,i q_A,jᵀ)
        for (int r = 0; r < dOut; r++) {
          for (int s = 0; s < dIn; s++) {
            u[r * dIn + s] = f.qS()[r * dOut + i] * f.qA()[s * dIn + j];
          }
        }
        double l = eig[i * dIn + j];
        for (int p = 0; p < dim; p++) {
          for (int q = 0; q < dim; q++) {
            m[p * dim + q] += l * u[p] * u[q];
          }
        }
      }
    }
    double[] out = new double[dim];
    for (int p = 0; p < dim; p++) {
      double s = damping * x[p];
      for (int q = 0; q < dim; q++) {
        s += m[p * dim + q] * x[q];
      }
      out[p] = s;
    }
    return out;
  }

  private static void checkIdentity(boolean corrected, DataType type, double tol) {
    int dIn = 6;
    int dOut = 4;
    LayerFactors f = randomFactors("h.0.attn", dIn, dOut, 42, corrected);
    Damping damping = Damping.relativeToMean(0.1);
    Preconditioner pre = corrected ? KroneckerPreconditioners.ekfac(Map.of("h.0.attn", f), damping)
        : KroneckerPreconditioners.kfac(Map.of("h.0.attn", f), damping);
    double[] eig = corrected ? f.ekfacEigenvalues() : f.kfacEigenvalues();
    double lambda = damping.resolve(eig);
    Random rnd = new Random(5);
    for (int trial = 0; trial < 3; trial++) {
      double[] v = new double[dOut * dIn];
      for (int k = 0; k < v.length; k++) {
        v[k] = rnd.nextGaussian();
      }
      INDArray in = Nd4j.create(v, new long[] {dOut, dIn}, 'c').castTo(type);
      INDArray out = pre.apply(Map.of("h.0.attn", in)).get("h.0.attn");
      assertEquals(type, out.dataType());
      assertTrue(java.util.Arrays.equals(new long[] {dOut, dIn}, out.shape()));
      double[] x = out.castTo(DataType.DOUBLE).dup('c').data().asDouble();
      double[] back = denseCurvatureTimes(f, eig, lambda, x);
      double err = Fixtures.relErr(back, v);
      assertTrue(err < tol, pre.method() + " " + type + ": (M + λI) P(V) vs V rel err " + err);
    }
  }

  @Test
  void apply_ekfacFloat64_thenDampedCurvatureGivesBackV() {
    checkIdentity(true, DataType.DOUBLE, TOL_F64);
  }

  @Test
  void apply_kfacFloat64_thenDampedCurvatureGivesBackV() {
    checkIdentity(false, DataType.DOUBLE, TOL_F64);
  }

  @Test
  void apply_ekfacFloat32_thenDampedCurvatureGivesBackV() {
    checkIdentity(true, DataType.FLOAT, TOL_F32);
  }

  @Test
  void apply_twoLayers_isBlockDiagonalAndKeepsInputUnchanged() {
    LayerFactors f1 = randomFactors("h.0.mlp", 5, 3, 1, true);
    LayerFactors f2 = randomFactors("h.1.mlp", 4, 6, 2, true);
    Map<String, LayerFactors> both = new LinkedHashMap<>();
    both.put("h.0.mlp", f1);
    both.put("h.1.mlp", f2);
    Preconditioner pre = KroneckerPreconditioners.ekfac(both, Damping.absolute(0.3));
    Preconditioner only2 = KroneckerPreconditioners.ekfac(Map.of("h.1.mlp", f2), Damping.absolute(0.3));
    INDArray v1 = Nd4j.rand(DataType.DOUBLE, 3, 5);
    INDArray v2 = Nd4j.rand(DataType.DOUBLE, 6, 4);
    INDArray v2copy = v2.dup();
    Map<String, INDArray> g = new LinkedHashMap<>();
    g.put("h.0.mlp", v1);
    g.put("h.1.mlp", v2);
    Map<String, INDArray> out = pre.apply(g);
    assertEquals(v2copy, v2);
    double[] a = out.get("h.1.mlp").dup('c').data().asDouble();
    double[] b = only2.apply(Map.of("h.1.mlp", v2)).get("h.1.mlp").dup('c').data().asDouble();
    assertTrue(Fixtures.relErr(a, b) < TOL_F64);
    assertEquals("ekfac", pre.method());
  }

  @Test
  void apply_badShapeUnknownLayerOrNaN_throwsNamingLayer() {
    LayerFactors f = randomFactors("h.0.mlp", 5, 3, 1, true);
    Preconditioner pre = KroneckerPreconditioners.ekfac(Map.of("h.0.mlp", f), Damping.DEFAULT);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> pre.apply(Map.of("h.0.mlp", Nd4j.rand(DataType.FLOAT, 5, 3))));
    assertTrue(e.getMessage().contains("h.0.mlp") && e.getMessage().contains("HINT"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> pre.apply(Map.of("h.9.mlp", Nd4j.rand(DataType.FLOAT, 3, 5))));
    assertTrue(e.getMessage().contains("h.9.mlp"), e.getMessage());
    INDArray nan = Nd4j.rand(DataType.FLOAT, 3, 5);
    nan.putScalar(1, 1, Float.NaN);
    e = assertThrows(IllegalArgumentException.class, () -> pre.apply(Map.of("h.0.mlp", nan)));
    assertTrue(e.getMessage().contains("h.0.mlp"), e.getMessage());
  }

  @Test
  void ekfac_uncorrectedFactors_throwsIllegalState() {
    LayerFactors f = randomFactors("h.0.mlp", 5, 3, 1, false);
    assertThrows(IllegalStateException.class, () -> KroneckerPreconditioners.ekfac(Map.of("h.0.mlp", f), Damping.DEFAULT));
  }

  @Test
  void kfac_zeroDampingOnSingularCurvature_throwsIllegalState() {
    Covariances c = new Covariances("h.0.mlp", 2, 1, new double[] {1, 0, 0, 0}, new double[] {1}, 1, 1, 1, 1);
    LayerFactors f = LayerFactors.fromCovariances(c);
    assertThrows(IllegalStateException.class, () -> KroneckerPreconditioners.kfac(Map.of("h.0.mlp", f), Damping.absolute(0)));
  }
}
