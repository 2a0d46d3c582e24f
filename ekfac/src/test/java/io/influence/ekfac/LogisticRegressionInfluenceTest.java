package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.Preconditioner;
import io.influence.core.grad.TokenFactors;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * EK-FAC and K-FAC influence scores against the exact damped Gauss-Newton inverse on
 * multinomial logistic regression: one linear layer {@code W [C, D+1]} (bias as last column)
 * with softmax cross-entropy, the setting where Kronecker factorisation is close to exact.
 *
 * <p>Truth: the dense GGN {@code H = (1/N) Σ_n (diag(p_n) − p_n p_nᵀ) ⊗ x̃_n x̃_nᵀ} (row-major
 * vec of W), damped by {@code λ = 0.1 · trace(H) / dim} and solved by Cholesky.
 *
 * <p>Fit: EK-FAC needs the GGN's output-gradient covariance, not the empirical one of the data
 * labels. We take the expectation over model labels exactly instead of sampling: example
 * {@code n} contributes, for every class {@code c}, the one-token factors
 * {@code a = x̃_n, g = p_n − e_c} with weight {@code p_nc}, to both the covariance and the
 * correction pass. Then {@code E_c[(p − e_c)(p − e_c)ᵀ] = diag(p) − ppᵀ} and the weighted
 * correction is exactly {@code diag(Q ᵀ H Q)} in the Kronecker eigenbasis. Influence uses the
 * true-label gradients {@code ∇L = (p − e_y) x̃ᵀ}.
 *
 * <p>Regimes: the data are drawn from a softmax model with weight scale {@code signal} and the
 * model is refitted by gradient descent. K-FAC's assumption ({@code diag(p) − ppᵀ} independent of
 * {@code x̃ x̃ᵀ}) holds exactly when predictions do not depend on {@code x} (checked to 1e-6),
 * nearly when classes are weakly separable ({@code signal = 0.1}: the 0.98 bar, on several
 * seeds), and only roughly for well-separated classes ({@code signal = 0.4}: measured about
 * 0.95-0.97 for both K-FAC and EK-FAC, asserted at 0.9 and printed).
 */
class LogisticRegressionInfluenceTest {

  // ---- tolerances (one place) ----
  /** The bar for agreement with the exact inverse where K-FAC is nearly exact. */
  private static final double MIN_PEARSON = 0.98;
  /** Bar for well-separated classes, where the Kronecker assumption is visibly violated. */
  private static final double MIN_PEARSON_SEPARATED = 0.90;
  /** A broken preconditioner (transposed basis, wrong damping) must fall below the bar. */
  private static final double SLOPE_TOL = 0.1;
  /** Exactly Kronecker-factored curvature: float32 preconditioning is the only error. */
  private static final double EXACT_TOL = 1e-5;

  private static final double DAMPING_FACTOR = 0.1;
  private static final String LAYER = "linear";
  private static final int N = 400;
  private static final int D = 6;
  private static final int C = 4;
  private static final int D_IN = D + 1;
  private static final int DIM = C * D_IN;
  private static final int TRAIN_SCORED = 60;
  private static final int QUERIES = 5;
  private static final int STEPS = 300;
  private static final double LEARNING_RATE = 0.2;
  private static final double L2 = 1e-3;
  private static final double WEAK_SIGNAL = 0.1;
  private static final double STRONG_SIGNAL = 0.4;
  private static final long[] SEEDS = {20240611L, 2L, 3L};

  /** One fitted problem: data, model, exact scores, and EK-FAC factors. */
  private static final class Problem {
    final double[][] xTrain = new double[N][];
    final int[] yTrain = new int[N];
    final double[][] pTrain = new double[N][];
    final double[][] xQuery = new double[QUERIES][];
    final int[] yQuery = new int[QUERIES];
    final double[][] pQuery = new double[QUERIES][];
    final double[] exactScores = new double[QUERIES * TRAIN_SCORED];
    final double exactDamping;
    final LayerFactors factors;

    /** {@code constantModel}: the model ignores the features (only the bias is fitted). */
    Problem(long seed, double signal, boolean constantModel) {
      Random rnd = new Random(seed);
      double[][] wTrue = new double[C][D_IN];
      for (int c = 0; c < C; c++) {
        for (int j = 0; j < D_IN; j++) {
          wTrue[c][j] = signal * rnd.nextGaussian();
        }
      }
      for (int n = 0; n < N; n++) {
        xTrain[n] = feature(rnd);
        yTrain[n] = sample(softmax(wTrue, xTrain[n]), rnd);
      }
      for (int m = 0; m < QUERIES; m++) {
        xQuery[m] = feature(rnd);
        yQuery[m] = sample(softmax(wTrue, xQuery[m]), rnd);
      }
      double[][] w = train(xTrain, yTrain, constantModel);
      for (int n = 0; n < N; n++) {
        pTrain[n] = softmax(w, xTrain[n]);
      }
      for (int m = 0; m < QUERIES; m++) {
        pQuery[m] = softmax(w, xQuery[m]);
      }

      // Exact GGN, damped by 0.1 · trace/dim, solved densely.
      double[] h = new double[DIM * DIM];
      for (int n = 0; n < N; n++) {
        double[] p = pTrain[n];
        double[] x = xTrain[n];
        for (int i = 0; i < C; i++) {
          for (int k = 0; k < C; k++) {
            double hik = (i == k ? p[i] : 0) - p[i] * p[k];
            for (int j = 0; j < D_IN; j++) {
              for (int l = 0; l < D_IN; l++) {
                h[(i * D_IN + j) * DIM + k * D_IN + l] += hik * x[j] * x[l] / N;
              }
            }
          }
        }
      }
      double trace = 0;
      for (int i = 0; i < DIM; i++) {
        trace += h[i * DIM + i];
      }
      exactDamping = DAMPING_FACTOR * trace / DIM;
      for (int i = 0; i < DIM; i++) {
        h[i * DIM + i] += exactDamping;
      }
      for (int m = 0; m < QUERIES; m++) {
        double[] solved = DenseMath.choleskySolve(h, DIM, gradient(pQuery[m], yQuery[m], xQuery[m]));
        for (int n = 0; n < TRAIN_SCORED; n++) {
          exactScores[m * TRAIN_SCORED + n] = DenseMath.dot(solved, gradient(pTrain[n], yTrain[n], xTrain[n]));
        }
      }

      // EK-FAC: covariance pass, eigendecomposition, correction pass, with the exact label expectation.
      CovarianceAccumulator cov = new CovarianceAccumulator(LAYER, D_IN, C);
      for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
          cov.add(fisherToken(n, c), pTrain[n][c], "train-" + n);
        }
      }
      LayerFactors kfac = LayerFactors.fromCovariances(cov.finish());
      EigenvalueCorrection corr = new EigenvalueCorrection(kfac);
      for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
          corr.add(fisherToken(n, c), pTrain[n][c], "train-" + n);
        }
      }
      factors = kfac.withCorrection(corr.finish(), corr.examples());
    }

    private TokenFactors fisherToken(int n, int c) {
      double[] g = new double[C];
      for (int i = 0; i < C; i++) {
        g[i] = pTrain[n][i] - (i == c ? 1 : 0);
      }
      return new TokenFactors(LAYER, Nd4j.create(xTrain[n], new long[] {1, D_IN}, 'c'), Nd4j.create(g, new long[] {1, C}, 'c'));
    }

    double[] scores(Preconditioner pre) {
      double[] out = new double[QUERIES * TRAIN_SCORED];
      for (int m = 0; m < QUERIES; m++) {
        INDArray q = Nd4j.create(gradient(pQuery[m], yQuery[m], xQuery[m]), new long[] {C, D_IN}, 'c').castTo(DataType.FLOAT);
        double[] pq = pre.apply(Map.of(LAYER, q)).get(LAYER).castTo(DataType.DOUBLE).dup('c').data().asDouble();
        for (int n = 0; n < TRAIN_SCORED; n++) {
          out[m * TRAIN_SCORED + n] = DenseMath.dot(pq, gradient(pTrain[n], yTrain[n], xTrain[n]));
        }
      }
      return out;
    }

    double[] pearsonAndSlope(Preconditioner pre, String label) {
      double[] s = scores(pre);
      double r = DenseMath.pearson(exactScores, s);
      double slope = DenseMath.slope(exactScores, s);
      System.out.printf("%s: Pearson %.5f, slope %.4f over %d pairs%n", label, r, slope, s.length);
      return new double[] {r, slope};
    }
  }

  private static Problem weak;

  @BeforeAll
  static void fitWeakSignalProblem() {
    weak = new Problem(SEEDS[0], WEAK_SIGNAL, false);
  }

  /** Full-batch gradient descent on the mean cross-entropy plus a small L2 term (the model being explained). */
  private static double[][] train(double[][] x, int[] y, boolean biasOnly) {
    double[][] w = new double[C][D_IN];
    for (int it = 0; it < STEPS; it++) {
      double[][] grad = new double[C][D_IN];
      for (int n = 0; n < x.length; n++) {
        double[] p = softmax(w, x[n]);
        for (int c = 0; c < C; c++) {
          double r = (p[c] - (c == y[n] ? 1 : 0)) / x.length;
          for (int j = 0; j < D_IN; j++) {
            grad[c][j] += r * x[n][j];
          }
        }
      }
      for (int c = 0; c < C; c++) {
        for (int j = biasOnly ? D : 0; j < D_IN; j++) {
          w[c][j] -= LEARNING_RATE * (grad[c][j] + L2 * w[c][j]);
        }
      }
    }
    return w;
  }

  private static double[] feature(Random rnd) {
    double[] x = new double[D_IN];
    double z = rnd.nextGaussian();
    for (int j = 0; j < D; j++) {
      x[j] = (rnd.nextGaussian() + 0.6 * z) * (0.3 + 0.5 * j); // correlated, anisotropic
    }
    x[D] = 1.0;
    return x;
  }

  private static double[] softmax(double[][] w, double[] x) {
    double[] s = new double[C];
    double max = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < C; c++) {
      for (int j = 0; j < D_IN; j++) {
        s[c] += w[c][j] * x[j];
      }
      max = Math.max(max, s[c]);
    }
    double z = 0;
    for (int c = 0; c < C; c++) {
      s[c] = Math.exp(s[c] - max);
      z += s[c];
    }
    for (int c = 0; c < C; c++) {
      s[c] /= z;
    }
    return s;
  }

  private static int sample(double[] p, Random rnd) {
    double u = rnd.nextDouble();
    for (int c = 0; c < C - 1; c++) {
      u -= p[c];
      if (u < 0) {
        return c;
      }
    }
    return C - 1;
  }

  /** Row-major vec of {@code (p − e_y) x̃ᵀ}. */
  private static double[] gradient(double[] p, int y, double[] x) {
    double[] g = new double[DIM];
    for (int i = 0; i < C; i++) {
      for (int j = 0; j < D_IN; j++) {
        g[i * D_IN + j] = (p[i] - (i == y ? 1 : 0)) * x[j];
      }
    }
    return g;
  }

  @Test
  void ekfac_predictionsIndependentOfInput_equalsExactInverse() {
    Problem p = new Problem(SEEDS[0], WEAK_SIGNAL, true);
    for (Preconditioner pre : new Preconditioner[] {
        KroneckerPreconditioners.ekfac(Map.of(LAYER, p.factors), Damping.relativeToMean(DAMPING_FACTOR)),
        KroneckerPreconditioners.kfac(Map.of(LAYER, p.factors), Damping.relativeToMean(DAMPING_FACTOR))}) {
      double[] rs = p.pearsonAndSlope(pre, pre.method() + ", exactly Kronecker GGN");
      assertEquals(1.0, rs[0], EXACT_TOL, pre.method() + " Pearson");
      assertEquals(1.0, rs[1], EXACT_TOL * 10, pre.method() + " slope");
    }
  }

  @Test
  void ekfac_weaklySeparableClasses_meetsPearsonBarOnEverySeed() {
    for (long seed : SEEDS) {
      Problem p = seed == SEEDS[0] ? weak : new Problem(seed, WEAK_SIGNAL, false);
      KroneckerPreconditioner pre = (KroneckerPreconditioner) KroneckerPreconditioners.ekfac(
          Map.of(LAYER, p.factors), Damping.relativeToMean(DAMPING_FACTOR));
      // mean(Λ_EKFAC) = trace(H)/dim exactly (rotations preserve the trace), so both sides use the same λ.
      assertEquals(p.exactDamping, pre.damping().get(LAYER), 1e-5 * p.exactDamping);
      double[] rs = p.pearsonAndSlope(pre, "EK-FAC vs exact damped GGN, seed " + seed);
      assertTrue(rs[0] >= MIN_PEARSON, "EK-FAC Pearson " + rs[0] + " seed " + seed);
      assertEquals(1.0, rs[1], SLOPE_TOL, "EK-FAC score scale, seed " + seed);
    }
  }

  @Test
  void kfac_weaklySeparableClasses_meetsPearsonBarOnEverySeed() {
    for (long seed : SEEDS) {
      Problem p = seed == SEEDS[0] ? weak : new Problem(seed, WEAK_SIGNAL, false);
      double[] rs = p.pearsonAndSlope(KroneckerPreconditioners.kfac(Map.of(LAYER, p.factors), Damping.absolute(p.exactDamping)),
          "K-FAC vs exact damped GGN, seed " + seed);
      assertTrue(rs[0] >= MIN_PEARSON, "K-FAC Pearson " + rs[0] + " seed " + seed);
      assertEquals(1.0, rs[1], SLOPE_TOL, "K-FAC score scale, seed " + seed);
    }
  }

  @Test
  void ekfac_wellSeparatedClasses_stillCorrelates() {
    Problem p = new Problem(SEEDS[0], STRONG_SIGNAL, false);
    double[] e = p.pearsonAndSlope(KroneckerPreconditioners.ekfac(Map.of(LAYER, p.factors), Damping.relativeToMean(DAMPING_FACTOR)),
        "EK-FAC vs exact, well-separated classes");
    double[] k = p.pearsonAndSlope(KroneckerPreconditioners.kfac(Map.of(LAYER, p.factors), Damping.relativeToMean(DAMPING_FACTOR)),
        "K-FAC vs exact, well-separated classes");
    assertTrue(e[0] >= MIN_PEARSON_SEPARATED, "EK-FAC Pearson " + e[0]);
    assertTrue(k[0] >= MIN_PEARSON_SEPARATED, "K-FAC Pearson " + k[0]);
  }

  @Test
  void ekfac_transposedEigenbasis_failsTheBar() {
    LayerFactors f = weak.factors;
    double[] qt = new double[D_IN * D_IN];
    for (int i = 0; i < D_IN; i++) {
      for (int j = 0; j < D_IN; j++) {
        qt[i * D_IN + j] = f.qA()[j * D_IN + i];
      }
    }
    LayerFactors broken = new LayerFactors(LAYER, D_IN, C, qt, f.eigA(), f.qS(), f.eigS(),
        f.tokensPerExample(), f.lambda(), f.tokens(), f.examples(), f.correctionExamples());
    double[] rs = weak.pearsonAndSlope(KroneckerPreconditioners.ekfac(Map.of(LAYER, broken), Damping.relativeToMean(DAMPING_FACTOR)),
        "EK-FAC with transposed Q_A");
    assertTrue(rs[0] < MIN_PEARSON, "a transposed Q_A must break agreement, Pearson " + rs[0]);
  }

  @Test
  void ekfac_wrongDamping_failsTheBar() {
    for (double wrong : new double[] {100 * weak.exactDamping, 1e-4 * weak.exactDamping}) {
      double[] rs = weak.pearsonAndSlope(KroneckerPreconditioners.ekfac(Map.of(LAYER, weak.factors), Damping.absolute(wrong)),
          String.format("EK-FAC with damping %.3g instead of %.3g", wrong, weak.exactDamping));
      assertTrue(rs[0] < MIN_PEARSON || Math.abs(rs[1] - 1) > SLOPE_TOL,
          "wrong damping must break agreement, Pearson " + rs[0] + " slope " + rs[1]);
    }
  }
}
