package io.influence.core.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.LinearOperator;
import io.influence.core.truth.DenseMath;
import io.influence.core.truth.LogisticRegression;
import io.influence.core.loo.TinyMlp;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.PairwiseScores;
import io.influence.core.score.Stats;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * CG and LiSSA influence scores against the exact damped solve: the Hessian (logistic regression) or
 * Gauss-Newton matrix (2-layer MLP) formed column by column from exact products, Cholesky in float64.
 * 50 training × 5 query gradients per model.
 */
class SolverExactnessTest {

  // one place for the bars of this class
  private static final double CG_MIN_PEARSON = 0.9999;
  private static final double LISSA_MIN_PEARSON = 0.99;
  private static final double CG_TOLERANCE = 1e-10;
  private static final int TRAIN = 50;
  private static final int QUERIES = 5;

  private record Problem(LinearOperator h, LayerLayout layout, List<Map<String, INDArray>> train,
      List<Map<String, INDArray>> queries, List<double[]> trainFlat, List<double[]> queryFlat) {}

  private static double[][] gaussianRows(Random r, int n, int d, boolean bias) {
    double[][] x = new double[n][d + (bias ? 1 : 0)];
    for (double[] row : x) {
      for (int j = 0; j < d; j++) {
        row[j] = r.nextGaussian();
      }
      if (bias) {
        row[d] = 1;
      }
    }
    return x;
  }

  /** Logistic regression, 40 features + bias, at a random (non-optimal) weight vector. */
  private static Problem logistic() {
    Random r = new Random(7);
    int n = 200;
    double[][] x = gaussianRows(r, n, 40, true);
    double[] y = new double[n];
    double[] w = new double[41];
    for (int j = 0; j < w.length; j++) {
      w[j] = 0.3 * r.nextGaussian();
    }
    for (int i = 0; i < n; i++) {
      y[i] = r.nextDouble() < 0.5 ? 1 : 0;
    }
    LogisticRegression model = new LogisticRegression(x, y, 0.0);
    LinearOperator h = model.dataHessian(w, LogisticRegression.all(n));
    LayerLayout layout = LayerLayout.of(List.of(LogisticRegression.LAYER),
        Map.of(LogisticRegression.LAYER, new long[] {1, 41}));
    List<double[]> tf = new ArrayList<>();
    List<double[]> qf = new ArrayList<>();
    for (int i = 0; i < TRAIN + QUERIES; i++) {
      double[] g = LogisticRegression.gradient(w, x[i], y[i]);
      (i < TRAIN ? tf : qf).add(g);
    }
    return new Problem(h, layout, tf.stream().map(LogisticRegression::asLayers).toList(),
        qf.stream().map(LogisticRegression::asLayers).toList(), tf, qf);
  }

  /** 2-layer tanh MLP, 8 inputs, 16 hidden units (161 parameters), Gauss-Newton matrix over 200 points. */
  private static Problem mlp() {
    Random r = new Random(13);
    TinyMlp model = new TinyMlp(8, 16, 17);
    double[][] x = gaussianRows(r, 200, 8, false);
    List<double[]> tf = new ArrayList<>();
    List<double[]> qf = new ArrayList<>();
    for (int i = 0; i < TRAIN + QUERIES; i++) {
      double[] g = model.gradient(x[i], r.nextDouble() < 0.5 ? 1 : 0);
      (i < TRAIN ? tf : qf).add(g);
    }
    return new Problem(model.gaussNewton(x), model.layout(), tf.stream().map(model::asLayers).toList(),
        qf.stream().map(model::asLayers).toList(), tf, qf);
  }

  /** Exact scores ⟨(H + λI)⁻¹ q, g⟩ by Cholesky, flattened [query][train] into one vector. */
  private static double[] exactScores(Problem p, double damping) {
    double[][] m = DenseMath.matrix(p.h());
    double[] out = new double[QUERIES * TRAIN];
    for (int q = 0; q < QUERIES; q++) {
      double[] s = DenseMath.solve(m, damping, p.queryFlat().get(q));
      for (int t = 0; t < TRAIN; t++) {
        out[q * TRAIN + t] = DenseMath.dot(s, p.trainFlat().get(t));
      }
    }
    return out;
  }

  /** Scores through the production path: preconditioner per query, then one GEMM against the training matrix. */
  private static double[] solverScores(Problem p, IhvpSolver solver, List<SolveResult> results) {
    InverseHvpPreconditioner pre = InverseHvpPreconditioner.of(solver, p.h(), p.layout(), false);
    List<Map<String, INDArray>> preconditioned = new ArrayList<>();
    for (int q = 0; q < QUERIES; q++) {
      InverseHvpPreconditioner.Solved s = pre.solve("q" + q, p.queries().get(q));
      results.add(s.result());
      preconditioned.add(s.preconditioned());
    }
    List<String> qIds = ids("q", QUERIES);
    List<String> tIds = ids("t", TRAIN);
    double[][] s = PairwiseScores.score(p.layout(), qIds, preconditioned, tIds, p.train());
    double[] out = new double[QUERIES * TRAIN];
    for (int q = 0; q < QUERIES; q++) {
      System.arraycopy(s[q], 0, out, q * TRAIN, TRAIN);
    }
    return out;
  }

  private static List<String> ids(String prefix, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(prefix + i);
    }
    return out;
  }

  private static void checkCg(String name, Problem p, double damping) {
    double[] exact = exactScores(p, damping);
    List<SolveResult> results = new ArrayList<>();
    double[] cg = solverScores(p, IhvpSolver.conjugateGradient(damping, CG_TOLERANCE, 1000), results);
    double pearson = Stats.pearson(exact, cg);
    double maxRel = 0;
    double scale = 0;
    for (double e : exact) {
      scale = Math.max(scale, Math.abs(e));
    }
    for (int i = 0; i < exact.length; i++) {
      maxRel = Math.max(maxRel, Math.abs(exact[i] - cg[i]) / scale);
    }
    System.out.printf("%s CG vs exact: Pearson %.10f, max |diff|/max|score| %.2e, iterations %s%n", name, pearson, maxRel,
        results.stream().map(SolveResult::iterations).toList());
    for (SolveResult r : results) {
      assertTrue(r.converged(), name + ": CG did not converge: " + r);
      assertTrue(r.relativeResidual() < 1e-8, name + ": true residual " + r.relativeResidual());
    }
    assertTrue(pearson >= CG_MIN_PEARSON, name + ": CG Pearson " + pearson);
    assertTrue(maxRel < 1e-6, name + ": CG max relative difference " + maxRel);
  }

  private static void checkLissa(String name, Problem p, double damping, int depth) {
    double[] exact = exactScores(p, damping);
    double scale = 1.05 * (DenseMath.maxEigenvalueBound(DenseMath.matrix(p.h())) + damping);
    List<SolveResult> results = new ArrayList<>();
    double[] lissa = solverScores(p, IhvpSolver.lissa(damping, scale, depth, 1, 1e-9), results);
    double pearson = Stats.pearson(exact, lissa);
    System.out.printf("%s LiSSA vs exact: Pearson %.8f (scale %.3f, steps %s, residuals %s)%n", name, pearson, scale,
        results.stream().map(SolveResult::iterations).toList(),
        results.stream().map(r -> String.format("%.1e", r.relativeResidual())).toList());
    assertTrue(pearson >= LISSA_MIN_PEARSON, name + ": LiSSA Pearson " + pearson);
  }

  @Test
  void conjugateGradient_logisticRegressionHessian_matchesExactSolve() {
    checkCg("logistic", logistic(), 0.01);
  }

  @Test
  void conjugateGradient_mlpGaussNewton_matchesExactSolve() {
    checkCg("mlp", mlp(), 0.01);
  }

  @Test
  void lissa_logisticRegressionHessian_matchesExactSolve() {
    checkLissa("logistic", logistic(), 0.01, 5000);
  }

  @Test
  void lissa_mlpGaussNewton_matchesExactSolve() {
    checkLissa("mlp", mlp(), 0.01, 5000);
  }

  @Test
  void lissa_repetitionsOnExactOperator_equalOneRepetition() {
    Problem p = logistic();
    double[] b = p.queryFlat().get(0);
    SolveResult one = IhvpSolver.lissa(0.1, 10, 200, 1, 0).solve(p.h(), b);
    SolveResult three = IhvpSolver.lissa(0.1, 10, 200, 3, 0).solve(p.h(), b);
    assertEquals(3 * one.iterations(), three.iterations());
    for (int i = 0; i < b.length; i++) {
      assertEquals(one.x()[i], three.x()[i], 1e-12 * Math.abs(one.x()[i]) + 1e-15);
    }
  }
}
