package io.influence.spark.selfinf;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@link SelfInfluenceJob#run} computes: per training example
 * {@code score = Σ_i weights[i] · ⟨g_i, P_i g_i⟩} over the named checkpoints of the gradient store
 * ({@code P = identity} when {@code preconditioner} is null: TracInCP self-influence {@code Σ_i η_i ‖g_i‖²}),
 * its exact quantile, and a flag on the {@code ceil(flagFraction · n)} highest scores.
 *
 * @param store         gradient store (io.influence.spark.store.GradientStore)
 * @param checkpoints   checkpoint names, at least one, distinct
 * @param weights       one finite weight per checkpoint (TracIn: learning rates)
 * @param flagFraction  fraction of examples flagged, in [0, 1] (default {@value #DEFAULT_FLAG_FRACTION})
 * @param preconditioner applied to each train gradient, or null for the identity
 * @param output        folder for Parquet rows and {@code summary.jsonl}, or null to write nothing
 */
public record SelfInfluenceSpec(Path store, List<String> checkpoints, List<Double> weights, double flagFraction,
    SelfPreconditioner preconditioner, Path output) {

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
}
