package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.TokenFactors;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Fitting in the Kronecker-projected space (LoGra): the accumulators see token factors
 * {@code P_in a_t}, {@code P_out g_t}; the covariances must equal {@code P A Pᵀ} of the full
 * ones, and the correction from projected token factors must equal the one from projected
 * per-example gradients {@code P_out G P_inᵀ}.
 */
class ProjectedSpaceTest {

  private static final double TOL = 1e-12;
  private static final double TOL_F32 = 1e-5;
  private static final int D_IN = 12;
  private static final int D_OUT = 10;
  private static final int K_IN = 4;
  private static final int K_OUT = 3;
  private static final String LAYER = "h.0.mlp.c_proj";

  private static double[] sandwich(INDArray p, double[] x, int n) {
    INDArray m = Nd4j.create(x, new long[] {n, n}, 'c');
    return p.mmul(m).mmul(p.transpose()).dup('c').data().asDouble();
  }

  @Test
  void covariances_projectedTokenFactors_equalProjectedFullCovariances() {
    List<TokenFactors> xs = Fixtures.examples(LAYER, 25, D_IN, D_OUT, 7, DataType.DOUBLE, 31);
    INDArray pIn = Nd4j.randn(DataType.DOUBLE, K_IN, D_IN).divi(Math.sqrt(K_IN));
    INDArray pOut = Nd4j.randn(DataType.DOUBLE, K_OUT, D_OUT).divi(Math.sqrt(K_OUT));
    CovarianceAccumulator full = new CovarianceAccumulator(LAYER, D_IN, D_OUT);
    CovarianceAccumulator proj = new CovarianceAccumulator(LAYER, K_IN, K_OUT);
    for (TokenFactors f : xs) {
      full.add(f);
      proj.add(new TokenFactors(LAYER, f.a().mmul(pIn.transpose()), f.g().mmul(pOut.transpose())));
    }
    Covariances cf = full.finish();
    Covariances cp = proj.finish();
    double errA = Fixtures.relErr(cp.a(), sandwich(pIn, cf.a(), D_IN));
    double errS = Fixtures.relErr(cp.s(), sandwich(pOut, cf.s(), D_OUT));
    assertTrue(errA < TOL && errS < TOL, "A err " + errA + ", S err " + errS);
  }

  @Test
  void correction_projectedTokenFactorsAndProjectedGradients_agree() {
    List<TokenFactors> xs = Fixtures.examples(LAYER, 25, D_IN, D_OUT, 7, DataType.FLOAT, 32);
    INDArray pIn = Nd4j.randn(DataType.FLOAT, K_IN, D_IN);
    INDArray pOut = Nd4j.randn(DataType.FLOAT, K_OUT, D_OUT);
    List<TokenFactors> projected = new ArrayList<>();
    CovarianceAccumulator proj = new CovarianceAccumulator(LAYER, K_IN, K_OUT);
    for (TokenFactors f : xs) {
      TokenFactors p = new TokenFactors(LAYER, f.a().mmul(pIn.transpose()), f.g().mmul(pOut.transpose()));
      projected.add(p);
      proj.add(p);
    }
    LayerFactors lf = LayerFactors.fromCovariances(proj.finish());
    EigenvalueCorrection viaTokens = new EigenvalueCorrection(lf);
    EigenvalueCorrection viaGrads = new EigenvalueCorrection(lf);
    for (int e = 0; e < xs.size(); e++) {
      viaTokens.add(projected.get(e));
      INDArray g = xs.get(e).g().castTo(DataType.DOUBLE).transpose().mmul(xs.get(e).a().castTo(DataType.DOUBLE));
      INDArray pg = pOut.castTo(DataType.DOUBLE).mmul(g).mmul(pIn.castTo(DataType.DOUBLE).transpose());
      viaGrads.addGradient(pg, 1.0, "ex" + e);
    }
    double err = Fixtures.relErr(viaGrads.finish(), viaTokens.finish());
    assertTrue(err < TOL_F32, "rel err " + err);
  }
}
