package io.influence.spark.candidates;

/** What the candidate prefilter counts as a term ({@code influence.candidates.tokens}). */
public enum CandidateTokens {
  /**
   * Words: the text lower-cased and split on every character that is not a Unicode letter or digit (MLlib
   * {@code RegexTokenizer}); the corpus rows need {@code text}.
   */
  WORDS,
  /**
   * The checkpoint's tokenizer: each token id is a term ({@code input_ids} as given, {@code text} encoded with the
   * first checkpoint's {@code tokenizer.json}).
   */
  TOKENIZER
}
