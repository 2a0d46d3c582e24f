package io.influence.spark.config;

import com.typesafe.config.Config;
import java.util.Optional;

/**
 * The {@code influence.flag} block: harmful-data flagging ({@code influence flag}).
 *
 * @param examples  examples of unwanted behaviour (JSON Lines or Parquet with id, prompt, completion), or none
 * @param method    the influence method (as {@code score.method})
 * @param aggregate which aggregate over the examples ranks the training sequences
 * @param combine   whether the rank is combined with self-influence
 * @param fraction  fraction of the corpus flagged (highest score), in [0, 1]; used when {@code topK} is 0
 * @param topK      exactly this many flagged (0 = use {@code fraction})
 * @param blockRows training rows per GEMM block on an executor
 * @param folder    the folder under {@code output.dir} the flags go to (a plain name)
 * @param span      what of a training sequence an example's score counts: the whole sequence or its positive tokens
 */
public record FlagSettings(Optional<String> examples, Method method, Aggregate aggregate,
                           CombineSelfInfluence combine, double fraction, int topK, int blockRows, String folder,
                           Span span) {

  /** {@code flag.span}. */
  public enum Span {
    /** The sequence's score: the sum of every position's term (one pass over the gradient store). */
    SEQUENCE,
    /**
     * The sum of the positive per-position terms {@code c_t} of the score (the report's token contributions): the
     * largest score of any subset of the sequence's positions, so a short harmful span is not cancelled by the rest
     * of the sequence. One forward/backward pass over the corpus per checkpoint instead of a store pass.
     */
    POSITIVE_TOKENS
  }

  /** {@code flag.aggregate}. */
  public enum Aggregate {
    /** Mean over the examples of the normalised scores: sequences that support many unwanted examples. */
    MEAN,
    /** The largest normalised score: sequences that support one unwanted example strongly. */
    MAX
  }

  /** {@code flag.combine-self-influence}. */
  public enum CombineSelfInfluence {
    /** The aggregate alone. */
    NONE,
    /** The mean of the aggregate's quantile and the self-influence quantile (from the self-influence stage). */
    RANK_MEAN
  }

  public FlagSettings {
    java.util.Objects.requireNonNull(span, "influence.flag.span");
    if (!(fraction >= 0 && fraction <= 1)) {
      throw new IllegalArgumentException("influence.flag.fraction must be in [0, 1], got " + fraction);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("influence.flag.top-k must be >= 0 (0 = use flag.fraction), got " + topK);
    }
    if (blockRows < 1) {
      throw new IllegalArgumentException("influence.flag.block-rows must be >= 1, got " + blockRows);
    }
    if (!folder.matches("[A-Za-z0-9][A-Za-z0-9._-]*") || ScoreSettings.RESERVED.contains(folder)) {
      throw new IllegalArgumentException("influence.flag.folder = \"" + folder + "\" must be a plain folder name "
          + "(letters, digits, . _ -) other than " + String.join(", ", ScoreSettings.RESERVED) + ". HINT: e.g. flag");
    }
  }

  static FlagSettings from(Config c) {
    return new FlagSettings(c.getIsNull("flag.examples") ? Optional.empty() : Optional.of(c.getString("flag.examples")),
        Choices.parse(Method.class, "flag.method", c.getString("flag.method")),
        Choices.parse(Aggregate.class, "flag.aggregate", c.getString("flag.aggregate")),
        Choices.parse(CombineSelfInfluence.class, "flag.combine-self-influence",
            c.getString("flag.combine-self-influence")),
        c.getDouble("flag.fraction"), c.getInt("flag.top-k"), c.getInt("flag.block-rows"), c.getString("flag.folder"),
        Choices.parse(Span.class, "flag.span", c.getString("flag.span")));
  }

  /** The examples file, which {@code stage} needs; the error names the key and how to give it. */
  public String examples(String stage) {
    return examples.orElseThrow(() -> new IllegalArgumentException("influence.flag.examples is required for " + stage
        + ". HINT: pass --examples FILE (JSON Lines or Parquet with id, prompt, completion) or set it in your "
        + "settings file"));
  }
}
