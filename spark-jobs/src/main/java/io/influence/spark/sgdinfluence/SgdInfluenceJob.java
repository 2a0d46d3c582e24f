package io.influence.spark.sgdinfluence;

import static org.apache.spark.sql.functions.col;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingLog;
import io.influence.checkpoints.TrainingLogs;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.TopK;
import io.influence.core.sgdinfluence.LmReplay;
import io.influence.core.sgdinfluence.SgdInfluence;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.Method;
import io.influence.spark.io.Corpus;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.store.PublishedFolder;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The score stage for {@code score.method = sgd-influence} (Hara et al. 2019; see
 * {@link SgdInfluence}): no gradient store, the training run itself is replayed.
 *
 * <p>Spark parallelises over queries: the queries are cut into blocks of {@code queryBlock}; each
 * task replays the run forward from its training log ({@link LmReplay}, bit-exact, checked against
 * the last checkpoint), then backwards once for its block of query vectors, and keeps each query's
 * top-k and bottom-k. The replay is sequential in the steps, so one query block is one task.
 * Cost per task: one forward replay (T batch gradients) plus, per step, one per-example gradient of
 * each batch member and two gradient passes per query of the block (finite-difference HVPs).
 *
 * <p>Output: the rows of {@link ScoreJob#SCHEMA} (then {@code text}, {@code input_ids}), ordered like the
 * score stage's, with {@code method = "sgd-influence"}, {@code checkpoints} = the final checkpoint (the
 * one the scores are taken at), {@code contributions} = {@code [score]}, {@code layer_scores} empty
 * (the replay is over all parameters), {@code projection = "none"}, no damping or solver. {@code text}
 * is null and {@code input_ids} the training sequence. Score = predicted change of the query's summed
 * loss when the sequence is left out of the run (positive = helpful). Written, when {@code output} is
 * set, as {@code output/scores.parquet} + {@code output/summary.jsonl} atomically; a complete output
 * is reused only when its rows were computed from the same final checkpoint (SHA-256), queries, method and k.
 *
 * <p>The run must carry a training log and have been trained with plain SGD without weight decay or
 * clipping; otherwise one error before any Spark work names the file and the fix.
 */
public final class SgdInfluenceJob {

  /**
   * What to score. {@code trainIds.get(i)} names corpus index {@code i} of the run's training log. With {@code corpus}
   * (a corpus file, as the score stage reads it) each row carries its corpus row's {@code text} and {@code input_ids}
   * like the score stage's rows (a window {@code <id>#w<k>} joins its row); without, {@code text} is null and
   * {@code input_ids} the training sequence.
   */
  public record Spec(java.nio.file.Path runDir, List<String> trainIds, List<int[]> sequences, List<Query> queries, int k,
                     int queryBlock, Path output, Path corpus) {
    public Spec(java.nio.file.Path runDir, List<String> trainIds, List<int[]> sequences, List<Query> queries, int k,
                int queryBlock, Path output) {
      this(runDir, trainIds, sequences, queries, k, queryBlock, output, null);
    }

    public Spec {
      if (trainIds.size() != sequences.size()) {
        throw new IllegalArgumentException(trainIds.size() + " ids for " + sequences.size() + " training sequences");
      }
      if (queries.isEmpty() || k < 1 || queryBlock < 1) {
        throw new IllegalArgumentException("need at least one query, k >= 1 and queryBlock >= 1; got " + queries.size()
            + ", " + k + ", " + queryBlock);
      }
    }
  }

  /** A query: its id, tokens and loss mask (1 = the token's prediction counts; null = every position). */
  public record Query(String id, int[] tokens, int[] lossMask) implements Serializable {
    public TokenBatch batch() {
      return new TokenBatch(new int[][] {tokens}, lossMask == null ? null : new int[][] {lossMask});
    }
  }

  private SgdInfluenceJob() {}

  /**
   * Checks, on the driver and before any Spark work, that {@code runDir} can be replayed: a valid
   * training log of a plain-SGD run over {@code corpusSize} sequences.
   *
   * @throws IllegalArgumentException naming the file and the fix
   */
  public static TrainingLog preflight(java.nio.file.Path runDir, int corpusSize) {
    java.nio.file.Path file = runDir.resolve(TrainingLogs.FILE);
    TrainingLog log;
    try {
      log = TrainingLogs.read(runDir);
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException("score.method = sgd-influence: " + e.getMessage(), e);
    }
    SgdInfluence.requirePlainSgd(log, file);
    if (log.corpusSize() != corpusSize) {
      throw new IllegalArgumentException(file + " records a training corpus of " + log.corpusSize() + " sequences but "
          + corpusSize + " were given. HINT: score with the corpus the run was trained on.");
    }
    return log;
  }

  public static Dataset<Row> run(SparkSession spark, Spec spec) {
    PublishedFolder folder = spec.output() == null ? null
        : PublishedFolder.at(spark, spec.output(), ScoreJob.SCORES_FOLDER, "sgd-influence score");
    preflight(spec.runDir(), spec.sequences().size());
    RunCheckpoint last;
    try {
      List<RunCheckpoint> cs = TrainingRuns.read(spec.runDir(), OptionalDouble.empty()).checkpoints();
      last = cs.get(cs.size() - 1);
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException("score.method = sgd-influence: " + e.getMessage(), e);
    }
    if (folder != null) {
      var done = folder.existing();
      if (done.isPresent()) {
        requireSameInputs(done.get(), spec, last);
        return done.get();
      }
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<List<int[]>> corpus = jsc.broadcast(new ArrayList<>(spec.sequences()));
    Broadcast<List<String>> ids = jsc.broadcast(new ArrayList<>(spec.trainIds()));
    List<List<Query>> blocks = new ArrayList<>();
    for (int i = 0; i < spec.queries().size(); i += spec.queryBlock()) {
      blocks.add(new ArrayList<>(spec.queries().subList(i, Math.min(i + spec.queryBlock(), spec.queries().size()))));
    }
    String runDir = spec.runDir().toAbsolutePath().toString();
    int k = spec.k();
    List<Ranked> ranked = jsc.parallelize(blocks, blocks.size()).flatMap(block -> {
      LmReplay replay = LmReplay.open(java.nio.file.Path.of(runDir), corpus.value());
      double[][] scores = replay.scores(block.stream().map(Query::batch).toList());
      List<Ranked> out = new ArrayList<>();
      for (int q = 0; q < block.size(); q++) {
        TopK top = TopK.largest(k);
        TopK bottom = TopK.smallest(k);
        for (int j = 0; j < scores[q].length; j++) {
          top.offer(ids.value().get(j), scores[q][j]);
          bottom.offer(ids.value().get(j), scores[q][j]);
        }
        out.add(new Ranked(block.get(q).id(), top.result(), bottom.result()));
      }
      return out.iterator();
    }).collect();
    corpus.destroy();
    ids.destroy();

    Map<String, Integer> index = new java.util.HashMap<>();
    for (int i = 0; i < spec.trainIds().size(); i++) {
      index.put(spec.trainIds().get(i), i);
    }
    List<Row> rows = new ArrayList<>();
    String checkpoint = last.dir().getFileName().toString();
    for (Ranked r : ranked) {
      for (String direction : List.of("top", "bottom")) {
        List<TopK.Scored> kept = direction.equals("top") ? r.top() : r.bottom();
        for (int i = 0; i < kept.size(); i++) {
          TopK.Scored s = kept.get(i);
          int[] tokens = spec.sequences().get(index.get(s.id()));
          rows.add(RowFactory.create(r.queryId(), direction, i + 1, s.id(), s.score(),
              CollectionConverters.asScala(List.of(checkpoint)).toSeq(),
              CollectionConverters.asScala(List.of(s.score())).toSeq(),
              CollectionConverters.asScala(Map.<String, Double>of()),
              Method.SGD_INFLUENCE.word(), null, null, null, "none",
              CollectionConverters.asScala(List.of(last.sha256())).toSeq(), ScoreJob.ENGINE_VERSION, null,
              null, CollectionConverters.asScala(Arrays.stream(tokens).boxed().toList()).toSeq()));
        }
      }
    }
    var schema = ScoreJob.SCHEMA.add("text", DataTypes.StringType, true)
        .add("input_ids", DataTypes.createArrayType(DataTypes.IntegerType, false), true);
    Dataset<Row> scored = spark.createDataFrame(rows, schema);
    if (spec.corpus() != null) {   // as ScoreJob: the corpus row's text and input_ids; a window joins its row
      scored = scored.drop("text", "input_ids");
      Dataset<Row> corpusRows = Corpus.read(spark, spec.corpus(), BadRows.SKIP).withColumnRenamed("id", "row_id");
      org.apache.spark.sql.Column rowId = org.apache.spark.sql.functions.regexp_replace(scored.col("train_id"),
          LongText.SUFFIX_REGEX, "");
      scored = scored.join(corpusRows, rowId.equalTo(corpusRows.col("row_id")), "left").drop(corpusRows.col("row_id"));
    }
    Dataset<Row> result = scored.orderBy(col("query_id"), col("direction").desc(), col("rank"));
    if (folder == null) {
      return result;
    }
    folder.publish(tmp -> result.coalesce(1).write().parquet(folder.dataPath(tmp).toString()),
        tmp -> result.collectAsList().iterator());
    return folder.existing().orElseThrow().orderBy(col("query_id"), col("direction").desc(), col("rank"));
  }

  /**
   * A complete output is reused only when it was computed from the same final checkpoint (SHA-256), for the
   * same queries, with the same method and at most {@code k} rows per direction; otherwise one error.
   */
  private static void requireSameInputs(Dataset<Row> done, Spec spec, RunCheckpoint last) {
    // a few rows per query (2k): collected as they are, no shuffle
    List<Row> seen = done.select(col("method"), col("checkpoint_sha256"), col("query_id"), col("rank")).collectAsList();
    java.util.Set<String> queries = new java.util.TreeSet<>();
    boolean same = true;
    for (Row r : seen) {
      same &= Method.SGD_INFLUENCE.word().equals(r.getString(0)) && List.of(last.sha256()).equals(r.getList(1))
          && r.getInt(3) <= spec.k();
      queries.add(r.getString(2));
    }
    same &= queries.equals(new java.util.TreeSet<>(spec.queries().stream().map(Query::id).toList()));
    if (!same) {
      throw new IllegalStateException(spec.output() + " holds sgd-influence scores computed from other inputs (another "
          + "final checkpoint than " + last.dir() + ", other queries, method or a larger k). HINT: delete the folder or "
          + "choose another output folder.");
    }
  }

  /** One query's kept training sequences. */
  record Ranked(String queryId, List<TopK.Scored> top, List<TopK.Scored> bottom) implements Serializable {}
}
