package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.TokenFactors;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Per-example layer gradients: independence from batching and padding, consistency with the
 * batch parameter gradient, projections, and loss masks (float64, so the only differences are
 * rounding).
 */
class PerExampleGradientsTest {

  /** Relative tolerance (to the max |value| of the compared tensor) for float64 identities. */
  private static final double TOL = 1e-11;
  /** The same for float32 (padding changes BLAS blocking, hence the rounding order). */
  private static final double TOL_F32 = 1e-5;

  private static Gpt2Model model;
  private static final int[][] SEQS = {
      {5, 17, 96, 0, 42, 42, 3, 88, 61, 7, 19, 4, 4},
      {64, 2, 9, 33, 71},
      {11, 95, 23, 50, 8, 8, 77, 1},
      {3, 9},
      {1, 4, 9, 16, 25, 36, 49, 64, 81, 3, 24, 47, 72, 2, 31, 62, 95, 33, 70, 12}};  // T=20: B·T >= 64 runs the kernels multi-threaded

  @BeforeAll
  static void load() throws Exception {
    model = Gpt2Model.load(GoldenGradientsTest.golden("gpt2-w16"), DataType.DOUBLE);
  }

  static double relDiff(INDArray want, INDArray got) {
    assertEquals(List.of(toList(want.shape())), List.of(toList(got.shape())));
    double diff = want.castTo(DataType.DOUBLE).sub(got.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    double scale = want.castTo(DataType.DOUBLE).amaxNumber().doubleValue();
    return Math.abs(diff) / Math.max(scale, Double.MIN_NORMAL);
  }

  private static Object toList(long[] s) {
    return java.util.Arrays.toString(s);
  }

  private static void assertClose(INDArray want, INDArray got, String what) {
    assertTrue(want.castTo(DataType.DOUBLE).amaxNumber().doubleValue() > 0, what + ": expected a non-zero tensor");
    double r = relDiff(want, got);
    assertTrue(r <= TOL, what + ": relative difference " + r + " > " + TOL);
  }

  @Test
  void perExampleGradients_paddedBatch_equalSingleExampleGradients() {
    GradientRequest req = GradientRequest.perExampleFull().withTokenFactors(true);
    BatchGradients batch = model.gradients(new TokenBatch(SEQS, null), req);
    for (int i = 0; i < SEQS.length; i++) {
      BatchGradients alone = model.gradients(TokenBatch.of(SEQS[i]), req);
      assertEquals(alone.losses()[0], batch.losses()[i], TOL * Math.abs(alone.losses()[0]), "loss " + i);
      for (String layer : model.linearLayers()) {
        assertClose(alone.fullPerExample().get(0).get(layer), batch.fullPerExample().get(i).get(layer), "example " + i + " " + layer);
        TokenFactors fa = alone.tokenFactors().get(0).get(layer);
        TokenFactors fb = batch.tokenFactors().get(i).get(layer);
        assertEquals(SEQS[i].length, fb.tokens());
        assertClose(fa.a(), fb.a(), "a of example " + i + " " + layer);
        assertClose(fa.g(), fb.g(), "g of example " + i + " " + layer);
      }
    }
  }

  @Test
  void parameterGradients_paddedBatch_equalSumOfSingleExampleGradients() {
    BatchGradients batch = model.gradients(new TokenBatch(SEQS, null), GradientRequest.allParameters());
    for (String name : batch.parameterGradients().keySet()) {
      INDArray sum = null;
      for (int[] seq : SEQS) {
        INDArray g = model.gradients(TokenBatch.of(seq), GradientRequest.allParameters()).parameterGradients().get(name);
        sum = sum == null ? g.dup() : sum.addi(g);
      }
      assertClose(sum, batch.parameterGradients().get(name), name);
    }
  }

  @Test
  void perExampleGradients_float32PaddedBatch_equalSingleExampleGradientsWithinRounding() {
    Gpt2Model f32 = model.withDataType(DataType.FLOAT);
    BatchGradients batch = f32.gradients(new TokenBatch(SEQS, null), GradientRequest.perExampleFull());
    List<Map<String, INDArray>> inBatch = new java.util.ArrayList<>();
    for (Map<String, INDArray> m : batch.fullPerExample()) {
      Map<String, INDArray> copy = new java.util.LinkedHashMap<>();
      m.forEach((k, v) -> copy.put(k, v.dup()));   // the batch's buffers are reused by the next call
      inBatch.add(copy);
    }
    for (int i = 0; i < SEQS.length; i++) {
      BatchGradients alone = f32.gradients(TokenBatch.of(SEQS[i]), GradientRequest.perExampleFull());
      for (String layer : f32.linearLayers()) {
        double r = relDiff(alone.fullPerExample().get(0).get(layer), inBatch.get(i).get(layer));
        assertTrue(r <= TOL_F32, "example " + i + " " + layer + ": relative difference " + r);
      }
    }
  }

  @Test
  void tokenFactors_summedOverBatch_equalBatchWeightGradient() {
    BatchGradients g = model.gradients(new TokenBatch(SEQS, null),
        GradientRequest.perExampleTokenFactors().withParameterGradients(true));
    for (String layer : model.linearLayers()) {
      int[] shape = model.linearShape(layer);
      INDArray sum = Nd4j.zeros(DataType.DOUBLE, shape[0], shape[1]);
      for (int i = 0; i < SEQS.length; i++) {
        TokenFactors f = g.tokenFactors().get(i).get(layer);
        assertEquals(shape[1] - 1, f.a().columns() - 1);
        assertTrue(f.a().getColumn(shape[1] - 1).equalsWithEps(Nd4j.ones(DataType.DOUBLE, f.tokens()), 0), "ones column");
        sum.addi(f.g().transpose().mmul(f.a()));   // gᵀa, brute force
      }
      int dIn = shape[1] - 1;
      // HF weight gradient [dIn, dOut] is G[:, :dIn]ᵀ; bias gradient is G[:, dIn]
      INDArray w = sum.get(NDArrayIndex.all(), NDArrayIndex.interval(0, dIn)).transpose();
      INDArray b = sum.get(NDArrayIndex.all(), NDArrayIndex.point(dIn));
      assertClose(g.parameterGradients().get(layer + ".weight"), w, layer + ".weight");
      assertClose(g.parameterGradients().get(layer + ".bias"), b, layer + ".bias");
    }
  }

  @Test
  void projectedGradients_equalProjectionOfFullGradients() {
    Map<String, KroneckerProjection> proj = model.projections(model.linearLayers(), 5, 7, 42L);
    BatchGradients g = model.gradients(new TokenBatch(SEQS, null),
        GradientRequest.perExampleProjected(proj).withFullPerExample(true).withTokenFactors(true));
    for (int i = 0; i < SEQS.length; i++) {
      for (String layer : model.linearLayers()) {
        KroneckerProjection p = proj.get(layer);
        INDArray full = g.fullPerExample().get(i).get(layer);
        INDArray want = p.pOut().mmul(full).mmul(p.pIn().transpose());   // brute force P_out G P_inᵀ
        INDArray got = g.projectedPerExample().get(i).get(layer);
        assertEquals(7, got.rows());
        assertEquals(5, got.columns());
        assertClose(want, got, "example " + i + " " + layer);
        assertClose(want, p.project(g.tokenFactors().get(i).get(layer)), "project(TokenFactors) " + layer);
        assertClose(want, p.projectGradient(full), "projectGradient " + layer);
      }
    }
  }

  @Test
  void projections_perLayerSizesOnSubsetOfLayers_onlyThoseLayersWithTheirShapes() {
    Map<String, int[]> sizes = new java.util.LinkedHashMap<>();
    sizes.put("h.1.mlp.c_fc", new int[] {3, 11});
    sizes.put("h.0.attn.c_proj", new int[] {6, 2});
    Map<String, KroneckerProjection> proj = model.projections(sizes, 9L);
    BatchGradients g = model.gradients(new TokenBatch(SEQS, null),
        GradientRequest.perExampleProjected(proj).withFullPerExample(true));
    for (int i = 0; i < SEQS.length; i++) {
      assertEquals(sizes.keySet(), new java.util.HashSet<>(g.projectedPerExample().get(i).keySet()));
      assertEquals(sizes.keySet(), new java.util.HashSet<>(g.fullPerExample().get(i).keySet()));
      for (String layer : sizes.keySet()) {
        INDArray got = g.projectedPerExample().get(i).get(layer);
        assertEquals(sizes.get(layer)[1], got.rows());
        assertEquals(sizes.get(layer)[0], got.columns());
        KroneckerProjection p = proj.get(layer);
        assertClose(p.pOut().mmul(g.fullPerExample().get(i).get(layer)).mmul(p.pIn().transpose()), got, layer);
      }
    }
  }

  @Test
  void kroneckerProjection_sameSeedAndLayer_identicalAcrossInstancesAndScaledOneOverK() {
    KroneckerProjection a = KroneckerProjection.create("h.0.mlp.c_fc", 257, 1024, 32, 32, 7L, DataType.FLOAT);
    KroneckerProjection b = KroneckerProjection.create("h.0.mlp.c_fc", 257, 1024, 32, 32, 7L, DataType.FLOAT);
    KroneckerProjection c = KroneckerProjection.create("h.1.mlp.c_fc", 257, 1024, 32, 32, 7L, DataType.FLOAT);
    assertEquals(a.pIn(), b.pIn());
    assertEquals(a.pOut(), b.pOut());
    assertNotEquals(a.pIn(), c.pIn());
    // entries N(0, 1/k): mean square of 32·1024 entries is 1/32 within a few standard errors
    double meanSq = a.pOut().castTo(DataType.DOUBLE).norm2Number().doubleValue();
    meanSq = meanSq * meanSq / (32.0 * 1024);
    assertEquals(1.0 / 32, meanSq, 5 * Math.sqrt(2.0 / (32 * 1024)) / 32);
  }

  @Test
  void lossMask_onPrefix_equalsUnmaskedPrefixAndComplementAddsUp() {
    int[] seq = SEQS[0];
    int k = 6;
    int[] mask = new int[seq.length];
    int[] complement = new int[seq.length];
    for (int t = 1; t < seq.length; t++) {
      mask[t] = t < k ? 1 : 0;
      complement[t] = 1 - mask[t];
    }
    GradientRequest req = GradientRequest.allParameters();
    BatchGradients masked = model.gradients(new TokenBatch(new int[][] {seq}, new int[][] {mask}), req);
    BatchGradients prefix = model.gradients(TokenBatch.of(java.util.Arrays.copyOf(seq, k)), req);
    BatchGradients comp = model.gradients(new TokenBatch(new int[][] {seq}, new int[][] {complement}), req);
    BatchGradients full = model.gradients(TokenBatch.of(seq), req);
    assertEquals(prefix.losses()[0], masked.losses()[0], TOL * prefix.losses()[0]);
    assertEquals(full.losses()[0], masked.losses()[0] + comp.losses()[0], TOL * full.losses()[0]);
    for (String name : full.parameterGradients().keySet()) {
      if (name.equals("wpe.weight")) {
        // positions >= k exist only in the full sequence; compare the first k rows
        assertClose(prefix.parameterGradients().get(name).get(NDArrayIndex.interval(0, k), NDArrayIndex.all()),
            masked.parameterGradients().get(name).get(NDArrayIndex.interval(0, k), NDArrayIndex.all()), name);
      } else {
        assertClose(prefix.parameterGradients().get(name), masked.parameterGradients().get(name), name);
      }
      assertClose(full.parameterGradients().get(name),
          masked.parameterGradients().get(name).add(comp.parameterGradients().get(name)), name + " (mask + complement)");
    }
  }
}
