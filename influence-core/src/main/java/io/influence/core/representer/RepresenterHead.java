package io.influence.core.representer;

import java.io.Serializable;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * An output head {@code W* [V, d]} fitted to the stationary point of {@code (1/n) Σ_t CE(W f_t, y_t) + λ‖W‖²}
 * ({@link HeadFit}), with the {@code λ} and {@code n} of that fit: what the representer weights
 * {@code α_t = −(1/(2λn)) (softmax(W* f_t) − e_{y_t})} and the decomposition {@code W* f = Σ_t α_t (f_t · f)} need.
 * Float64; plain arrays so that it serialises (a Spark broadcast).
 *
 * @param vocab   {@code V}
 * @param dim     {@code d}
 * @param weight  {@code W*} row-major {@code [V, d]}
 * @param lambda  the L2 coefficient {@code λ > 0}
 * @param tokens  {@code n}: the number of training tokens the fit averaged over
 */
public record RepresenterHead(int vocab, int dim, double[] weight, double lambda, long tokens) implements Serializable {

  public RepresenterHead {
    Objects.requireNonNull(weight, "weight");
    if (vocab < 1 || dim < 1 || weight.length != (long) vocab * dim) {
      throw new IllegalArgumentException("weight has " + weight.length + " entries, not V·d = " + vocab + "·" + dim);
    }
    if (!(lambda > 0) || tokens < 1) {
      throw new IllegalArgumentException("lambda must be > 0 and tokens >= 1, got " + lambda + ", " + tokens);
    }
  }

  /** {@code W*} as a {@code [V, d]} 'c' float64 array (a copy). */
  public INDArray matrix() {
    return Nd4j.create(weight.clone(), new long[] {vocab, dim}, 'c');
  }

  /** {@code −1/(2λn)}: the factor of every representer weight. */
  public double scale() {
    return -1.0 / (2 * lambda * tokens);
  }

  /** The fitted head's logits {@code W* f} of one feature vector. */
  public double[] logits(double[] f) {
    double[] z = new double[vocab];
    for (int v = 0; v < vocab; v++) {
      double s = 0;
      for (int c = 0; c < dim; c++) {
        s += weight[v * dim + c] * f[c];
      }
      z[v] = s;
    }
    return z;
  }

  /** {@code softmax(F W*ᵀ)} of a {@code [m, d]} float64 block: {@code [m, V]}. */
  INDArray probabilities(INDArray features, INDArray w) {
    INDArray z = features.mmul(w.transpose());
    z.subiColumnVector(z.max(true, 1));
    Transforms.exp(z, false);
    return z.diviColumnVector(z.sum(true, 1));
  }

  /** The representer weights {@code α_t} of {@code train}'s tokens, {@code [n, V]} (float64). */
  public INDArray alphas(TokenFeatures train) {
    INDArray a = probabilities(train.matrix(), matrix());
    for (int t = 0; t < train.size(); t++) {
      int y = train.targets()[t];
      a.putScalar(t, y, a.getDouble(t, y) - 1);
    }
    return a.muli(scale());
  }

  /**
   * The representer decomposition of the fitted logits of {@code queries}' features: row {@code j} is
   * {@code Σ_t α_t (f_t · f_j)} over {@code train}'s tokens, {@code [m, V]}. Equals {@code W* f_j} when the head is
   * stationary for {@code train} (the representer theorem); the difference measures how far from stationary it is.
   */
  public INDArray decompose(TokenFeatures train, TokenFeatures queries) {
    INDArray kernel = queries.matrix().mmul(train.matrix().transpose());  // [m, n]: f_j · f_t
    return kernel.mmul(alphas(train));
  }
}
