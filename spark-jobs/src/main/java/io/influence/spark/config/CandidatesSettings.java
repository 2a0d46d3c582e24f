package io.influence.spark.config;

import com.typesafe.config.Config;
import io.influence.spark.candidates.CandidateSource;
import io.influence.spark.candidates.CandidateTokens;
import io.influence.spark.candidates.LexicalScorer;

/**
 * The {@code influence.candidates} block: the lexical candidate prefilter (io.influence.spark.candidates).
 *
 * @param scorer      TF-IDF cosine or BM25
 * @param tokens      words or the checkpoint's tokenizer
 * @param topM        candidates kept per query (used when {@code fraction} is 0)
 * @param fraction    when {@code > 0}: candidates per query = ⌈fraction × corpus rows⌉ instead of {@code topM}
 * @param numFeatures 0: an exact vocabulary (MLlib CountVectorizer); N > 0: terms hashed into N buckets (MLlib
 *                    HashingTF; colliding terms count as one)
 * @param source      the lexical prefilter, or the top rows of an earlier score output
 * @param scores      with {@link CandidateSource#SCORES}: that score folder's location (required then)
 */
public record CandidatesSettings(LexicalScorer scorer, CandidateTokens tokens, int topM, double fraction,
    int numFeatures, CandidateSource source, java.util.Optional<String> scores) {

  /** The lexical prefilter. */
  public CandidatesSettings(LexicalScorer scorer, CandidateTokens tokens, int topM, double fraction, int numFeatures) {
    this(scorer, tokens, topM, fraction, numFeatures, CandidateSource.LEXICAL, java.util.Optional.empty());
  }

  public CandidatesSettings {
    if (topM < 1) {
      throw new IllegalArgumentException("influence.candidates.top-m must be >= 1, got " + topM);
    }
    if (!(fraction >= 0 && fraction <= 1)) {
      throw new IllegalArgumentException("influence.candidates.fraction must be in [0, 1] (0 = use top-m), got "
          + fraction);
    }
    if (source == CandidateSource.SCORES && scores.isEmpty()) {
      throw new IllegalArgumentException("influence.candidates.source = scores needs influence.candidates.scores. "
          + "HINT: set it to the score folder of the recall run, e.g. out-small/scores");
    }
    if (numFeatures < 0) {
      throw new IllegalArgumentException("influence.candidates.num-features must be >= 0 (0 = exact vocabulary), got "
          + numFeatures + ". HINT: e.g. 262144 to hash terms into 2^18 buckets");
    }
  }

  /** Candidates per query for a corpus of {@code rows} rows. */
  public int m(long rows) {
    return fraction > 0 ? (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.ceil(fraction * rows))) : topM;
  }

  static CandidatesSettings from(Config c) {
    Config b = c.getConfig("candidates");
    return new CandidatesSettings(Choices.parse(LexicalScorer.class, "candidates.scorer", b.getString("scorer")),
        Choices.parse(CandidateTokens.class, "candidates.tokens", b.getString("tokens")), b.getInt("top-m"),
        b.getDouble("fraction"), b.getInt("num-features"),
        Choices.parse(CandidateSource.class, "candidates.source", b.getString("source")),
        b.getIsNull("scores") ? java.util.Optional.empty() : java.util.Optional.of(b.getString("scores")));
  }
}
