package io.influence.spark.shapley;

import static org.apache.spark.sql.functions.col;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.model.CausalLm;
import io.influence.core.shapley.Budget;
import io.influence.core.shapley.FineTuneGame;
import io.influence.core.shapley.GShapley;
import io.influence.core.shapley.Marginals;
import io.influence.core.shapley.MonteCarlo;
import io.influence.core.shapley.ShapleyValues;
import io.influence.core.shapley.TmcShapley;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.Method;
import io.influence.spark.config.ShapleySettings;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Runs;
import io.influence.spark.method.QueryGradients;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.store.PublishedFolder;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Data Shapley as a Spark job ({@code score.method = "tmc-shapley"} or {@code "g-shapley"}): the values of every
 * player for every query, by fine-tuning a checkpoint on coalitions (influence-core's
 * {@link io.influence.core.shapley.FineTuneGame}), with the permutations as Spark tasks.
 *
 * <p>The driver tokenises the corpus and the queries, forms the players (one per training sequence, or one per value
 * of {@code shapley.group-column}, sorted by id), computes {@code V(∅)} and {@code V(D)}, then asks for rounds of
 * {@code shapley.round} permutations; each round is split over the cluster's cores, each task plays its permutations
 * on its own copy of the model and returns their marginals, and the driver adds them in permutation order
 * ({@link MonteCarlo}): the values equal those of the one-machine loop for the same seed, whatever the partitioning.
 *
 * <p>Output ({@code spec.output()}, published atomically as one folder like the score stage's):
 * <pre>
 *   output/scores.parquet/   ScoreJob.SCHEMA + text, input_ids: per query the k highest ("top") and lowest
 *                            ("bottom") values; train_id = the player (a group's name when grouped), score = φ,
 *                            checkpoints/contributions = the one checkpoint and φ, layer_scores empty,
 *                            method = the method's word, solver = the run's provenance as JSON
 *   output/values.parquet/   {@link #VALUES}: every player's value for the sum of the queries, with its stderr,
 *                            the per-query values and stderrs, and the provenance
 *   output/values.jsonl      the same, one JSON object per line
 *   output/summary.jsonl     the score rows (written last: marks the folder complete)
 * </pre>
 */
public final class ShapleyJob {

  public static final String VALUES_FOLDER = "values.parquet";
  public static final String VALUES_SUMMARY = "values.jsonl";

  /** Per-player values (self-influence-like: one row per player). */
  public static final StructType VALUES = new StructType()
      .add("train_id", DataTypes.StringType, false)
      .add("value", DataTypes.DoubleType, false)
      .add("stderr", DataTypes.DoubleType, false)
      .add("query_ids", DataTypes.createArrayType(DataTypes.StringType, false), false)
      .add("query_values", DataTypes.createArrayType(DataTypes.DoubleType, false), false)
      .add("query_stderr", DataTypes.createArrayType(DataTypes.DoubleType, false), false)
      .add("sequences", DataTypes.IntegerType, false)
      .add("method", DataTypes.StringType, false)
      .add("permutations", DataTypes.IntegerType, false)
      .add("max_permutations", DataTypes.IntegerType, false)
      .add("retrainings", DataTypes.LongType, false)
      .add("truncated_permutations", DataTypes.IntegerType, false)
      .add("truncation_tolerance", DataTypes.DoubleType, false)
      .add("converged", DataTypes.BooleanType, false)
      .add("convergence_error", DataTypes.DoubleType, true)
      .add("seed", DataTypes.LongType, false)
      .add("checkpoint", DataTypes.StringType, false)
      .add("checkpoint_sha256", DataTypes.StringType, false)
      .add("engine_version", DataTypes.StringType, false);

  private static final Logger LOG = LoggerFactory.getLogger(ShapleyJob.class);

  private ShapleyJob() {}

  /** The values and score rows of a run, before they are written. */
  public record Result(Dataset<Row> scores, Dataset<Row> values, ShapleyValues shapley, List<String> players) {}

  /** Runs the job; see the class comment. An output folder that is already complete is returned as it is. */
  public static Result run(SparkSession spark, ShapleySpec spec) {
    PublishedFolder folder = spec.output() == null ? null
        : PublishedFolder.at(spark, spec.output(), ScoreJob.SCORES_FOLDER, "score");
    if (folder != null) {
      var done = folder.existing();
      if (done.isPresent()) {
        LOG.info("Shapley values in {} are already complete; skipping", spec.output());
        Dataset<Row> values = spark.read().schema(VALUES).parquet(new Path(spec.output(), VALUES_FOLDER).toString());
        return new Result(done.get(), values, null, values.select("train_id").as(
            org.apache.spark.sql.Encoders.STRING()).collectAsList());
      }
    }
    long t0 = System.nanoTime();
    ShapleyWork work = prepare(spark, spec);
    List<String> players = work.playerIds();
    long t1 = System.nanoTime();
    ShapleyValues v = values(spark, work, spec.method(), spec.settings());
    long t2 = System.nanoTime();
    LOG.info("{}: {} players, {} queries, {} permutations ({} truncated), {} retrainings, converged {}; tokenising {}"
        + " ms, permutations {} ms", spec.method().word(), players.size(), spec.queries().size(), v.permutations(),
        v.truncatedPermutations(), v.evaluations(), v.converged(), (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
    Dataset<Row> scores = scoreRows(spark, spec, players, v);
    Dataset<Row> values = valueRows(spark, spec, players, work, v);
    if (folder == null) {
      return new Result(scores, values, v, players);
    }
    folder.publish(tmp -> {
      scores.coalesce(1).write().parquet(folder.dataPath(tmp).toString());
      values.coalesce(1).write().parquet(new Path(tmp, VALUES_FOLDER).toString());
      try (OutputStream out = folder.fs().create(new Path(tmp, VALUES_SUMMARY))) {
        for (Row r : values.collectAsList()) {
          out.write((PublishedFolder.json(r) + "\n").getBytes(StandardCharsets.UTF_8));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + VALUES_SUMMARY + " in " + tmp, e);
      }
    }, tmp -> scores.collectAsList().iterator());
    return new Result(folder.existing().orElseThrow().orderBy(col("query_id"), col("direction").desc(), col("rank")),
        spark.read().schema(VALUES).parquet(new Path(spec.output(), VALUES_FOLDER).toString()), v, players);
  }

  /**
   * The values by {@code method}, permutations run as Spark tasks over the cluster's default parallelism; the same
   * numbers as {@link TmcShapley#run} / {@link GShapley#run} on {@code work.game()} (tests compare them).
   */
  static ShapleyValues values(SparkSession spark, ShapleyWork work, Method method, ShapleySettings settings) {
    FineTuneGame driverGame = work.game();
    int players = driverGame.players();
    int targets = driverGame.targets();
    double[] empty = method == Method.TMC_SHAPLEY ? driverGame.value(new int[0]) : null;
    double[] full = method == Method.TMC_SHAPLEY ? driverGame.value(all(players)) : null;
    if (method == Method.TMC_SHAPLEY) {
      try {
        TmcShapley.requireRoom(empty, full, settings.truncation());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(e.getMessage().replace("the truncation tolerance",
            "influence.shapley.truncation-tolerance").replace("fine-tuning steps or a higher learning rate",
            "shapley.fine-tune.steps or a higher shapley.fine-tune.learning-rate"), e);
      }
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<ShapleyWork> wb = jsc.broadcast(work);
    int cores = jsc.defaultParallelism();
    long seed = settings.seed();
    double tolerance = settings.truncation();
    Budget budget = settings.budget();
    try {
      return MonteCarlo.estimate(players, targets, budget, (first, count) -> {
        List<Long> indices = LongStream.range(first, first + count).boxed().toList();
        return jsc.parallelize(indices, Math.max(1, Math.min(count, cores))).mapPartitions(it -> {
          FineTuneGame game = wb.value().game();
          List<Marginals> out = new ArrayList<>();
          while (it.hasNext()) {
            long index = it.next();
            out.add(method == Method.TMC_SHAPLEY ? TmcShapley.permutation(game, empty, full, tolerance, seed, index)
                : GShapley.permutation(game, seed, index));
          }
          return out.iterator();
        }).collect();
      });
    } finally {
      wb.destroy();
    }
  }

  /** Tokenises the corpus and queries on the checkpoint's tokenizer and forms the players. */
  static ShapleyWork prepare(SparkSession spark, ShapleySpec spec) {
    RunCheckpoint c = spec.checkpoint();
    CausalLm model = ExecutorModels.model(Runs.location(c), c.sha256());
    List<PromptCompletion> queries = QueryGradients.encode(spec.queries(), c, model);
    Dataset<Row> corpus = Corpus.read(spark, spec.corpus(), spec.badRows());
    TokenizedCorpus tokenized = TokenizedCorpus.prepare(spark, corpus, c, spec.badRows(), spec.longText());
    List<Row> rows;
    try {
      rows = tokenized.rows().collectAsList();
    } finally {
      tokenized.release();
    }
    Map<String, String> groupOf = new HashMap<>();
    if (spec.settings().group().isPresent()) {
      for (Row r : Corpus.groups(spark, spec.corpus(), spec.badRows(), spec.settings().group().get()).collectAsList()) {
        groupOf.put(r.getString(0), r.getString(1));
      }
    }
    TreeMap<String, List<Row>> byPlayer = new TreeMap<>();
    for (Row r : rows) {
      String id = r.getString(0);
      String player = spec.settings().group().isPresent() ? groupOf.get(LongText.rowId(id)) : id;
      byPlayer.computeIfAbsent(player, x -> new ArrayList<>()).add(r);
    }
    List<int[][]> sequences = new ArrayList<>();
    for (List<Row> members : byPlayer.values()) {
      members.sort(Comparator.comparing(r -> r.getString(0)));
      sequences.add(members.stream().map(r -> toInts(r.getList(1))).toArray(int[][]::new));
    }
    return new ShapleyWork(Runs.location(c), c.sha256(), List.copyOf(byPlayer.keySet()), sequences,
        queries.stream().map(PromptCompletion::tokens).toArray(int[][]::new),
        queries.stream().map(PromptCompletion::lossMask).toArray(int[][]::new), spec.settings().fineTune());
  }

  private static Dataset<Row> scoreRows(SparkSession spark, ShapleySpec spec, List<String> players, ShapleyValues v) {
    String checkpoint = "checkpoint-" + spec.checkpoint().step();
    String provenance = provenance(spec, v);
    List<Row> out = new ArrayList<>();
    for (int q = 0; q < spec.queries().size(); q++) {
      String queryId = spec.queries().get(q).id();
      List<Integer> order = new ArrayList<>();
      for (int p = 0; p < players.size(); p++) {
        order.add(p);
      }
      final int t = q;
      order.sort(Comparator.<Integer>comparingDouble(p -> -v.values()[p][t]).thenComparing(players::get));
      int k = Math.min(spec.k(), players.size());
      for (String direction : List.of("top", "bottom")) {
        for (int r = 0; r < k; r++) {
          int p = direction.equals("top") ? order.get(r) : order.get(players.size() - 1 - r);
          double phi = v.values()[p][q];
          out.add(RowFactory.create(queryId, direction, r + 1, players.get(p), phi,
              CollectionConverters.asScala(List.of(checkpoint)).toSeq(),
              CollectionConverters.asScala(List.of(phi)).toSeq(),
              CollectionConverters.asScala(Map.<String, Double>of()),
              spec.method().word(), null, null, null, "none",
              CollectionConverters.asScala(List.of(spec.checkpoint().sha256())).toSeq(), ScoreJob.ENGINE_VERSION,
              provenance));
        }
      }
    }
    Dataset<Row> scored = spark.createDataFrame(out, ScoreJob.SCHEMA);
    // a player that is a training sequence joins its text; a group's name joins none (text null)
    Dataset<Row> text = Corpus.read(spark, spec.corpus(), BadRows.SKIP).withColumnRenamed("id", "row_id");
    Column rowId = org.apache.spark.sql.functions.regexp_replace(scored.col("train_id"), LongText.SUFFIX_REGEX, "");
    return scored.join(text, rowId.equalTo(text.col("row_id")), "left").drop(text.col("row_id"))
        .orderBy(col("query_id"), col("direction").desc(), col("rank"));
  }

  private static Dataset<Row> valueRows(SparkSession spark, ShapleySpec spec, List<String> players, ShapleyWork work,
      ShapleyValues v) {
    List<String> queryIds = spec.queries().stream().map(q -> q.id()).toList();
    ShapleySettings s = spec.settings();
    List<Row> out = new ArrayList<>();
    for (int p = 0; p < players.size(); p++) {
      List<Double> values = new ArrayList<>();
      List<Double> errors = new ArrayList<>();
      for (int q = 0; q < queryIds.size(); q++) {
        values.add(v.values()[p][q]);
        errors.add(v.stderr()[p][q]);
      }
      out.add(RowFactory.create(players.get(p), v.overall()[p], v.overallStderr()[p],
          CollectionConverters.asScala(queryIds).toSeq(), CollectionConverters.asScala(values).toSeq(),
          CollectionConverters.asScala(errors).toSeq(), work.players().get(p).length, spec.method().word(),
          v.permutations(), s.permutations(), v.evaluations(), v.truncatedPermutations(),
          spec.method() == Method.TMC_SHAPLEY ? s.truncation() : 0.0, v.converged(),
          Double.isNaN(v.convergenceError()) ? null : v.convergenceError(), s.seed(),
          "checkpoint-" + spec.checkpoint().step(), spec.checkpoint().sha256(), ScoreJob.ENGINE_VERSION));
    }
    return spark.createDataFrame(out, VALUES).orderBy(col("value").desc(), col("train_id"));
  }

  /** The run's provenance as one JSON object (the score rows' {@code solver} column). */
  static String provenance(ShapleySpec spec, ShapleyValues v) {
    ShapleySettings s = spec.settings();
    FineTuneGame.Settings f = s.fineTune();
    return String.format(java.util.Locale.ROOT, "{\"method\":\"%s\",\"permutations\":%d,\"max_permutations\":%d,"
        + "\"retrainings\":%d,\"truncated_permutations\":%d,\"truncation_tolerance\":%s,\"converged\":%b,"
        + "\"convergence_error\":%s,\"window\":%d,\"threshold\":%s,\"seed\":%d,\"players\":%d,\"group_column\":%s,"
        + "\"fine_tune\":{\"optimizer\":\"%s\",\"learning_rate\":%s,\"steps\":%d,\"batch_size\":%d,\"seed\":%d}}",
        spec.method().word(), v.permutations(), s.permutations(), v.evaluations(), v.truncatedPermutations(),
        spec.method() == Method.TMC_SHAPLEY ? s.truncation() : 0.0, v.converged(),
        Double.isNaN(v.convergenceError()) ? "null" : Double.toString(v.convergenceError()), s.window(), s.threshold(),
        s.seed(), v.players(), s.group().map(g -> "\"" + g.replace("\\", "\\\\").replace("\"", "\\\"") + "\"")
            .orElse("null"), f.optimizer().name().toLowerCase(java.util.Locale.ROOT), f.learningRate(), f.steps(),
        f.batchSize(), f.seed());
  }

  private static int[] all(int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = i;
    }
    return a;
  }

  private static int[] toInts(List<Object> list) {
    int[] a = new int[list.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = ((Number) list.get(i)).intValue();
    }
    return a;
  }
}
