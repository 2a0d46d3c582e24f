package io.influence.spark.config;

import com.typesafe.config.Config;
import io.influence.ekfac.Damping;
import java.util.List;

/**
 * The {@code influence.ekfac} block.
 *
 * @param damping     λ added to the corrected eigenvalues: relative = factor × mean(Λ) of each layer, or absolute
 * @param checkpoints which extracted checkpoints to fit and score with
 * @param batchSize   sequences per forward/backward pass in the covariance pass
 * @param partitions  partitions of both passes; 0 keeps the input's partitioning
 * @param fisher      the labels of the fitted curvature: observed (empirical Fisher) or sampled (true Fisher)
 * @param fisherSeed  the seed of the sampled labels
 * @param fisherSamples label draws per predicted position for the true Fisher
 */
public record EkfacSettings(Damping damping, CheckpointSelection checkpoints, int batchSize, int partitions,
                            Fisher fisher, long fisherSeed, int fisherSamples) {

  public EkfacSettings {
    if (batchSize < 1) {
      throw new IllegalArgumentException("influence.ekfac.batch-size must be >= 1, got " + batchSize);
    }
    if (partitions < 0) {
      throw new IllegalArgumentException("influence.ekfac.partitions must be >= 0 (0 = keep the input's), got "
          + partitions);
    }
    if (fisherSamples < 1) {
      throw new IllegalArgumentException("influence.ekfac.fisher-samples must be >= 1, got " + fisherSamples
          + ". HINT: 1 is one sampled label per predicted position; more draws average out sampling noise");
    }
    if (fisher == Fisher.EMPIRICAL && fisherSamples != 1) {
      throw new IllegalArgumentException("influence.ekfac.fisher-samples = " + fisherSamples + " needs ekfac.fisher ="
          + " true: the empirical Fisher has one label per position, the observed token. HINT: set ekfac.fisher ="
          + " true, or leave fisher-samples at 1");
    }
  }

  static EkfacSettings from(Config influence) {
    Config e = influence.getConfig("ekfac");
    Damping damping = DampingSettings.read(influence, "ekfac");
    return new EkfacSettings(damping, Choices.parse(CheckpointSelection.class, "ekfac.checkpoints",
        e.getString("checkpoints")), e.getInt("batch-size"), e.getInt("partitions"),
        Choices.parse(Fisher.class, "ekfac.fisher", e.getString("fisher")), e.getLong("fisher-seed"),
        e.getInt("fisher-samples"));
  }

  /** The damping as the settings spell it, e.g. {@code relative 0.1}. */
  public String dampingWords() {
    return damping.words();
  }

  /** The checkpoints to fit and score with, out of {@code available} (ordered by step). */
  public List<String> select(List<String> available) {
    return checkpoints.select(available);
  }
}
