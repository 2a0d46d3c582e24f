package io.influence.core.grad;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The closest Kronecker-compatible form of an elementwise scaling of a layer's gradient: {@code S ≈ r cᵀ} fitted in
 * log space ({@code log S_ij ≈ log r_i + log c_j}, least squares: row and column means of {@code log S}), so that
 * scaling each token's factors, {@code g_t ⊙ r} and {@code a_t ⊙ c}, turns {@code Σ_t g_t a_tᵀ} into
 * {@code (Σ_t g_t a_tᵀ) ⊙ r cᵀ}. Exact when {@code S} has rank one; for Adam's factors {@code 1 / (√v̂ + ε)} it
 * gives K-FAC covariances, and so an EK-FAC eigenbasis, close to those of the Adam-scaled gradients
 * {@code G ⊙ S} (the eigenvalue correction then fits the exact scaled gradients in that basis).
 */
public final class RankOneScaling {

  private final double[] rows;   // r, length dOut
  private final double[] cols;   // c, length cols (d_in, plus the bias column when the layer has one)

  private RankOneScaling(double[] rows, double[] cols) {
    this.rows = rows;
    this.cols = cols;
  }

  /** The fit of {@code s} ({@code [dOut, cols]}, every entry finite and > 0). */
  public static RankOneScaling fit(INDArray s) {
    if (s.rank() != 2) {
      throw new IllegalArgumentException("a layer's scaling is a matrix, got shape " + Arrays.toString(s.shape()));
    }
    int n = (int) s.rows();
    int m = (int) s.columns();
    double[] flat = s.castTo(DataType.DOUBLE).dup('c').data().asDouble();
    double[] r = new double[n];
    double[] c = new double[m];
    double all = 0;
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < m; j++) {
        double v = flat[i * m + j];
        if (!(v > 0) || !Double.isFinite(v)) {
          throw new IllegalArgumentException("scaling entry [" + i + ", " + j + "] is " + v + "; it must be finite "
              + "and > 0");
        }
        double l = Math.log(v);
        r[i] += l / m;
        c[j] += l / n;
        all += l;
      }
    }
    all /= (double) n * m;
    for (int i = 0; i < n; i++) {
      r[i] = Math.exp(r[i]);
    }
    for (int j = 0; j < m; j++) {
      c[j] = Math.exp(c[j] - all);
    }
    return new RankOneScaling(r, c);
  }

  /** {@code r}: one factor per output row. */
  public double[] rowFactors() {
    return rows.clone();
  }

  /** {@code c}: one factor per input column (bias last). */
  public double[] columnFactors() {
    return cols.clone();
  }

  /** {@code (a_t ⊙ c, g_t ⊙ r)} for every token, new arrays of the factors' data type. */
  public TokenFactors apply(TokenFactors f) {
    if (f.dIn() != cols.length || f.dOut() != rows.length) {
      throw new IllegalArgumentException("token factors of layer " + f.layer() + " are [T, " + f.dIn() + "] and [T, "
          + f.dOut() + "] but the scaling is [" + rows.length + ", " + cols.length + "]; HINT: fit it on the same "
          + "layer's factors");
    }
    INDArray a = f.a().dup();
    INDArray g = f.g().dup();
    a.muliRowVector(Nd4j.create(cols).castTo(a.dataType()));
    g.muliRowVector(Nd4j.create(rows).castTo(g.dataType()));
    return new TokenFactors(f.layer(), a, g);
  }
}
