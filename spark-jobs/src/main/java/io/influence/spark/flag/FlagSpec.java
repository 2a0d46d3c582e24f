package io.influence.spark.flag;

import io.influence.spark.config.FlagSettings.Aggregate;
import io.influence.spark.score.QueryGradient;
import io.influence.spark.store.CheckpointWeights;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * What {@link FlagJob#run} computes: for every training sequence {@code z} of the gradient store and every example
 * {@code e}, {@code s_e(z) = Σ_i weights[i] · ⟨examples[e].perCheckpoint[i], g_i(z)⟩} (the score stage's score), normalised
 * by the norm of the weighted example vector (see io.influence.core.score.AggregateScorer); the mean and max over
 * the examples; a ranking by {@code aggregate} (or, with {@code selfInfluence}, by the mean of its quantile and the
 * self-influence quantile); and a flag on the {@code flagged} highest.
 *
 * @param store         gradient store
 * @param checkpoints   checkpoint names in the store, at least one, distinct
 * @param weights       one finite weight per checkpoint (the method's)
 * @param examples      the examples' scoring vectors (preconditioned by the method), ids distinct, at least one
 * @param aggregate     which aggregate ranks
 * @param selfInfluence null, or rows {@code (train_id, quantile)} of the self-influence stage, one per stored row:
 *                      the rank is then the mean of the aggregate's quantile and this one
 * @param fraction      fraction flagged, in [0, 1], used when {@code topK} is 0
 * @param topK          exactly this many flagged (at most all), or 0
 * @param blockRows     training rows per GEMM, {@code >= 1}
 * @param provenance    what {@code _flag.json} records beside the computed facts
 * @param output        folder for {@code flagged.parquet}, {@code flagged.jsonl} and {@code _flag.json}, or null
 * @param unit          unit-normalised gradients: each checkpoint's part of every stored row and of every example
 *                      divided by its norm first ({@code score.gradients} in force for the method), as the score
 *                      stage does
 * @param tokens        null: each sequence's score ({@code flag.span = sequence}, a pass over the store); else the
 *                      tokenised corpus and the run's checkpoints, and each sequence counts its positive per-position
 *                      terms ({@code positive-tokens}, {@link TokenFlag})
 */
public record FlagSpec(Path store, List<String> checkpoints, List<Double> weights, List<QueryGradient> examples,
                       Aggregate aggregate, Dataset<Row> selfInfluence, double fraction, int topK, int blockRows,
                       Provenance provenance, Path output, boolean unit, Tokens tokens) {

  /**
   * What {@code flag.span = positive-tokens} recomputes the per-position terms from.
   *
   * @param rows        the tokenised corpus {@code (id, tokens)}, as extract used it
   * @param checkpoints the run's checkpoints, one per name of {@link FlagSpec#checkpoints}, in that order
   */
  public record Tokens(Dataset<Row> rows, List<io.influence.checkpoints.RunCheckpoint> checkpoints) {
    public Tokens {
      Objects.requireNonNull(rows, "rows");
      checkpoints = List.copyOf(checkpoints);
    }
  }

  /** A spec of whole-sequence scores. */
  public FlagSpec(Path store, List<String> checkpoints, List<Double> weights, List<QueryGradient> examples,
                  Aggregate aggregate, Dataset<Row> selfInfluence, double fraction, int topK, int blockRows,
                  Provenance provenance, Path output, boolean unit) {
    this(store, checkpoints, weights, examples, aggregate, selfInfluence, fraction, topK, blockRows, provenance,
        output, unit, null);
  }

  /** A spec with raw gradients. */
  public FlagSpec(Path store, List<String> checkpoints, List<Double> weights, List<QueryGradient> examples,
                  Aggregate aggregate, Dataset<Row> selfInfluence, double fraction, int topK, int blockRows,
                  Provenance provenance, Path output) {
    this(store, checkpoints, weights, examples, aggregate, selfInfluence, fraction, topK, blockRows, provenance,
        output, false, null);
  }

  /**
   * Provenance written to {@code _flag.json}.
   *
   * @param method       the method word ("tracin", ...)
   * @param damping      the method's damping as set (mode and value, e.g. "relative 0.1"), or null
   * @param examplesFile where the examples were read from
   * @param settings     the settings fingerprint (the digest of the settings the output depends on)
   * @param solver       per example id, the iterative solver's report, or null
   */
  public record Provenance(String method, String damping, String examplesFile, String settings,
                           Map<String, String> solver) {

    public Provenance {
      solver = solver == null ? null : Map.copyOf(solver);
    }
  }

  public FlagSpec {
    CheckpointWeights.check(store, checkpoints, weights);
    if (tokens != null && tokens.checkpoints().size() != checkpoints.size()) {
      throw new IllegalArgumentException("flag.span = positive-tokens needs one run checkpoint per scored checkpoint, got "
          + tokens.checkpoints().size() + " for " + checkpoints);
    }
    checkpoints = List.copyOf(checkpoints);
    weights = List.copyOf(weights);
    examples = List.copyOf(Objects.requireNonNull(examples, "examples"));
    if (examples.isEmpty()) {
      throw new IllegalArgumentException("no examples to flag with");
    }
    Set<String> ids = new HashSet<>();
    for (QueryGradient e : examples) {
      if (!ids.add(e.id())) {
        throw new IllegalArgumentException("example id '" + e.id() + "' appears twice. HINT: give each example a unique id.");
      }
    }
    Objects.requireNonNull(aggregate, "aggregate");
    Objects.requireNonNull(provenance, "provenance");
    if (!(fraction >= 0 && fraction <= 1) || topK < 0) {
      throw new IllegalArgumentException("need fraction in [0, 1] and topK >= 0, got " + fraction + " and " + topK);
    }
    if (blockRows < 1) {
      throw new IllegalArgumentException("blockRows must be >= 1, got " + blockRows);
    }
  }

  /** How many of {@code n} ranked sequences are flagged. */
  public long flaggedOf(long n) {
    return topK > 0 ? Math.min(topK, n) : (long) Math.ceil(fraction * n - 1e-9);
  }
}
