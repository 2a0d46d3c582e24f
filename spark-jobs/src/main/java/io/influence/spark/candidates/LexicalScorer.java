package io.influence.spark.candidates;

/**
 * How the candidate prefilter scores a training row against a query's text ({@code influence.candidates.scorer}).
 */
public enum LexicalScorer {
  /**
   * Cosine of TF-IDF vectors: term counts (MLlib {@code CountVectorizer}, or {@code HashingTF} with
   * {@code num-features > 0}) times MLlib's smoothed idf {@code ln((N + 1) / (n(t) + 1))}, each vector L2-normalised.
   */
  TFIDF,
  /** Okapi BM25 (k1 = 1.2, b = 0.75, Lucene's idf; io.influence.core.lexical.Bm25) on the same term counts. */
  BM25
}
