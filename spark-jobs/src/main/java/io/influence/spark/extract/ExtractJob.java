package io.influence.spark.extract;

import static org.apache.spark.sql.functions.col;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.OptimizerState;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.AdamScaling;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.CausalLm;
import io.influence.core.model.LayerSelection;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.tracin.ExampleGradient;
import io.influence.spark.config.BadRows;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Runs;
import io.influence.spark.progress.Progress;
import io.influence.spark.progress.ProgressCounter;
import io.influence.spark.store.CandidateCoverage;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.StoreProjections;
import io.influence.spark.store.ProjectionBasis;
import io.influence.spark.ekfac.PrincipalBasisFit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The extract stage: per-example gradients of every training sequence at every checkpoint of a
 * run, written to the Parquet gradient store (one folder per checkpoint).
 *
 * <p>Driver: tokenises and checks every row once ({@link TokenizedCorpus}), reports bad rows, then
 * for each checkpoint not yet complete in the store runs one Spark job whose tasks load the
 * checkpoint once per executor JVM ({@link ExecutorModels}), batch their sequences and compute
 * Kronecker-projected (default) or full per-example gradients of each tracked layer. A finished
 * checkpoint is skipped on re-run; an unfinished one is redone from scratch (the store publishes
 * a checkpoint folder only when it is complete).
 */
public final class ExtractJob {

  private static final Logger LOG = LoggerFactory.getLogger(ExtractJob.class);

  private ExtractJob() {}

  /**
   * What happened: checkpoints written and skipped, the bad rows found, and the gradient rows computed (sequences
   * extracted, summed over the checkpoints written; with candidates, only the rows the store lacked).
   */
  public record Result(List<String> written, List<String> skipped, TokenizedCorpus.BadRowReport badRows,
                       long rowsExtracted) {
    public Result(List<String> written, List<String> skipped, TokenizedCorpus.BadRowReport badRows) {
      this(written, skipped, badRows, -1);
    }
  }

  public static Result run(SparkSession spark, ExtractSpec spec) {
    requireProjectionFits(spec, spec.run().checkpoints().get(0));   // before any distributed work
    if (principal(spec)) {
      requireBasisFitsInMemory(spec, spec.run().checkpoints().get(0), spark.sparkContext().isLocal()
          ? spark.sparkContext().defaultParallelism() : 0, Runtime.getRuntime().maxMemory());
    }
    if (spec.preconditioning() == OptimizerPreconditioning.ADAM) {   // every checkpoint's Adam state, before Spark
      for (RunCheckpoint c : spec.run().checkpoints()) {
        CausalLm model = ExecutorModels.model(c.dir().toString(), c.sha256());
        adamScaling(model, trackedLayers(spec, model), c.dir(), null, "extract.optimizer-preconditioning");
      }
    }
    if (spec.candidates() != null) {
      if (principal(spec)) {
        throw new IllegalArgumentException("influence.extract.projection.basis = principal is not offered with "
            + "influence.extract.candidates = true: the basis is fitted on the corpus, which a candidates store does"
            + " not cover. HINT: set extract.projection.basis = random for a candidates store");
      }
      return CandidateExtraction.run(spark, spec);
    }
    CandidateCoverage.read(spark.sparkContext().hadoopConfiguration(), spec.store()).ifPresent(c -> {
      throw new IllegalStateException("the gradient store " + spec.store() + " is partial (" + c.describe()
          + ", extract.candidates = true); extracting the whole corpus into it would mix the two. HINT: extract into"
          + " another output.dir, or pass --overwrite to replace the store");
    });
    TokenizedCorpus corpus = TokenizedCorpus.prepare(spark, Corpus.spreadOverCores(spec.corpus()),
        spec.run().checkpoints().get(0), spec.badRows(), spec.longText());
    List<String> written = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    String fingerprint = Corpus.fingerprint(spec.corpus());
    try {
      for (RunCheckpoint c : spec.run().checkpoints()) {
        String name = checkpointName(c);
        StoreMetadata meta = metadata(spec, c, name).withCorpus(fingerprint);
        if (GradientStore.checkpoints(spec.store()).contains(name)) {
          StoreMetadata stored = GradientStore.metadata(spark, spec.store(), name);
          if (principal(spec) && stored.projectionSha256() != null) {   // fitted from these settings: compare as such
            meta = meta.withPrincipalProjection(stored.projectionSha256(), stored.projectionFile());
          }
          if (stored.sameGradientSpace(meta) && stored.sameInputs(meta)) {
            LOG.info("checkpoint {} is already extracted in {}; skipping", name, spec.store());
            skipped.add(name);
            continue;
          }
          if (stored.sameGradientSpace(meta)) {   // a retrained checkpoint or an edited corpus: extract it again
            LOG.warn("checkpoint {} or the corpus changed since it was extracted (sha256 {} -> {}, corpus {} -> {}); "
                + "extracting it again", name, stored.sha256(), meta.sha256(), stored.corpus(), meta.corpus());
            Locations.deleteRecursively(spark.sparkContext().hadoopConfiguration(),
                GradientStore.folder(spec.store(), name));
          }
        }
        if (principal(spec)) {
          meta = fitPrincipal(spark, spec, c, metadata(spec, c, name).withCorpus(fingerprint), corpus);
        }
        try (Progress progress = Progress.start(spark.sparkContext(), "extract " + name, corpus.size())) {
          if (GradientStore.write(spark, gradients(spec, c, meta, corpus, progress.counter()), spec.store(), meta)) {
            written.add(name);
          } else {
            skipped.add(name);
          }
          progress.finish();
        }
      }
    } finally {
      corpus.release();
    }
    return new Result(written, skipped, corpus.badRows(), written.size() * corpus.size());
  }

  private static boolean principal(ExtractSpec spec) {
    return spec.projection() != null && spec.projection().basis() == ProjectionBasis.PRINCIPAL;
  }

  /**
   * {@code meta} with the principal projection of checkpoint {@code c}: fitted on {@code fit-sequences} rows of the
   * corpus, those whose ids hash lowest (all rows when the corpus is smaller; {@link PrincipalBasisFit}), written
   * beside the store ({@link StoreProjections}).
   */
  private static StoreMetadata fitPrincipal(SparkSession spark, ExtractSpec spec, RunCheckpoint c, StoreMetadata meta,
                                            TokenizedCorpus corpus) {
    CausalLm model = ExecutorModels.model(c.dir().toString(), c.sha256());
    int n = spec.projection().fitSequences();
    // a sample that does not depend on partitioning or file order: the n rows whose ids hash lowest, spread again
    // over the cores (the ordered limit ends in one partition) and kept for the passes
    Dataset<Row> sample = corpus.rows().orderBy(org.apache.spark.sql.functions.xxhash64(col("id")), col("id")).limit(n)
        .repartition(spark.sparkContext().defaultParallelism()).persist();
    try {
      long count = Math.min(n, corpus.size());
      Map<String, KroneckerProjection> p = PrincipalBasisFit.fit(spark, sample.javaRDD(), count, c, meta.checkpoint(),
          PrincipalBasisFit.dims(model, meta.layerNames()), spec.projection().kIn(), spec.projection().kOut(),
          spec.batchSize());
      String sha = StoreProjections.write(spark.sparkContext().hadoopConfiguration(), spec.store(), meta.checkpoint(),
          p);
      org.apache.hadoop.fs.Path file = StoreProjections.file(spec.store(), meta.checkpoint(), sha);
      LOG.info("checkpoint {}: principal projection fitted on {} sequences, written to {}", meta.checkpoint(), count,
          file);
      return meta.withPrincipalProjection(sha, Locations.fs(spark.sparkContext().hadoopConfiguration(), file)
          .makeQualified(file).toString());
    } finally {
      sample.unpersist();
    }
  }

  /** The gradient rows of {@code corpus} at checkpoint {@code c}, in {@code meta}'s layers (lazy: computed when written). */
  static Dataset<Row> gradients(ExtractSpec spec, RunCheckpoint c, StoreMetadata meta, TokenizedCorpus corpus,
      ProgressCounter done) {
    StructType schema = new StructType().add("id", DataTypes.StringType, false);
    for (StoreMetadata.Layer l : meta.layers()) {
      schema = schema.add(l.column(), DataTypes.createArrayType(DataTypes.FloatType, false), false);
    }
    return corpus.rows().mapPartitions(
        new GradientsOfPartition(Runs.location(c), c.sha256(), meta, spec.batchSize(), done), Encoders.row(schema));
  }

  /**
   * A projection may not be larger than the gradient it projects: {@code k-in} at most a layer's inputs (bias
   * included) and {@code k-out} at most its outputs, for every tracked layer (a larger one only costs memory, and
   * at sizes like 100000 it cannot fit).
   */
  static void requireProjectionFits(ExtractSpec spec, RunCheckpoint c) {
    if (spec.projection() == null) {
      return;
    }
    CausalLm model = ExecutorModels.model(c.dir().toString(), c.sha256());
    for (String layer : trackedLayers(spec, model)) {
      int[] shape = model.linearShape(layer);
      if (spec.projection().kIn() > shape[1] || spec.projection().kOut() > shape[0]) {
        throw new IllegalArgumentException("influence.extract.projection.k-in = " + spec.projection().kIn()
            + " and k-out = " + spec.projection().kOut() + " exceed layer " + layer + " of checkpoint step-" + c.step()
            + ", whose gradient is " + shape[0] + " x " + shape[1] + " (outputs x inputs, plus one for a bias). HINT: set "
            + "extract.projection.k-in <= " + shape[1] + " and extract.projection.k-out <= " + shape[0]
            + " (the smallest tracked layer decides), or extract.projection.enabled = false for full gradients");
      }
    }
  }

  /**
   * The principal basis keeps, per tracked layer and side, a {@code d × min(d, 2k)} basis and its product with the
   * covariance ({@link PrincipalBasisFit#values}) in every task and on the driver (basis, merged sums, next basis);
   * refuses, before any pass, when that exceeds 60% of {@code maxHeap} ({@code localTasks} tasks share it in local
   * mode, 0 on a cluster).
   */
  static void requireBasisFitsInMemory(ExtractSpec spec, RunCheckpoint c, int localTasks, long maxHeap) {
    CausalLm model = ExecutorModels.model(c.dir().toString(), c.sha256());
    long values = PrincipalBasisFit.values(PrincipalBasisFit.dims(model, trackedLayers(spec, model)),
        spec.projection().kIn(), spec.projection().kOut());
    long need = values * Double.BYTES * (2L + localTasks);
    if (need > 0.6 * maxHeap) {
      throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "influence.extract.projection.basis = "
          + "principal keeps a basis of 2k columns per layer and side (%,d float64 values, %.2f GB with %d copies) but"
          + " the driver's heap is %.2f GB. HINT: track fewer layers (extract.layers), lower extract.projection.k-in "
          + "and k-out, give the driver more memory (--driver-memory), or use extract.projection.basis = random",
          values, need / 1e9, 2 + localTasks, maxHeap / 1e9));
    }
  }

  /** The layers {@code extract.layers} selects (names or * patterns; empty = every linear layer), in model order. */
  static List<String> trackedLayers(ExtractSpec spec, CausalLm model) {
    return LayerSelection.select(spec.layers() == null ? List.of() : spec.layers(), model.linearLayers(),
        "influence.extract.layers");
  }

  /** Store name of a checkpoint: {@code step-N}. */
  public static String checkpointName(RunCheckpoint c) {
    return "step-" + c.step();
  }

  static StoreMetadata metadata(ExtractSpec spec, RunCheckpoint c, String name) {
    CausalLm model = ExecutorModels.model(c.dir().toString(), c.sha256());
    List<String> layers = trackedLayers(spec, model);
    List<StoreMetadata.Layer> out = new ArrayList<>();
    for (String layer : layers) {
      int[] shape = model.linearShape(layer);
      out.add(spec.projection() == null ? new StoreMetadata.Layer(layer, shape[0], shape[1])
          : new StoreMetadata.Layer(layer, spec.projection().kOut(), spec.projection().kIn()));
    }
    StoreMetadata meta = StoreMetadata.of(name, c.step(), c.learningRate(), c.sha256(), out,
        spec.projection() == null ? StoreMetadata.FULL : spec.projection().description(),
        spec.projection() == null ? null : spec.projection().seed(), io.influence.spark.score.ScoreJob.ENGINE_VERSION);
    if (spec.preconditioning() == OptimizerPreconditioning.ADAM) {   // checked on the driver, before any task
      meta = meta.withAdam(adamScaling(model, layers, c.dir(), null, "extract.optimizer-preconditioning").sha256());
    }
    return meta;
  }

  /**
   * Adam's scaling of {@code layers} from the {@code optimizer.safetensors} in {@code dir}; when {@code sha256} is
   * given, the file must still be the one with that hash. Errors name the file, the tensor and {@code setting}.
   */
  public static AdamScaling adamScaling(CausalLm model, List<String> layers, java.nio.file.Path dir, String sha256,
                                        String setting) {
    try {
      OptimizerState state = OptimizerState.read(dir);
      if (sha256 != null && !sha256.equals(state.sha256())) {
        throw new IllegalStateException(state.file() + " has sha256 " + state.sha256() + " but the gradient store was "
            + "extracted with " + sha256 + ". HINT: the optimizer state changed since extraction; re-run extract "
            + "(output.overwrite = true)");
      }
      return AdamScaling.of(model, layers, state);
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException(e.getMessage() + " (needed by influence." + setting + " = \"adam\")", e);
    }
  }

  /** One task: load the checkpoint (cached per JVM), batch the partition's sequences, emit gradient rows. */
  static final class GradientsOfPartition implements MapPartitionsFunction<Row, Row> {
    private final String dir;
    private final String sha256;
    private final StoreMetadata meta;
    private final int batchSize;
    private final ProgressCounter done;

    /** Rows of {@code meta}'s layers, projected as it records (seeded or principal matrices, or full). */
    GradientsOfPartition(String dir, String sha256, StoreMetadata meta, int batchSize, ProgressCounter done) {
      this.dir = dir;
      this.sha256 = sha256;
      this.meta = meta;
      this.batchSize = batchSize;
      this.done = done;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
      CausalLm model = ExecutorModels.model(dir, sha256);
      List<String> tracked = meta.layerNames();
      Map<String, KroneckerProjection> projections = StoreProjections.of(meta, model::linearShape, model.dataType());
      String optimizerSha256 = meta.optimizerSha256();
      AdamScaling adam = optimizerSha256 == null ? null : adamScaling(model, tracked,
          Runs.checkpointDir(Locations.conf(), dir, sha256), optimizerSha256, "extract.optimizer-preconditioning");
      GradientExtractor extractor = new GradientExtractor(model, projections, batchSize, adam);
      return new Iterator<>() {
        private Iterator<Row> ready = java.util.Collections.emptyIterator();

        @Override
        public boolean hasNext() {
          while (!ready.hasNext() && input.hasNext()) {
            ready = nextBatch().iterator();
          }
          return ready.hasNext();
        }

        @Override
        public Row next() {
          if (!hasNext()) {
            throw new java.util.NoSuchElementException();
          }
          return ready.next();
        }

        private List<Row> nextBatch() {
          List<String> ids = new ArrayList<>();
          List<int[]> tokens = new ArrayList<>();
          while (ids.size() < batchSize && input.hasNext()) {
            Row r = input.next();
            ids.add(r.getString(0));
            List<Integer> t = r.getList(1);
            tokens.add(t.stream().mapToInt(Integer::intValue).toArray());
          }
          List<ExampleGradient> grads = extractor.extract(ids, tokens, null);
          done.add(grads.size());
          List<Row> out = new ArrayList<>(grads.size());
          for (ExampleGradient g : grads) {
            Object[] values = new Object[1 + tracked.size()];
            values[0] = g.id();
            for (int l = 0; l < tracked.size(); l++) {
              INDArray m = g.layers().get(tracked.get(l));
              values[l + 1] = m.dup('c').data().asFloat();
            }
            out.add(RowFactory.create(values));
          }
          return out;
        }
      };
    }
  }
}
