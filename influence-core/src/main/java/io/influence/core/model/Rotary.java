package io.influence.core.model;

import io.influence.checkpoints.LlamaConfig;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Rotary position embedding (RoPE) of queries or keys in column-major {@code [heads·d, N]}
 * matrices, token {@code n = b·T + t} at position {@code t} (right padding: every sequence starts at 0).
 *
 * <p>Math (Hugging Face's "rotate_half" convention): with {@code h = d/2}, frequencies
 * {@code inv_i} from {@link LlamaConfig.Rope#inverseFrequencies} and angles {@code φ = t·inv_i},
 * per head, for {@code i < h}:
 * {@code o_i = x_i cos φ − x_{i+h} sin φ}, {@code o_{i+h} = x_{i+h} cos φ + x_i sin φ}. The map is a
 * rotation: backward applies its transpose ({@code φ → −φ}); the tangent is the map itself (linear).
 * Cosines and sines are computed once in float64 ({@code [T, h]}).
 */
final class Rotary {

  private final int d, half, seqLen;
  private final double[] cos, sin;   // [t·half + i]

  Rotary(LlamaConfig.Rope rope, int headDim, int seqLen) {
    this.d = headDim;
    this.half = headDim / 2;
    this.seqLen = seqLen;
    double[] inv = rope.inverseFrequencies(headDim);
    cos = new double[seqLen * half];
    sin = new double[seqLen * half];
    for (int t = 0; t < seqLen; t++) {
      for (int i = 0; i < half; i++) {
        double phi = (double) t * inv[i];
        cos[t * half + i] = Math.cos(phi);
        sin[t * half + i] = Math.sin(phi);
      }
    }
  }

  /** {@code out = R x} (forward and tangent); {@code out} may be {@code x}. */
  void rotate(INDArray x, INDArray out) {
    apply(x, out, 1.0);
  }

  /** {@code out = Rᵀ dy} (backward); {@code out} may be {@code dy}. */
  void rotateBack(INDArray dy, INDArray out) {
    apply(dy, out, -1.0);
  }

  private void apply(INDArray x, INDArray out, double sign) {
    int heads = (int) x.rows() / d;
    Vec vx = Vec.of(x);
    Vec vo = Vec.of(out);
    Elementwise.parallel((int) x.columns(), (from, to) -> {
      for (int j = from; j < to; j++) {
        int t = j % seqLen;
        for (int k = 0; k < heads; k++) {
          int ox = j * vx.ld + k * d;
          int oo = j * vo.ld + k * d;
          for (int i = 0; i < half; i++) {
            double c = cos[t * half + i];
            double s = sign * sin[t * half + i];
            double x1 = vx.get(ox + i);
            double x2 = vx.get(ox + i + half);
            vo.set(oo + i, x1 * c - x2 * s);
            vo.set(oo + i + half, x2 * c + x1 * s);
          }
        }
      }
    });
  }
}
