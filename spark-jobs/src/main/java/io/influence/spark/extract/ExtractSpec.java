package io.influence.spark.extract;

import io.influence.checkpoints.TrainingRun;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.ExtractSettings.Projection;
import io.influence.spark.io.Locations;
import io.influence.spark.store.OptimizerPreconditioning;
import java.util.List;
import java.util.Objects;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * What {@link ExtractJob#run} computes.
 *
 * @param corpus     rows {@code (id, text, input_ids)} as {@link io.influence.spark.io.Corpus} reads them
 * @param run        the checkpoints, with their learning rates
 * @param store      gradient store folder (any Hadoop file system; {@link Locations#resolve})
 * @param projection Kronecker projection sizes and seed, or null for full per-example gradients
 * @param layers     tracked layers, or null for every linear layer of the blocks
 * @param batchSize  sequences per forward/backward pass inside a task
 * @param badRows    what to do with rows that cannot be used (empty, too long, unknown token ids)
 * @param longText   what a row longer than the model's context becomes (windows, truncated, or a bad row)
 * @param candidates the corpus row ids to extract (a partial store, {@code extract.candidates = true}; see
 *                   {@link io.influence.spark.store.CandidateCoverage}), or null for every row
 * @param preconditioning what the gradients are divided by before the projection (Adam's {@code √v̂ + ε} from each
 *                   checkpoint's {@code optimizer.safetensors}, or nothing)
 */
public record ExtractSpec(Dataset<Row> corpus, TrainingRun run, Path store, Projection projection, List<String> layers,
                          int batchSize, BadRows badRows, LongText longText, java.util.Set<String> candidates,
                          OptimizerPreconditioning preconditioning) {

  public ExtractSpec {
    Objects.requireNonNull(corpus, "corpus");
    Objects.requireNonNull(run, "run");
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(badRows, "badRows");
    Objects.requireNonNull(longText, "longText");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
    }
    layers = layers == null ? null : List.copyOf(layers);
    candidates = candidates == null ? null : java.util.Set.copyOf(candidates);
    preconditioning = preconditioning == null ? OptimizerPreconditioning.NONE : preconditioning;
  }

  /** A spec without optimizer preconditioning. */
  public ExtractSpec(Dataset<Row> corpus, TrainingRun run, Path store, Projection projection, List<String> layers,
                     int batchSize, BadRows badRows, LongText longText, java.util.Set<String> candidates) {
    this(corpus, run, store, projection, layers, batchSize, badRows, longText, candidates, OptimizerPreconditioning.NONE);
  }

  /** This spec with the gradients divided by {@code p} before the projection. */
  public ExtractSpec withPreconditioning(OptimizerPreconditioning p) {
    return new ExtractSpec(corpus, run, store, projection, layers, batchSize, badRows, longText, candidates, p);
  }

  /** A spec over every corpus row (an exhaustive store). */
  public ExtractSpec(Dataset<Row> corpus, TrainingRun run, Path store, Projection projection, List<String> layers,
                     int batchSize, BadRows badRows, LongText longText) {
    this(corpus, run, store, projection, layers, batchSize, badRows, longText, null);
  }

  /** This spec extracting only the corpus rows {@code ids} into a partial store. */
  public ExtractSpec withCandidates(java.util.Set<String> ids) {
    return new ExtractSpec(corpus, run, store, projection, layers, batchSize, badRows, longText,
        Objects.requireNonNull(ids, "candidate ids"), preconditioning);
  }

  /** A spec writing to a local store. */
  public ExtractSpec(Dataset<Row> corpus, TrainingRun run, java.nio.file.Path store, Projection projection,
                     List<String> layers, int batchSize, BadRows badRows, LongText longText) {
    this(corpus, run, Locations.local(store), projection, layers, batchSize, badRows, longText);
  }
}
