package io.influence.core.score;

import java.io.Serializable;
import java.util.List;

/*
 * Where one (query, training example) score comes from, in float64: per checkpoint and per layer.
 *
 * A wide row holds one example's stored gradients at C checkpoints, each flattened with one
 * LayerLayout of dimension D (row = [ckpt_0 | ckpt_1 | ... ], width C·D, float32); the query row has
 * the same layout, unweighted. With checkpoint weights w_i (learning rates for TracIn, 1 otherwise):
 *
 *   perCheckpoint[i] = w_i Σ_l ⟨q_il, g_il⟩,   perLayer[l] = Σ_i w_i ⟨q_il, g_il⟩,
 *   Σ_i perCheckpoint[i] = Σ_l perLayer[l] = Σ_i w_i ⟨q_i, g_i⟩  (the score BlockScorer ranked, in float32)
 *
 * Each layer's inner product is summed in float64 from the float32 values, one pass over the row.
 */
public record ScoreSplit(double[] perCheckpoint, double[] perLayer) implements Serializable {

  private static final long serialVersionUID = 1L;

  /**
   * Splits {@code Σ_i w_i ⟨q_i, g_i⟩} for the query starting at {@code query[queryStart]} and the wide
   * {@code row}, both {@code weights.length × layout.dim()} values laid out as in the class comment.
   */
  public static ScoreSplit of(LayerLayout layout, double[] weights, float[] query, int queryStart, float[] row) {
    return of(layout, weights, query, queryStart, row, 0);
  }

  /** {@link #of(LayerLayout, double[], float[], int, float[])} of the wide row starting at {@code row[rowStart]}. */
  public static ScoreSplit of(LayerLayout layout, double[] weights, float[] query, int queryStart, float[] row,
      int rowStart) {
    int d = layout.dim();
    int c = weights.length;
    if (rowStart < 0 || row.length - rowStart < (long) c * d || queryStart < 0
        || query.length - queryStart < (long) c * d) {
      throw new IllegalArgumentException("a query and a row of " + c + " checkpoints x " + d + " values do not fit in "
          + (query.length - queryStart) + " query values and " + (row.length - rowStart) + " row values");
    }
    List<String> layers = layout.layers();
    double[] perCheckpoint = new double[c];
    double[] perLayer = new double[layers.size()];
    for (int i = 0; i < c; i++) {
      for (int l = 0; l < layers.size(); l++) {
        int from = i * d + layout.offset(layers.get(l));
        int to = from + layout.size(layers.get(l));
        double s = 0;
        for (int j = from; j < to; j++) {
          s += (double) query[queryStart + j] * row[rowStart + j];
        }
        perCheckpoint[i] += weights[i] * s;
        perLayer[l] += weights[i] * s;
      }
    }
    return new ScoreSplit(perCheckpoint, perLayer);
  }
}
