package io.influence.core.model;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The masked next-token cross-entropy of a right-padded batch {@code [B, T]} and its gradient with
 * respect to the logits, in place. Nothing here depends on the model family.
 *
 * <p>Layout: logits are column-major {@code [V, N]} with {@code N = B·T}; column
 * {@code n = b·T + t} predicts token {@code t+1} of example {@code b} with weight
 * {@code w_n ∈ {0,1}} (the loss mask, and 0 past the example's end). The loss of example {@code b}
 * is {@code Σ_t w_n (log Σ_v e^{z_v} − z_target)}, summed in float64; the gradient is
 * {@code dlogits = w ⊙ (softmax − onehot)}, so padded columns get exactly zero gradient.
 *
 * <p>The vocabulary softmax stays on ND4J (its vectorised exp over V·N entries beats a scalar Java
 * loop); rows of the transposed view ('c' {@code [N, V]}) are contiguous, so reductions and
 * broadcasts run row-wise. Not thread-safe.
 */
final class NextTokenLoss {

  private final DataType dt;
  private final int batch, seqLen, n;
  private final int[] targets;      // [N], -1 for none
  private final INDArray weights;   // [N], 1 where a target counts
  private final long[] exampleKeys; // [B], a hash of each example's tokens (seeds its sampled labels)
  private GradientRequest.Labels labels = GradientRequest.Labels.OBSERVED;

  NextTokenLoss(DataType dt, int batch, int seqLen) {
    this.dt = dt;
    this.batch = batch;
    this.seqLen = seqLen;
    this.n = batch * seqLen;
    this.targets = new int[n];
    this.weights = Nd4j.create(dt, n);
    this.exampleKeys = new long[batch];
  }

  /** Which labels the next {@link #lossAndGradient} differentiates against (observed until set). */
  void useLabels(GradientRequest.Labels l) {
    labels = l == null ? GradientRequest.Labels.OBSERVED : l;
  }

  /** Sets each column's target token and weight from the batch's tokens and loss mask. */
  void setTargets(TokenBatch tb) {
    double[] w = new double[n];
    for (int b = 0; b < batch; b++) {
      long key = 0x9E3779B97F4A7C15L;
      for (int t = 0; t < tb.length(b); t++) {
        key = (key ^ tb.tokens()[b][t]) * 0xBF58476D1CE4E5B9L;
      }
      exampleKeys[b] = key;
      for (int t = 0; t < seqLen; t++) {
        int k = b * seqLen + t;
        targets[k] = tb.counts(b, t + 1) ? tb.tokens()[b][t + 1] : -1;
        w[k] = targets[k] >= 0 ? 1 : 0;
      }
    }
    weights.assign(Nd4j.create(w).castTo(dt));
  }

  /**
   * After {@link #setTargets}: turns {@code logits} ({@code [V, N]} 'f') into {@code dL/dlogits} in
   * place and returns the per-example losses.
   *
   * @throws IllegalStateException when an example's loss is not finite
   */
  double[] lossAndGradient(INDArray logits) {
    INDArray lt = logits.transpose();
    INDArray max = lt.max(1);
    lt.subiColumnVector(col(max));
    Vec vl = Vec.of(logits);   // (v, k) at v + k·ld: no per-element JNI calls
    double[] shifted = new double[n];
    for (int k = 0; k < n; k++) {
      if (targets[k] >= 0) {
        shifted[k] = vl.get(targets[k] + k * vl.ld);
      }
    }
    Transforms.exp(logits, false);
    INDArray sum = lt.sum(1);
    double[] sums = sum.castTo(DataType.DOUBLE).toDoubleVector();
    lt.diviColumnVector(col(sum));
    double[] losses = new double[batch];
    for (int k = 0; k < n; k++) {
      if (targets[k] >= 0) {
        losses[k / seqLen] += Math.log(sums[k]) - shifted[k];
        int label = labels.sampled() ? sample(vl, k, (int) logits.rows()) : targets[k];
        int at = label + k * vl.ld;
        vl.set(at, vl.get(at) - 1.0);
      }
    }
    lt.muliColumnVector(col(weights));
    for (int b = 0; b < batch; b++) {
      if (!Double.isFinite(losses[b])) {
        throw new IllegalStateException("example " + b + ": loss is " + losses[b]
            + "; HINT: the parameters contain NaN/Inf or overflow (check the checkpoint or the learning rate)");
      }
    }
    return losses;
  }

  /**
   * Puts {@code dLogits} ({@code [B, T, V]}, any float type) into {@code logits} ({@code [V, N]}) as
   * {@code dL/dlogits}, with the columns past each example's end set to zero (causal attention would
   * otherwise carry them back into real positions).
   */
  void setGradient(INDArray logits, INDArray dLogits, TokenBatch tb) {
    logits.transpose().assign(dLogits.reshape('c', n, logits.rows()).castTo(dt));
    for (int b = 0; b < batch; b++) {
      int len = tb.length(b);
      if (len < seqLen) {
        Blas.cols(logits, b * seqLen + len, (b + 1) * seqLen).assign(0);
      }
    }
  }

  /**
   * A label for column {@code k} drawn from its softmax (already in {@code vl}) by inverse CDF, with a generator
   * seeded by the labels' seed, the example's tokens and the position.
   */
  private int sample(Vec vl, int k, int vocab) {
    long mixed = labels.seed() * 0x94D049BB133111EBL ^ exampleKeys[k / seqLen] ^ (long) (k % seqLen) * 0xD6E8FEB86659FD93L;
    double u = new java.util.SplittableRandom(mixed).nextDouble();
    double cdf = 0;
    for (int v = 0; v < vocab; v++) {
      cdf += vl.get(v + k * vl.ld);
      if (u < cdf) {
        return v;
      }
    }
    return vocab - 1;   // u beyond the rounded total
  }

  private static INDArray col(INDArray v) {
    return v.reshape(v.length(), 1);
  }

  /** Refuses a logits gradient that is not {@code [B, T, V]} for {@code batch} or holds NaN or Inf. */
  static void requireLogitGradient(INDArray dLogits, TokenBatch batch, int vocab) {
    long[] want = {batch.size(), batch.maxLength(), vocab};
    if (dLogits == null || !Arrays.equals(dLogits.shape(), want)) {
      throw new IllegalArgumentException("dLogits has shape "
          + (dLogits == null ? "null" : Arrays.toString(dLogits.shape())) + " but the batch needs "
          + Arrays.toString(want) + "; HINT: [batch size, longest sequence, vocab_size], the shape "
          + "CausalLm.logits returns");
    }
    if (!Elementwise.allFinite(dLogits)) {
      throw new IllegalArgumentException("dLogits contains NaN or Inf; HINT: check the computation of the logits "
          + "gradient (e.g. a softmax of overflowing logits)");
    }
  }
}
