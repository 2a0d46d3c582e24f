package io.influence.core.representer;

import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The predicted tokens of some sequences as the output head sees them: per token its features {@code f} (the final
 * hidden state entering {@code lm_head}, float64), its target {@code y} (the token it predicts) and the index of the
 * sequence it belongs to. Token order: sequence by sequence, positions in order; only positions that count in the
 * loss ({@link TokenBatch#counts}) are kept.
 *
 * @param dim      feature width {@code d}
 * @param features {@code [n, d]} row-major
 * @param targets  {@code [n]} token ids
 * @param sequence {@code [n]} index of the owning sequence, non-decreasing
 */
public record TokenFeatures(int dim, double[] features, int[] targets, int[] sequence) implements java.io.Serializable {

  public TokenFeatures {
    Objects.requireNonNull(features, "features");
    Objects.requireNonNull(targets, "targets");
    Objects.requireNonNull(sequence, "sequence");
    if (dim < 1 || features.length != (long) targets.length * dim || sequence.length != targets.length) {
      throw new IllegalArgumentException("features " + features.length + " / targets " + targets.length
          + " / sequence " + sequence.length + " do not describe n tokens of width " + dim);
    }
  }

  /** Number of tokens {@code n}. */
  public int size() {
    return targets.length;
  }

  /** Features as a {@code [n, d]} 'c' float64 array (a copy). */
  public INDArray matrix() {
    return org.nd4j.linalg.factory.Nd4j.create(features.clone(), new long[] {size(), dim}, 'c');
  }

  /** Features of token {@code i} (a copy). */
  public double[] row(int i) {
    return Arrays.copyOfRange(features, i * dim, (i + 1) * dim);
  }

  /**
   * The predicted tokens of {@code tokens} under {@code model} ({@code masks}: per sequence a loss mask aligned with
   * its tokens as in {@link TokenBatch}, or {@code null} for every position), {@code batchSize} sequences per forward
   * pass. The features have the model's precision (load it in float64 for exact checks).
   */
  public static TokenFeatures of(CausalLm model, List<int[]> tokens, List<int[]> masks, int batchSize) {
    if (masks != null && masks.size() != tokens.size()) {
      throw new IllegalArgumentException(masks.size() + " masks for " + tokens.size() + " sequences");
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }
    int d = model.config().hiddenSize();
    int n = 0;
    TokenBatch all = new TokenBatch(tokens.toArray(int[][]::new),
        masks == null ? null : masks.toArray(int[][]::new));
    for (int i = 0; i < all.size(); i++) {
      for (int t = 1; t < all.length(i); t++) {
        n += all.counts(i, t) ? 1 : 0;
      }
    }
    double[] f = new double[n * d];
    int[] y = new int[n];
    int[] seq = new int[n];
    int k = 0;
    for (int start = 0; start < tokens.size(); start += batchSize) {
      int end = Math.min(tokens.size(), start + batchSize);
      int[][] tb = new int[end - start][];
      int[][] mb = masks == null ? null : new int[end - start][];
      for (int i = start; i < end; i++) {
        tb[i - start] = tokens.get(i);
        if (mb != null) {
          mb[i - start] = masks.get(i);
        }
      }
      TokenBatch batch = new TokenBatch(tb, mb);
      int len = batch.maxLength();
      double[] h = model.finalHidden(batch).castTo(DataType.DOUBLE).dup('c').data().asDouble();  // [B, T, d]
      for (int b = 0; b < batch.size(); b++) {
        for (int t = 1; t < batch.length(b); t++) {
          if (!batch.counts(b, t)) {
            continue;
          }
          // the state at position t-1 predicts token t
          System.arraycopy(h, (b * len + t - 1) * d, f, k * d, d);
          y[k] = batch.tokens()[b][t];
          seq[k] = start + b;
          k++;
        }
      }
    }
    return new TokenFeatures(d, f, y, seq);
  }
}
