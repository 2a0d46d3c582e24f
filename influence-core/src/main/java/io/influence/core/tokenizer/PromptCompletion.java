package io.influence.core.tokenizer;

/**
 * A query as the model reads it: the prompt and the completion tokenised separately and concatenated, with a loss
 * mask over the completion's tokens (position {@code t} predicted from {@code t − 1}; position 0 predicts nothing).
 * Tokenising the two parts separately keeps the boundary where the user put it, whatever the BPE would merge.
 *
 * @param id       the query's id
 * @param tokens   prompt tokens, then completion tokens
 * @param lossMask 1 where the token is a predicted completion token, else 0; as long as {@code tokens}
 */
public record PromptCompletion(String id, int[] tokens, int[] lossMask) {

  public PromptCompletion {
    if (tokens.length != lossMask.length) {
      throw new IllegalArgumentException("query " + id + ": " + tokens.length + " tokens but a mask of "
          + lossMask.length);
    }
  }

  /**
   * Encodes one query with {@code tokenizer}; fails naming the query when it predicts no token (an empty completion,
   * or a one-token completion without a prompt: nothing to score it by) or does not fit {@code context} positions.
   */
  public static PromptCompletion encode(Tokenizer tokenizer, String id, String prompt, String completion,
      int context) {
    // as a document: the tokenizer's prefix (BOS) before the prompt, its suffix (EOS, if any) after the completion
    IntBuffer ids = new IntBuffer(16);
    ids.addAll(tokenizer.specialPrefix());
    ids.addAll(tokenizer.encode(prompt));
    int[] said = tokenizer.encode(completion);
    int promptLength = ids.size();
    ids.addAll(said);
    ids.addAll(tokenizer.specialSuffix());
    int[] t = ids.toArray();
    int[] m = new int[t.length];
    for (int i = Math.max(1, promptLength); i < t.length; i++) {
      m[i] = 1;
    }
    if (said.length == 0 || t.length < 2) {
      throw new IllegalArgumentException("query " + id + " has no completion token to predict (" + promptLength
          + " prompt and " + (t.length - promptLength) + " completion tokens): its loss would be 0 and every training sequence "
          + "would score 0. HINT: give it a non-empty completion, and a prompt or a completion of at least 2 tokens");
    }
    if (t.length > context) {
      throw new IllegalArgumentException("query " + id + " has " + t.length + " tokens, over the model's context of "
          + context);
    }
    return new PromptCompletion(id, t, m);
  }

  /** Completion tokens the loss counts. */
  public int predictedTokens() {
    int n = 0;
    for (int v : lossMask) {
      n += v;
    }
    return n;
  }
}
