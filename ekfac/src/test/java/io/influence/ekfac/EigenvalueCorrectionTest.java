package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.TokenFactors;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class EigenvalueCorrectionTest {

  /** Float32 rotations against a float64 loop. */
  private static final double TOL_F32 = 1e-5;
  /** Same float32 rotations, float64 sums merged in another order. */
  private static final double TOL_MERGE = 1e-12;
  private static final int D_IN = 9;
  private static final int D_OUT = 5;
  private static final String LAYER = "h.2.mlp.c_fc";

  private static LayerFactors factors(List<TokenFactors> xs) {
    CovarianceAccumulator acc = new CovarianceAccumulator(LAYER, D_IN, D_OUT);
    xs.forEach(acc::add);
    return LayerFactors.fromCovariances(acc.finish());
  }

  @Test
  void finish_randomExamples_equalsBruteForceRotatedSquares() {
    List<TokenFactors> xs = Fixtures.examples(LAYER, 30, D_IN, D_OUT, 8, DataType.FLOAT, 4);
    LayerFactors f = factors(xs);
    double[] expected = new double[D_OUT * D_IN];
    for (TokenFactors x : xs) {
      double[][] a = x.a().castTo(DataType.DOUBLE).toDoubleMatrix();
      double[][] g = x.g().castTo(DataType.DOUBLE).toDoubleMatrix();
      double[][] grad = new double[D_OUT][D_IN];
      for (int t = 0; t < x.tokens(); t++) {
        for (int i = 0; i < D_OUT; i++) {
          for (int j = 0; j < D_IN; j++) {
            grad[i][j] += g[t][i] * a[t][j];
          }
        }
      }
      for (int i = 0; i < D_OUT; i++) {
        for (int j = 0; j < D_IN; j++) {
          double r = 0;
          for (int p = 0; p < D_OUT; p++) {
            for (int q = 0; q < D_IN; q++) {
              r += f.qS()[p * D_OUT + i] * grad[p][q] * f.qA()[q * D_IN + j];
            }
          }
          expected[i * D_IN + j] += r * r / xs.size();
        }
      }
    }
    EigenvalueCorrection corr = new EigenvalueCorrection(f);
    xs.forEach(corr::add);
    double[] got = corr.finish();
    double err = Fixtures.relErr(got, expected);
    assertTrue(err < TOL_F32, "rel err " + err);
    // Rotations preserve the Frobenius norm: Σ Λ = E‖G‖².
    double sumGot = 0;
    double sumExpected = 0;
    for (int k = 0; k < got.length; k++) {
      sumGot += got[k];
      sumExpected += expected[k];
    }
    assertEquals(sumExpected, sumGot, TOL_F32 * sumExpected);
  }

  @Test
  void merge_anyPartitionCountAndSerialization_equalsOnePass() throws Exception {
    List<TokenFactors> xs = Fixtures.examples(LAYER, 40, D_IN, D_OUT, 6, DataType.FLOAT, 8);
    LayerFactors f = factors(xs);
    EigenvalueCorrection one = new EigenvalueCorrection(f);
    xs.forEach(one::add);
    double[] expected = one.finish();
    for (int parts : new int[] {2, 3, 40}) {
      List<EigenvalueCorrection> accs = new ArrayList<>();
      for (int p = 0; p < parts; p++) {
        accs.add(new EigenvalueCorrection(f));
      }
      for (int e = 0; e < xs.size(); e++) {
        accs.get((e * 3 + 1) % parts).add(xs.get(e));
      }
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
        out.writeObject(accs.get(0));
      }
      EigenvalueCorrection root;
      try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
        root = (EigenvalueCorrection) in.readObject();
      }
      for (int p = 1; p < parts; p++) {
        root.merge(accs.get(p));
      }
      assertEquals(40, root.examples());
      double err = Fixtures.relErr(root.finish(), expected);
      assertTrue(err < TOL_MERGE, parts + " parts: rel err " + err);
    }
  }

  @Test
  void addGradient_sameExamples_equalsTokenFactorPath() {
    List<TokenFactors> xs = Fixtures.examples(LAYER, 15, D_IN, D_OUT, 6, DataType.FLOAT, 12);
    LayerFactors f = factors(xs);
    EigenvalueCorrection viaTokens = new EigenvalueCorrection(f);
    EigenvalueCorrection viaGrad = new EigenvalueCorrection(f);
    for (TokenFactors x : xs) {
      viaTokens.add(x);
      viaGrad.addGradient(x.g().castTo(DataType.DOUBLE).transpose().mmul(x.a().castTo(DataType.DOUBLE)), 1.0, null);
    }
    double err = Fixtures.relErr(viaGrad.finish(), viaTokens.finish());
    assertTrue(err < TOL_F32, "rel err " + err);
  }

  @Test
  void add_infInInputOrWrongShape_throwsNamingLayerAndExample() {
    List<TokenFactors> xs = Fixtures.examples(LAYER, 5, D_IN, D_OUT, 3, DataType.FLOAT, 1);
    EigenvalueCorrection corr = new EigenvalueCorrection(factors(xs));
    INDArray a = Nd4j.ones(DataType.FLOAT, 2, D_IN);
    a.putScalar(1, 3, Float.NEGATIVE_INFINITY);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> corr.add(new TokenFactors(LAYER, a, Nd4j.ones(DataType.FLOAT, 2, D_OUT)), 1.0, "seq-99"));
    assertTrue(e.getMessage().contains(LAYER) && e.getMessage().contains("seq-99"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> corr.addGradient(Nd4j.ones(DataType.FLOAT, D_IN, D_OUT), 1.0, "seq-7"));
    assertTrue(e.getMessage().contains("seq-7"), e.getMessage());
    List<TokenFactors> other = Fixtures.examples(LAYER, 5, D_IN, D_OUT, 3, DataType.FLOAT, 2);
    assertThrows(IllegalArgumentException.class, () -> corr.merge(new EigenvalueCorrection(factors(other))));
    assertThrows(IllegalStateException.class, () -> new EigenvalueCorrection(factors(other)).finish());
  }
}
