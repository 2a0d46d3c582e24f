package io.influence.core.model;

import java.util.Objects;

/**
 * A batch of token sequences of possibly unequal lengths, with an optional per-token loss mask.
 *
 * <p>{@code tokens[i]} is sequence {@code i} (its length is its real length; the model right-pads
 * internally). {@code lossMask[i][t]} is 0 or 1 and says whether the prediction of token
 * {@code t} from tokens {@code 0..t-1} counts in the loss; it is aligned with {@code tokens[i]}
 * and its entry 0 is ignored (nothing predicts the first token). A {@code null} mask counts every
 * position {@code t >= 1}, so the loss is {@code L(z) = Σ_{t>=1} −log p(x_t | x_<t)}. For a query
 * (prompt + completion) set the mask to 1 on completion tokens only.
 *
 * <p>Arrays are not copied; do not modify them while the batch is in use.
 */
public record TokenBatch(int[][] tokens, int[][] lossMask) {

  public TokenBatch {
    Objects.requireNonNull(tokens, "tokens");
    if (tokens.length == 0) {
      throw new IllegalArgumentException("empty batch; HINT: pass at least one sequence");
    }
    for (int i = 0; i < tokens.length; i++) {
      if (tokens[i] == null || tokens[i].length == 0) {
        throw new IllegalArgumentException("example " + i + " has no tokens; HINT: drop empty sequences before batching");
      }
    }
    if (lossMask != null) {
      if (lossMask.length != tokens.length) {
        throw new IllegalArgumentException("lossMask has " + lossMask.length + " rows but the batch has "
            + tokens.length + " sequences");
      }
      for (int i = 0; i < tokens.length; i++) {
        if (lossMask[i] == null || lossMask[i].length != tokens[i].length) {
          throw new IllegalArgumentException("example " + i + ": lossMask length "
              + (lossMask[i] == null ? "null" : lossMask[i].length) + " differs from its token count " + tokens[i].length
              + "; HINT: the mask is aligned with the tokens (entry t covers the prediction of token t)");
        }
        for (int t = 0; t < lossMask[i].length; t++) {
          if (lossMask[i][t] != 0 && lossMask[i][t] != 1) {
            throw new IllegalArgumentException("example " + i + ": lossMask[" + t + "] = " + lossMask[i][t]
                + " must be 0 or 1");
          }
        }
      }
    }
  }

  /** Every position {@code t >= 1} counts. */
  public static TokenBatch of(int[]... tokens) {
    return new TokenBatch(tokens, null);
  }

  public int size() {
    return tokens.length;
  }

  public int length(int i) {
    return tokens[i].length;
  }

  public int maxLength() {
    int m = 0;
    for (int[] t : tokens) {
      m = Math.max(m, t.length);
    }
    return m;
  }

  /** Whether the prediction of token {@code t} of example {@code i} counts ({@code t >= 1}). */
  public boolean counts(int i, int t) {
    return t >= 1 && t < tokens[i].length && (lossMask == null || lossMask[i][t] == 1);
  }

  /** The batch made of example {@code i} alone. */
  public TokenBatch single(int i) {
    return new TokenBatch(new int[][] {tokens[i]}, lossMask == null ? null : new int[][] {lossMask[i]});
  }

  /**
   * Checks the batch against a model's context length and vocabulary.
   *
   * @throws IllegalArgumentException naming the example (and position) that does not fit
   */
  void requireFits(int nPositions, int vocabSize) {
    for (int i = 0; i < tokens.length; i++) {
      int[] t = tokens[i];
      if (t.length > nPositions) {
        throw new IllegalArgumentException("example " + i + " has " + t.length + " tokens but n_positions is "
            + nPositions + "; HINT: truncate or window sequences to at most n_positions tokens");
      }
      for (int j = 0; j < t.length; j++) {
        if (t[j] < 0 || t[j] >= vocabSize) {
          throw new IllegalArgumentException("example " + i + ", position " + j + ": token id " + t[j]
              + " is outside [0, " + vocabSize + "); HINT: tokenise with the checkpoint's tokenizer");
        }
      }
    }
  }
}
