package io.influence.spark.plan;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.core.model.CausalLm;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.LayerSelection;
import io.influence.core.plan.Calibration;
import io.influence.core.plan.CostModel;
import io.influence.core.plan.GradientSpace;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.ExtractSettings;
import io.influence.spark.config.Fisher;
import io.influence.spark.config.IhvpSettings;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Method;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import io.influence.spark.method.InfluenceMethod;
import io.influence.spark.store.ProjectionBasis;
import io.influence.spark.ekfac.PrincipalBasisFit;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * {@code influence plan}: what {@code influence run} would cost with these settings, from the corpus, the run and a
 * few seconds of calibration, before anything heavy is computed.
 *
 * <p>Counts come from {@link CostModel} (the last checkpoint's shapes, the tracked layers, the projection) summed
 * over the batches extract would form ({@link CorpusScan}); seconds from rates measured here: the model's own
 * gradient pass on the corpus's first sequences at {@code extract.batch-size} ({@link Calibration#pass}), GEMM
 * rates, and Spark's job, Parquet write and read rates ({@link SparkRates}). A stage's estimate is
 * <pre>
 * extract      scan + C · Σ_batches passFlops / (passRate · slots) + storeBytes / writeRate + jobs · jobSeconds
 * fit-ekfac    per fitted checkpoint: scan + covariance FLOPs / (passRate · slots) + eigen FLOPs / float64 GEMM rate
 *              + rows · correction FLOPs / (GEMM rate · slots) + checkpoint store bytes / readRate + jobs · jobSeconds
 *              (ekfac.fisher = true with K draws: K × the covariance and correction FLOPs, plus K extract-like
 *              gradient passes in place of reading the store)
 * self-infl.   store bytes read / readRate + 2·R·D·C / (GEMM rate · slots) + jobs · jobSeconds
 * score        query passes / passRate + store bytes read / readRate + 2·Q·R·D·C / (GEMM rate · slots)
 *              + iHVP passes (cg, lissa: at most max-iterations each, float64 ≈ passRate · f64/f32 GEMM rate)
 *              + jobs · jobSeconds
 * </pre>
 * with {@code slots} the session's default parallelism, {@code C} checkpoints, {@code R} rows, {@code D} stored
 * floats per row, {@code Q} queries, and {@code jobs} the Spark jobs the stage runs (counted once, see {@link
 * #EXTRACT_JOBS}). Each task is calibrated with {@code cores / slots} BLAS threads, as the stages run.
 */
public final class Planner {

  /**
   * Spark jobs each stage runs (tokenising, checks, counts, the per-checkpoint work, commits, summaries), counted
   * with a SparkListener in {@code influence bench plan} (two checkpoints, one fitted): the fixed part of a stage's
   * time is this count times one small job's measured time. Not re-derived for other checkpoint counts.
   */
  private static final int EXTRACT_JOBS = 18;
  private static final int FIT_JOBS = 21;
  private static final int SELF_JOBS = 26;
  private static final int SCORE_JOBS = 35;

  private Planner() {}

  /**
   * What to plan besides the settings.
   *
   * @param candidates         M of a candidate prefilter (top-M rows per query) to price, 0 for none
   * @param calibrationSeconds seconds each timed calibration repeats for
   */
  public record Options(int candidates, double calibrationSeconds) {
    public Options {
      if (candidates < 0) {
        throw new IllegalArgumentException("--candidates must be >= 0, got " + candidates);
      }
      if (!(calibrationSeconds > 0)) {
        throw new IllegalArgumentException("calibration seconds must be > 0, got " + calibrationSeconds);
      }
    }

    public static Options defaults() {
      return new Options(0, 1.0);
    }
  }

  /** The plan of {@code influence run} with settings {@code s} on this session. */
  public static Plan plan(SparkSession spark, InfluenceSettings s, Options options) {
    TrainingRun run = run(s);
    RunCheckpoint last = run.checkpoints().get(run.checkpoints().size() - 1);
    CausalLm model = ExecutorModels.model(Runs.location(last), last.sha256());
    List<String> tracked = LayerSelection.select(s.extract().layers(), model.linearLayers(), "influence.extract.layers");
    ExtractSettings.Projection projection = s.extract().projection().orElse(null);
    GradientSpace space = projection == null ? GradientSpace.full()
        : GradientSpace.projected(projection.kIn(), projection.kOut());
    requireProjectionFits(model, tracked, space);
    CostModel cost = CostModel.of(model, tracked);
    int batchSize = s.extract().batchSize();

    CorpusScan scan = CorpusScan.of(spark, Corpus.read(spark, s.input().corpus("plan"), s.input().badRows()),
        run.checkpoints().get(0), s.input().badRows(), s.input().longText(), batchSize);
    if (scan.rows() == 0) {
      throw new IllegalArgumentException("the corpus " + s.input().corpus("plan") + " has no usable rows. HINT: "
          + "check its id and text / input_ids columns");
    }
    long queries = s.input().queries().isPresent() ? Queries.read(spark, s.input().queries("plan")).size() : 0;
    long rows = scan.rows();
    long d = cost.storedFloatsPerRow(space);
    int slots = Math.max(1, spark.sparkContext().defaultParallelism());
    List<String> names = run.checkpoints().stream().map(ExtractJob::checkpointName).toList();
    int checkpoints = names.size();

    // rates
    Calibration.PassRate pass;
    double gemmRate;
    double gemm64Rate;
    int threads = Math.max(1, BlasThreads.cores() / slots);
    try (BlasThreads t = BlasThreads.setUnlessEnvironmentSays(threads)) {
      Map<String, KroneckerProjection> projections = space.projected()
          ? model.projections(tracked, space.kIn(), space.kOut(), projection.seed()) : Map.of();
      pass = Calibration.pass(model, cost, projections, space, scan.sample(), batchSize, options.calibrationSeconds());
      gemmRate = Calibration.gemm((int) Math.min(s.score().blockRows(), rows), (int) Math.max(1, queries),
          (int) Math.min(d, Integer.MAX_VALUE), DataType.FLOAT, options.calibrationSeconds() / 3);
      int n = (int) Math.min(1024, Math.max(space.kIn(), space.kOut()) == 0 ? 256 : Math.max(space.kIn(), space.kOut()));
      gemm64Rate = Calibration.gemm(n, n, n, DataType.DOUBLE, options.calibrationSeconds() / 3);
    }
    long rowBytes = cost.storeBytesPerRow(space, scan.meanIdChars());
    long checkpointBytes = rows * rowBytes;
    long storeBytes = checkpointBytes * checkpoints;
    SparkRates io = SparkRates.measure(spark, d, Math.max(256L << 10, Math.min(checkpointBytes, 32L << 20)));
    double passRate = pass.flopsPerSecond();

    List<Plan.Stage> stages = new ArrayList<>();
    double passFlops = scan.passFlops(cost, batchSize, space);
    double extractCompute = checkpoints * passFlops / (passRate * slots);
    Map<String, Double> ex = new LinkedHashMap<>();
    ex.put("tokenise", scan.seconds());
    ex.put("gradients", extractCompute);
    ex.put("parquet", storeBytes / io.writeBytesPerSecond());
    ex.put("jobs", EXTRACT_JOBS * io.jobSeconds());
    double basisFlops = 0;
    if (projection != null && projection.basis() == ProjectionBasis.PRINCIPAL) {
      // extract.projection.basis = principal: per checkpoint, PrincipalBasisFit.PASSES passes of the model over the
      // fit sample (each about an extract pass over those rows) and one Spark job each
      double share = Math.min(1.0, projection.fitSequences() / (double) rows);
      double basis = PrincipalBasisFit.PASSES * share * passFlops;
      basisFlops = checkpoints * basis;
      ex.put("basis", checkpoints * (basis / (passRate * slots) + PrincipalBasisFit.PASSES * io.jobSeconds()));
    }
    stages.add(Plan.Stage.of("extract", rows * checkpoints, checkpoints * passFlops + basisFlops, storeBytes, ex));

    InfluenceMethod self = InfluenceMethod.of(s.selfInfluence().method(), s);
    InfluenceMethod scoreMethod = InfluenceMethod.of(s.score().method(), s);
    boolean scoring = queries > 0;
    if (self.needsFactors() || (scoring && scoreMethod.needsFactors())) {
      int fitted = s.ekfac().select(names).size();
      int ekBatch = s.ekfac().batchSize();
      // the true Fisher differentiates each batch once per label draw in both passes, and its correction
      // recomputes the gradients (an extract-like pass per draw) instead of reading the store
      boolean sampled = s.ekfac().fisher() == Fisher.TRUE;
      int draws = sampled ? s.ekfac().fisherSamples() : 1;
      double cov = draws * scan.overBatches(ekBatch, (b, t, n) -> cost.covarianceFlops(b, t, n, space));
      double eigen = cost.eigenFlops(space);
      double correction = draws * rows * (double) cost.correctionFlopsPerRow(space);
      double regradient = sampled ? draws * scan.passFlops(cost, ekBatch, space) : 0;
      Map<String, Double> fit = new LinkedHashMap<>();
      fit.put("tokenise", fitted * scan.seconds());
      fit.put("covariances", fitted * cov / (passRate * slots));
      fit.put("eigen", fitted * eigen / gemm64Rate);
      fit.put("correction", fitted * (correction / (gemmRate * slots) + regradient / (passRate * slots)));
      fit.put("parquet", sampled ? 0.0 : fitted * checkpointBytes / io.readBytesPerSecond());
      fit.put("jobs", FIT_JOBS * io.jobSeconds());
      stages.add(Plan.Stage.of("fit-ekfac", rows * fitted, fitted * (cov + eigen + correction + regradient),
          sampled ? 0 : fitted * checkpointBytes,
          fit));
    }
    {
      int used = self.checkpoints(names).size();
      double flops = 2.0 * rows * d * used + (self.needsFactors() ? 2.0 * rows * cost.correctionFlopsPerRow(space) * used
          : 0);
      Map<String, Double> si = new LinkedHashMap<>();
      si.put("parquet", used * checkpointBytes / io.readBytesPerSecond());
      si.put("scores", flops / (gemmRate * slots));
      si.put("jobs", SELF_JOBS * io.jobSeconds());
      stages.add(Plan.Stage.of("self-influence", 0, flops, used * checkpointBytes, si));
    }
    Optional<Plan.Candidates> candidates = Optional.empty();
    if (scoring) {
      int used = scoreMethod.checkpoints(names).size();
      double meanLength = (double) scan.tokens() / rows;
      double queryFlops = used * queries * (double) cost.passFlops(1, (int) Math.ceil(meanLength),
          Math.round(meanLength), space);
      double scoreFlops = used * (double) cost.scoreFlops(queries, rows, space);
      double solveFlops = 0;
      long solvePasses = 0;
      if (scoreMethod.needsCorpusProducts()) {
        IhvpSettings ih = s.ihvp();
        long sample = ih.sampleRows() == 0 ? rows : Math.min(rows, ih.sampleRows());
        int iterations = s.score().method() == Method.LISSA ? ih.lissa().depth() * ih.lissa().repetitions()
            : ih.cg().maxIterations();
        double perPass = scan.overBatches(ih.batchSize(), (b, t, n) -> cost.hvpFlops(b, t)) * sample / rows;
        solvePasses = used * (long) iterations * queries * sample;
        solveFlops = used * (double) iterations * queries * perPass;
      }
      double solveRate = passRate * Math.min(1.0, gemm64Rate / gemmRate);
      long read = used * checkpointBytes;
      Map<String, Double> sc = new LinkedHashMap<>();
      sc.put("query gradients", queryFlops / passRate);
      sc.put("parquet", read / io.readBytesPerSecond());
      sc.put("scores", scoreFlops / (gemmRate * slots));
      if (solveFlops > 0) {
        sc.put("ihvp", solveFlops / (solveRate * slots));
      }
      sc.put("jobs", SCORE_JOBS * io.jobSeconds());
      stages.add(Plan.Stage.of("score", used * queries + solvePasses, queryFlops + scoreFlops + solveFlops, read, sc));
      // with extract.candidates = true and no --candidates, price the settings' own M (candidates.top-m/fraction)
      int m = options.candidates() > 0 ? options.candidates() : s.extract().candidates() ? s.candidates().m(rows) : 0;
      if (m > 0) {
        long kept = Math.min(rows, (long) m * queries);
        double keptFraction = (double) kept / rows;
        double savedScoreFlops = scoreFlops - used * (double) cost.scoreFlops(1, m, space) * queries;
        double savedExtract = (1 - keptFraction) * (extractCompute + storeBytes / io.writeBytesPerSecond());
        double savedScore = (1 - keptFraction) * read / io.readBytesPerSecond()
            + Math.max(0, savedScoreFlops) / (gemmRate * slots);
        candidates = Optional.of(new Plan.Candidates(m, kept, savedExtract + savedScore,
            Math.round((1 - keptFraction) * storeBytes),
            (1 - keptFraction) * checkpoints * passFlops + Math.max(0, savedScoreFlops)));
      }
    }

    Map<String, Long> memory = new LinkedHashMap<>();
    memory.put("extract", cost.extractTaskBytes(batchSize, scan.maxLength(), space));
    if (scoring) {
      memory.put("score", cost.scoreTaskBytes(s.score().blockRows(), queries, scoreMethod.checkpoints(names).size(),
          space));
    }

    Map<String, String> facts = new LinkedHashMap<>();
    facts.put("model", String.format(Locale.ROOT, "%s, %d parameters, %d tracked layers, gradients %s",
        cost.family(), cost.parameterCount(), tracked.size(), space.describe()));
    facts.put("corpus", String.format(Locale.ROOT, "%d rows, %d tokens (longest %d), %d bad rows; %d queries", rows,
        scan.tokens(), scan.maxLength(), scan.badRows().count(), queries));
    facts.put("run", checkpoints + " checkpoint(s); methods: self-influence " + self.name().word()
        + (scoring ? ", score " + scoreMethod.name().word() : ""));
    facts.put("task slots", slots + " (" + threads + " BLAS thread(s) each)");
    facts.put("calibration", String.format(Locale.ROOT, "pass of %d x %d tokens: %.3f s = %.2f GFLOP/s; GEMM %.2f "
            + "GFLOP/s (f64 %.2f); Spark job %.2f s, Parquet write %.1f MB/s, read %.1f MB/s; scan %.1f s",
        pass.batch(), pass.seqLen(), pass.secondsPerPass(), passRate / 1e9, gemmRate / 1e9, gemm64Rate / 1e9,
        io.jobSeconds(), io.writeBytesPerSecond() / 1e6, io.readBytesPerSecond() / 1e6, scan.seconds()));
    return new Plan(facts, stages, storeBytes, d, memory, candidates);
  }

  private static void requireProjectionFits(CausalLm model, List<String> tracked, GradientSpace space) {
    if (!space.projected()) {
      return;
    }
    for (String layer : tracked) {
      int[] shape = model.linearShape(layer);
      if (space.kIn() > shape[1] || space.kOut() > shape[0]) {
        throw new IllegalArgumentException("influence.extract.projection.k-in = " + space.kIn() + " and k-out = "
            + space.kOut() + " exceed layer " + layer + ", whose gradient is " + shape[0] + " x " + shape[1]
            + ". HINT: set extract.projection.k-in <= " + shape[1] + " and extract.projection.k-out <= " + shape[0]);
      }
    }
  }

  private static TrainingRun run(InfluenceSettings s) {
    try {
      return Runs.read(Locations.conf(), s.input().run("plan"), s.input().constantLearningRate());
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /** Bytes of the regular files under a local folder (0 when it does not exist). */
  public static long folderBytes(Path dir) {
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(p -> {
        try {
          return Files.size(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).sum();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }
}
