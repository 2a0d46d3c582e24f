package io.influence.core.truth;

import io.influence.core.linalg.LinearOperator;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Binary L2-regularised logistic regression in float64 with exact gradients and Hessians.
 *
 * <p>Rows of {@code x} already hold a trailing 1 for the bias. Per-example loss
 * {@code ℓ_i(w) = log(1 + e^{z}) − y z}, {@code z = x_i·w}; training objective
 * {@code R(w) = (1/N) Σ_i m_i ℓ_i(w) + (α/2)‖w‖²} with a 0/1 mask {@code m} (N fixed, so removing a point
 * is exactly an ε = −1/N upweighting). Its Hessian is {@link #dataHessian} + αI. As one tracked
 * "layer" named {@link #LAYER}, the gradient of example i is the {@code [1, d]} matrix {@code (p_i − y_i) x_iᵀ}.
 */
public final class LogisticRegression {

  public static final String LAYER = "linear";

  private final double[][] x;
  private final double[] y;
  private final double alpha;

  public LogisticRegression(double[][] x, double[] y, double alpha) {
    this.x = x;
    this.y = y;
    this.alpha = alpha;
  }

  public int n() {
    return x.length;
  }

  public int dim() {
    return x[0].length;
  }

  public double alpha() {
    return alpha;
  }

  /** The logistic function, without overflow for large |z|. */
  public static double sigmoid(double z) {
    return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
  }

  /** Per-example loss of a point (row with bias 1) and label under w. */
  public static double loss(double[] w, double[] xi, double yi) {
    double z = DenseMath.dot(w, xi);
    double softplus = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
    return softplus - yi * z;
  }

  /** Per-example gradient {@code (p − y) x}. */
  public static double[] gradient(double[] w, double[] xi, double yi) {
    double r = sigmoid(DenseMath.dot(w, xi)) - yi;
    double[] g = new double[xi.length];
    for (int j = 0; j < g.length; j++) {
      g[j] = r * xi[j];
    }
    return g;
  }

  /** A gradient as the one-layer map the preconditioners and scorers take. */
  public static Map<String, INDArray> asLayers(double[] g) {
    return Map.of(LAYER, Nd4j.create(g, new long[] {1, g.length}, 'c').castTo(DataType.DOUBLE));
  }

  /** The data part of the Hessian of R at w, {@code (1/N) Σ m_i p_i(1−p_i) x_i x_iᵀ}, as an operator. */
  public LinearOperator dataHessian(double[] w, boolean[] keep) {
    int n = n();
    int d = dim();
    double[] c = new double[n];
    for (int i = 0; i < n; i++) {
      double p = sigmoid(DenseMath.dot(w, x[i]));
      c[i] = keep[i] ? p * (1 - p) / n : 0;
    }
    return new LinearOperator() {
      @Override
      public int dim() {
        return d;
      }

      @Override
      public void apply(double[] v, double[] out) {
        java.util.Arrays.fill(out, 0);
        for (int i = 0; i < n; i++) {
          if (c[i] == 0) {
            continue;
          }
          double s = c[i] * DenseMath.dot(x[i], v);
          for (int j = 0; j < d; j++) {
            out[j] += s * x[i][j];
          }
        }
      }
    };
  }

  /** Gradient of R at w. */
  public double[] objectiveGradient(double[] w, boolean[] keep) {
    int n = n();
    double[] g = new double[dim()];
    for (int i = 0; i < n; i++) {
      if (!keep[i]) {
        continue;
      }
      double r = (sigmoid(DenseMath.dot(w, x[i])) - y[i]) / n;
      for (int j = 0; j < g.length; j++) {
        g[j] += r * x[i][j];
      }
    }
    for (int j = 0; j < g.length; j++) {
      g[j] += alpha * w[j];
    }
    return g;
  }

  /** Newton's method from w0 until ‖∇R‖ < tolerance; throws if it does not get there in 100 steps. */
  public double[] fit(double[] w0, boolean[] keep, double tolerance) {
    double[] w = w0.clone();
    for (int step = 0; step < 100; step++) {
      double[] g = objectiveGradient(w, keep);
      if (Math.sqrt(DenseMath.dot(g, g)) < tolerance) {
        return w;
      }
      double[][] h = DenseMath.matrix(dataHessian(w, keep));
      double[] delta = DenseMath.solve(h, alpha, g);
      for (int j = 0; j < w.length; j++) {
        w[j] -= delta[j];
      }
    }
    throw new IllegalStateException("Newton's method did not reach gradient norm " + tolerance + " in 100 steps");
  }

  public static boolean[] all(int n) {
    boolean[] keep = new boolean[n];
    java.util.Arrays.fill(keep, true);
    return keep;
  }
}
