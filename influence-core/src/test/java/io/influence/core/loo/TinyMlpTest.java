package io.influence.core.loo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.influence.core.truth.DenseMath;
import io.influence.core.truth.LogisticRegression;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The test model's analytic gradient and logit Jacobian against central finite differences. */
class TinyMlpTest {

  private static final double EPS = 1e-5;
  private static final double TOLERANCE = 1e-7;

  @Test
  void gradient_randomPoint_matchesFiniteDifferences() {
    TinyMlp mlp = new TinyMlp(5, 7, 3);
    Random r = new Random(11);
    double[] x = new double[5];
    for (int j = 0; j < x.length; j++) {
      x[j] = r.nextGaussian();
    }
    double y = 1;
    double[] g = mlp.gradient(x, y);
    assertEquals(mlp.parameters(), g.length);
    for (int i = 0; i < g.length; i++) {
      double fd = (mlp.perturbed(i, EPS).loss(x, y) - mlp.perturbed(i, -EPS).loss(x, y)) / (2 * EPS);
      assertEquals(fd, g[i], TOLERANCE, "parameter " + i);
    }
  }

  @Test
  void logisticGradient_randomPoint_matchesFiniteDifferences() {
    Random r = new Random(5);
    double[] w = new double[6];
    double[] x = new double[6];
    for (int j = 0; j < 6; j++) {
      w[j] = r.nextGaussian();
      x[j] = r.nextGaussian();
    }
    double[] g = LogisticRegression.gradient(w, x, 0);
    for (int i = 0; i < 6; i++) {
      double[] wp = w.clone();
      double[] wm = w.clone();
      wp[i] += EPS;
      wm[i] -= EPS;
      double fd = (LogisticRegression.loss(wp, x, 0) - LogisticRegression.loss(wm, x, 0)) / (2 * EPS);
      assertEquals(fd, g[i], TOLERANCE, "parameter " + i);
    }
  }

  @Test
  void logisticHessian_randomPoint_matchesFiniteDifferencesOfObjectiveGradient() {
    Random r = new Random(9);
    int n = 20;
    double[][] x = new double[n][5];
    double[] y = new double[n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < 5; j++) {
        x[i][j] = r.nextGaussian();
      }
      y[i] = r.nextInt(2);
    }
    double alpha = 0.1;
    LogisticRegression model = new LogisticRegression(x, y, alpha);
    boolean[] keep = LogisticRegression.all(n);
    keep[4] = false;
    double[] w = {0.3, -0.2, 0.5, 0.1, -0.4};
    double[][] h = DenseMath.matrix(model.dataHessian(w, keep));
    for (int k = 0; k < 5; k++) {
      double[] wp = w.clone();
      double[] wm = w.clone();
      wp[k] += EPS;
      wm[k] -= EPS;
      double[] gp = model.objectiveGradient(wp, keep);
      double[] gm = model.objectiveGradient(wm, keep);
      for (int j = 0; j < 5; j++) {
        double fd = (gp[j] - gm[j]) / (2 * EPS);
        assertEquals(fd, h[j][k] + (j == k ? alpha : 0), TOLERANCE, "H[" + j + "][" + k + "]");
      }
    }
  }
}
