package io.influence.core.hvp;

import io.influence.core.model.TokenBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The fixed training set whose mean loss {@code L(θ) = (1/N) Σ_n L(z_n; θ)} a Hessian operator
 * differentiates, with the batch size used to evaluate it. {@code L(z_n)} is the summed next-token loss
 * of sequence {@code n}, restricted by its 0/1 loss mask when one is given (see {@link TokenBatch}).
 *
 * @param tokens    the sequences (not copied; do not modify them while an operator uses them)
 * @param lossMasks {@code null}, or one entry per sequence, each {@code null} (every position counts)
 *                  or a mask aligned with the tokens
 * @param batchSize sequences per forward/backward pass
 */
public record TrainingSequences(List<int[]> tokens, List<int[]> lossMasks, int batchSize) {

  public TrainingSequences {
    if (tokens == null || tokens.isEmpty()) {
      throw new IllegalArgumentException("no training sequences; HINT: the Hessian of the mean loss needs at least one");
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
    }
    if (lossMasks != null && lossMasks.size() != tokens.size()) {
      throw new IllegalArgumentException(lossMasks.size() + " loss masks for " + tokens.size()
          + " sequences; HINT: give one mask (or null) per sequence, or null for none");
    }
    tokens = List.copyOf(tokens);
    lossMasks = lossMasks == null ? null : java.util.Collections.unmodifiableList(new ArrayList<>(lossMasks));
  }

  /**
   * Checks every sequence against the model's vocabulary and context; throws
   * IllegalArgumentException naming the sequence index and how to fix it.
   */
  void validate(io.influence.core.model.CausalLm model) {
    int vocab = model.config().vocabSize();
    int ctx = model.config().maxPositions();
    for (int n = 0; n < tokens.size(); n++) {
      int[] t = tokens.get(n);
      if (t == null || t.length == 0) {
        throw new IllegalArgumentException("training sequence " + n + " is empty; HINT: drop empty sequences");
      }
      if (t.length > ctx) {
        throw new IllegalArgumentException("training sequence " + n + " has " + t.length + " tokens but n_positions is "
            + ctx + "; HINT: truncate or window sequences to at most n_positions tokens");
      }
      for (int j = 0; j < t.length; j++) {
        if (t[j] < 0 || t[j] >= vocab) {
          throw new IllegalArgumentException("training sequence " + n + ", position " + j + ": token id " + t[j]
              + " is outside [0, " + vocab + "); HINT: tokenise with the checkpoint's tokenizer");
        }
      }
    }
  }

  /** Every position {@code t >= 1} of every sequence counts. */
  public static TrainingSequences of(List<int[]> tokens, int batchSize) {
    return new TrainingSequences(tokens, null, batchSize);
  }

  public int size() {
    return tokens.size();
  }

  /** The sequences in order, cut into batches of {@link #batchSize()} (validated by {@link TokenBatch}). */
  public List<TokenBatch> batches() {
    List<TokenBatch> out = new ArrayList<>();
    for (int start = 0; start < tokens.size(); start += batchSize) {
      int end = Math.min(tokens.size(), start + batchSize);
      int[][] t = tokens.subList(start, end).toArray(new int[0][]);
      int[][] m = null;
      if (lossMasks != null && lossMasks.subList(start, end).stream().anyMatch(x -> x != null)) {
        m = new int[end - start][];
        for (int i = start; i < end; i++) {
          int[] mask = lossMasks.get(i);
          if (mask == null) {
            mask = new int[t[i - start].length];
            Arrays.fill(mask, 1);
          }
          m[i - start] = mask;
        }
      }
      try {
        out.add(new TokenBatch(t, m));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("training sequences " + start + ".." + (end - 1) + " (\"example i\" below is "
            + "sequence " + start + " + i): " + e.getMessage(), e);
      }
    }
    return out;
  }
}
