package io.influence.spark.pipeline;

import com.typesafe.config.Config;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.tracin.ExampleGradient;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.config.Settings;
import io.influence.spark.ekfac.EkfacSettings;
import io.influence.spark.ekfac.FactorStore;
import io.influence.spark.ekfac.FitEkfacJob;
import io.influence.spark.ekfac.FitEkfacSpec;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.ihvp.IhvpQueries;
import io.influence.spark.ihvp.IhvpSettings;
import io.influence.spark.ihvp.SolveReport;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import io.influence.spark.score.QueryGradient;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.score.ScoreSpec;
import io.influence.spark.selfinf.SelfInfluenceJob;
import io.influence.spark.selfinf.SelfInfluenceSpec;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The pipeline's stages as functions of {@code (SparkSession, settings)}: what each
 * {@code influence} subcommand calls, and what tests call. Every stage writes under
 * {@code influence.output.dir}: {@code gradients/}, {@code factors/}, {@code self-influence/}, {@code scores/}, with
 * the settings it ran with saved beside them (an output written with other settings is refused
 * unless {@code overwrite}).
 */
public final class Stages {

  public static final String GRADIENTS = "gradients";
  public static final String SELF_INFLUENCE = "self-influence";
  public static final String SCORES = "scores";
  public static final String FACTORS = "factors";

  private static final int QUERY_BATCH = 16;

  private Stages() {}

  /** Per-example gradients of the corpus at every checkpoint of the run. */
  public static ExtractJob.Result extract(SparkSession spark, Config s, boolean overwrite) {
    Path out = Locations.resolve(spark, s.getString("output.dir"));
    Config stageSettings = s.withOnlyPath("input").withFallback(s.withOnlyPath("extract"));
    OutputGuard.claim(out, GRADIENTS, stageSettings, overwrite);
    Dataset<Row> corpus = Corpus.read(spark, Settings.requiredPath(s, "input.corpus", "extract"));
    Config e = s.getConfig("extract");
    ExtractSpec.Projection projection = e.getBoolean("projection.enabled")
        ? new ExtractSpec.Projection(e.getInt("projection.k-in"), e.getInt("projection.k-out"),
            e.getLong("projection.seed")) : null;
    List<String> layers = e.getStringList("layers");
    ExtractSpec.BadRowPolicy policy = badRows(s);
    return ExtractJob.run(spark, new ExtractSpec(corpus, run(s, "extract"), new Path(out, GRADIENTS), projection,
        layers.isEmpty() ? null : layers, e.getInt("batch-size"), policy));
  }

  /**
   * EK-FAC factors of the extracted checkpoints ({@code ekfac.checkpoints}: all or the last), in the gradient
   * store's space, under {@code factors/step-N/}; finished checkpoints are skipped.
   */
  public static FitEkfacJob.Result fitEkfac(SparkSession spark, Config s, boolean overwrite) {
    Path out = Locations.resolve(spark, s.getString("output.dir"));
    Path store = new Path(out, GRADIENTS);
    EkfacSettings ek = EkfacSettings.from(s);
    OutputGuard.claim(out, FACTORS, s.withOnlyPath("input").withFallback(s.withOnlyPath("extract")), overwrite);
    List<String> names = ek.select(extracted(spark, store));
    return FitEkfacJob.run(spark, new FitEkfacSpec(Corpus.read(spark, Settings.requiredPath(s, "input.corpus",
        "fit-ekfac")), run(s, "fit-ekfac"), names, store, new Path(out, FACTORS), ek.batchSize(), ek.partitions(),
        badRows(s)));
  }

  /**
   * True when {@code stage}'s {@code method} setting asks for EK-FAC. Checks the method: "tracin" or "ekfac" for
   * every stage, also "cg" and "lissa" (iterative inverse-HVP solves, see {@link #usesIhvp}) for score.
   */
  public static boolean usesEkfac(Config s, String stage) {
    return method(s, stage).equals("ekfac");
  }

  /** True when {@code stage}'s method is "cg" or "lissa" (only the score stage offers them). */
  public static boolean usesIhvp(Config s, String stage) {
    String m = method(s, stage);
    return m.equals("cg") || m.equals("lissa");
  }

  private static String method(Config s, String stage) {
    String m = s.getString(stage + ".method");
    boolean score = stage.equals("score");
    return switch (m) {
      case "tracin", "ekfac" -> m;
      case "cg", "lissa" -> {
        if (!score) {
          throw new IllegalArgumentException("influence." + stage + ".method must be \"tracin\" or \"ekfac\", got \""
              + m + "\". HINT: the iterative solvers (cg, lissa) are offered by score.method only");
        }
        yield m;
      }
      default -> throw new IllegalArgumentException("influence." + stage + ".method must be "
          + (score ? "\"tracin\", \"ekfac\", \"cg\" or \"lissa\"" : "\"tracin\" or \"ekfac\"") + ", got \"" + m
          + "\"");
    };
  }

  /**
   * The settings a stage's output depends on: its own block and the input, plus the ekfac block when it uses EK-FAC
   * and the ihvp block when it uses CG or LiSSA.
   */
  private static Config stageSettings(Config s, String stage) {
    Config c = s.withOnlyPath(stage).withFallback(s.withOnlyPath("input"));
    if (usesEkfac(s, stage)) {
      return c.withFallback(s.withOnlyPath("ekfac"));
    }
    return usesIhvp(s, stage) ? c.withFallback(s.withOnlyPath("ihvp")) : c;
  }

  /**
   * Self-influence of every training sequence over the extracted checkpoints: TracIn {@code Σ_i η_i ‖g_i‖²}, or
   * with {@code self-influence.method = ekfac} {@code Σ_i ⟨g_i, (H_i + λI)⁻¹ g_i⟩} (weight 1 per checkpoint);
   * with {@code self-influence.normalize = per-token} each divided by the sequence's predicted tokens.
   */
  public static Dataset<Row> selfInfluence(SparkSession spark, Config s, boolean overwrite) {
    Path out = Locations.resolve(spark, s.getString("output.dir"));
    Path store = new Path(out, GRADIENTS);
    String normalize = s.getString("self-influence.normalize");
    if (!normalize.equals("sum") && !normalize.equals("per-token")) {  // checked before any work
      throw new IllegalArgumentException("influence.self-influence.normalize must be \"sum\" or \"per-token\", got \""
          + normalize + "\"");
    }
    OutputGuard.claim(out, SELF_INFLUENCE, stageSettings(s, "self-influence"), overwrite);
    List<String> names = extracted(spark, store);
    List<Double> rates;
    io.influence.spark.selfinf.SelfPreconditioner p = null;
    if (usesEkfac(s, "self-influence")) {
      EkfacSettings ek = EkfacSettings.from(s);
      names = ek.select(names);
      rates = names.stream().map(n -> 1.0).toList();
      p = FactorStore.selfPreconditioner(new Path(out, FACTORS),
          names.stream().map(n -> GradientStore.metadata(spark, store, n)).toList(), ek.damping());
    } else {
      rates = names.stream().map(n -> GradientStore.metadata(spark, store, n).learningRate()).toList();
    }
    Dataset<Row> lossTokens = null;
    TokenizedCorpus tokenized = null;
    if (normalize.equals("per-token")) {
      tokenized = TokenizedCorpus.prepare(spark, Corpus.read(spark, Settings.requiredPath(s, "input.corpus",
          "self-influence")), run(s, "self-influence").checkpoints().get(0), badRows(s));
      lossTokens = tokenized.rows().select(functions.col("id"), functions.size(functions.col("tokens")).minus(1)
          .as("n"));
    }
    try {
      return SelfInfluenceJob.run(spark, new SelfInfluenceSpec(store, names, rates,
          s.getDouble("self-influence.flag-fraction"), p, new Path(out, SELF_INFLUENCE), lossTokens));
    } finally {
      if (tokenized != null) {
        tokenized.release();
      }
    }
  }

  /**
   * Scores of every query against every training sequence; top-k and bottom-k joined to the text. TracIn; with
   * {@code score.method = ekfac} each query gradient preconditioned by its checkpoint's EK-FAC {@code (H_i + λI)⁻¹};
   * with {@code cg} or {@code lissa} solved with {@code (H_i + λI)⁻¹} by the iterative solver, the curvature-vector
   * products aggregated over the corpus by Spark ({@link IhvpQueries}). Influence methods sum the checkpoints
   * ({@code ekfac.checkpoints} / {@code ihvp.checkpoints}) with weight 1 each.
   */
  public static Dataset<Row> score(SparkSession spark, Config s, boolean overwrite) {
    Path out = Locations.resolve(spark, s.getString("output.dir"));
    Path store = new Path(out, GRADIENTS);
    String folder = scoreFolder(s);
    String method = method(s, "score");
    IhvpSettings ih = usesIhvp(s, "score") ? IhvpSettings.from(s) : null;   // checked before any work
    OutputGuard.claim(out, folder, stageSettings(s, "score"), overwrite);
    List<Queries.Query> queries = Queries.read(spark, Settings.requiredPath(s, "input.queries", "score"));
    List<String> names = extracted(spark, store);
    EkfacSettings ek = method.equals("ekfac") ? EkfacSettings.from(s) : null;
    if (ek != null) {
      names = ek.select(names);
    }
    if (ih != null) {
      names = ih.select(names);
    }
    Map<String, RunCheckpoint> byName = new HashMap<>();
    TrainingRun run = run(s, "score");
    for (RunCheckpoint c : run.checkpoints()) {
      byName.put(ExtractJob.checkpointName(c), c);
    }
    List<List<Map<String, INDArray>>> perQuery = new ArrayList<>();
    queries.forEach(q -> perQuery.add(new ArrayList<>()));
    List<Double> rates = new ArrayList<>();
    List<SolveReport> reports = new ArrayList<>();
    TokenizedCorpus tokenized = null;
    IhvpQueries.HvpCorpus hvpCorpus = null;
    try {
      if (ih != null) {
        tokenized = TokenizedCorpus.prepare(spark, Corpus.read(spark, Settings.requiredPath(s, "input.corpus", "score")),
            run.checkpoints().get(0), badRows(s));
        hvpCorpus = IhvpQueries.corpus(tokenized.rows(), ih);
      }
      for (String name : names) {
        RunCheckpoint c = byName.get(name);
        if (c == null) {
          throw new IllegalStateException("the gradient store has checkpoint " + name + " but the run "
              + s.getString("input.run") + " does not. HINT: extract again for this run (--overwrite)");
        }
        rates.add(method.equals("tracin") ? c.learningRate() : 1.0);
        StoreMetadata meta = GradientStore.metadata(spark, store, name);
        if (ih != null) {
          IhvpQueries.Solved solved = IhvpQueries.precondition(hvpCorpus, c, meta, ih, method,
              fullQueryGradients(queries, c, meta.layerNames()));
          for (int i = 0; i < queries.size(); i++) {
            perQuery.get(i).add(solved.preconditioned().get(i));
          }
          reports.addAll(solved.reports());
          continue;
        }
        List<ExampleGradient> g = queryGradients(queries, c, meta);
        io.influence.core.grad.Preconditioner p = ek == null ? null
            : FactorStore.preconditioner(new Path(out, FACTORS), meta, ek.damping());
        for (int i = 0; i < g.size(); i++) {
          perQuery.get(i).add(p == null ? g.get(i).layers() : p.apply(g.get(i).layers()));
        }
      }
    } finally {
      if (hvpCorpus != null) {
        hvpCorpus.release();
      }
      if (tokenized != null) {
        tokenized.release();
      }
    }
    List<QueryGradient> qs = new ArrayList<>();
    for (int i = 0; i < queries.size(); i++) {
      qs.add(QueryGradient.ofArrays(queries.get(i).id(), perQuery.get(i)));
    }
    Double damping = null;
    if (ek != null) {
      damping = ek.damping().value();
    } else if (ih != null) {
      damping = ih.damping();
    }
    Map<String, String> solver = ih == null ? null
        : IhvpQueries.solverColumn(method, ih, hvpCorpus.rows(), reports);
    return ScoreJob.run(spark, new ScoreSpec(store, names, rates, qs, s.getInt("score.top-k"),
        s.getInt("score.block-rows"), method, damping,
        Locations.resolve(spark, Settings.requiredPath(s, "input.corpus", "score")), new Path(out, folder), solver));
  }

  /**
   * The score stage's output folder under {@code output.dir} ({@code score.folder}): a plain name, not
   * one of the other stages' folders, so several scorings (e.g. TracIn and EK-FAC) can sit side by side.
   */
  public static String scoreFolder(Config s) {
    String f = s.getString("score.folder");
    if (!f.matches("[A-Za-z0-9][A-Za-z0-9._-]*") || List.of(GRADIENTS, FACTORS, SELF_INFLUENCE, "report").contains(f)) {
      throw new IllegalArgumentException("influence.score.folder = \"" + f + "\" must be a plain folder name (letters, "
          + "digits, . _ -) other than " + GRADIENTS + ", " + FACTORS + ", " + SELF_INFLUENCE + " and report. HINT: "
          + "e.g. scores-ekfac");
    }
    return f;
  }

  /**
   * Full float64 gradients ({@code [dOut, dIn+1]} per layer, bias last: the layout of the curvature operators) of
   * each query's completion tokens w.r.t. {@code layers}, from the float64 model of checkpoint {@code c}.
   */
  public static List<ExampleGradient> fullQueryGradients(List<Queries.Query> queries, RunCheckpoint c,
      List<String> layers) {
    try {
      Gpt2Model model = Gpt2Model.load(c.dir(), DataType.DOUBLE);
      Tokenizer tokenizer = Tokenizer.fromTokenizerJson(c.dir().resolve("tokenizer.json"));
      QueryTokens t = tokenize(queries, model, tokenizer);
      GradientRequest request = GradientRequest.perExampleFull().withTrackedLayers(layers);
      List<ExampleGradient> out = new ArrayList<>();
      for (int start = 0; start < queries.size(); start += QUERY_BATCH) {
        int end = Math.min(queries.size(), start + QUERY_BATCH);
        BatchGradients g = model.gradients(new TokenBatch(t.tokens().subList(start, end).toArray(new int[0][]),
            t.masks().subList(start, end).toArray(new int[0][])), request);
        for (int i = start; i < end; i++) {
          Map<String, INDArray> layerMap = new LinkedHashMap<>();
          for (String l : layers) {
            layerMap.put(l, g.fullPerExample().get(i - start).get(l));
          }
          out.add(new ExampleGradient(t.ids().get(i), layerMap));
        }
      }
      return out;
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("cannot load checkpoint " + c.dir() + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the tokenizer of " + c.dir() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Gradients of each query's completion tokens (prompt and completion tokenised separately and
   * concatenated; the loss mask covers the completion), in the store's gradient space.
   */
  public static List<ExampleGradient> queryGradients(List<Queries.Query> queries, RunCheckpoint c, StoreMetadata meta) {
    try {
      Gpt2Model model = Gpt2Model.load(c.dir(), DataType.FLOAT);
      Tokenizer tokenizer = Tokenizer.fromTokenizerJson(c.dir().resolve("tokenizer.json"));
      Map<String, KroneckerProjection> projections = new LinkedHashMap<>();
      if (meta.projectionSeed() != null) {
        for (StoreMetadata.Layer l : meta.layers()) {
          int[] shape = model.linearShape(l.name());
          projections.put(l.name(), KroneckerProjection.create(l.name(), shape[1], shape[0], l.cols(), l.rows(),
              meta.projectionSeed(), DataType.FLOAT));
        }
      }
      QueryTokens t = tokenize(queries, model, tokenizer);
      return new GradientExtractor(model, projections, QUERY_BATCH).extract(t.ids(), t.tokens(), t.masks());
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("cannot load checkpoint " + c.dir() + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the tokenizer of " + c.dir() + ": " + e.getMessage(), e);
    }
  }

  private record QueryTokens(List<String> ids, List<int[]> tokens, List<int[]> masks) {}

  /** Prompt and completion tokenised separately and concatenated; the loss mask covers the completion. */
  private static QueryTokens tokenize(List<Queries.Query> queries, Gpt2Model model, Tokenizer tokenizer) {
    List<String> ids = new ArrayList<>();
    List<int[]> tokens = new ArrayList<>();
    List<int[]> masks = new ArrayList<>();
    for (Queries.Query q : queries) {
      int[] p = tokenizer.encode(q.prompt());
      int[] r = tokenizer.encode(q.completion());
      int[] t = new int[p.length + r.length];
      int[] m = new int[t.length];
      System.arraycopy(p, 0, t, 0, p.length);
      System.arraycopy(r, 0, t, p.length, r.length);
      for (int i = Math.max(1, p.length); i < t.length; i++) {
        m[i] = 1;
      }
      if (t.length > model.config().nPositions()) {
        throw new IllegalArgumentException("query " + q.id() + " has " + t.length + " tokens, over the model's context of "
            + model.config().nPositions());
      }
      ids.add(q.id());
      tokens.add(t);
      masks.add(m);
    }
    return new QueryTokens(ids, tokens, masks);
  }

  private static ExtractSpec.BadRowPolicy badRows(Config s) {
    return switch (s.getString("input.bad-rows")) {
      case "fail" -> ExtractSpec.BadRowPolicy.FAIL;
      case "skip" -> ExtractSpec.BadRowPolicy.SKIP;
      default -> throw new IllegalArgumentException("influence.input.bad-rows must be \"fail\" or \"skip\", got "
          + s.getString("input.bad-rows"));
    };
  }

  private static TrainingRun run(Config s, String stage) {
    String dir = Settings.requiredPath(s, "input.run", stage);
    OptionalDouble constant = s.getIsNull("input.constant-learning-rate") ? OptionalDouble.empty()
        : OptionalDouble.of(s.getDouble("input.constant-learning-rate"));
    try {
      return Runs.read(Locations.conf(), dir, constant);
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  private static List<String> extracted(SparkSession spark, Path store) {
    List<String> names = GradientStore.checkpoints(store);
    if (names.isEmpty()) {
      throw new IllegalStateException("no extracted gradients in " + store + ". HINT: run `influence extract` first");
    }
    return names;
  }
}
