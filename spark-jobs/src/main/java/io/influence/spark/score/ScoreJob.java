package io.influence.spark.score;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.score.BlockScorer;
import io.influence.core.score.UnitNorm;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.QueryHeaps;
import io.influence.core.score.ScoreSplit;
import io.influence.core.score.TopK;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.io.Corpus;
import io.influence.spark.progress.Progress;
import io.influence.spark.progress.ProgressCounter;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.GradientTable;
import io.influence.spark.store.PublishedFolder;
import io.influence.spark.store.RowGather;
import io.influence.spark.store.StoreMetadata;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The score stage: ranks the training examples of a gradient store for each query and keeps the
 * top-k and bottom-k, with their per-checkpoint and per-layer contributions, provenance and text.
 *
 * <p>One pass over all rows: the checkpoints are joined on id into wide rows; each partition scores its
 * rows B at a time with one float32 GEMM against the broadcast query matrix (influence-core's BlockScorer) and keeps
 * per-query heaps (QueryHeaps), merged with treeReduce. When a pair is offered to a heap, while its row is still in
 * the block buffer, its contributions {@code w_i ⟨q_i, g_i⟩} per checkpoint and {@code Σ_i w_i ⟨q_i,l, g_i,l⟩} per
 * layer are computed in float64 (ScoreSplit) and kept as long as the heaps keep the pair ({@link KeptPairs}); the
 * store is read once. {@code score} is the float32 GEMM value that
 * ranked the pair; {@code Σ contributions} equals it up to float32 rounding.
 *
 * <p>Output rows ({@link #SCHEMA} plus {@code text}, {@code input_ids} from the corpus row; a window
 * {@code <id>#w<k>} of a long text carries its whole row, the window being tokens {@code [k·context, (k+1)·context)},
 * see {@link LongText#sequence}): one per
 * (query, direction, rank), rank 1 = highest score for "top", lowest for "bottom"; ordered by query_id,
 * direction ("top" first), rank. Written, when {@code spec.output()} is set, as
 * <pre>
 *   output/scores.parquet/part-*.parquet    the rows
 *   output/summary.jsonl                    the same rows, one JSON object per line
 * </pre>
 * atomically (a {@code _tmp-*} sibling renamed when complete); an output that is already complete is
 * not recomputed (the stored rows are returned).
 */
public final class ScoreJob {

  public static final String SCORES_FOLDER = "scores.parquet";
  public static final String SUMMARY_FILE = PublishedFolder.SUMMARY_FILE;
  public static final String ENGINE_VERSION = engineVersion();

  /** Columns of a score row before the corpus columns {@code text string, input_ids array<int>}. */
  public static final StructType SCHEMA = new StructType()
      .add("query_id", DataTypes.StringType, false)
      .add("direction", DataTypes.StringType, false)
      .add("rank", DataTypes.IntegerType, false)
      .add("train_id", DataTypes.StringType, false)
      .add("score", DataTypes.DoubleType, false)
      .add("checkpoints", DataTypes.createArrayType(DataTypes.StringType, false), false)
      .add("contributions", DataTypes.createArrayType(DataTypes.DoubleType, false), false)
      .add("layer_scores", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), false)
      .add("method", DataTypes.StringType, false)
      .add("damping", DataTypes.DoubleType, true)
      .add("damping_mode", DataTypes.StringType, true)
      .add("damping_lambda", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), true)
      .add("projection", DataTypes.StringType, false)
      .add("checkpoint_sha256", DataTypes.createArrayType(DataTypes.StringType, true), false)
      .add("engine_version", DataTypes.StringType, false)
      .add("solver", DataTypes.StringType, true);

  private static final long MAX_BLOCK_BYTES = 256L << 20;
  private static final Logger LOG = LoggerFactory.getLogger(ScoreJob.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private ScoreJob() {}

  /** Runs the score stage described by {@code spec}; see the class comment for the rows returned. */
  public static Dataset<Row> run(SparkSession spark, ScoreSpec spec) {
    PublishedFolder folder = spec.output() == null ? null
        : PublishedFolder.at(spark, spec.output(), SCORES_FOLDER, "score");
    if (folder != null) {
      var done = folder.existing();
      if (done.isPresent()) {
        LOG.info("scores in {} are already complete; skipping", spec.output());
        return done.get();
      }
    }
    long t0 = System.nanoTime();
    List<StoreMetadata> metas = new ArrayList<>();
    for (String name : spec.checkpoints()) {
      metas.add(GradientStore.metadata(spark, spec.store(), name));
    }
    int d = metas.get(0).dim();
    float[] raw = QueryMatrix.rowMajor(spec.store(), spec.queries(), metas); // checks the queries before any distributed work
    int unitPart = spec.unit() ? d : 0;   // with unit gradients: each checkpoint's d values of a row and a query
    if (spec.unit()) {
      UnitNorm.normalizeParts(raw, 0, raw.length, d);
    }
    GradientTable table = GradientStore.table(spark, spec.store(), spec.checkpoints());
    metas = table.checkpoints();
    long t1 = System.nanoTime();
    int nq = spec.queries().size();
    int width = table.width();
    double[] weights = spec.weights().stream().mapToDouble(Double::doubleValue).toArray();
    float[] weighted = BlockScorer.foldWeights(raw, d, weights);
    String[] queryIds = spec.queries().stream().map(QueryGradient::id).toArray(String[]::new);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    int k = spec.k();
    // cap the two block buffers (heap + off-heap) at about 256 MiB each for wide (full-gradient) rows
    int blockRows = (int) Math.max(1, Math.min(spec.blockRows(), MAX_BLOCK_BYTES / (4L * width)));
    long stored = GradientStore.read(spark, spec.store(), spec.checkpoints().get(0)).count();
    KeptPairs pairs;
    try (Progress progress = Progress.start(spark.sparkContext(), "score", stored)) {
      pairs = pass(jsc, table, queryIds, weighted, raw, weights, k, blockRows, progress.counter(),
          CandidateMask.of(spec.candidates(), queryIds), unitPart, 8 * k * nq);
      progress.finish();
    }
    QueryHeaps heaps = pairs.heaps();
    long t2 = System.nanoTime();
    LOG.info("scored {} training rows against {} queries: checks {} ms, one pass (GEMM, top-k, contributions of the"
        + " kept pairs) {} ms", heaps.rows(), nq, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);

    List<Row> out1 = new ArrayList<>();
    List<String> names = table.checkpointNames();
    List<String> shas = metas.stream().map(StoreMetadata::sha256).toList();
    String projection = metas.get(0).projectionDescription();
    List<String> layers = metas.get(0).layerNames();
    for (int q = 0; q < nq; q++) {
      for (String direction : List.of("top", "bottom")) {
        List<TopK.Scored> kept = (direction.equals("top") ? heaps.top() : heaps.bottom())[q].result();
        for (int r = 0; r < kept.size(); r++) {
          TopK.Scored s = kept.get(r);
          ScoreSplit split = pairs.parts(q, s.id());
          if (split == null) {
            throw new IllegalStateException("no contributions computed for query '" + queryIds[q] + "', train '" + s.id()
                + "'");
          }
          Map<String, Double> perLayer = new LinkedHashMap<>();
          for (int l = 0; l < layers.size(); l++) {
            perLayer.put(layers.get(l), split.perLayer()[l]);
          }
          out1.add(RowFactory.create(queryIds[q], direction, r + 1, s.id(), s.score(),
              scala.jdk.javaapi.CollectionConverters.asScala(names).toSeq(),
              scala.jdk.javaapi.CollectionConverters.asScala(boxed(split.perCheckpoint())).toSeq(),
              scala.jdk.javaapi.CollectionConverters.asScala(perLayer),
              spec.method(), spec.damping() == null ? null : spec.damping().value(),
              spec.damping() == null ? null : spec.damping().mode(),
              spec.damping() == null ? null : scala.jdk.javaapi.CollectionConverters.asScala(spec.damping().lambda()),
              projection,
              scala.jdk.javaapi.CollectionConverters.asScala(shas).toSeq(), ENGINE_VERSION,
              solverColumn(spec, queryIds[q])));
        }
      }
    }
    Dataset<Row> result = withText(spark, spark.createDataFrame(out1, SCHEMA), spec.corpus());
    if (folder == null) {
      return result;
    }
    publish(folder, result, tmp -> QueryGradientFile.write(folder.fs(), tmp, spec));
    return folder.existing().orElseThrow().orderBy(col("query_id"), col("direction").desc(), col("rank"));
  }

  /**
   * Score rows ({@link #SCHEMA}) joined to the text and input ids of their corpus rows (null columns when
   * {@code corpus} is null), ordered by query_id, direction ("top" first), rank: the output rows of every scorer.
   */
  public static Dataset<Row> withText(SparkSession spark, Dataset<Row> scored, Path corpus) {
    Dataset<Row> withText;
    if (corpus != null) {
      // the stage checked the corpus under input.bad-rows; a window <id>#w<k> of a long text (influence.input.long-text) joins its row <id>
      Dataset<Row> rows = Corpus.read(spark, corpus, BadRows.SKIP).withColumnRenamed("id", "row_id");
      Column rowId = org.apache.spark.sql.functions.regexp_replace(scored.col("train_id"), LongText.SUFFIX_REGEX, "");
      withText = scored.join(rows, rowId.equalTo(rows.col("row_id")), "left").drop(rows.col("row_id"));
    } else {
      withText = scored.withColumn("text", org.apache.spark.sql.functions.lit(null).cast(DataTypes.StringType))
          .withColumn("input_ids", org.apache.spark.sql.functions.lit(null)
              .cast(DataTypes.createArrayType(DataTypes.IntegerType)));
    }
    return withText.orderBy(col("query_id"), col("direction").desc(), col("rank"));
  }

  /**
   * The ranking alone: every wide row of {@code table} scored against {@code weighted} ({@code [nQ, width]}
   * row-major) with one GEMM per block of {@code blockRows} rows in each partition; per-partition heaps merged with
   * treeReduce.
   * Public for the bench module, which times this pass alone ({@code io.influence.bench.ScoreBench}).
   */
  public static QueryHeaps gemmPass(JavaSparkContext jsc, GradientTable table, String[] queryIds, float[] weighted,
      int k,
      int blockRows) {
    return gemmPass(jsc, table, queryIds, weighted, k, blockRows, null, null, 0);
  }

  /**
   * {@link #gemmPass} adding each block's rows to {@code done} (none when null); with a {@code mask} (a candidate
   * prefilter) only the rows of some query's candidates are scored, each pair only when the mask allows it; with
   * {@code unitPart > 0} each {@code unitPart}-long part of every row (a checkpoint's gradient) is unit-normalised.
   */
  static QueryHeaps gemmPass(JavaSparkContext jsc, GradientTable table, String[] queryIds, float[] weighted, int k,
      int blockRows, ProgressCounter done, CandidateMask mask, int unitPart) {
    return pass(jsc, table, queryIds, weighted, null, null, k, blockRows, done, mask, unitPart, 0).heaps();
  }

  /**
   * The stage's one pass over the store: {@link #gemmPass} and, when {@code raw} (the unweighted query matrix) is
   * given, the float64 per-checkpoint and per-layer parts ({@link ScoreSplit}) of every pair offered to a heap,
   * computed from the row while it is still in the block buffer and kept only while the heaps keep the pair.
   * Memory per task: the block buffers, the query matrices, and O(queries × k) heaps and parts; none grows with
   * the rows: the parts of pairs no longer kept are dropped whenever {@code pruneAt} parts are held ({@code pruneAt}
   * then doubles if that many are still kept; the stage uses {@code 8 · k · queries}, four times what the heaps keep).
   */
  static KeptPairs pass(JavaSparkContext jsc, GradientTable table, String[] queryIds, float[] weighted, float[] raw,
      double[] weights, int k, int blockRows, ProgressCounter done, CandidateMask mask, int unitPart, int pruneAt) {
    RowGather gather = table.gather();
    int width = table.width();
    LayerLayout layout = table.checkpoints().get(0).layout();
    Broadcast<float[]> qb = jsc.broadcast(weighted);
    Broadcast<float[]> rb = raw == null ? null : jsc.broadcast(raw);
    Broadcast<CandidateMask> mb = mask == null ? null : jsc.broadcast(mask);
    JavaRDD<InternalRow> rows = table.rows().queryExecution().toRdd().toJavaRDD();
    KeptPairs kept = rows.mapPartitions(it -> {
      BlockScorer scorer = new BlockScorer(queryIds, qb.value(), width, k, blockRows);
      CandidateMask m = mb == null ? null : mb.value();
      if (m != null) {
        scorer.onlyPairs(m::allows);
      }
      HashMap<KeptPairs.Pair, ScoreSplit> parts = new HashMap<>();
      if (rb != null) {
        float[] rq = rb.value();
        // offers are few once the heaps are full; pruning to the kept pairs at the limit bounds the map
        int[] limit = {Math.max(1, pruneAt)};
        scorer.onOffer((q, id, block, start) -> {
          KeptPairs.Pair key = KeptPairs.key(q, id);
          if (!parts.containsKey(key)) {
            if (parts.size() >= limit[0]) { // before the put: this pair enters the heap only after the call
              KeptPairs.prune(scorer.heaps(), parts);
              limit[0] = Math.max(limit[0], 2 * parts.size());
            }
            parts.put(key, ScoreSplit.of(layout, weights, rq, q * width, block, start));
          }
        });
      }
      int batch = 0;
      while (it.hasNext()) {
        // Spark reuses the row object: nothing may call it.hasNext() before r is read
        InternalRow r = it.next();
        String id = gather.id(r);
        if (m != null && !m.anyQuery(id)) {
          if (done != null && ++batch == blockRows) {
            done.add(batch);
            batch = 0;
          }
          continue;
        }
        int off = scorer.beginRow(id);
        gather.copy(r, id, scorer.buffer(), off);
        if (unitPart > 0) {
          UnitNorm.normalizeParts(scorer.buffer(), off, width, unitPart);
        }
        if (done != null && ++batch == blockRows) {
          done.add(batch);
          batch = 0;
        }
      }
      if (done != null && batch > 0) {
        done.add(batch);
      }
      QueryHeaps heaps = scorer.finish();
      KeptPairs.prune(heaps, parts);
      return List.of(new KeptPairs(heaps, parts)).iterator();
    }).treeReduce(KeptPairs::merge);
    qb.destroy();
    if (rb != null) {
      rb.destroy();
    }
    if (mb != null) {
      mb.destroy();
    }
    return kept;
  }

  /**
   * The {@code solver} column of a query's rows: the method's report (iterative solves, EK-FAC's curvature), with
   * {@code "gradients": "unit"} added when the scores are cosines of unit-normalised gradients.
   */
  private static String solverColumn(ScoreSpec spec, String queryId) {
    String report = spec.solver() == null ? null : spec.solver().get(queryId);
    if (!spec.unit()) {
      return report;
    }
    try {
      com.fasterxml.jackson.databind.node.ObjectNode node = report == null ? JSON.createObjectNode()
          : (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(report);
      node.put("gradients", "unit");
      return JSON.writeValueAsString(node);
    } catch (java.io.IOException | ClassCastException e) {
      throw new IllegalStateException("the solver report of query " + queryId + " is not a JSON object: " + report, e);
    }
  }


  /**
   * The rows and the summary published as one folder, with {@code extra} writing what else belongs beside them into
   * the temporary folder (the score stage: the query gradients the rows were scored with).
   */
  public static void publish(PublishedFolder folder, Dataset<Row> result, java.util.function.Consumer<Path> extra) {
    folder.publish(tmp -> {
      result.coalesce(1).write().parquet(folder.dataPath(tmp).toString());
      extra.accept(tmp);
    }, tmp -> result.collectAsList().iterator());
  }

  private static List<Double> boxed(double[] v) {
    List<Double> out = new ArrayList<>(v.length);
    for (double x : v) {
      out.add(x);
    }
    return out;
  }

  private static String engineVersion() {
    String v = ScoreJob.class.getPackage().getImplementationVersion();
    return v != null ? v : "0.1.0-SNAPSHOT";
  }

}
