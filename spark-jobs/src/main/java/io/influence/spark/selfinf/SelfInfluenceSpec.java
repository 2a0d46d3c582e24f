package io.influence.spark.selfinf;

import io.influence.core.grad.Preconditioner;
import io.influence.spark.io.Locations;
import java.util.List;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * What {@link SelfInfluenceJob#run} computes: per training example
 * {@code score = Σ_i weights[i] · ⟨g_i, P_i g_i⟩} over the named checkpoints of the gradient store
 * ({@code P = identity} when {@code preconditioner} is null: TracInCP self-influence {@code Σ_i η_i ‖g_i‖²}),
 * its exact quantile, and a flag on the {@code ceil(flagFraction · n)} highest scores.
 *
 * @param store         gradient store (io.influence.spark.store.GradientStore); paths are on any Hadoop file
 *                      system ({@link Locations#resolve})
 * @param checkpoints   checkpoint names, at least one, distinct
 * @param weights       one finite weight per checkpoint (TracIn: learning rates)
 * @param flagFraction  fraction of examples flagged, in [0, 1] (default {@value #DEFAULT_FLAG_FRACTION})
 * @param preconditioner applied to each train gradient, or null for the identity
 * @param output        folder for Parquet rows and {@code summary.jsonl}, or null to write nothing
 * @param lossTokens    null (scores of the summed sequence loss), or {@code (id: string, n: int)} rows giving each
 *                      training example's number of predicted tokens: each score is then divided by its {@code n}
 *                      (per-token self-influence); every scored id must have a row with {@code n >= 1}
 */
public record SelfInfluenceSpec(Path store, List<String> checkpoints, List<Double> weights, double flagFraction,
    Preconditioner.PerCheckpoint preconditioner, Path output, Dataset<Row> lossTokens) {

  /** Self-influence of the summed sequence loss (no per-token normalisation). */
  public SelfInfluenceSpec(Path store, List<String> checkpoints, List<Double> weights, double flagFraction,
                           Preconditioner.PerCheckpoint preconditioner, Path output) {
    this(store, checkpoints, weights, flagFraction, preconditioner, output, null);
  }

  public static final double DEFAULT_FLAG_FRACTION = 0.05;

  public SelfInfluenceSpec {
    io.influence.spark.store.CheckpointWeights.check(store, checkpoints, weights);
    checkpoints = List.copyOf(checkpoints);
    weights = List.copyOf(weights);
    if (!(flagFraction >= 0 && flagFraction <= 1)) {
      throw new IllegalArgumentException("flagFraction must be in [0, 1], got " + flagFraction);
    }
  }

  /** TracInCP self-influence (identity preconditioner), flagging the top {@value #DEFAULT_FLAG_FRACTION}. */
  public static SelfInfluenceSpec tracIn(Path store, List<String> checkpoints, List<Double> learningRates, Path output) {
    return new SelfInfluenceSpec(store, checkpoints, learningRates, DEFAULT_FLAG_FRACTION, null, output);
  }

  /** A spec with a local store and output folder (or null). */
  public SelfInfluenceSpec(java.nio.file.Path store, List<String> checkpoints, List<Double> weights,
      double flagFraction, Preconditioner.PerCheckpoint preconditioner, java.nio.file.Path output, Dataset<Row> lossTokens) {
    this(Locations.local(store), checkpoints, weights, flagFraction, preconditioner,
        output == null ? null : Locations.local(output), lossTokens);
  }

  /** A spec with a local store and output folder (or null), of the summed sequence loss. */
  public SelfInfluenceSpec(java.nio.file.Path store, List<String> checkpoints, List<Double> weights,
      double flagFraction, Preconditioner.PerCheckpoint preconditioner, java.nio.file.Path output) {
    this(store, checkpoints, weights, flagFraction, preconditioner, output, null);
  }

  /** {@link #tracIn(Path, List, List, Path)} with a local store and output folder (or null). */
  public static SelfInfluenceSpec tracIn(java.nio.file.Path store, List<String> checkpoints,
      List<Double> learningRates, java.nio.file.Path output) {
    return new SelfInfluenceSpec(store, checkpoints, learningRates, DEFAULT_FLAG_FRACTION, null, output);
  }
}
