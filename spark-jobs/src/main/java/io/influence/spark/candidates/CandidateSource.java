package io.influence.spark.candidates;

/** Where the candidates come from ({@code influence.candidates.source}). */
public enum CandidateSource {
  /** The lexical prefilter (TF-IDF or BM25 over the corpus text, {@link LexicalScorer}). */
  LEXICAL,
  /**
   * The top rows of an earlier, cheaper score output ({@code candidates.scores}: e.g. TracIn on a small projection):
   * the recall stage of a two-stage retrieval whose exact stage is this output's score.
   */
  SCORES
}
