package io.influence.core.hvp;

import io.influence.core.model.TokenBatch;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * Per-position softmax cross-entropy quantities on logits z [B, T, V] ('c'; row t of example b
 * predicts token t+1), in float64 with a max-shifted softmax p. Only counted positions
 * (TokenBatch.counts(b, t+1): mask on, t+1 < length) get non-zero rows; the rest are zero, so
 * masked, first-token and padded positions contribute nothing.
 *
 *   lossGradient:  ∂L/∂z = p − onehot(target)            (L = summed cross-entropy)
 *   gaussNewton:   H_out u = diag(p) u − p (pᵀu) = p ⊙ (u − pᵀu)
 *
 * Scalar Java loops: V·T·B is small for the HVP operators' batches, and each ND4J op would be a
 * separate OpenMP region (see model.Elementwise for why that matters on shared cores).
 */
final class OutputCurvature {

  private OutputCurvature() {}

  /** {@code ∂(Σ counted −log p_target)/∂z} as a {@code [B, T, V]} float64 array. */
  static INDArray lossGradient(INDArray logits, TokenBatch batch) {
    Softmax p = Softmax.of(logits, batch);
    double[] r = p.p.clone();
    for (int i = 0; i < batch.size(); i++) {
      for (int t = 0; t < p.seqLen; t++) {
        if (batch.counts(i, t + 1)) {
          r[(i * p.seqLen + t) * p.vocab + batch.tokens()[i][t + 1]] -= 1.0;
        }
      }
    }
    return p.shaped(r);
  }

  /** {@code H_out u} row by row for the logits' softmax, as a {@code [B, T, V]} float64 array. */
  static INDArray gaussNewton(INDArray logits, double[] u, TokenBatch batch) {
    return Softmax.of(logits, batch).gaussNewton(u);
  }

  /**
   * The softmax {@code p} of every counted position of one batch's logits (zero rows elsewhere), computed once for
   * the {@code H_out} products of many vectors at the same parameters.
   */
  static final class Softmax {
    private final double[] p;
    private final boolean[] counted;   // per position row
    private final int batch, seqLen, vocab;

    private Softmax(double[] p, boolean[] counted, int batch, int seqLen, int vocab) {
      this.p = p;
      this.counted = counted;
      this.batch = batch;
      this.seqLen = seqLen;
      this.vocab = vocab;
    }

    static Softmax of(INDArray logits, TokenBatch batch) {
      double[] z = logits.dup('c').castTo(DataType.DOUBLE).data().asDouble();
      int seqLen = (int) logits.size(1);
      int vocab = (int) logits.size(2);
      double[] p = new double[z.length];
      boolean[] counted = new boolean[batch.size() * seqLen];
      for (int i = 0; i < batch.size(); i++) {
        for (int t = 0; t < seqLen; t++) {
          if (!batch.counts(i, t + 1)) {
            continue;
          }
          counted[i * seqLen + t] = true;
          int base = (i * seqLen + t) * vocab;
          double max = Double.NEGATIVE_INFINITY;
          for (int k = 0; k < vocab; k++) {
            max = Math.max(max, z[base + k]);
          }
          double sum = 0;
          for (int k = 0; k < vocab; k++) {
            p[base + k] = Math.exp(z[base + k] - max);
            sum += p[base + k];
          }
          for (int k = 0; k < vocab; k++) {
            p[base + k] /= sum;
          }
        }
      }
      return new Softmax(p, counted, batch.size(), seqLen, vocab);
    }

    /** {@code H_out u = p ⊙ (u − pᵀu)} per position ({@code u} is {@code [B, T, V]} flat); zero at uncounted rows. */
    INDArray gaussNewton(double[] u) {
      if (u.length != p.length) {
        throw new IllegalArgumentException("the logit tangent has " + u.length + " values, the logits " + p.length);
      }
      double[] r = new double[p.length];
      for (int row = 0; row < counted.length; row++) {
        if (!counted[row]) {
          continue;
        }
        int base = row * vocab;
        double pu = 0;
        for (int k = 0; k < vocab; k++) {
          pu += p[base + k] * u[base + k];
        }
        for (int k = 0; k < vocab; k++) {
          r[base + k] = p[base + k] * (u[base + k] - pu);
        }
      }
      return shaped(r);
    }

    private INDArray shaped(double[] r) {
      return Nd4j.create(r, new long[] {batch, seqLen, vocab}, 'c');
    }
  }
}
