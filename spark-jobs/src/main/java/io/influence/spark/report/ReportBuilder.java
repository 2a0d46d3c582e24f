package io.influence.spark.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.LongText;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.report.CheckpointInfo;
import io.influence.spark.report.FlaggedSequence;
import io.influence.spark.report.Provenance;
import io.influence.spark.report.QueryResult;
import io.influence.spark.report.RankedSequence;
import io.influence.spark.report.Report;
import io.influence.spark.report.SelfInfluenceSection;
import io.influence.spark.report.TokenContribution;
import io.influence.spark.report.html.ReportWriter;
import io.influence.spark.representer.RepresenterTokens;
import io.influence.spark.score.QueryGradientFile;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.selfinf.SelfInfluenceJob;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;
import io.influence.spark.config.Method;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * Builds the HTML {@link Report} from a pipeline output folder: {@code scores/summary.jsonl} (the
 * kept top-k and bottom-k rows with their per-checkpoint and per-layer parts),
 * {@code self-influence/summary.jsonl}, Data Shapley folders ({@link ShapleyFolders}: values with standard errors and
 * the run's provenance), the gradient store's metadata (checkpoints, learning rates,
 * projection) and the run's checkpoints, from which each kept row's token contributions are
 * recomputed ({@link TokenContributions}). Inputs not given in the settings ({@code input.run},
 * {@code input.queries}, {@code input.corpus}) are taken from the settings the score stage saved
 * in the output folder.
 *
 * <p>The score histogram of a query shows every training sequence when the store has at most
 * {@link #MAX_SAMPLED} rows, otherwise a fixed id-hash sample of about that many (scores
 * recomputed on the driver from the stored gradients, so this reads the sampled rows once per
 * checkpoint); the self-influence histogram shows every training sequence.
 *
 * <p>Every file is read through Hadoop's file systems ({@link Locations}), so the output folder and the inputs may
 * be on HDFS or an object store; a remote run is localised by {@link Runs}.
 */
public final class ReportBuilder {

  /**
   * The report and, for each score folder shown ({@link Part}), per query and kept train id, the token
   * contributions, the stage's row scores and the histogram's scores.
   */
  public record Built(Report report, List<Part> parts) {
    /** The first (or only) score folder's token contributions: query id → train id → per-token values. */
    public Map<String, Map<String, double[]>> contributions() {
      return parts.get(0).contributions();
    }

    public Map<String, Map<String, Double>> rowScores() {
      return parts.get(0).rowScores();
    }

    public Map<String, Map<String, Double>> sampledScores() {
      return parts.get(0).sampledScores();
    }
  }

  /** One score folder of the report: its method and, per query, the figures computed from it. */
  public record Part(String folder, String method, Map<String, Map<String, double[]>> contributions,
                     Map<String, Map<String, Double>> rowScores, Map<String, Map<String, Double>> sampledScores) {}

  /** Training sequences scored for each query's histogram (all of them when the corpus is this small or smaller). */
  public static final int MAX_SAMPLED = 5000;

  public static final int SELF_INFLUENCE_SHOWN = 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Where {@link #write} puts the report, under {@code output.dir}. */
  public static final String REPORT_FILE = "report/index.html";

  private ReportBuilder() {}

  /** Builds the report ({@link #build}) and writes it to {@code output.dir/}{@value #REPORT_FILE}; returns that file. */
  public static Path write(SparkSession spark, InfluenceSettings s) {
    Path file = new Path(Locations.resolve(spark, s.output().dir()), REPORT_FILE);
    ReportWriter.write(build(spark, s).report(), file, spark.sparkContext().hadoopConfiguration());
    return file;
  }

  /**
   * The report of the score folders named by {@code report.scores} (default: the score stage's
   * {@code score.folder}), one {@link QueryResult} per query and folder (the report shows each query once with its
   * folders' top-k side by side), each folder's {@link MethodRun}, the number of training sequences (corpus rows), plus
   * the self-influence section.
   */
  public static Built build(SparkSession spark, InfluenceSettings s) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path out = Locations.resolve(conf, s.output().dir());
    List<String> folders = s.report().scores();
    if (folders.isEmpty()) {
      folders = List.of(s.score().folder());
    }
    Config saved = savedScoreSettings(conf, out, folders.get(0));
    String runDir = input(s.input().run(), saved, "input.run");
    String queriesFile = input(s.input().queries(), saved, "input.queries");
    String corpusFile = input(s.input().corpus(), saved, "input.corpus");
    List<Queries.Query> queries = Queries.read(spark, queriesFile);

    Path store = new Path(out, Stages.GRADIENTS);
    Map<String, RunCheckpoint> byName = new HashMap<>();
    try {
      for (RunCheckpoint c : Runs.read(conf, runDir, OptionalDouble.empty()).checkpoints()) {
        byName.put(ExtractJob.checkpointName(c), c);
      }
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException("cannot read the training run " + runDir + ": " + e.getMessage(), e);
    }
    Map<String, TokenContributions.At> atByName = new LinkedHashMap<>();
    List<CheckpointInfo> infos = new ArrayList<>();
    for (String name : GradientStore.checkpoints(store)) {
      StoreMetadata meta = GradientStore.metadata(spark, store, name);
      RunCheckpoint c = byName.get(name);
      if (c == null) {
        throw new IllegalStateException("the gradient store " + store + " has checkpoint " + name + " but the run "
            + runDir + " does not. HINT: build the report with the run the gradients were extracted from");
      }
      atByName.put(name, new TokenContributions.At(c, meta));
      infos.add(new CheckpointInfo(meta.step(), meta.learningRate(), meta.sha256() == null ? "" : meta.sha256()));
    }
    List<TokenContributions.At> allAts = new ArrayList<>(atByName.values());
    Tokenizer tokenizer;
    String projection;
    if (allAts.isEmpty()) {   // sgd-influence scores need no store; a folder scored from one says so below
      List<RunCheckpoint> ordered = byName.values().stream()
          .sorted(java.util.Comparator.comparingLong(RunCheckpoint::step)).toList();
      if (ordered.isEmpty()) {
        throw new IllegalStateException("no extracted gradients in " + store + " and no checkpoint in " + runDir
            + ". HINT: run `influence extract` first");
      }
      ordered.forEach(c -> infos.add(new CheckpointInfo(c.step(), c.learningRate(), c.sha256())));
      tokenizer = tokenizer(ordered.get(ordered.size() - 1).dir());
      projection = "none";
    } else {
      tokenizer = tokenizer(allAts.get(allAts.size() - 1).checkpoint().dir());
      projection = allAts.get(0).meta().projectionDescription();
    }

    Map<String, List<QueryResult>> perQuery = new LinkedHashMap<>();
    queries.forEach(q -> perQuery.put(q.id(), new ArrayList<>()));
    List<Part> parts = new ArrayList<>();
    Set<String> methods = new LinkedHashSet<>();
    String[] engine = {ScoreJob.ENGINE_VERSION};
    Map<String, String> damping = new LinkedHashMap<>();
    List<ShapleyResult> shapley = new ArrayList<>();
    List<MethodRun> runs = new ArrayList<>();
    for (String folder : folders) {
      Path dir = new Path(out, folder);
      Path summary = new Path(dir, ScoreJob.SUMMARY_FILE);
      List<JsonNode> rows = Locations.isFile(conf, summary) ? readJsonLines(conf, summary) : List.of();
      if (ShapleyFolders.holds(rows)) {   // Data Shapley: values with standard errors, no gradients to split
        List<ShapleyResult> read = ShapleyFolders.read(conf, folder, dir, rows, queries);
        shapley.addAll(read);
        methods.add(read.get(0).run().method());
        engine[0] = rows.get(0).get("engine_version").asText();
        parts.add(shapleyPart(folder, read));
        continue;
      }
      parts.add(scoreFolder(spark, out, folder, store, queries, atByName, byName, tokenizer, perQuery, methods, engine,
          damping, runs));
    }
    List<QueryResult> results = new ArrayList<>();
    perQuery.values().forEach(results::addAll);
    Map<String, String> shown = new TreeMap<>();
    for (Map.Entry<String, ConfigValue> e : saved.entrySet()) {
      shown.put(e.getKey(), e.getValue().unwrapped() == null ? "null" : String.valueOf(e.getValue().unwrapped()));
    }
    Provenance provenance = new Provenance(engine[0], methods.isEmpty() ? "tracin" : String.join(", ", methods),
        damping, projection, infos, Instant.now().toString(), shown, runs);
    SelfInfluenceSection self = selfInfluence(spark, out, corpusFile, s.input().badRows(),
        s.selfInfluence().flagFraction());
    long trainingSequences = Corpus.read(spark, corpusFile, s.input().badRows()).count();
    Report report = new Report("Influence report: " + out.getName(), provenance, results, self, shapley,
        java.util.OptionalLong.of(trainingSequences));
    return new Built(report, parts);
  }

  /** Reads one score folder and adds one QueryResult per query to {@code perQuery}. */
  private static Part scoreFolder(SparkSession spark, Path out, String folder, Path store, List<Queries.Query> queries,
                                  Map<String, TokenContributions.At> atByName, Map<String, RunCheckpoint> runByName,
                                  Tokenizer tokenizer, Map<String, List<QueryResult>> perQuery, Set<String> methods,
                                  String[] engine, Map<String, String> damping, List<MethodRun> runs) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path dir = new Path(out, folder);
    Path summary = new Path(dir, ScoreJob.SUMMARY_FILE);
    if (!Locations.isFile(conf, summary)) {
      throw new IllegalStateException("no scores in " + dir + " (" + summary + " is missing). HINT: run `influence "
          + "score` (or `run` with --queries) into this folder first, or fix report.scores");
    }
    List<JsonNode> rows = readJsonLines(conf, summary);
    if (!rows.isEmpty() && rows.stream().allMatch(r -> Method.SGD_INFLUENCE.word().equals(r.get("method").asText()))
        && !Locations.isFile(conf, new Path(dir, QueryGradientFile.FILE))) {
      runs.add(MethodRuns.of(folder, Method.SGD_INFLUENCE.word(), rows, Map.of()));
      return replayedFolder(folder, dir, summary, rows, queries, runByName, tokenizer, perQuery, methods, engine);
    }
    // representer scores (score.method = representer) have no query gradients: their tokens are split by the head
    boolean representer = RepresenterTokens.holds(conf, dir);
    QueryGradientFile.Scored scored = representer ? null : QueryGradientFile.read(conf, dir);
    List<TokenContributions.At> ats = new ArrayList<>();
    for (String name : representer ? List.of(RepresenterTokens.checkpoint(conf, dir)) : scored.checkpoints()) {
      TokenContributions.At at = atByName.get(name);
      if (at == null) {
        throw new IllegalStateException(dir + " scored checkpoint " + name + " which the gradient store " + store
            + " does not hold. HINT: score again with this store");
      }
      ats.add(at);
    }
    Map<String, int[]> sequences = new HashMap<>();
    int context = SequenceTokens.context(ats.get(0));
    Map<String, Set<String>> pairs = new LinkedHashMap<>();
    Map<String, Map<String, Double>> rowScores = new LinkedHashMap<>();
    for (JsonNode r : rows) {
      String q = r.get("query_id").asText();
      String id = r.get("train_id").asText();
      sequences.put(id, LongText.sequence(id, SequenceTokens.ofRow(r, tokenizer, summary), context));
      pairs.computeIfAbsent(q, k -> new LinkedHashSet<>()).add(id);
      rowScores.computeIfAbsent(q, k -> new LinkedHashMap<>()).put(id, r.get("score").asDouble());
    }
    Map<String, Map<String, double[]>> contributions = representer
        ? RepresenterTokens.contributions(conf, dir, new Path(out, Stages.REPRESENTER), ats.get(0).checkpoint(), queries,
            sequences, pairs)
        : TokenContributions.compute(queries, ats, scored, sequences, pairs);
    Map<String, Map<String, Double>> sampled = new LinkedHashMap<>();
    if (representer) {
      queries.forEach(q -> sampled.put(q.id(), new TreeMap<>()));   // the distribution shown is the kept rows'
    } else {
      sampled.putAll(sampleScores(spark, store, queries, ats, scored, MAX_SAMPLED));
    }
    String folderMethod = representer ? io.influence.spark.config.Method.REPRESENTER.word() : scored.method();
    Map<String, Double> weights = new LinkedHashMap<>();
    if (!representer) {
      scored.checkpoints().forEach(c -> weights.put(c, scored.weight(c)));
    }
    runs.add(MethodRuns.of(folder, rows.isEmpty() ? folderMethod : rows.get(0).get("method").asText(), rows, weights));
    for (Queries.Query query : queries) {
      List<RankedSequence> top = new ArrayList<>();
      List<RankedSequence> bottom = new ArrayList<>();
      List<Double> sample = new ArrayList<>();
      String method = folderMethod;
      for (JsonNode r : rows) {
        if (!r.get("query_id").asText().equals(query.id())) {
          continue;
        }
        method = r.get("method").asText();
        methods.add(method);
        engine[0] = r.get("engine_version").asText();
        String dampingWords = DampingText.of(r);
        if (dampingWords != null) {
          damping.put(method, dampingWords);
        }
        String id = r.get("train_id").asText();
        double score = r.get("score").asDouble();
        int[] tokens = sequences.get(id);
        double[] c = contributions.get(query.id()).get(id);
        List<TokenContribution> tc = new ArrayList<>();
        List<String> shownText = TokenText.of(tokenizer, tokens);
        for (int t = 0; t < tokens.length; t++) {
          tc.add(new TokenContribution(shownText.get(t), c[t]));
        }
        Map<String, Double> perLayer = new LinkedHashMap<>();
        r.get("layer_scores").fields().forEachRemaining(f -> perLayer.put(f.getKey(), f.getValue().asDouble()));
        Map<String, Double> perCheckpoint = new LinkedHashMap<>();
        for (int i = 0; i < r.get("checkpoints").size(); i++) {
          perCheckpoint.put(r.get("checkpoints").get(i).asText(), r.get("contributions").get(i).asDouble());
        }
        RankedSequence seq = new RankedSequence(r.get("rank").asInt(), id, score, tc, perLayer, perCheckpoint);
        ("top".equals(r.get("direction").asText()) ? top : bottom).add(seq);
        sample.add(score);
      }
      double[] all = sampled.get(query.id()).values().stream().mapToDouble(Double::doubleValue).toArray();
      perQuery.get(query.id()).add(new QueryResult(query.id(), query.prompt(), query.completion(), method, top,
          bottom, all.length > 0 ? all : sample.stream().mapToDouble(Double::doubleValue).toArray(),
          new LinkedHashMap<>(), folder));
    }
    return new Part(folder, folderMethod, contributions, rowScores, sampled);
  }

  /** A Data Shapley folder as a {@link Part}: per query, the kept players' values (no token split, no sample). */
  private static Part shapleyPart(String folder, List<ShapleyResult> read) {
    Map<String, Map<String, double[]>> contributions = new LinkedHashMap<>();
    Map<String, Map<String, Double>> rowScores = new LinkedHashMap<>();
    Map<String, Map<String, Double>> sampled = new LinkedHashMap<>();
    for (ShapleyResult r : read) {
      contributions.put(r.queryId(), new LinkedHashMap<>());
      sampled.put(r.queryId(), new TreeMap<>());
      Map<String, Double> scores = new LinkedHashMap<>();
      r.top().forEach(p -> scores.put(p.playerId(), p.value()));
      r.bottom().forEach(p -> scores.put(p.playerId(), p.value()));
      rowScores.put(r.queryId(), scores);
    }
    return new Part(folder, read.get(0).run().method(), contributions, rowScores, sampled);
  }

  /**
   * A folder of sgd-influence scores ({@code io.influence.spark.sgdinfluence.SgdInfluenceJob}): the run is replayed,
   * so there are no query gradients in a store's space to split a score by token, layer or sample the corpus with.
   * Its rows are shown with their scores and per-checkpoint part (the final checkpoint), tokens unshaded
   * (contribution 0), and the histogram of the kept rows' scores.
   */
  private static Part replayedFolder(String folder, Path dir, Path summary, List<JsonNode> rows,
                                     List<Queries.Query> queries, Map<String, RunCheckpoint> runByName,
                                     Tokenizer tokenizer, Map<String, List<QueryResult>> perQuery, Set<String> methods,
                                     String[] engine) {
    String method = Method.SGD_INFLUENCE.word();
    String last = rows.get(0).get("checkpoints").get(0).asText();
    RunCheckpoint checkpoint = runByName.values().stream().filter(c -> c.dir().getFileName().toString().equals(last))
        .findFirst().orElseThrow(() -> new IllegalStateException(dir + " was scored at checkpoint " + last
            + " which the run does not have. HINT: build the report with the run that was scored"));
    int context = SequenceTokens.context(checkpoint.dir());
    Map<String, Map<String, double[]>> contributions = new LinkedHashMap<>();
    Map<String, Map<String, Double>> rowScores = new LinkedHashMap<>();
    Map<String, Map<String, Double>> sampled = new LinkedHashMap<>();
    for (Queries.Query query : queries) {
      List<RankedSequence> top = new ArrayList<>();
      List<RankedSequence> bottom = new ArrayList<>();
      List<Double> sample = new ArrayList<>();
      contributions.put(query.id(), new LinkedHashMap<>());
      rowScores.put(query.id(), new LinkedHashMap<>());
      sampled.put(query.id(), new TreeMap<>());
      for (JsonNode r : rows) {
        if (!r.get("query_id").asText().equals(query.id())) {
          continue;
        }
        methods.add(method);
        engine[0] = r.get("engine_version").asText();
        String id = r.get("train_id").asText();
        double score = r.get("score").asDouble();
        int[] tokens = LongText.sequence(id, SequenceTokens.ofRow(r, tokenizer, summary), context);
        contributions.get(query.id()).put(id, new double[tokens.length]);
        rowScores.get(query.id()).put(id, score);
        List<TokenContribution> tc = new ArrayList<>();
        for (String text : TokenText.of(tokenizer, tokens)) {
          tc.add(new TokenContribution(text, 0));
        }
        Map<String, Double> perCheckpoint = new LinkedHashMap<>();
        for (int i = 0; i < r.get("checkpoints").size(); i++) {
          perCheckpoint.put(r.get("checkpoints").get(i).asText(), r.get("contributions").get(i).asDouble());
        }
        RankedSequence seq = new RankedSequence(r.get("rank").asInt(), id, score, tc, new LinkedHashMap<>(),
            perCheckpoint);
        ("top".equals(r.get("direction").asText()) ? top : bottom).add(seq);
        sample.add(score);
      }
      perQuery.get(query.id()).add(new QueryResult(query.id(), query.prompt(), query.completion(), method, top,
          bottom, sample.stream().mapToDouble(Double::doubleValue).toArray(), new LinkedHashMap<>(), folder));
    }
    return new Part(folder, method, contributions, rowScores, sampled);
  }

  /**
   * Scores of every query against a sample of the training sequences (all of them when the store has
   * at most {@code max} rows; otherwise the rows whose id hash falls in a fixed fraction, the same rows
   * at every checkpoint), from the query gradients and weights the score stage used, summed in float64
   * on the driver from the stored gradients.
   */
  static Map<String, Map<String, Double>> sampleScores(SparkSession spark, Path store, List<Queries.Query> queries,
                                                       List<TokenContributions.At> ats,
                                                       QueryGradientFile.Scored scored, int max) {
    Map<String, Map<String, Double>> out = new LinkedHashMap<>();
    queries.forEach(q -> out.put(q.id(), new TreeMap<>()));
    long count = GradientStore.read(spark, store, ats.get(0).meta().checkpoint()).count();
    long keepPerMillion = count <= max ? 1_000_000 : Math.max(1, 1_000_000L * max / count);
    for (TokenContributions.At at : ats) {
      StoreMetadata meta = at.meta();
      List<float[][]> flat = new ArrayList<>();
      for (Queries.Query q : queries) {
        float[][] layers = new float[meta.layers().size()][];
        for (int l = 0; l < layers.length; l++) {
          layers[l] = scored.gradient(q.id(), meta.checkpoint(), meta.layers().get(l).name());
        }
        flat.add(layers);
      }
      double weight = scored.weight(meta.checkpoint());
      org.apache.spark.sql.Dataset<Row> rows = GradientStore.read(spark, store, meta.checkpoint());
      if (keepPerMillion < 1_000_000) {
        rows = rows.where(functions.pmod(functions.hash(functions.col("id")), functions.lit(1_000_000))
            .lt(keepPerMillion));
      }
      double[] queryNorm = new double[queries.size()];   // unit-normalised scores divide by both norms
      for (int qi = 0; qi < queries.size(); qi++) {
        queryNorm[qi] = scored.unit() ? TokenContributions.norm(queries.get(qi).id(), meta.checkpoint(),
            meta.layerNames(), scored) : 1;
      }
      for (Row r : rows.collectAsList()) {
        String id = r.getString(0);
        float[][] stored = io.influence.spark.store.StoredRow.layers(r, meta);
        double rowNorm = 1;
        if (scored.unit()) {
          double ss = 0;
          for (float[] layer : stored) {
            for (float v : layer) {
              ss += (double) v * v;
            }
          }
          rowNorm = Math.sqrt(ss);
        }
        for (int qi = 0; qi < queries.size(); qi++) {
          double dot = 0;
          for (int l = 0; l < flat.get(qi).length; l++) {
            float[] ql = flat.get(qi)[l];
            for (int k = 0; k < ql.length; k++) {
              dot += (double) ql[k] * stored[l][k];
            }
          }
          double norms = rowNorm * queryNorm[qi];
          out.get(queries.get(qi).id()).merge(id, norms > 0 ? weight * dot / norms : 0, Double::sum);
        }
      }
    }
    return out;
  }

  private static SelfInfluenceSection selfInfluence(SparkSession spark, Path out, String corpus, BadRows badRows,
                                                   double flagFraction) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path file = new Path(new Path(out, Stages.SELF_INFLUENCE), SelfInfluenceJob.SUMMARY_FILE);
    if (!Locations.isFile(conf, file)) {
      return null;
    }
    List<JsonNode> rows = readJsonLines(conf, file);
    double[] all = rows.stream().mapToDouble(r -> r.get("score").asDouble()).toArray();
    List<JsonNode> shown = rows.stream()
        .sorted((a, b) -> Double.compare(b.get("score").asDouble(), a.get("score").asDouble()))
        .limit(SELF_INFLUENCE_SHOWN).toList();
    List<String> ids = shown.stream().map(r -> LongText.rowId(r.get("train_id").asText())).toList();
    Map<String, String> texts = new HashMap<>();
    for (Row r : Corpus.read(spark, corpus, badRows).where(functions.col("id").isin(ids.toArray())).select("id", "text")
        .collectAsList()) {
      texts.put(r.getString(0), r.isNullAt(1) ? "" : r.getString(1));
    }
    List<FlaggedSequence> top = new ArrayList<>();
    for (JsonNode r : shown) {
      String id = r.get("train_id").asText();
      top.add(new FlaggedSequence(id, r.get("score").asDouble(), r.get("quantile").asDouble(),
          r.get("flagged").asBoolean(), texts.getOrDefault(LongText.rowId(id), "")));
    }
    return new SelfInfluenceSection(top, all, flagFraction);
  }

  private static Config savedScoreSettings(Configuration conf, Path out, String folder) {
    Path file = new Path(out, OutputGuard.file(folder));
    return Locations.isFile(conf, file) ? ConfigFactory.parseString(Locations.readString(conf, file))
        : ConfigFactory.empty();
  }

  private static String input(Optional<String> given, Config saved, String key) {
    if (given.isPresent()) {
      return given.get();
    }
    if (saved.hasPath(key)) {
      return saved.getString(key);
    }
    throw new IllegalArgumentException("the report needs " + key + " and neither the settings nor the score stage's "
        + "saved settings give it. HINT: pass --" + key.substring("input.".length()));
  }

  private static Tokenizer tokenizer(java.nio.file.Path checkpoint) {
    try {
      return Tokenizer.fromTokenizerJson(checkpoint.resolve("tokenizer.json"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + checkpoint.resolve("tokenizer.json") + " to decode tokens: "
          + e.getMessage() + ". HINT: keep tokenizer.json in each checkpoint folder", e);
    }
  }

  static List<JsonNode> readJsonLines(Configuration conf, Path file) {
    List<JsonNode> rows = new ArrayList<>();
    List<String> lines = Locations.readLines(conf, file);
    for (int i = 0; i < lines.size(); i++) {
      if (!lines.get(i).isBlank()) {
        try {
          rows.add(JSON.readTree(lines.get(i)));
        } catch (IOException e) {
          throw new IllegalStateException(file + " line " + (i + 1) + " is not JSON: " + e.getMessage(), e);
        }
      }
    }
    return rows;
  }
}
