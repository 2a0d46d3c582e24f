package io.influence.core.truth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The truth model's gradient and Hessian against central finite differences, and Newton's fixed point. */
class MultinomialLogisticRegressionTest {

  private static final double EPS = 1e-6;
  private static final int N = 40;
  private static final int D = 3;
  private static final int C = 3;

  private static MultinomialLogisticRegression model(Random r, double[][] x, int[] y, double alpha) {
    for (int i = 0; i < N; i++) {
      x[i] = new double[] {r.nextGaussian(), r.nextGaussian(), r.nextGaussian(), 1};
      y[i] = r.nextInt(C);
    }
    return new MultinomialLogisticRegression(x, y, C, alpha);
  }

  private static double[] randomVector(Random r, int n, double scale) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = scale * r.nextGaussian();
    }
    return v;
  }

  @Test
  void gradient_matchesFiniteDifferencesOfTheLoss() {
    Random r = new Random(3);
    double[][] x = new double[N][];
    int[] y = new int[N];
    MultinomialLogisticRegression m = model(r, x, y, 0);
    double[] w = randomVector(r, m.dim(), 0.5);
    double[] g = m.gradient(w, x[0], y[0]);
    for (int k = 0; k < w.length; k++) {
      double[] wp = w.clone();
      double[] wm = w.clone();
      wp[k] += EPS;
      wm[k] -= EPS;
      double fd = (m.loss(wp, x[0], y[0]) - m.loss(wm, x[0], y[0])) / (2 * EPS);
      assertEquals(fd, g[k], 1e-8, "component " + k);
    }
  }

  @Test
  void dataHessian_matchesFiniteDifferencesOfTheObjectiveGradient() {
    Random r = new Random(5);
    double[][] x = new double[N][];
    int[] y = new int[N];
    MultinomialLogisticRegression m = model(r, x, y, 0);
    double[] w = randomVector(r, m.dim(), 0.5);
    double[] v = randomVector(r, m.dim(), 1);
    double[] hv = new double[m.dim()];
    m.dataHessian(w).apply(v, hv);
    double[] wp = w.clone();
    double[] wm = w.clone();
    for (int k = 0; k < w.length; k++) {
      wp[k] += EPS * v[k];
      wm[k] -= EPS * v[k];
    }
    double[] gp = m.objectiveGradient(wp);
    double[] gm = m.objectiveGradient(wm);
    for (int k = 0; k < w.length; k++) {
      assertEquals((gp[k] - gm[k]) / (2 * EPS), hv[k], 1e-7, "component " + k);
    }
  }

  @Test
  void fit_reachesAStationaryPointOfTheRegularisedObjective() {
    Random r = new Random(7);
    double[][] x = new double[N][];
    int[] y = new int[N];
    MultinomialLogisticRegression m = model(r, x, y, 1e-2);
    double[] w = m.fit(1e-10);
    double[] g = m.objectiveGradient(w);
    assertTrue(Math.sqrt(DenseMath.dot(g, g)) < 1e-10);
    // the softmax probabilities sum to one and the loss is -log p_y
    double[] p = m.probabilities(w, x[0]);
    assertEquals(1.0, p[0] + p[1] + p[2], 1e-14);
    assertEquals(-Math.log(p[y[0]]), m.loss(w, x[0], y[0]), 1e-14);
  }
}
