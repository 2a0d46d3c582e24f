package io.influence.core.loo;

import io.influence.core.linalg.LinearOperator;
import io.influence.core.score.LayerLayout;
import io.influence.core.truth.DenseMath;
import io.influence.core.truth.LogisticRegression;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A 2-layer tanh MLP with one logit and binary cross-entropy, float64, exact per-example gradients and
 * the exact Gauss-Newton matrix {@code (1/N) Σ_i p_i(1−p_i) J_i J_iᵀ} (J_i = ∂logit_i/∂θ) as an operator.
 * Test code only.
 *
 * <p>Layers (bias as the last column, the TokenFactors convention): {@code fc1} {@code [h, d+1]},
 * {@code fc2} {@code [1, h+1]}. Forward: {@code s1 = W1 [x;1]}, {@code u = tanh(s1)},
 * {@code s2 = W2 [u;1]}, {@code p = σ(s2)}, loss {@code log(1+e^{s2}) − y s2}. Backward with output
 * gradient {@code g2}: {@code G2 = g2 [u;1]ᵀ}, {@code g1 = (1 − u²) ⊙ W2[:, :h]ᵀ g2}, {@code G1 = g1 [x;1]ᵀ};
 * {@code g2 = p − y} gives the loss gradient, {@code g2 = 1} the logit Jacobian.
 */
public final class TinyMlp {

  public static final List<String> LAYERS = List.of("fc1", "fc2");

  private final int d;
  private final int h;
  private final double[][] w1; // [h][d+1]
  private final double[] w2; // [h+1]

  public TinyMlp(int d, int h, long seed) {
    this.d = d;
    this.h = h;
    Random r = new Random(seed);
    w1 = new double[h][d + 1];
    w2 = new double[h + 1];
    for (double[] row : w1) {
      for (int j = 0; j <= d; j++) {
        row[j] = r.nextGaussian() / Math.sqrt(d);
      }
    }
    for (int j = 0; j <= h; j++) {
      w2[j] = r.nextGaussian() / Math.sqrt(h);
    }
  }

  private TinyMlp(TinyMlp o) {
    this.d = o.d;
    this.h = o.h;
    this.w1 = new double[h][];
    for (int k = 0; k < h; k++) {
      this.w1[k] = o.w1[k].clone();
    }
    this.w2 = o.w2.clone();
  }

  /** A copy with flat parameter {@code index} (layout order) moved by {@code eps}. */
  public TinyMlp perturbed(int index, double eps) {
    TinyMlp m = new TinyMlp(this);
    if (index < h * (d + 1)) {
      m.w1[index / (d + 1)][index % (d + 1)] += eps;
    } else {
      m.w2[index - h * (d + 1)] += eps;
    }
    return m;
  }

  /** Per-example loss {@code log(1 + e^{s2}) − y s2}. */
  public double loss(double[] x, double y) {
    double z = logit(x);
    double softplus = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
    return softplus - y * z;
  }

  public LayerLayout layout() {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shapes.put("fc1", new long[] {h, d + 1});
    shapes.put("fc2", new long[] {1, h + 1});
    return LayerLayout.of(LAYERS, shapes);
  }

  public int parameters() {
    return h * (d + 1) + h + 1;
  }

  private double[] hidden(double[] x) {
    double[] u = new double[h];
    for (int k = 0; k < h; k++) {
      double s = w1[k][d];
      for (int j = 0; j < d; j++) {
        s += w1[k][j] * x[j];
      }
      u[k] = Math.tanh(s);
    }
    return u;
  }

  public double logit(double[] x) {
    double[] u = hidden(x);
    double s = w2[h];
    for (int k = 0; k < h; k++) {
      s += w2[k] * u[k];
    }
    return s;
  }

  /** Flat (layout order, row-major) backward of output gradient g2. */
  private double[] backward(double[] x, double g2) {
    double[] u = hidden(x);
    double[] out = new double[parameters()];
    int p = 0;
    for (int k = 0; k < h; k++) {
      double g1 = (1 - u[k] * u[k]) * w2[k] * g2;
      for (int j = 0; j < d; j++) {
        out[p++] = g1 * x[j];
      }
      out[p++] = g1;
    }
    for (int k = 0; k < h; k++) {
      out[p++] = g2 * u[k];
    }
    out[p] = g2;
    return out;
  }

  /** Exact per-example loss gradient, flat in {@link #layout()} order. */
  public double[] gradient(double[] x, double y) {
    return backward(x, LogisticRegression.sigmoid(logit(x)) - y);
  }

  /** The flat gradient as a per-layer map. */
  public Map<String, INDArray> asLayers(double[] flat) {
    Map<String, INDArray> m = new LinkedHashMap<>();
    double[] a = java.util.Arrays.copyOfRange(flat, 0, h * (d + 1));
    double[] b = java.util.Arrays.copyOfRange(flat, h * (d + 1), flat.length);
    m.put("fc1", Nd4j.create(a, new long[] {h, d + 1}, 'c'));
    m.put("fc2", Nd4j.create(b, new long[] {1, h + 1}, 'c'));
    return m;
  }

  /** The exact Gauss-Newton matrix of the mean training loss over xs, as an operator. */
  public LinearOperator gaussNewton(double[][] xs) {
    int n = xs.length;
    double[][] jac = new double[n][];
    double[] c = new double[n];
    for (int i = 0; i < n; i++) {
      jac[i] = backward(xs[i], 1.0);
      double p = LogisticRegression.sigmoid(logit(xs[i]));
      c[i] = p * (1 - p) / n;
    }
    int dim = parameters();
    return new LinearOperator() {
      @Override
      public int dim() {
        return dim;
      }

      @Override
      public void apply(double[] v, double[] out) {
        java.util.Arrays.fill(out, 0);
        for (int i = 0; i < n; i++) {
          double s = c[i] * DenseMath.dot(jac[i], v);
          for (int j = 0; j < dim; j++) {
            out[j] += s * jac[i][j];
          }
        }
      }
    };
  }
}
