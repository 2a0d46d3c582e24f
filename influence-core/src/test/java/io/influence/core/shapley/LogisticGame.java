package io.influence.core.shapley;

import java.util.Random;

/**
 * The test game: L2-regularised logistic regression on a generated 2-D dataset, trained to convergence
 * by Newton's method from zero (deterministic), with utilities = negative validation log-loss.
 *
 * <p>Training objective on a coalition {@code S}: {@code Σ_{i∈S} ℓ_i(w) + (α/2)‖w‖²} (summed, so the
 * empty coalition gives {@code w = 0}); {@code ℓ_i(w) = log(1 + e^{x_i·w}) − y_i x_i·w}, {@code x_i} with a
 * trailing 1 for the bias. Targets: 0 = the mean log-loss over the validation set (negated), 1 and 2 = the
 * log-loss of validation points 0 and 1 (negated): a vector utility, as with several queries.
 *
 * <p>As a {@link Stepwise} game (for G-Shapley) the learner starts at {@code w = 0} and a player's step is
 * {@code w ← w − η (∇ℓ_p(w) + (α/n) w)}.
 */
final class LogisticGame implements Utility, Stepwise {

  static final int TARGETS = 3;

  private final double[][] x;
  private final double[] y;
  private final double[][] xv;
  private final double[] yv;
  private final double alpha;
  private final double rate;

  private LogisticGame(double[][] x, double[] y, double[][] xv, double[] yv, double alpha, double rate) {
    this.x = x;
    this.y = y;
    this.xv = xv;
    this.yv = yv;
    this.alpha = alpha;
    this.rate = rate;
  }

  /**
   * {@code n} training points from two Gaussian blobs (centres ±(1, 1), unit variance), the labels of
   * {@code flipped} of them flipped (noisy points, which should get negative values), 40 validation points.
   */
  static LogisticGame generate(int n, int flipped, long seed) {
    Random random = new Random(seed);
    double[][] x = new double[n][];
    double[] y = new double[n];
    for (int i = 0; i < n; i++) {
      y[i] = i % 2;
      x[i] = point(random, y[i]);
      if (i < flipped) {
        y[i] = 1 - y[i];
      }
    }
    int m = 40;
    double[][] xv = new double[m][];
    double[] yv = new double[m];
    for (int i = 0; i < m; i++) {
      yv[i] = i % 2;
      xv[i] = point(random, yv[i]);
    }
    return new LogisticGame(x, y, xv, yv, 1.0, 0.5);
  }

  private static double[] point(Random random, double label) {
    double c = label == 1 ? 1 : -1;
    return new double[] {c + random.nextGaussian(), c + random.nextGaussian(), 1};
  }

  @Override
  public int players() {
    return x.length;
  }

  @Override
  public int targets() {
    return TARGETS;
  }

  @Override
  public double[] value(int[] members) {
    return utility(fit(members));
  }

  /** Newton's method from zero on the coalition's objective, to a step below 1e-13. */
  double[] fit(int[] members) {
    double[] w = new double[3];
    for (int iter = 0; iter < 100; iter++) {
      double[] g = {alpha * w[0], alpha * w[1], alpha * w[2]};
      double[][] h = {{alpha, 0, 0}, {0, alpha, 0}, {0, 0, alpha}};
      for (int i : members) {
        double p = sigmoid(dot(w, x[i]));
        for (int a = 0; a < 3; a++) {
          g[a] += (p - y[i]) * x[i][a];
          for (int b = 0; b < 3; b++) {
            h[a][b] += p * (1 - p) * x[i][a] * x[i][b];
          }
        }
      }
      double[] step = solve3(h, g);
      for (int a = 0; a < 3; a++) {
        w[a] -= step[a];
      }
      if (Math.abs(step[0]) + Math.abs(step[1]) + Math.abs(step[2]) < 1e-13) {
        return w;
      }
    }
    throw new IllegalStateException("Newton did not converge");
  }

  double[] utility(double[] w) {
    double mean = 0;
    for (int i = 0; i < xv.length; i++) {
      mean += loss(w, xv[i], yv[i]);
    }
    return new double[] {-mean / xv.length, -loss(w, xv[0], yv[0]), -loss(w, xv[1], yv[1])};
  }

  @Override
  public Learner start() {
    double[] w = new double[3];
    int n = x.length;
    return new Learner() {
      @Override
      public void step(int p) {
        double r = sigmoid(dot(w, x[p])) - y[p];
        for (int a = 0; a < 3; a++) {
          w[a] -= rate * (r * x[p][a] + alpha / n * w[a]);
        }
      }

      @Override
      public double[] utility() {
        return LogisticGame.this.utility(w);
      }
    };
  }

  private static double loss(double[] w, double[] xi, double yi) {
    double z = dot(w, xi);
    double softplus = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
    return softplus - yi * z;
  }

  private static double sigmoid(double z) {
    return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
  }

  private static double dot(double[] a, double[] b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  }

  /** Solves the symmetric positive definite 3×3 system {@code h s = g} by Cramer's rule. */
  private static double[] solve3(double[][] h, double[] g) {
    double det = det3(h);
    double[] s = new double[3];
    for (int c = 0; c < 3; c++) {
      double[][] m = {h[0].clone(), h[1].clone(), h[2].clone()};
      for (int r = 0; r < 3; r++) {
        m[r][c] = g[r];
      }
      s[c] = det3(m) / det;
    }
    return s;
  }

  private static double det3(double[][] m) {
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  }
}
