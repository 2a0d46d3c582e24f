package io.influence.spark.ekfac;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.ekfac.EigenvalueCorrection;
import io.influence.ekfac.LayerFactors;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Runs;
import io.influence.spark.progress.Progress;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.GradientTable;
import io.influence.spark.store.RowGather;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.spark.store.StoreMetadata;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fit-ekfac stage: per checkpoint, EK-FAC factors of every stored layer in the gradient store's space
 * (Kronfluence's covariance → eigendecomposition → eigenvalue-correction stages, George et al. 2018, Grosse et al.
 * 2023).
 *
 * <ol>
 *   <li>Covariance pass (Spark): the corpus tokenised and checked exactly as extract does ({@link TokenizedCorpus});
 *       each task loads the checkpoint once per thread, computes per-token factors {@code (a_t, g_t)} in batches
 *       (projected to {@code (P_in a_t, P_out g_t)} with the store's seeded projection when the store is projected)
 *       and feeds one {@link io.influence.ekfac.CovarianceAccumulator} per layer; partitions merge with treeReduce.</li>
 *   <li>Eigendecomposition on the driver ({@link LayerFactors#fromCovariances}, float64).</li>
 *   <li>Eigenvalue correction (Spark) over the STORED per-example gradients of that checkpoint
 *       ({@link EigenvalueCorrection#addGradient}), merged with treeAggregate.</li>
 *   <li>Saved atomically with {@link FactorStore}; a checkpoint already complete (same gradient space) is skipped.</li>
 * </ol>
 * Curvature: the gradients are those of the data labels (the store's), so this is EK-FAC of the empirical Fisher,
 * with the per-example summed loss (the covariances are token averages scaled by the mean tokens per example, see
 * {@link LayerFactors}).
 */
public final class FitEkfacJob {

  private static final Logger LOG = LoggerFactory.getLogger(FitEkfacJob.class);
  private static final int TREE_DEPTH = 2;

  private FitEkfacJob() {}

  /** Checkpoints fitted now and found complete, and the bad corpus rows left out (null when nothing was fitted). */
  public record Result(List<String> written, List<String> skipped, TokenizedCorpus.BadRowReport badRows) {}

  public static Result run(SparkSession spark, FitEkfacSpec spec) {
    Map<String, RunCheckpoint> byName = new LinkedHashMap<>();
    for (RunCheckpoint c : spec.run().checkpoints()) {
      byName.put(ExtractJob.checkpointName(c), c);
    }
    List<String> stored = GradientStore.checkpoints(spec.store(), spark.sparkContext().hadoopConfiguration());
    List<String> skipped = new ArrayList<>();
    List<StoreMetadata> todo = new ArrayList<>();
    for (String name : spec.checkpoints()) {
      if (!byName.containsKey(name)) {
        throw new IllegalArgumentException("checkpoint '" + name + "' is not in the run (it has " + byName.keySet()
            + "). HINT: fit the checkpoints of the run the gradients were extracted from");
      }
      if (!stored.contains(name)) {
        throw new IllegalStateException("checkpoint '" + name + "' has no extracted gradients in " + spec.store()
            + " (complete: " + stored + "). HINT: run `influence extract` first; the eigenvalue correction reads them");
      }
      StoreMetadata meta = GradientStore.metadata(spark, spec.store(), name);
      if (FactorStore.isComplete(spec.factors(), name) && FactorStore.isStale(spec.factors(), meta)) {
        LOG.warn("the gradients of {} were extracted again (a changed checkpoint or corpus) since its factors were "
            + "fitted; fitting them again", name);
        Locations.deleteRecursively(spark.sparkContext().hadoopConfiguration(),
            FactorStore.folder(spec.factors(), name));
      }
      if (FactorStore.isComplete(spec.factors(), name)
          && !FactorStore.marker(spec.factors(), name).fisher().equals(spec.fisherWords())) {
        LOG.warn("the factors of {} fitted the {} Fisher, ekfac.fisher now asks for the {} one; fitting them again",
            name, FactorStore.marker(spec.factors(), name).fisher(), spec.fisherWords());
        Locations.deleteRecursively(spark.sparkContext().hadoopConfiguration(),
            FactorStore.folder(spec.factors(), name));
      }
      if (FactorStore.isComplete(spec.factors(), name)) {
        FactorStore.requireSameSpace(spec.factors(), meta);
        LOG.info("EK-FAC factors of {} are already complete in {}; skipping", name, spec.factors());
        skipped.add(name);
      } else {
        todo.add(meta);
      }
    }
    if (todo.isEmpty()) {
      return new Result(List.of(), skipped, null);
    }
    TokenizedCorpus corpus = TokenizedCorpus.prepare(spark, spec.corpus(), spec.run().checkpoints().get(0),
        spec.badRows(), spec.longText());
    List<String> written = new ArrayList<>();
    try {
      for (StoreMetadata meta : todo) {
        Map<String, LayerFactors> factors = fit(spark, spec, corpus, byName.get(meta.checkpoint()), meta);
        FactorStore.write(spec.factors(), meta, factors, spec.fisherWords());
        written.add(meta.checkpoint());
        LOG.info("wrote EK-FAC factors of {} to {}", meta.checkpoint(), FactorStore.folder(spec.factors(),
            meta.checkpoint()));
      }
    } finally {
      corpus.release();
    }
    return new Result(written, skipped, corpus.badRows());
  }

  private static Map<String, LayerFactors> fit(SparkSession spark, FitEkfacSpec spec, TokenizedCorpus corpus,
      RunCheckpoint c, StoreMetadata meta) {
    if (spec.fisher() == io.influence.spark.config.Fisher.TRUE
        && meta.optimizerPreconditioning() != OptimizerPreconditioning.NONE) {   // before the covariance pass
      throw new IllegalArgumentException("influence.ekfac.fisher = true is not offered on a store of Adam-"
          + "preconditioned gradients (checkpoint " + meta.checkpoint() + ", "
          + "influence.extract.optimizer-preconditioning = adam): its correction pass forms projected gradients from "
          + "token factors, which "
          + "Adam's per-parameter scaling does not factor through. HINT: set influence.ekfac.fisher = empirical (its "
          + "correction reads the stored, scaled gradients), or extract a raw store into another output.dir");
    }
    Dataset<Row> rows = corpus.rows();
    Dataset<Row> input = spec.partitions() > 0 ? rows.repartition(spec.partitions()) : rows;
    JavaRDD<Row> tokens = input.javaRDD();
    if (tokens.getNumPartitions() == 0) {
      throw new IllegalStateException("the corpus has no usable rows. HINT: check input.corpus and the bad-row report");
    }
    CovarianceTask.Sums sums;
    try (Progress progress = Progress.start(spark.sparkContext(), "covariance " + meta.checkpoint(), corpus.size())) {
      sums = tokens.mapPartitions(new CovarianceTask(Runs.location(c), c.sha256(), meta, spec.batchSize(),
          spec.labelDraws(), progress.counter())).treeReduce(CovarianceTask.Sums::merge,
          TREE_DEPTH);
      progress.finish();
    }
    Map<String, LayerFactors> eigen = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : meta.layers()) {
      eigen.put(l.name(), LayerFactors.fromCovariances(sums.byLayer().get(l.name()).finish()));
    }

    Corrections zero = new Corrections(meta.layers(), eigen);
    Corrections lambda = spec.fisher() == io.influence.spark.config.Fisher.TRUE
        ? sampledCorrection(spark, spec, tokens, c, meta, zero, corpus.size())
        : storedCorrection(spark, spec, meta, zero);
    Map<String, LayerFactors> out = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : meta.layers()) {
      EigenvalueCorrection e = lambda.byLayer().get(l.name());
      out.put(l.name(), eigen.get(l.name()).withCorrection(e.finish(), e.examples()));
    }
    LayerFactors first = out.values().iterator().next();
    if (first.examples() != first.correctionExamples()) {
      LOG.warn("checkpoint {}: the covariance pass saw {} corpus rows but the store holds {} gradients; the corpus or"
          + " the bad-row policy differs from extract's", meta.checkpoint(), first.examples(),
          first.correctionExamples());
    }
    return out;
  }

  /** The eigenvalue correction from the stored per-example gradients (observed labels: the empirical Fisher). */
  private static Corrections storedCorrection(SparkSession spark, FitEkfacSpec spec, StoreMetadata meta,
      Corrections zero) {
    GradientTable table = GradientStore.table(spark, spec.store(), List.of(meta.checkpoint()));
    if (spec.partitions() > 0) {
      table = new GradientTable(table.checkpoints(), table.rows().repartition(spec.partitions()));
    }
    RowGather gather = table.gather();
    JavaRDD<InternalRow> grads = table.rows().queryExecution().toRdd().toJavaRDD();
    long stored = GradientStore.read(spark, spec.store(), meta.checkpoint()).count();
    Corrections lambda;
    try (Progress progress = Progress.start(spark.sparkContext(), "eigenvalue correction " + meta.checkpoint(),
        stored)) {
      var done = progress.counter();
      lambda = grads.treeAggregate(zero, (acc, row) -> {
        done.add(1);
        return acc.add(gather, row);
      }, Corrections::merge, TREE_DEPTH);
      progress.finish();
    }
    return lambda;
  }

  /**
   * The eigenvalue correction from per-example gradients recomputed with sampled labels (the true Fisher), in the
   * store's space (its layers and projection), one pass over the corpus like extract's.
   */
  private static Corrections sampledCorrection(SparkSession spark, FitEkfacSpec spec, JavaRDD<Row> tokens,
      RunCheckpoint c, StoreMetadata meta, Corrections zero, long rows) {
    try (Progress progress = Progress.start(spark.sparkContext(), "eigenvalue correction " + meta.checkpoint(),
        rows)) {
      Corrections lambda = tokens.mapPartitions(new SampledCorrectionTask(Runs.location(c), c.sha256(), meta,
          zero, spec.batchSize(), spec.labelDraws(), progress.counter()))
          .treeReduce(Corrections::merge, TREE_DEPTH);
      progress.finish();
      return lambda;
    }
  }
}
