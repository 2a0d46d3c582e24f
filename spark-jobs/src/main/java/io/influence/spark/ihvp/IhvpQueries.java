package io.influence.spark.ihvp;

import io.influence.core.linalg.DiagonalCongruence;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.grad.AdamScaling;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.core.solve.PreconditionerOperator;
import io.influence.ekfac.Damping;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.ekfac.LayerFactors;
import java.util.Optional;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.xxhash64;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.model.CausalLm;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.score.LayerLayout;
import io.influence.core.solve.HutchinsonTrace;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.SolveResult;
import io.influence.core.tracin.ExampleGradient;
import io.influence.ekfac.ResolvedDamping;
import io.influence.spark.config.Choices;
import io.influence.spark.config.IhvpSettings;
import io.influence.spark.config.Method;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.io.Corpus;
import io.influence.spark.progress.Progress;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.StoreProjections;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Influence-function query gradients with iterative solvers over a Spark-held corpus (score.method "cg" or
 * "lissa"): per checkpoint, every query's full float64 gradient {@code b_q} ({@code [dOut, dIn+1]} per tracked
 * layer) is solved as {@code x_q = (H + λI)⁻¹ b_q} with one block solve ({@link IhvpSolver#solveAll}) on the
 * {@link CorpusHvp} of that checkpoint, so each solver iteration is one Spark job for all queries; then {@code x_q}
 * is mapped into the gradient store's space: projected with the store's own seeded
 * {@link KroneckerProjection} ({@code P_out X P_inᵀ}) when the store is projected, as is when it is full.
 * Scoring then takes {@code ⟨x_q, g(z)⟩} against the stored per-example gradients.
 */
public final class IhvpQueries {

  private static final Logger LOG = LoggerFactory.getLogger(IhvpQueries.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private IhvpQueries() {}

  /** The training sequences the curvature averages over, persisted, and their count; {@link #release()} when done. */
  public record HvpCorpus(JavaRDD<int[]> tokens, long rows) {
    public void release() {
      tokens.unpersist(false);
    }
  }

  /** Per query (in input order) the preconditioned gradient in the store's space, and the solver reports. */
  public record Solved(List<Map<String, INDArray>> preconditioned, List<SolveReport> reports) {}

  /**
   * The rows of {@code good} ({@code id, tokens}) the curvature uses: all of them, or with {@code sample-rows > 0} the
   * {@code sample-rows} rows with the smallest {@code xxhash64(sample-seed, id)} (ties by id), a choice that does not
   * depend on the partitioning; repartitioned when {@code partitions > 0}, else spread over at least the default
   * parallelism (a small corpus file arrives as one partition, which would leave all but one core idle during
   * every product); persisted.
   */
  public static HvpCorpus corpus(Dataset<Row> good, IhvpSettings settings) {
    Dataset<Row> rows = good;
    if (settings.sampleRows() > 0) {
      rows = rows.orderBy(xxhash64(lit(settings.sampleSeed()), col("id")), col("id"))
          .limit((int) Math.min(Integer.MAX_VALUE, settings.sampleRows()));
    }
    rows = settings.partitions() > 0 ? rows.repartition(settings.partitions()) : Corpus.spreadOverCores(rows);
    JavaRDD<int[]> tokens = rows.select("tokens").javaRDD().map(r -> {
      List<Integer> t = r.getList(0);
      int[] out = new int[t.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = t.get(i);
      }
      return out;
    }).persist(StorageLevel.MEMORY_AND_DISK());
    long n = tokens.count();
    if (n == 0) {
      tokens.unpersist(false);
      throw new IllegalArgumentException("the corpus has no usable rows for the curvature. HINT: check input.corpus and"
          + " the bad-row report");
    }
    return new HvpCorpus(tokens, n);
  }

  /**
   * Solves every query at checkpoint {@code c}: {@code queries} are full float64 gradients of the store's layers
   * (one per query, in order), {@code meta} the store's metadata of that checkpoint; {@code ekfac}, the EK-FAC factors
   * of that checkpoint's layers when the solve is preconditioned by them ({@code ihvp.cg.preconditioner} or
   * {@code ihvp.lissa.preconditioner = ekfac}).
   */
  public static Solved precondition(HvpCorpus corpus, RunCheckpoint c, StoreMetadata meta, IhvpSettings settings,
      Method method, List<ExampleGradient> queries, Optional<Map<String, LayerFactors>> ekfac) {
    CorpusHvp op = new CorpusHvp(corpus.tokens(), corpus.rows(), c, meta.layerNames(), settings.curvature(),
        settings.batchSize());
    LayerLayout layout = op.layout();
    // an Adam store holds S g with S = diag(1 / (√v̂ + ε)): the solve runs in those coordinates, on S H S
    DiagonalCongruence adam = adamCoordinates(op, c, meta);
    BlockLinearOperator curvature = adam == null ? op : adam;
    ResolvedDamping damping = settings.resolveDamping(curvature);
    // M = (EK-FAC + λI)⁻¹ per layer, with the solve's own absolute λ, in the operator's full-gradient layout
    LinearOperator m = ekfac.map(f -> (LinearOperator) new PreconditionerOperator(
        KroneckerPreconditioners.ekfac(f, Damping.absolute(damping.lambda())), layout)).orElse(null);
    IhvpSolver solver = settings.solver(method, curvature, damping, m);
    CausalLm model = ExecutorModels.model(c.dir().toString(), c.sha256());
    // float64 copies of the store's seeded matrices; none for a full store (whose shapes must be the model's)
    Map<String, KroneckerProjection> projections = StoreProjections.of(meta, model::linearShape,
        DataType.DOUBLE);
    List<double[]> bs = new ArrayList<>();
    for (ExampleGradient q : queries) {
      double[] b = layout.toVector("checkpoint '" + meta.checkpoint() + "'", q.id(), q.layers());
      bs.add(adam == null ? b : adam.scale(b));
    }
    long t0 = System.nanoTime();
    List<SolveResult> results;
    try (Progress progress = Progress.iterations(method.word() + " " + meta.checkpoint(),
        nominalProducts(method, settings))) {
      results = solver.solveAll(reported(curvature, progress, bs.size()), bs);
      progress.finish();
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    List<Map<String, INDArray>> out = new ArrayList<>();
    List<SolveReport> reports = new ArrayList<>();
    for (int i = 0; i < queries.size(); i++) {
      SolveResult r = results.get(i);
      Map<String, INDArray> x = layout.fromVector(r.x(), DataType.DOUBLE);
      Map<String, INDArray> mapped = new LinkedHashMap<>();
      for (StoreMetadata.Layer l : meta.layers()) {
        KroneckerProjection p = projections.get(l.name());
        mapped.put(l.name(), p == null ? x.get(l.name()) : p.projectGradient(x.get(l.name())));
      }
      out.add(mapped);
      reports.add(new SolveReport(queries.get(i).id(), meta.checkpoint(), r.iterations(), r.relativeResidual(),
          r.converged(), r.diverged(), solver.toString(), damping));
    }
    int worst = results.stream().mapToInt(SolveResult::iterations).max().orElse(0);
    LOG.info("{} ({} curvature, damping {}: λ = {}) at {}: {} queries over {} training sequences, {} Spark jobs ({}"
        + " products) in {} ms, at most {} iterations", method.word(), Choices.word(settings.curvature()),
        settings.damping().words(), damping.lambda(),
        meta.checkpoint(),
        queries.size(), corpus.rows(), op.products(), op.vectors(), ms, worst);
    List<String> diverged = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    for (SolveReport r : reports) {
      // LiSSA past its radius grows geometrically; CG's residual is not monotone, so only a non-finite one counts
      if (r.diverged() || !Double.isFinite(r.relativeResidual())
          || (method == Method.LISSA && r.relativeResidual() > 1)) {
        diverged.add(r.query() + " (relative residual " + r.relativeResidual() + " after " + r.iterations()
            + " iterations)");
      }
      if (!r.converged()) {
        failed.add(r.query() + " (" + r.iterations() + " iterations, relative residual " + r.relativeResidual() + ")");
      }
    }
    if (!diverged.isEmpty()) {   // nothing worth scoring, whatever require-convergence says
      throw new IllegalStateException(method.word() + " diverged at " + meta.checkpoint() + " for " + diverged + " ("
          + solver + "). HINT: " + (method == Method.LISSA ? "set influence.ihvp.lissa.scale = \"auto\" or a number"
          + " above the curvature's largest eigenvalue plus the damping λ (" + damping.lambda() + ", influence.ihvp.damping)"
          : "raise influence.ihvp.damping (the curvature is not positive definite: try curvature = \"ggn\")"));
    }
    if (!failed.isEmpty()) {
      String msg = method.word() + " did not converge at " + meta.checkpoint() + " for " + failed.size() + " of "
          + queries.size() + " queries: " + failed + " (" + solver + "). HINT: raise influence.ihvp."
          + (method == Method.CG ? "cg.max-iterations" : "lissa.depth") + " or influence.ihvp.damping"
          + (method == Method.LISSA ? ", and make influence.ihvp.lissa.scale exceed the curvature's largest eigenvalue"
          + " plus the damping" : "");
      if (settings.requireConvergence()) {
        throw new IllegalStateException(msg + " (influence.ihvp.require-convergence = true)");
      }
      LOG.warn("{}; the unconverged estimates are scored and marked converged=false in the solver column", msg);
    }
    return new Solved(out, reports);
  }

  /**
   * For a store of Adam-preconditioned gradients ({@code S g}, {@code S = diag(1 / (√v̂ + ε))} from the optimizer state
   * the store recorded), {@code S H S} over {@code op}; null for a raw store. Scoring {@code x = (S H S + λI)⁻¹ S g_q}
   * against the stored {@code S g} gives {@code g_qᵀ (H + λ S⁻²)⁻¹ g}: the influence function in the coordinates in
   * which Adam's step is a plain gradient step, the same space as the store's TracIn (CG preconditioned by EK-FAC is
   * refused there, by {@code IterativeInfluence}: the factors approximate {@code H}, not {@code S H S}).
   */
  private static DiagonalCongruence adamCoordinates(CorpusHvp op, RunCheckpoint c, StoreMetadata meta) {
    if (meta.optimizerPreconditioning() == OptimizerPreconditioning.NONE) {
      return null;
    }
    CausalLm model = ExecutorModels.model(c.dir().toString(), c.sha256(), DataType.DOUBLE);
    AdamScaling scaling = ExtractJob.adamScaling(model, meta.layerNames(), c.dir(), meta.optimizerSha256(),
        "extract.optimizer-preconditioning");
    Map<String, INDArray> factors = new LinkedHashMap<>();
    for (String l : meta.layerNames()) {
      factors.put(l, scaling.factors(l));
    }
    return new DiagonalCongruence(op, op.layout().toVector("checkpoint '" + meta.checkpoint() + "'",
        "Adam factors", factors));
  }

  /**
   * The block products a solve takes at most in the usual case, the {@code max} of its progress: CG's
   * {@code max-iterations} plus one check of the true residual and the final residuals; LiSSA's
   * {@code depth · repetitions} plus the final residuals. A CG that restarts after a failed check may take more.
   */
  static long nominalProducts(Method method, IhvpSettings settings) {
    return method == Method.LISSA ? (long) settings.lissa().depth() * settings.lissa().repetitions() + 1
        : settings.cg().maxIterations() + 2L;
  }

  /** {@code op}, reporting each block product to {@code progress} with the systems still running of {@code k}. */
  private static BlockLinearOperator reported(BlockLinearOperator op, Progress progress, int k) {
    return new BlockLinearOperator() {
      private long products;

      @Override
      public int dim() {
        return op.dim();
      }

      @Override
      public void apply(double[][] vs, double[][] outs) {
        op.apply(vs, outs);
        progress.step(++products, Map.of("systems", k, "running", vs.length));
      }
    };
  }

  /**
   * One JSON object per query for the score rows' {@code solver} column: method, curvature, damping (mode and
   * value as set), the number of training sequences, and per checkpoint the resolved λ ({@code damping_lambda}; for
   * a relative damping also the trace estimate it came from), iterations, relative residual and convergence.
   */
  public static Map<String, String> solverColumn(Method method, IhvpSettings settings, long rows,
      List<SolveReport> reports) {
    Map<String, List<Map<String, Object>>> byQuery = new LinkedHashMap<>();
    for (SolveReport r : reports) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("checkpoint", r.checkpoint());
      m.put("damping_lambda", r.damping().lambda());
      if (r.damping().trace() != null) {
        HutchinsonTrace.Estimate t = r.damping().trace();
        m.put("trace_estimate", t.trace());
        m.put("trace_standard_error", Double.isNaN(t.standardError()) ? null : t.standardError());
        m.put("trace_probes", t.probes());
        m.put("trace_seed", t.seed());
        m.put("dim", t.dim());
      }
      m.put("iterations", r.iterations());
      m.put("relative_residual", r.relativeResidual());
      m.put("converged", r.converged());
      m.put("solver", r.solver());
      byQuery.computeIfAbsent(r.query(), q -> new ArrayList<>()).add(m);
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, List<Map<String, Object>>> e : byQuery.entrySet()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("method", method.word());
      m.put("curvature", Choices.word(settings.curvature()));
      if (method == Method.CG) {
        m.put("preconditioner", Choices.word(settings.cg().preconditioner()));
      }
      if (method == Method.LISSA) {
        m.put("acceleration", Choices.word(settings.lissa().acceleration()));
        m.put("preconditioner", Choices.word(settings.lissa().preconditioner()));
      }
      m.put("damping_mode", settings.damping().relative() ? "relative" : "absolute");
      m.put("damping", settings.damping().value());
      m.put("training_sequences", rows);
      m.put("converged", e.getValue().stream().allMatch(x -> (Boolean) x.get("converged")));
      m.put("checkpoints", e.getValue());
      try {
        out.put(e.getKey(), JSON.writeValueAsString(m));
      } catch (JsonProcessingException ex) {
        throw new IllegalStateException("cannot write the solver report of query " + e.getKey(), ex);
      }
    }
    return out;
  }
}
