package io.influence.spark.method;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.Preconditioner;
import io.influence.spark.config.IhvpSettings;
import io.influence.spark.config.Method;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.ekfac.FactorStore;
import io.influence.spark.ihvp.IhvpQueries;
import io.influence.spark.ihvp.SolveReport;
import io.influence.spark.io.Corpus;
import io.influence.spark.score.QueryGradient;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.spark.store.StoreMetadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Influence functions with {@code (H_i + λI)⁻¹ g_q} solved iteratively (conjugate gradients or LiSSA) from exact
 * curvature-vector products over the corpus, aggregated by Spark ({@link IhvpQueries}); each query's full float64
 * gradient is solved, then projected into the store's space. Checkpoints weighted 1 ({@code ihvp.checkpoints}).
 */
public final class IterativeInfluence extends InfluenceFunction {

  private final Method solver;
  private final IhvpSettings settings;

  IterativeInfluence(Method solver, IhvpSettings settings) {
    super(settings.checkpoints(), settings.damping());
    if (!solver.iterative()) {
      throw new IllegalArgumentException(solver.word() + " is not an iterative solver");
    }
    this.solver = solver;
    this.settings = settings;
  }

  @Override
  public Method name() {
    return solver;
  }

  @Override
  public boolean needsFactors() {
    return preconditioned();
  }

  /** CG or LiSSA preconditioned by the fitted EK-FAC ({@code ihvp.cg.preconditioner}, {@code ihvp.lissa.preconditioner}). */
  private boolean preconditioned() {
    IhvpSettings.SolvePreconditioner p = solver == Method.CG ? settings.cg().preconditioner()
        : settings.lissa().preconditioner();
    return p == IhvpSettings.SolvePreconditioner.EKFAC;
  }

  /** The setting that asked for the preconditioner. */
  private String preconditionerKey() {
    return "influence.ihvp." + (solver == Method.CG ? "cg" : "lissa") + ".preconditioner";
  }

  @Override
  public boolean needsCorpusProducts() {
    return true;
  }

  @Override
  public List<String> settingsBlocks() {
    return preconditioned() ? List.of("ihvp", "ekfac") : List.of("ihvp");
  }

  @Override
  public Preconditioned precondition(SparkSession spark, ScoringInputs in, List<RunCheckpoint> checkpoints) {
    if (in.corpus() == null) {
      throw new IllegalArgumentException("influence.input.corpus is required for score with method "
          + solver.word() + " (the curvature is a mean over the corpus). HINT: pass --corpus");
    }
    if (preconditioned()) {   // before any Spark work: the factors must live in the solve's (full) space
      for (RunCheckpoint c : checkpoints) {
        StoreMetadata meta = GradientStore.metadata(spark, in.store(), ExtractJob.checkpointName(c));
        if (!StoreMetadata.FULL.equals(meta.projection())) {
          throw new IllegalArgumentException(preconditionerKey() + " = ekfac needs EK-FAC factors of full "
              + "gradients, but the gradient store holds " + meta.projectionDescription() + " gradients at "
              + meta.checkpoint() + " and fit-ekfac fits its factors in the store's space. HINT: extract a full store "
              + "(influence.extract.projection.enabled = false) or set " + preconditionerKey() + " = none");
        }
        if (meta.optimizerPreconditioning() != OptimizerPreconditioning.NONE) {
          throw new IllegalArgumentException(preconditionerKey() + " = ekfac is not offered on a store of "
              + "Adam-preconditioned gradients (checkpoint " + meta.checkpoint() + ", "
              + "influence.extract.optimizer-preconditioning = adam): the solve runs on S H S with "
              + "S = diag(1 / (√v̂ + ε)), which the "
              + "EK-FAC factors do not approximate. HINT: set " + preconditionerKey() + " = none");
        }
      }
    }
    List<List<Map<String, INDArray>>> perQuery = new ArrayList<>();
    in.queries().forEach(q -> perQuery.add(new ArrayList<>()));
    List<SolveReport> reports = new ArrayList<>();
    TokenizedCorpus tokenized = TokenizedCorpus.prepare(spark, Corpus.read(spark, in.corpus(), in.badRows()), checkpoints.get(0),
        in.badRows(), in.longText());
    IhvpQueries.HvpCorpus hvpCorpus = null;
    try {
      hvpCorpus = IhvpQueries.corpus(tokenized.rows(), settings);
      for (RunCheckpoint c : checkpoints) {
        StoreMetadata meta = GradientStore.metadata(spark, in.store(), ExtractJob.checkpointName(c));
        IhvpQueries.Solved solved = IhvpQueries.precondition(hvpCorpus, c, meta, settings, solver,
            QueryGradients.full(in.queries(), c, meta.layerNames()),
            preconditioned() ? Optional.of(FactorStore.read(in.factors(), meta)) : Optional.empty());
        for (int i = 0; i < in.queries().size(); i++) {
          perQuery.get(i).add(solved.preconditioned().get(i));
        }
        reports.addAll(solved.reports());
      }
      List<QueryGradient> out = new ArrayList<>();
      for (int i = 0; i < in.queries().size(); i++) {
        out.add(QueryGradient.ofArrays(in.queries().get(i).id(), perQuery.get(i)));
      }
      Map<String, Double> lambda = new java.util.LinkedHashMap<>();
      reports.forEach(r -> lambda.put(r.checkpoint(), r.damping().lambda()));
      return new Preconditioned(out, IhvpQueries.solverColumn(solver, settings, hvpCorpus.rows(), reports), lambda);
    } finally {
      if (hvpCorpus != null) {
        hvpCorpus.release();
      }
      tokenized.release();
    }
  }

  @Override
  public Optional<Preconditioner.PerCheckpoint> selfPreconditioner(SparkSession spark, ScoringInputs in,
      List<String> checkpoints) {
    throw new IllegalArgumentException("self-influence with " + solver.word() + " is not offered. HINT: set "
        + "influence.self-influence.method to tracin or ekfac");
  }
}
