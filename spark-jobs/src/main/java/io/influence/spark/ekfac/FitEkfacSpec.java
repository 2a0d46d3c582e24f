package io.influence.spark.ekfac;

import io.influence.checkpoints.TrainingRun;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.Fisher;
import io.influence.spark.config.LongText;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.io.Locations;
import java.util.List;
import java.util.Objects;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * What {@link FitEkfacJob#run} computes: EK-FAC factors for the named checkpoints of {@code run}, in the space of
 * the gradient {@code store} (which must hold those checkpoints, extracted from the same corpus).
 *
 * @param corpus      rows {@code (id, text, input_ids)} as {@link io.influence.spark.io.Corpus} reads them
 * @param run         the training run (checkpoint folders and content hashes)
 * @param checkpoints store names ({@code step-N}) to fit, at least one
 * @param store       gradient store folder (any Hadoop file system; {@link Locations#resolve})
 * @param factors     factor folder ({@link FactorStore}; any Hadoop file system)
 * @param batchSize   sequences per forward/backward pass in the covariance pass
 * @param partitions  partitions of both passes; 0 keeps the input's partitioning
 * @param badRows     bad corpus rows: fail, or leave out (as extract did)
 * @param longText    rows longer than the model's context: windows, truncated or bad (as extract did)
 * @param fisher      observed labels (empirical Fisher, the correction reads the store) or sampled ones (true
 *                    Fisher, the correction recomputes gradients with the same labels)
 * @param fisherSeed  the seed of sampled labels
 * @param fisherSamples label draws per predicted position for the true Fisher (1 for the empirical one)
 */
public record FitEkfacSpec(Dataset<Row> corpus, TrainingRun run, List<String> checkpoints, Path store, Path factors,
                           int batchSize, int partitions, BadRows badRows, LongText longText, Fisher fisher,
                           long fisherSeed, int fisherSamples) {

  /** A spec with one label draw per position. */
  public FitEkfacSpec(Dataset<Row> corpus, TrainingRun run, List<String> checkpoints, Path store, Path factors,
                      int batchSize, int partitions, BadRows badRows, LongText longText, Fisher fisher,
                      long fisherSeed) {
    this(corpus, run, checkpoints, store, factors, batchSize, partitions, badRows, longText, fisher, fisherSeed, 1);
  }

  /** A spec fitting the empirical Fisher. */
  public FitEkfacSpec(Dataset<Row> corpus, TrainingRun run, List<String> checkpoints, Path store, Path factors,
                      int batchSize, int partitions, BadRows badRows, LongText longText) {
    this(corpus, run, checkpoints, store, factors, batchSize, partitions, badRows, longText, Fisher.EMPIRICAL, 0);
  }

  public FitEkfacSpec {
    Objects.requireNonNull(corpus, "corpus");
    Objects.requireNonNull(run, "run");
    checkpoints = List.copyOf(checkpoints);
    if (checkpoints.isEmpty()) {
      throw new IllegalArgumentException("name at least one checkpoint to fit EK-FAC factors for");
    }
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(factors, "factors");
    Objects.requireNonNull(badRows, "badRows");
    Objects.requireNonNull(longText, "longText");
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
    }
    if (partitions < 0) {
      throw new IllegalArgumentException("partitions must be >= 0, got " + partitions);
    }
    Objects.requireNonNull(fisher, "fisher");
    if (fisherSamples < 1 || (fisher == Fisher.EMPIRICAL && fisherSamples != 1)) {
      throw new IllegalArgumentException("influence.ekfac.fisher-samples must be >= 1, and 1 with ekfac.fisher = "
          + "empirical (the observed labels are one draw), got " + fisherSamples);
    }
  }

  /** How the factors and provenance name the fitted curvature. */
  public String fisherWords() {
    return fisher.describe(fisherSeed, fisherSamples);
  }

  /** The label draws each batch is differentiated against, in order. */
  public List<io.influence.core.model.GradientRequest.Labels> labelDraws() {
    return fisher.draws(fisherSeed, fisherSamples);
  }

  /** A spec with a local store and factor folder. */
  public FitEkfacSpec(Dataset<Row> corpus, TrainingRun run, List<String> checkpoints, java.nio.file.Path store,
                      java.nio.file.Path factors, int batchSize, int partitions, BadRows badRows, LongText longText) {
    this(corpus, run, checkpoints, Locations.local(store), Locations.local(factors), batchSize, partitions, badRows,
        longText, Fisher.EMPIRICAL, 0);
  }
}
