package io.influence.spark.extract;

import io.influence.checkpoints.TrainingRun;
import io.influence.spark.io.Locations;
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
 */
public record ExtractSpec(Dataset<Row> corpus, TrainingRun run, Path store, Projection projection, List<String> layers,
                          int batchSize, BadRowPolicy badRows) {

  /** Rows that cannot be used either stop the job (naming them) or are left out and reported. */
  public enum BadRowPolicy { FAIL, SKIP }

  /** Seeded Gaussian Kronecker projection to {@code [kOut, kIn]} per layer (LoGra-style). */
  public record Projection(int kIn, int kOut, long seed) implements java.io.Serializable {
    public Projection {
      if (kIn < 1 || kOut < 1) {
        throw new IllegalArgumentException("projection sizes must be >= 1, got kIn=" + kIn + " kOut=" + kOut);
      }
    }

    public String description() {
      return "kronecker-gaussian " + kOut + "x" + kIn;
    }
  }

  public ExtractSpec {
    Objects.requireNonNull(corpus, "corpus");
    Objects.requireNonNull(run, "run");
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(badRows, "badRows");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
    }
    layers = layers == null ? null : List.copyOf(layers);
  }

  /** A spec writing to a local store. */
  public ExtractSpec(Dataset<Row> corpus, TrainingRun run, java.nio.file.Path store, Projection projection,
                     List<String> layers, int batchSize, BadRowPolicy badRows) {
    this(corpus, run, Locations.local(store), projection, layers, batchSize, badRows);
  }
}
