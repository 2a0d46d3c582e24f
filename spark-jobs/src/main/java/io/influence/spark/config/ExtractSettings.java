package io.influence.spark.config;

import com.typesafe.config.Config;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.spark.store.ProjectionBasis;
import java.util.List;
import java.util.Optional;

/**
 * The {@code influence.extract} block.
 *
 * @param layers     tracked layers; empty = every linear layer of the blocks
 * @param batchSize  sequences per forward/backward pass inside a task
 * @param projection the Kronecker projection of the stored gradients, or empty for full gradients
 * @param partitions Spark partitions (tasks) of the extraction per checkpoint; 0 = as the corpus comes, at least one
 *                   per core
 * @param candidates true: extract only the union of the queries' candidate rows (the candidates block) into a
 *                   partial store, adding only the rows it lacks on a re-run
 * @param optimizerPreconditioning {@code optimizer-preconditioning}: divide each per-example gradient by Adam's
 *                   {@code √v̂ + ε} (from each checkpoint's {@code optimizer.safetensors}) before the projection, or not
 */
public record ExtractSettings(List<String> layers, int batchSize, Optional<Projection> projection, int partitions,
                              boolean candidates, OptimizerPreconditioning optimizerPreconditioning) {

  /**
   * Kronecker projection to {@code [kOut, kIn]} per layer (LoGra-style): seeded Gaussian matrices ({@code basis =
   * random}, drawn from {@code seed}) or the principal directions of each layer's covariances ({@code basis =
   * principal}, fitted on the first {@code fitSequences} sequences of the corpus at each checkpoint).
   */
  public record Projection(int kIn, int kOut, long seed, ProjectionBasis basis, int fitSequences)
      implements java.io.Serializable {
    public Projection {
      if (kIn < 1 || kOut < 1) {
        throw new IllegalArgumentException("influence.extract.projection.k-in and k-out must be >= 1, got k-in=" + kIn
            + " k-out=" + kOut);
      }
      java.util.Objects.requireNonNull(basis, "basis");
      if (fitSequences < 1) {
        throw new IllegalArgumentException("influence.extract.projection.fit-sequences must be >= 1, got "
            + fitSequences);
      }
    }

    /** A seeded Gaussian projection. */
    public Projection(int kIn, int kOut, long seed) {
      this(kIn, kOut, seed, ProjectionBasis.RANDOM, 1000);
    }

    /**
     * How the store and the report name it, e.g. {@code kronecker-gaussian 16x16} or {@code kronecker-principal 16x16
     * (fit on 1000 sequences)}.
     */
    public String description() {
      return basis == ProjectionBasis.PRINCIPAL ? "kronecker-principal " + kOut + "x" + kIn + " (fit on "
          + fitSequences + " sequences)" : "kronecker-gaussian " + kOut + "x" + kIn;
    }
  }

  public ExtractSettings {
    layers = List.copyOf(layers);
    if (batchSize < 1) {
      throw new IllegalArgumentException("influence.extract.batch-size must be >= 1, got " + batchSize);
    }
    java.util.Objects.requireNonNull(optimizerPreconditioning, "optimizerPreconditioning");
    if (partitions < 0) {
      throw new IllegalArgumentException("influence.extract.partitions must be >= 0 (0 = as the corpus comes), got "
          + partitions);
    }
  }

  static ExtractSettings from(Config c) {
    Config e = c.getConfig("extract");
    Optional<Projection> projection = e.getBoolean("projection.enabled")
        ? Optional.of(new Projection(e.getInt("projection.k-in"), e.getInt("projection.k-out"),
            e.getLong("projection.seed"), Choices.parse(ProjectionBasis.class, "extract.projection.basis",
                e.getString("projection.basis")), e.getInt("projection.fit-sequences"))) : Optional.empty();
    return new ExtractSettings(e.getStringList("layers"), e.getInt("batch-size"), projection,
        e.getInt("partitions"), e.getBoolean("candidates"), Choices.parse(OptimizerPreconditioning.class,
            "extract.optimizer-preconditioning", e.getString("optimizer-preconditioning")));
  }
}
