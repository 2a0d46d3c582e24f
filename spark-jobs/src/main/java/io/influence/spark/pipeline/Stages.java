package io.influence.spark.pipeline;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.spark.candidates.CandidatesJob;
import io.influence.spark.candidates.CandidatesSpec;
import io.influence.spark.config.EkfacSettings;
import io.influence.spark.config.ExtractSettings;
import io.influence.spark.config.FlagSettings;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.config.SelfInfluenceSettings;
import io.influence.spark.ekfac.FitEkfacJob;
import io.influence.spark.ekfac.FitEkfacSpec;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.flag.FlagJob;
import io.influence.spark.flag.FlagSpec;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import io.influence.spark.method.InfluenceMethod;
import io.influence.spark.method.Preconditioned;
import io.influence.spark.method.ScoringInputs;
import io.influence.spark.progress.ProgressLog;
import io.influence.spark.report.ReportBuilder;
import io.influence.spark.representer.RepresenterJob;
import io.influence.spark.representer.RepresenterSpec;
import io.influence.spark.score.DampingUsed;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.score.ScoreSpec;
import io.influence.spark.selfinf.SelfInfluenceJob;
import io.influence.spark.selfinf.SelfInfluenceSpec;
import io.influence.spark.store.CandidateCoverage;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * The pipeline's stages as functions of {@code (SparkSession, InfluenceSettings)}: what each {@code influence}
 * subcommand calls, and what tests call. Every stage writes under {@code output.dir}: {@code gradients/},
 * {@code factors/}, {@code self-influence/}, {@code scores/}, {@code flag/}, {@code report/}, with the settings it ran with saved
 * beside them (an output written with other settings is refused unless {@code output.overwrite}). Which method a
 * stage runs is an {@link InfluenceMethod}; no stage compares method names.
 */
public final class Stages {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Stages.class);

  public static final String GRADIENTS = "gradients";
  public static final String SELF_INFLUENCE = "self-influence";
  public static final String SCORES = "scores";
  public static final String FACTORS = "factors";
  public static final String REPORT = "report";
  public static final String FLAG = "flag";
  public static final String CANDIDATES = "candidates";
  /** The fitted head of score.method = representer. */
  public static final String REPRESENTER = "representer";

  private Stages() {}

  /** What {@link #run} did, stage by stage. */
  public record Outcome(ExtractJob.Result extract, Optional<FitEkfacJob.Result> fitEkfac, Dataset<Row> selfInfluence,
                        Optional<Dataset<Row>> scores) {}

  /**
   * The whole pipeline: extract; fit-ekfac when self-influence or score (with queries) uses a method that needs
   * factors; self-influence; score when queries are given. Both methods are resolved before any work.
   */
  public static Outcome run(SparkSession spark, InfluenceSettings s, Consumer<String> print) {
    InfluenceMethod self = RepresenterStages.handles(s.selfInfluence().method())   // no store, no factors
        || SgdInfluenceCleaning.handles(s.selfInfluence().method()) ? null
        : InfluenceMethod.of(s.selfInfluence().method(), s);
    boolean scoring = s.input().queries().isPresent();
    boolean noStore = s.score().method().retrains() || SgdInfluenceStage.handles(s.score().method())
        || s.score().method() == io.influence.spark.config.Method.REPRESENTER;   // no stored gradients, no factors
    InfluenceMethod scoreMethod = noStore ? null : InfluenceMethod.of(s.score().method(), s);
    if (s.extract().candidates() && scoring && !noStore && !s.score().candidates()) {   // before any work
      throw new IllegalArgumentException("influence.extract.candidates = true extracts the candidates' gradients only,"
          + " but score.candidates = false would score them as the whole corpus. HINT: set score.candidates = true"
          + " (or extract.candidates = false)");
    }
    ExtractJob.Result extracted = extract(spark, s);
    print.accept(describe(extracted));
    Optional<FitEkfacJob.Result> fitted = Optional.empty();
    if ((self != null && self.needsFactors()) || (scoring && scoreMethod != null && scoreMethod.needsFactors())) {
      fitted = Optional.of(fitEkfac(spark, s));
      print.accept(describe(fitted.get()));
    }
    Dataset<Row> selfInfluence = selfInfluence(spark, s);
    Optional<Dataset<Row>> scores = scoring ? Optional.of(score(spark, s)) : Optional.empty();
    return new Outcome(extracted, fitted, selfInfluence, scores);
  }

  /** Per-example gradients of the corpus at every checkpoint of the run. */
  public static ExtractJob.Result extract(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    String corpusFile = s.input().corpus("extract");
    TrainingRun run = run(s, "extract");
    ExtractSettings e = s.extract();
    java.util.Set<String> candidates = e.candidates() ? CandidatesJob.rows(candidates(spark, s)) : null;
    return OutputGuard.whileClaimed(out, GRADIENTS, corpusSide(s, "extract"), s.output().overwrite(),
        () -> logged(spark, out, "extract", () -> {
          ExtractSpec spec = new ExtractSpec(partitioned(Corpus.read(spark, corpusFile, s.input().badRows()),
              e.partitions()), run, new Path(out, GRADIENTS),
              e.projection().orElse(null), e.layers().isEmpty() ? null : e.layers(), e.batchSize(),
              s.input().badRows(), s.input().longText());
          spec = spec.withPreconditioning(e.optimizerPreconditioning());
          return ExtractJob.run(spark, candidates == null ? spec : spec.withCandidates(candidates));
        }));
  }

  /** {@code rows} in {@code partitions} partitions, or as they come when it is 0. */
  private static Dataset<Row> partitioned(Dataset<Row> rows, int partitions) {
    return partitions > 0 ? rows.repartition(partitions) : rows;
  }

  /**
   * EK-FAC factors of the extracted checkpoints ({@code ekfac.checkpoints}: all or the last), in the gradient
   * store's space, under {@code factors/step-N/}; finished checkpoints are skipped.
   */
  public static FitEkfacJob.Result fitEkfac(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    Path store = new Path(out, GRADIENTS);
    EkfacSettings ek = s.ekfac();
    String corpusFile = s.input().corpus("fit-ekfac");
    TrainingRun run = run(s, "fit-ekfac");
    List<String> names = ek.select(extracted(store));
    if (ek.fisher() == io.influence.spark.config.Fisher.EMPIRICAL && CandidateCoverage.read(store).isPresent()) {
      throw new IllegalStateException("the gradient store " + store + " is partial (" + CandidateCoverage.read(store)
          .orElseThrow().describe() + "), and ekfac.fisher = empirical takes its eigenvalue correction from the stored"
          + " gradients, i.e. from the candidates only. HINT: set ekfac.fisher = true (the correction is then a pass"
          + " over the whole corpus), or fit the factors from an exhaustive store");
    }
    return OutputGuard.whileClaimed(out, FACTORS, corpusSide(s, "extract"), s.output().overwrite(),
        () -> logged(spark, out, "fit-ekfac", () -> FitEkfacJob.run(spark, new FitEkfacSpec(Corpus.read(spark, corpusFile, s.input().badRows()), run, names, store,
            new Path(out, FACTORS), ek.batchSize(), ek.partitions(), s.input().badRows(),
            s.input().longText(), ek.fisher(), ek.fisherSeed(), ek.fisherSamples()))));
  }

  /**
   * Self-influence of every training sequence over the method's checkpoints: TracIn {@code Σ_i η_i ‖g_i‖²}, or with
   * {@code self-influence.method = ekfac} {@code Σ_i ⟨g_i, (H_i + λI)⁻¹ g_i⟩} (weight 1 per checkpoint); with
   * {@code self-influence.normalize = per-token} each divided by the sequence's predicted tokens.
   */
  public static Dataset<Row> selfInfluence(SparkSession spark, InfluenceSettings s) {
    if (RepresenterStages.handles(s.selfInfluence().method())) {   // from the fitted head, no gradient store
      return RepresenterStages.selfInfluence(spark, s);
    }
    if (SgdInfluenceCleaning.handles(s.selfInfluence().method())) {   // replays the run, one replay per sequence
      return SgdInfluenceCleaning.selfInfluence(spark, s);
    }
    Path out = Locations.resolve(spark, s.output().dir());
    Path store = new Path(out, GRADIENTS);
    InfluenceMethod method = InfluenceMethod.of(s.selfInfluence().method(), s);
    boolean perToken = s.selfInfluence().normalize() == SelfInfluenceSettings.Normalization.PER_TOKEN;
    String corpusFile = perToken ? s.input().corpus("self-influence") : null;
    TrainingRun run = perToken ? run(s, "self-influence") : null;
    List<String> names = method.checkpoints(extracted(store));
    return OutputGuard.whileClaimed(out, SELF_INFLUENCE, fingerprint(spark, s, "self-influence", method, store, names),
        s.output().overwrite(), () -> logged(spark, out, "self-influence", () -> {
          List<Double> weights = names.stream()
              .map(n -> method.weight(GradientStore.metadata(spark, store, n).learningRate())).toList();
          ScoringInputs in = new ScoringInputs(store, new Path(out, FACTORS), null, s.input().badRows(),
              s.input().longText(), List.of());
          var preconditioner = method.selfPreconditioner(spark, in, names).orElse(null);
          TokenizedCorpus tokenized = perToken ? TokenizedCorpus.prepare(spark, Corpus.read(spark, corpusFile, s.input().badRows()),
              run.checkpoints().get(0), s.input().badRows(), s.input().longText()) : null;
          try {
            Dataset<Row> lossTokens = tokenized == null ? null : tokenized.rows().select(functions.col("id"),
                functions.size(functions.col("tokens")).minus(1).as("n"));
            return SelfInfluenceJob.run(spark, new SelfInfluenceSpec(store, names, weights,
                s.selfInfluence().flagFraction(), preconditioner, new Path(out, SELF_INFLUENCE), lossTokens));
          } finally {
            if (tokenized != null) {
              tokenized.release();
            }
          }
        }));
  }

  /**
   * Scores of every query against every training sequence, top-k and bottom-k joined to the text: each query
   * gradient preconditioned by the method ({@link InfluenceMethod#precondition}) at each of its checkpoints, scored
   * with the method's checkpoint weights, into {@code score.folder}.
   */
  public static Dataset<Row> score(SparkSession spark, InfluenceSettings s) {
    if (s.score().method().retrains()) { // Data Shapley: fine-tuning on subsets, no gradient store
      return io.influence.spark.shapley.ShapleyStage.score(spark, s);
    }
    if (s.score().method() == io.influence.spark.config.Method.REPRESENTER) {
      return representerScore(spark, s);
    }
    if (SgdInfluenceStage.handles(s.score().method())) {   // replays the run instead of scoring stored gradients
      return SgdInfluenceStage.score(spark, s);
    }
    Path out = Locations.resolve(spark, s.output().dir());
    Path store = new Path(out, GRADIENTS);
    String folder = s.score().folder();
    InfluenceMethod method = InfluenceMethod.of(s.score().method(), s);
    Path corpus = Locations.resolve(spark, s.input().corpus("score"));
    String queriesFile = s.input().queries("score");
    TrainingRun run = run(s, "score");
    List<String> names = method.checkpoints(extracted(store));
    List<RunCheckpoint> checkpoints = checkpointsOf(run, names, s.input().run("score"));
    boolean onCandidates = s.score().candidates();
    Map<String, java.util.Set<String>> candidates = onCandidates ? CandidatesJob.byQuery(candidates(spark, s)) : null;
    CandidateCoverage.requireCovers(CandidateCoverage.read(store), onCandidates ? candidates.values().stream()
        .flatMap(java.util.Set::stream).toList() : null, store, "score");
    Config scoreSettings = fingerprint(spark, s, "score", method, store, names);
    if (onCandidates) {   // an output computed on candidates records how they were chosen
      scoreSettings = scoreSettings.withFallback(s.section(CANDIDATES));
    }
    return OutputGuard.whileClaimed(out, folder, scoreSettings,
        s.output().overwrite(), () -> logged(spark, out, progressName(folder), () -> {
      requireStoreOf(spark, store, Corpus.read(spark, corpus, s.input().badRows()),
          s.input().corpus("score"));
      List<Queries.Query> queries = Queries.read(spark, queriesFile);
      Preconditioned p = method.precondition(spark, new ScoringInputs(store, new Path(out, FACTORS), corpus,
          s.input().badRows(), s.input().longText(), queries), checkpoints);
      List<Double> weights = checkpoints.stream().map(c -> method.weight(c.learningRate())).toList();
      ScoreSpec spec = new ScoreSpec(store, names, weights, p.queries(), s.score().topK(),
          s.score().blockRows(), method.name().word(),
          method.damping().map(d -> DampingUsed.of(d, p.lambda())).orElse(null), corpus, new Path(out, folder),
          p.solver());
      spec = spec.withUnitGradients(s.score().gradientsInForce() == io.influence.spark.config.ScoreSettings.Gradients.UNIT);
      return ScoreJob.run(spark, candidates == null ? spec : spec.withCandidates(candidates));
    }));
  }

  /**
   * The lexical candidates of every query ({@link CandidatesJob}) under {@code candidates/}: the fitted model
   * ({@code candidates/model/}, recomputed when the corpus, its tokens or feature count change) and the per-query lists
   * ({@code candidates/lists/}, recomputed when the queries or the model change as well). Other settings than those a
   * folder was written with are refused unless {@code output.overwrite}.
   */
  public static Dataset<Row> candidates(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    Path dir = new Path(out, CANDIDATES);
    String corpusFile = s.input().corpus(CANDIDATES);
    String queriesFile = s.input().queries(CANDIDATES);
    boolean tokenizer = s.candidates().tokens() == io.influence.spark.candidates.CandidateTokens.TOKENIZER
        && s.candidates().source() == io.influence.spark.candidates.CandidateSource.LEXICAL;
    String checkpoint = tokenizer ? Runs.location(run(s, CANDIDATES).checkpoints().get(0)) : null;
    Dataset<Row> corpus = Corpus.read(spark, corpusFile, s.input().badRows());
    List<Queries.Query> queries = Queries.read(spark, queriesFile);
    Config model = s.section("input").withoutPath("input.queries").withoutPath("input.run")
        .withValue("candidates.tokens", ConfigValueFactory.fromAnyRef(
            io.influence.spark.config.Choices.word(s.candidates().tokens())))
        .withValue("candidates.num-features", ConfigValueFactory.fromAnyRef(s.candidates().numFeatures()))
        .withValue(OutputGuard.INPUTS + ".corpus", ConfigValueFactory.fromAnyRef(Corpus.fingerprint(corpus)));
    if (tokenizer) {
      model = model.withValue(OutputGuard.INPUTS + ".tokenizer", ConfigValueFactory.fromAnyRef(checkpoint));
    }
    Config lists = model.withFallback(s.section(CANDIDATES)).withValue(OutputGuard.INPUTS + ".queries",
        ConfigValueFactory.fromAnyRef(Runs.sha256(queries.stream()
            .map(q -> q.id() + "\0" + q.prompt() + "\0" + q.completion())
            .collect(java.util.stream.Collectors.joining("\n")))));
    Config modelSettings = model;
    if (s.candidates().source() == io.influence.spark.candidates.CandidateSource.SCORES) {   // two-stage: no model
      Path scores = Locations.resolve(spark, s.candidates().scores().orElseThrow());
      Path summary = new Path(scores, io.influence.spark.store.PublishedFolder.SUMMARY_FILE);
      if (!Locations.exists(Locations.conf(), summary)) {
        throw new IllegalArgumentException("influence.candidates.scores = " + scores + " holds no complete score "
            + "output (no " + summary.getName() + "). HINT: run `influence score` for the recall stage into it first");
      }
      Config fromScores = lists.withValue(OutputGuard.INPUTS + ".scores", ConfigValueFactory.fromAnyRef(
          Runs.sha256(Locations.readString(Locations.conf(), summary))));
      return OutputGuard.whileClaimed(dir, CandidatesJob.LISTS, fromScores, s.output().overwrite(),
          () -> logged(spark, out, CANDIDATES, () -> CandidatesJob.run(spark,
              new CandidatesSpec(corpus, queries, s.candidates(), checkpoint, dir, scores))));
    }
    return OutputGuard.whileClaimed(dir, CandidatesJob.MODEL, modelSettings, s.output().overwrite(),
        () -> OutputGuard.whileClaimed(dir, CandidatesJob.LISTS, lists, s.output().overwrite(),
            () -> logged(spark, out, CANDIDATES, () -> CandidatesJob.run(spark,
                new CandidatesSpec(corpus, queries, s.candidates(), checkpoint, dir)))));
  }

  /**
   * {@code score.method = representer}: representer points of the last checkpoint's output head, fine-tuned with
   * {@code representer.lambda} (fit saved under {@code representer/} and reused while checkpoint, corpus and settings
   * hold), into {@code score.folder} with the score stage's schema ({@link RepresenterJob}). Needs no extract.
   */
  public static Dataset<Row> representerScore(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    String folder = s.score().folder();
    Path corpus = Locations.resolve(spark, s.input().corpus("score"));
    String queriesFile = s.input().queries("score");
    TrainingRun run = run(s, "score");
    RunCheckpoint last = run.checkpoints().get(run.checkpoints().size() - 1);
    Config settings = s.section("score", "input", REPRESENTER)
        .withValue(OutputGuard.INPUTS + ".checkpoints." + ExtractJob.checkpointName(last),
            ConfigValueFactory.fromAnyRef(last.sha256() + " " + Corpus.fingerprint(Corpus.read(spark, corpus,
                s.input().badRows()))));
    return OutputGuard.whileClaimed(out, folder, settings, s.output().overwrite(),
        () -> logged(spark, out, progressName(folder), () -> RepresenterJob.run(spark, new RepresenterSpec(corpus,
            last, Queries.read(spark, queriesFile), s.representer(), s.score().topK(), s.score().blockRows(),
            s.input().badRows(), s.input().longText(), new Path(out, REPRESENTER), new Path(out, folder)))));
  }

  /** The progress log of the score stage: {@code score}, or {@code score-<folder>} for another score folder. */
  static String progressName(String folder) {
    return folder.equals(SCORES) ? "score" : "score-" + folder;
  }

  /** Runs a stage's work with its progress log ({@link ProgressLog}) under {@code out/_progress/} open. */
  static <T> T logged(SparkSession spark, Path out, String stage, Supplier<T> work) {
    try (ProgressLog log = ProgressLog.open(spark.sparkContext().hadoopConfiguration(), out, stage)) {
      return work.get();
    }
  }

  /**
   * Every training sequence ranked by its aggregate influence on examples of unwanted behaviour ({@code
   * flag.examples}, read like queries) with {@code flag.method}, the top ones flagged, into {@code flag.folder}
   * ({@link FlagJob}). With {@code flag.combine-self-influence = rank-mean} the self-influence stage runs first (or
   * is reused). The examples are read before the folder is claimed; their content is part of the fingerprint.
   */
  public static Dataset<Row> flag(SparkSession spark, InfluenceSettings s) {
    if (RepresenterStages.handles(s.flag().method())) {   // from the fitted head, no gradient store
      return RepresenterStages.flag(spark, s);
    }
    if (SgdInfluenceCleaning.handles(s.flag().method())) {   // replays the run once for all the examples
      return SgdInfluenceCleaning.flag(spark, s);
    }
    Path out = Locations.resolve(spark, s.output().dir());
    Path store = new Path(out, GRADIENTS);
    FlagSettings f = s.flag();
    InfluenceMethod method = InfluenceMethod.of(f.method(), s);
    Path corpus = Locations.resolve(spark, s.input().corpus(FLAG));
    String examplesFile = f.examples(FLAG);
    TrainingRun run = run(s, FLAG);
    List<String> names = method.checkpoints(extracted(store));
    List<RunCheckpoint> checkpoints = checkpointsOf(run, names, s.input().run(FLAG));
    if (f.span() == FlagSettings.Span.POSITIVE_TOKENS) {   // before tokenising the corpus or solving for the examples
      io.influence.spark.flag.TokenFlag.requireUsable(names.stream()
          .map(n -> GradientStore.metadata(spark, store, n)).toList());
    }
    List<Queries.Query> examples = Queries.read(spark, examplesFile);
    CandidateCoverage.requireCovers(CandidateCoverage.read(store), null, store, FLAG);
    if (method.needsFactors()) {   // EK-FAC (the default): fit what is missing, reuse finished checkpoints
      LOG.info(describe(fitEkfac(spark, s)));
    }
    boolean combine = f.combine() == FlagSettings.CombineSelfInfluence.RANK_MEAN;
    Dataset<Row> self = combine ? selfInfluence(spark, s) : null;
    Config settings = fingerprint(spark, s, FLAG, method, store, names)
        .withValue(OutputGuard.INPUTS + ".examples", ConfigValueFactory.fromAnyRef(Runs.sha256(examples.stream()
            .map(q -> q.id() + "\0" + q.prompt() + "\0" + q.completion()).collect(java.util.stream.Collectors.joining("\n")))));
    if (combine) {
      settings = settings.withFallback(s.section(SELF_INFLUENCE));
    }
    // score.gradients in force for the flag method (auto: unit for tracin), as the score stage would use it
    boolean unit = s.score().gradients().of(f.method()) == io.influence.spark.config.ScoreSettings.Gradients.UNIT;
    settings = settings.withValue("flag.gradients-in-force", ConfigValueFactory.fromAnyRef(unit ? "unit" : "raw"));
    String digest = Runs.sha256(settings.root().render(com.typesafe.config.ConfigRenderOptions.concise()));
    Config claimed = settings;
    return OutputGuard.whileClaimed(out, f.folder(), claimed, s.output().overwrite(), () -> {
      requireStoreOf(spark, store, Corpus.read(spark, corpus, s.input().badRows()), s.input().corpus(FLAG));
      Preconditioned p = method.precondition(spark, new ScoringInputs(store, new Path(out, FACTORS), corpus,
          s.input().badRows(), s.input().longText(), examples), checkpoints);
      List<Double> weights = checkpoints.stream().map(c -> method.weight(c.learningRate())).toList();
      // flag.span = positive-tokens recomputes each sequence's per-position terms from the corpus, tokenised as
      // extract did (the run's first checkpoint's tokenizer, the same bad-row and long-text policies)
      TokenizedCorpus tokenized = f.span() != FlagSettings.Span.POSITIVE_TOKENS ? null
          : TokenizedCorpus.prepare(spark, Corpus.spreadOverCores(Corpus.read(spark, corpus, s.input().badRows())),
              run.checkpoints().get(0), s.input().badRows(), s.input().longText());
      try {
        return FlagJob.run(spark, new FlagSpec(store, names, weights, p.queries(), f.aggregate(), self, f.fraction(),
            f.topK(), f.blockRows(), new FlagSpec.Provenance(method.name().word(),
            method.damping().map(io.influence.ekfac.Damping::words).orElse(null),
            examplesFile, digest, p.solver()), new Path(out, f.folder()), unit,
            tokenized == null ? null : new FlagSpec.Tokens(tokenized.rows(), checkpoints)));
      } finally {
        if (tokenized != null) {
          tokenized.release();
        }
      }
    });
  }

  /**
   * Fails when the gradient store was extracted from another corpus than {@code corpus} (its text would be joined to
   * the wrong rows, or to none): the content fingerprints must match.
   */
  private static void requireStoreOf(SparkSession spark, Path store, Dataset<Row> corpus, String location) {
    String now = Corpus.fingerprint(corpus);
    for (String name : extracted(store)) {
      String then = GradientStore.metadata(spark, store, name).corpus();
      if (then != null && !then.equals(now)) {
        throw new IllegalStateException("the gradient store " + store + " (" + name + ") was extracted from another "
            + "corpus than " + location + " (content " + then + ", now " + now + "). HINT: run `influence extract` "
            + "(or `influence run`) again with this corpus, or score with the corpus the store was extracted from");
      }
    }
  }

  /** The run's checkpoints of the store's checkpoint names, in order; the store must not name one the run lacks. */
  private static List<RunCheckpoint> checkpointsOf(TrainingRun run, List<String> names, String runLocation) {
    Map<String, RunCheckpoint> byName = new HashMap<>();
    for (RunCheckpoint c : run.checkpoints()) {
      byName.put(ExtractJob.checkpointName(c), c);
    }
    List<RunCheckpoint> checkpoints = new ArrayList<>();
    for (String name : names) {
      RunCheckpoint c = byName.get(name);
      if (c == null) {
        throw new IllegalStateException("the gradient store has checkpoint " + name + " but the run " + runLocation
            + " does not. HINT: extract again for this run (--overwrite)");
      }
      checkpoints.add(c);
    }
    return checkpoints;
  }

  /** The HTML report of the output folder ({@code report.scores}), written to {@code report/index.html}. */
  public static Path report(SparkSession spark, InfluenceSettings s) {
    return ReportBuilder.write(spark, s);
  }

  /** One line saying what extract did. */
  public static String describe(ExtractJob.Result r) {
    return "extract: wrote " + r.written() + ", already done " + r.skipped()
        + (r.rowsExtracted() >= 0 ? ", " + r.rowsExtracted() + " gradient rows computed" : "")
        + (r.badRows().count() > 0 ? ", skipped " + r.badRows().count() + " bad rows, e.g. " + r.badRows().examples()
        : "");
  }

  /** One line saying what fit-ekfac did. */
  public static String describe(FitEkfacJob.Result r) {
    return "fit-ekfac: wrote " + r.written() + ", already done " + r.skipped()
        + (r.badRows() != null && r.badRows().count() > 0 ? ", left out " + r.badRows().count() + " bad rows, e.g. "
        + r.badRows().examples() : "");
  }

  /**
   * The settings a stage's output depends on: its own block, the input, and the blocks its method reads. Only the
   * score stage depends on the queries: adding queries to a finished run reuses its gradients, factors and
   * self-influence.
   */
  private static Config fingerprint(SparkSession spark, InfluenceSettings s, String stage, InfluenceMethod method,
      Path store, List<String> checkpoints) {
    List<String> blocks = new ArrayList<>(List.of(stage, "input"));
    blocks.addAll(method.settingsBlocks());
    Config c = s.section(blocks.toArray(String[]::new));
    for (String name : checkpoints) {   // what the output is computed from: each checkpoint's content hash
      StoreMetadata meta = GradientStore.metadata(spark, store, name);
      c = c.withValue(OutputGuard.INPUTS + ".checkpoints." + name, ConfigValueFactory.fromAnyRef(meta.sha256() + " "
          + meta.corpus() + (meta.optimizerSha256() == null ? "" : " adam " + meta.optimizerSha256())
          + (meta.projectionSha256() == null ? "" : " principal " + meta.projectionSha256())));
    }
    var coverage = CandidateCoverage.read(store);   // a partial store: which rows it holds
    if (coverage.isPresent()) {
      c = c.withValue(OutputGuard.INPUTS + ".candidate-store", ConfigValueFactory.fromAnyRef(coverage.get().describe()));
    }
    return stage.equals("score") ? c : c.withoutPath("input.queries");
  }

  /** The settings of the corpus-side stages (the gradient store and the factors): input without the queries. */
  private static Config corpusSide(InfluenceSettings s, String block) {
    return s.section("input", block).withoutPath("input.queries");
  }

  static TrainingRun run(InfluenceSettings s, String stage) {
    try {
      return Runs.read(Locations.conf(), s.input().run(stage), s.input().constantLearningRate());
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  private static List<String> extracted(Path store) {
    List<String> names = GradientStore.checkpoints(store);
    if (names.isEmpty()) {
      throw new IllegalStateException("no extracted gradients in " + store + ". HINT: run `influence extract` first");
    }
    return names;
  }
}
