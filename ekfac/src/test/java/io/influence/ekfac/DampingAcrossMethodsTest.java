package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.TokenFactors;
import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.SolveResult;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One damping, two methods: EK-FAC and CG given the same {@link Damping} solve the same {@code (H + λI)⁻¹ b}.
 *
 * <p>The model is one linear layer {@code W [C, D+1]} with softmax cross-entropy whose predictions do not depend on
 * the input ({@code p} the same for every example). Its Gauss-Newton matrix is then exactly Kronecker-factored,
 * {@code H = (diag(p) − ppᵀ) ⊗ E[x̃x̃ᵀ]}, so EK-FAC's eigenbasis and eigenvalues are exact and the only
 * difference between the methods is EK-FAC's float32 preconditioning (the label expectation is taken exactly, as in
 * {@link LogisticRegressionInfluenceTest}). The truth is the dense Cholesky solve of {@code H + λI}.
 */
class DampingAcrossMethodsTest {

  // ---- tolerances (one place) ----
  /** EK-FAC preconditions in float32: its relative error against the exact solve. */
  private static final double FLOAT32_TOL = 1e-5;
  /** CG in float64 to a 1e-12 residual: its relative error against the exact solve. */
  private static final double CG_TOL = 1e-9;
  /** Hutchinson: standard errors the resolved λ may miss factor × exact mean eigenvalue by. */
  private static final double SIGMAS = 4;

  private static final String LAYER = "linear";
  private static final int N = 300;
  private static final int D = 5;
  private static final int C = 3;
  private static final int D_IN = D + 1;
  private static final int DIM = C * D_IN;
  private static final double[] P = {0.5, 0.3, 0.2};
  private static final int PROBES = 8;

  private final double[][] x = new double[N][];
  private final double[] h = new double[DIM * DIM];
  private final LayerFactors factors;
  private final double[] query;

  DampingAcrossMethodsTest() {
    Random rnd = new Random(16);
    for (int n = 0; n < N; n++) {
      x[n] = new double[D_IN];
      for (int j = 0; j < D; j++) {
        x[n][j] = rnd.nextGaussian() * (1 + j);   // unequal scales: a spread of eigenvalues
      }
      x[n][D] = 1;
    }
    for (int n = 0; n < N; n++) {
      for (int i = 0; i < C; i++) {
        for (int k = 0; k < C; k++) {
          double hik = (i == k ? P[i] : 0) - P[i] * P[k];
          for (int j = 0; j < D_IN; j++) {
            for (int l = 0; l < D_IN; l++) {
              h[(i * D_IN + j) * DIM + k * D_IN + l] += hik * x[n][j] * x[n][l] / N;
            }
          }
        }
      }
    }
    CovarianceAccumulator cov = new CovarianceAccumulator(LAYER, D_IN, C);
    for (int n = 0; n < N; n++) {
      for (int c = 0; c < C; c++) {
        cov.add(token(n, c), P[c], "train-" + n);
      }
    }
    LayerFactors kfac = LayerFactors.fromCovariances(cov.finish());
    EigenvalueCorrection corr = new EigenvalueCorrection(kfac);
    for (int n = 0; n < N; n++) {
      for (int c = 0; c < C; c++) {
        corr.add(token(n, c), P[c], "train-" + n);
      }
    }
    factors = kfac.withCorrection(corr.finish(), corr.examples());
    query = new double[DIM];
    for (int i = 0; i < DIM; i++) {
      query[i] = rnd.nextGaussian();
    }
  }

  @Test
  void absoluteDamping_ekfacAndCg_solveTheSameDampedSystem() {
    for (double lambda : new double[] {1e-3, 0.05, 1.0}) {
      Damping d = Damping.absolute(lambda);
      double[] exact = exactSolve(lambda);
      double[] ekfac = ekfac(d);
      ResolvedDamping r = ResolvedDamping.onCurvature(d, BlockLinearOperator.oneAtATime(operator()), PROBES, 0);
      assertEquals(lambda, r.lambda(), 0.0);
      assertNull(r.trace(), "an absolute damping needs no trace");
      SolveResult cg = IhvpSolver.conjugateGradient(r.lambda(), 1e-12, 10 * DIM).solve(operator(), query);
      assertTrue(cg.converged(), "CG converged at λ = " + lambda);
      assertEquals(0, relativeError(exact, cg.x()), CG_TOL, "CG vs exact at λ = " + lambda);
      assertEquals(0, relativeError(exact, ekfac), FLOAT32_TOL, "EK-FAC vs exact at λ = " + lambda);
      assertEquals(0, relativeError(cg.x(), ekfac), FLOAT32_TOL, "EK-FAC vs CG at λ = " + lambda);
    }
  }

  @Test
  void relativeDamping_cgResolvesToFactorTimesMeanEigenvalue_withinHutchinsonError() {
    double exactMean = trace() / DIM;
    Damping d = Damping.relativeToMean(0.1);
    ResolvedDamping r = ResolvedDamping.onCurvature(d, BlockLinearOperator.oneAtATime(operator()), PROBES, 3);
    double se = 0.1 * r.trace().standardError() / DIM;
    System.out.printf("relative 0.1: exact λ %.6g, CG's Hutchinson λ %.6g ± %.3g (%d probes), EK-FAC's λ %.6g%n",
        0.1 * exactMean, r.lambda(), se, PROBES, d.resolve(factors.ekfacEigenvalues()));
    assertTrue(se > 0);
    assertEquals(0.1 * exactMean, r.lambda(), SIGMAS * se, "CG's λ within 4 standard errors of 0.1 × tr(H)/dim");
    assertEquals(PROBES, r.trace().probes());
    // EK-FAC's mean eigenvalue is exact here (one layer, Kronecker-exact curvature; float32 factor inputs): the same
    // factor × tr(H)/dim
    assertEquals(0.1 * exactMean, d.resolve(factors.ekfacEigenvalues()), FLOAT32_TOL * 0.1 * exactMean);
  }

  @Test
  void relativeDamping_sameFactor_ekfacAndCgAgreeUpToTheTraceEstimate() {
    Damping d = Damping.relativeToMean(0.1);
    ResolvedDamping r = ResolvedDamping.onCurvature(d, BlockLinearOperator.oneAtATime(operator()), 64, 5);
    double[] ekfac = ekfac(d);
    double[] cg = IhvpSolver.conjugateGradient(r.lambda(), 1e-12, 10 * DIM).solve(operator(), query).x();
    double lambdaError = Math.abs(r.lambda() - d.resolve(factors.ekfacEigenvalues())) / r.lambda();
    // ‖(H + λ₁)⁻¹ b − (H + λ₂)⁻¹ b‖ <= |λ₁ − λ₂| / min(λ) · ‖(H + λ₂)⁻¹ b‖
    assertTrue(relativeError(ekfac, cg) <= lambdaError * 1.01 + FLOAT32_TOL,
        "EK-FAC vs CG " + relativeError(ekfac, cg) + " with a λ estimate off by " + lambdaError);
  }

  private double[] ekfac(Damping d) {
    INDArray q = Nd4j.create(query, new long[] {C, D_IN}, 'c').castTo(DataType.FLOAT);
    return KroneckerPreconditioners.ekfac(Map.of(LAYER, factors), d).apply(Map.of(LAYER, q)).get(LAYER)
        .castTo(DataType.DOUBLE).dup('c').data().asDouble();
  }

  private double[] exactSolve(double lambda) {
    double[] m = h.clone();
    for (int i = 0; i < DIM; i++) {
      m[i * DIM + i] += lambda;
    }
    return DenseMath.choleskySolve(m, DIM, query);
  }

  private double trace() {
    double t = 0;
    for (int i = 0; i < DIM; i++) {
      t += h[i * DIM + i];
    }
    return t;
  }

  private LinearOperator operator() {
    return new LinearOperator() {
      @Override
      public int dim() {
        return DIM;
      }

      @Override
      public void apply(double[] v, double[] out) {
        for (int i = 0; i < DIM; i++) {
          double s = 0;
          for (int j = 0; j < DIM; j++) {
            s += h[i * DIM + j] * v[j];
          }
          out[i] = s;
        }
      }
    };
  }

  private TokenFactors token(int n, int c) {
    double[] g = new double[C];
    for (int i = 0; i < C; i++) {
      g[i] = P[i] - (i == c ? 1 : 0);
    }
    return new TokenFactors(LAYER, Nd4j.create(x[n], new long[] {1, D_IN}, 'c'),
        Nd4j.create(g, new long[] {1, C}, 'c'));
  }

  private static double relativeError(double[] truth, double[] got) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < truth.length; i++) {
      num += (truth[i] - got[i]) * (truth[i] - got[i]);
      den += truth[i] * truth[i];
    }
    return Math.sqrt(num / den);
  }
}
