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
    return rows(logits, batch, null);
  }

  /** {@code H_out u} row by row for the logits' softmax, as a {@code [B, T, V]} float64 array. */
  static INDArray gaussNewton(INDArray logits, double[] u, TokenBatch batch) {
    return rows(logits, batch, u);
  }

  private static INDArray rows(INDArray logits, TokenBatch batch, double[] u) {
    double[] z = logits.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    int seqLen = (int) logits.size(1);
    int vocab = (int) logits.size(2);
    double[] r = new double[z.length];
    double[] p = new double[vocab];
    for (int i = 0; i < batch.size(); i++) {
      for (int t = 0; t < seqLen; t++) {
        if (!batch.counts(i, t + 1)) {
          continue;
        }
        int base = (i * seqLen + t) * vocab;
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < vocab; k++) {
          max = Math.max(max, z[base + k]);
        }
        double sum = 0;
        for (int k = 0; k < vocab; k++) {
          p[k] = Math.exp(z[base + k] - max);
          sum += p[k];
        }
        for (int k = 0; k < vocab; k++) {
          p[k] /= sum;
        }
        if (u == null) {
          for (int k = 0; k < vocab; k++) {
            r[base + k] = p[k];
          }
          r[base + batch.tokens()[i][t + 1]] -= 1.0;
        } else {
          double pu = 0;
          for (int k = 0; k < vocab; k++) {
            pu += p[k] * u[base + k];
          }
          for (int k = 0; k < vocab; k++) {
            r[base + k] = p[k] * (u[base + k] - pu);
          }
        }
      }
    }
    return Nd4j.create(r, new long[] {batch.size(), seqLen, vocab}, 'c');
  }
}
