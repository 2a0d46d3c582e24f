package io.influence.core.truth;

import io.influence.core.linalg.LinearOperator;
import io.influence.core.score.LayerLayout;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * Multinomial (softmax) L2-regularised logistic regression in float64: one linear layer W [C, D] acting on
 * rows x̃ that already end in a 1 for the bias, the setting where K-FAC's Kronecker factorisation is
 * closest to exact (a single layer, one "token" per example).
 *
 * Vectors are row-major vec(W): index c·D + j, which is the engine's per-example gradient layout of a
 * layer [dOut = C, dIn = D] named LAYER. Per example: p = softmax(W x̃), loss ℓ = −log p_y, gradient
 * (p − e_y) x̃ᵀ. Objective R(W) = (1/N) Σ_n ℓ_n + (α/2)‖W‖². Its data Hessian
 *   H = (1/N) Σ_n (diag p_n − p_n p_nᵀ) ⊗ x̃_n x̃_nᵀ
 * is also its Gauss-Newton matrix (the logits are linear in W), so for this model "the exact damped GGN"
 * and "the exact damped Hessian" are one matrix. Fit: Newton's method with a dense Cholesky solve of
 * H + αI (α > 0 makes R strictly convex despite the softmax's shift invariance).
 */
public final class MultinomialLogisticRegression {

  public static final String LAYER = "linear";

  private final double[][] x;
  private final int[] y;
  private final int classes;
  private final double alpha;

  public MultinomialLogisticRegression(double[][] x, int[] y, int classes, double alpha) {
    if (x.length == 0 || x.length != y.length) {
      throw new IllegalArgumentException(x.length + " rows and " + y.length + " labels; HINT: one label per row, N >= 1");
    }
    if (classes < 2) {
      throw new IllegalArgumentException("classes must be >= 2, got " + classes);
    }
    for (int n = 0; n < y.length; n++) {
      if (y[n] < 0 || y[n] >= classes) {
        throw new IllegalArgumentException("label " + y[n] + " of row " + n + " is outside [0, " + classes + ")");
      }
    }
    this.x = x;
    this.y = y;
    this.classes = classes;
    this.alpha = alpha;
  }

  public int n() {
    return x.length;
  }

  /** Input width including the bias column. */
  public int features() {
    return x[0].length;
  }

  public int classes() {
    return classes;
  }

  /** Number of parameters, {@code C · D}. */
  public int dim() {
    return classes * features();
  }

  /** The one-layer layout {@code [C, D]} of gradients and parameter vectors. */
  public LayerLayout layout() {
    return LayerLayout.of(List.of(LAYER), Map.of(LAYER, new long[] {classes, features()}));
  }

  /** {@code softmax(W x̃)} with a max shift. */
  public double[] probabilities(double[] w, double[] xi) {
    return softmax(w, classes, xi);
  }

  /** {@code softmax(W x̃)} for a row-major {@code W [classes, xi.length]}, with a max shift. */
  public static double[] softmax(double[] w, int classes, double[] xi) {
    int d = xi.length;
    double[] s = new double[classes];
    double max = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < classes; c++) {
      double z = 0;
      for (int j = 0; j < d; j++) {
        z += w[c * d + j] * xi[j];
      }
      s[c] = z;
      max = Math.max(max, z);
    }
    double sum = 0;
    for (int c = 0; c < classes; c++) {
      s[c] = Math.exp(s[c] - max);
      sum += s[c];
    }
    for (int c = 0; c < classes; c++) {
      s[c] /= sum;
    }
    return s;
  }

  /** {@code −log p_y}. */
  public double loss(double[] w, double[] xi, int yi) {
    return -Math.log(probabilities(w, xi)[yi]);
  }

  /** Row-major {@code (p − e_y) x̃ᵀ}. */
  public double[] gradient(double[] w, double[] xi, int yi) {
    return outer(residual(probabilities(w, xi), yi), xi);
  }

  /** {@code p − e_c}. */
  public static double[] residual(double[] p, int c) {
    double[] r = p.clone();
    r[c] -= 1;
    return r;
  }

  /** Row-major {@code r x̃ᵀ}. */
  public static double[] outer(double[] r, double[] xi) {
    int d = xi.length;
    double[] g = new double[r.length * d];
    for (int c = 0; c < r.length; c++) {
      for (int j = 0; j < d; j++) {
        g[c * d + j] = r[c] * xi[j];
      }
    }
    return g;
  }

  /** A flat gradient as the one-layer {@code [C, D]} map the preconditioners and scorers take. */
  public Map<String, INDArray> asLayers(double[] g, DataType dtype) {
    return Map.of(LAYER, Nd4j.create(g, new long[] {classes, features()}, 'c').castTo(dtype));
  }

  /** The data Hessian (= GGN) of the mean loss at {@code w}, without the L2 term, as an operator. */
  public LinearOperator dataHessian(double[] w) {
    int n = n();
    int d = features();
    double[][] p = new double[n][];
    for (int i = 0; i < n; i++) {
      p[i] = probabilities(w, x[i]);
    }
    return new LinearOperator() {
      @Override
      public int dim() {
        return classes * d;
      }

      @Override
      public void apply(double[] v, double[] out) {
        Arrays.fill(out, 0);
        double[] u = new double[classes];
        for (int i = 0; i < n; i++) {
          double[] xi = x[i];
          // u = V x̃ (logit tangent), then r = (diag p − p pᵀ) u, then out += r x̃ᵀ / N
          double pu = 0;
          for (int c = 0; c < classes; c++) {
            double s = 0;
            for (int j = 0; j < d; j++) {
              s += v[c * d + j] * xi[j];
            }
            u[c] = s;
            pu += p[i][c] * s;
          }
          for (int c = 0; c < classes; c++) {
            double r = p[i][c] * (u[c] - pu) / n;
            for (int j = 0; j < d; j++) {
              out[c * d + j] += r * xi[j];
            }
          }
        }
      }
    };
  }

  /** Gradient of the objective {@code R} at {@code w}. */
  public double[] objectiveGradient(double[] w) {
    double[] g = new double[dim()];
    for (int i = 0; i < n(); i++) {
      double[] gi = gradient(w, x[i], y[i]);
      for (int k = 0; k < g.length; k++) {
        g[k] += gi[k] / n();
      }
    }
    for (int k = 0; k < g.length; k++) {
      g[k] += alpha * w[k];
    }
    return g;
  }

  /** Newton's method from zero until {@code ‖∇R‖ < tolerance}; throws if 100 steps do not get there. */
  public double[] fit(double tolerance) {
    if (!(alpha > 0)) {
      throw new IllegalStateException("Newton's method needs alpha > 0 (the softmax is shift invariant), got " + alpha);
    }
    double[] w = new double[dim()];
    for (int step = 0; step < 100; step++) {
      double[] g = objectiveGradient(w);
      if (Math.sqrt(DenseMath.dot(g, g)) < tolerance) {
        return w;
      }
      double[] delta = DenseMath.solve(DenseMath.matrix(dataHessian(w)), alpha, g);
      for (int k = 0; k < w.length; k++) {
        w[k] -= delta[k];
      }
    }
    throw new IllegalStateException("Newton's method did not reach gradient norm " + tolerance + " in 100 steps");
  }
}
