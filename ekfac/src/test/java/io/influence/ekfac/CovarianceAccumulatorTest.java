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

class CovarianceAccumulatorTest {

  /** Relative tolerance for float64 sums computed in a different order. */
  private static final double TOL = 1e-12;
  private static final int D_IN = 7;
  private static final int D_OUT = 4;

  private static CovarianceAccumulator onePass(List<TokenFactors> xs) {
    CovarianceAccumulator acc = new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT);
    xs.forEach(acc::add);
    return acc;
  }

  @Test
  void finish_float32AndFloat64Inputs_equalsBruteForceDoubleLoop() {
    for (DataType type : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
      List<TokenFactors> xs = Fixtures.examples("blk.0.mlp", 40, D_IN, D_OUT, 9, type, 11);
      double[] a = new double[D_IN * D_IN];
      double[] s = new double[D_OUT * D_OUT];
      long tokens = 0;
      for (TokenFactors f : xs) {
        double[][] fa = f.a().castTo(DataType.DOUBLE).toDoubleMatrix();
        double[][] fg = f.g().castTo(DataType.DOUBLE).toDoubleMatrix();
        for (int t = 0; t < f.tokens(); t++) {
          for (int i = 0; i < D_IN; i++) {
            for (int j = 0; j < D_IN; j++) {
              a[i * D_IN + j] += fa[t][i] * fa[t][j];
            }
          }
          for (int i = 0; i < D_OUT; i++) {
            for (int j = 0; j < D_OUT; j++) {
              s[i * D_OUT + j] += fg[t][i] * fg[t][j];
            }
          }
        }
        tokens += f.tokens();
      }
      for (int i = 0; i < a.length; i++) {
        a[i] /= tokens;
      }
      for (int i = 0; i < s.length; i++) {
        s[i] /= tokens;
      }
      Covariances c = onePass(xs).finish();
      assertEquals(tokens, c.tokens());
      assertEquals(40, c.examples());
      assertEquals((double) tokens / 40, c.tokensPerExample(), TOL);
      assertTrue(Fixtures.relErr(c.a(), a) < TOL, type + " A rel err " + Fixtures.relErr(c.a(), a));
      assertTrue(Fixtures.relErr(c.s(), s) < TOL, type + " S rel err " + Fixtures.relErr(c.s(), s));
    }
  }

  @Test
  void merge_anyPartitionCountAndOrder_equalsOnePass() {
    List<TokenFactors> xs = Fixtures.examples("blk.0.mlp", 60, D_IN, D_OUT, 12, DataType.FLOAT, 5);
    Covariances expected = onePass(xs).finish();
    for (int parts : new int[] {1, 2, 3, 7, 60}) {
      List<CovarianceAccumulator> accs = new ArrayList<>();
      for (int p = 0; p < parts; p++) {
        accs.add(new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT));
      }
      for (int e = 0; e < xs.size(); e++) {
        accs.get((e * 7 + 3) % parts).add(xs.get(e)); // scattered, not contiguous
      }
      CovarianceAccumulator root = accs.get(parts - 1);
      for (int p = parts - 2; p >= 0; p--) {
        root.merge(accs.get(p));
      }
      Covariances c = root.finish();
      assertEquals(expected.tokens(), c.tokens());
      assertEquals(expected.examples(), c.examples());
      assertTrue(Fixtures.relErr(c.a(), expected.a()) < TOL, parts + " parts: A rel err " + Fixtures.relErr(c.a(), expected.a()));
      assertTrue(Fixtures.relErr(c.s(), expected.s()) < TOL, parts + " parts: S rel err " + Fixtures.relErr(c.s(), expected.s()));
    }
  }

  @Test
  void add_tokensBatchedIntoFewerCalls_givesSameCovariances() {
    List<TokenFactors> xs = Fixtures.examples("blk.0.mlp", 30, D_IN, D_OUT, 6, DataType.DOUBLE, 9);
    Covariances expected = onePass(xs).finish();
    for (int batch : new int[] {2, 5, 30}) {
      CovarianceAccumulator acc = new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT);
      for (int start = 0; start < xs.size(); start += batch) {
        List<INDArray> as = new ArrayList<>();
        List<INDArray> gs = new ArrayList<>();
        for (int e = start; e < Math.min(xs.size(), start + batch); e++) {
          as.add(xs.get(e).a());
          gs.add(xs.get(e).g());
        }
        acc.add(new TokenFactors("blk.0.mlp", Nd4j.vstack(as.toArray(new INDArray[0])), Nd4j.vstack(gs.toArray(new INDArray[0]))));
      }
      Covariances c = acc.finish();
      assertEquals(expected.tokens(), c.tokens());
      assertTrue(Fixtures.relErr(c.a(), expected.a()) < TOL, "batch " + batch);
      assertTrue(Fixtures.relErr(c.s(), expected.s()) < TOL, "batch " + batch);
    }
  }

  @Test
  void serialize_midAccumulation_continuesAsOnePass() throws Exception {
    List<TokenFactors> xs = Fixtures.examples("blk.0.mlp", 20, D_IN, D_OUT, 5, DataType.FLOAT, 21);
    CovarianceAccumulator acc = new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT);
    xs.subList(0, 10).forEach(acc::add);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(acc);
    }
    CovarianceAccumulator back;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      back = (CovarianceAccumulator) in.readObject();
    }
    xs.subList(10, 20).forEach(back::add);
    Covariances expected = onePass(xs).finish();
    Covariances c = back.finish();
    assertEquals(20, c.examples());
    assertTrue(Fixtures.relErr(c.a(), expected.a()) < TOL);
    assertTrue(Fixtures.relErr(c.s(), expected.s()) < TOL);
  }

  @Test
  void add_weightTwo_equalsAddingTwice() {
    List<TokenFactors> xs = Fixtures.examples("blk.0.mlp", 10, D_IN, D_OUT, 5, DataType.DOUBLE, 2);
    CovarianceAccumulator twice = new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT);
    CovarianceAccumulator weighted = new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT);
    for (int e = 0; e < xs.size(); e++) {
      twice.add(xs.get(e));
      if (e % 2 == 0) {
        twice.add(xs.get(e));
      }
      weighted.add(xs.get(e), e % 2 == 0 ? 2.0 : 1.0, "ex" + e);
    }
    Covariances a = twice.finish();
    Covariances b = weighted.finish();
    assertTrue(Fixtures.relErr(b.a(), a.a()) < TOL);
    assertTrue(Fixtures.relErr(b.s(), a.s()) < TOL);
    assertEquals(a.tokensPerExample(), b.tokensPerExample(), TOL);
  }

  @Test
  void add_nanInGradient_throwsNamingLayerAndExample() {
    INDArray a = Nd4j.ones(DataType.FLOAT, 3, D_IN);
    INDArray g = Nd4j.ones(DataType.FLOAT, 3, D_OUT);
    g.putScalar(1, 2, Float.NaN);
    CovarianceAccumulator acc = new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> acc.add(new TokenFactors("blk.0.mlp", a, g), 1.0, "doc-17"));
    assertTrue(e.getMessage().contains("blk.0.mlp") && e.getMessage().contains("doc-17") && e.getMessage().contains("HINT"), e.getMessage());
    INDArray inf = Nd4j.ones(DataType.FLOAT, 3, D_IN);
    inf.putScalar(0, 0, Float.POSITIVE_INFINITY);
    assertThrows(IllegalArgumentException.class,
        () -> acc.add(new TokenFactors("blk.0.mlp", inf, Nd4j.ones(DataType.FLOAT, 3, D_OUT)), 1.0, "doc-18"));
  }

  @Test
  void merge_differentDimensions_throws() {
    CovarianceAccumulator a = new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT);
    assertThrows(IllegalArgumentException.class, () -> a.merge(new CovarianceAccumulator("blk.0.mlp", D_IN + 1, D_OUT)));
    assertThrows(IllegalArgumentException.class, () -> a.merge(new CovarianceAccumulator("blk.1.mlp", D_IN, D_OUT)));
    assertThrows(IllegalArgumentException.class,
        () -> a.add(new TokenFactors("blk.0.mlp", Nd4j.ones(DataType.FLOAT, 2, D_IN + 1), Nd4j.ones(DataType.FLOAT, 2, D_OUT))));
  }

  @Test
  void finish_noTokens_throwsIllegalState() {
    assertThrows(IllegalStateException.class, () -> new CovarianceAccumulator("blk.0.mlp", D_IN, D_OUT).finish());
  }
}
