package io.influence.spark.flag;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.score.AggregateScorer;
import io.influence.core.score.UnitNorm;
import io.influence.spark.config.FlagSettings.Aggregate;
import io.influence.spark.score.QueryGradient;
import io.influence.spark.score.QueryMatrix;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.store.AtomicOutput;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.GradientTable;
import io.influence.spark.store.PublishedFolder;
import io.influence.spark.store.RowGather;
import io.influence.spark.store.StoreMetadata;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
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
 * The flag stage, for cleaning a corpus of what taught a model unwanted behaviour: every training sequence ranked by
 * its aggregate influence on examples of that behaviour ({@link FlagSpec}).
 *
 * <p>One pass over the gradient store (its checkpoints joined on id into wide rows): each partition scores its rows
 * B at a time with one float64 GEMM against the broadcast unit-norm example matrix (influence-core's
 * {@link AggregateScorer}) and keeps, per row, only the mean and max of the normalised scores and the strongest
 * example. The driver then sees one row per training sequence, never the scores. Quantile and flag are exact, as in
 * the self-influence stage: rows sorted by (score, train_id) ascending, position {@code p} (0-based) gets
 * {@code quantile = (p + 1) / n} and {@code rank = n − p}; the {@link FlagSpec#flaggedOf} highest are flagged.
 *
 * <p>Output rows {@link #SCHEMA}, ordered by rank, written when {@code spec.output()} is set as
 * <pre>
 *   output/flagged.parquet/part-*.parquet   the rows
 *   output/_flag.json                       provenance: method, damping, checkpoints, examples, settings fingerprint
 *   output/flagged.jsonl                    the same rows, one JSON object per line: written last, marks completion
 * </pre>
 * atomically ({@link PublishedFolder}); an output that is already complete is returned without recomputing.
 */
public final class FlagJob {

  public static final String DATA_FOLDER = "flagged.parquet";
  public static final String JSON_LINES = "flagged.jsonl";
  public static final String PROVENANCE = "_flag.json";
  public static final String NORMALISATION = "score / norm of the example's weighted, preconditioned vector";

  public static final StructType SCHEMA = new StructType()
      .add("train_id", DataTypes.StringType, false)
      .add("score", DataTypes.DoubleType, false)
      .add("mean", DataTypes.DoubleType, false)
      .add("max", DataTypes.DoubleType, false)
      .add("quantile", DataTypes.DoubleType, false)
      .add("flagged", DataTypes.BooleanType, false)
      .add("rank", DataTypes.LongType, false)
      .add("strongest_example", DataTypes.StringType, false)
      .add("reason", DataTypes.StringType, false);

  private static final StructType AGGREGATES = new StructType()
      .add("train_id", DataTypes.StringType, false)
      .add("mean", DataTypes.DoubleType, false)
      .add("max", DataTypes.DoubleType, false)
      .add("strongest_example", DataTypes.StringType, false);

  private static final Logger LOG = LoggerFactory.getLogger(FlagJob.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private FlagJob() {}

  /** Runs the flag stage described by {@code spec}; see the class comment for the rows returned. */
  public static Dataset<Row> run(SparkSession spark, FlagSpec spec) {
    PublishedFolder folder = spec.output() == null ? null
        : PublishedFolder.at(spark, spec.output(), DATA_FOLDER, JSON_LINES, "flag");
    if (folder != null) {
      var done = folder.existing();
      if (done.isPresent()) {
        LOG.info("flags in {} are already complete; skipping", spec.output());
        return done.get().orderBy(col("rank"));
      }
    }
    List<StoreMetadata> metas = new ArrayList<>();
    for (String name : spec.checkpoints()) {
      metas.add(GradientStore.metadata(spark, spec.store(), name));
    }
    float[] raw = QueryMatrix.rowMajor(spec.store(), spec.examples(), metas);   // checked before distributed work
    String[] exampleIds = spec.examples().stream().map(QueryGradient::id).toArray(String[]::new);
    double[] weights = spec.weights().stream().mapToDouble(Double::doubleValue).toArray();
    int d = metas.get(0).dim();
    if (spec.unit()) {   // cosines: each checkpoint's part of every example, and below of every row, at norm 1
      UnitNorm.normalizeParts(raw, 0, raw.length, d);
    }
    double[] unit = AggregateScorer.unitRows(exampleIds, raw, d, weights);
    GradientTable table = GradientStore.table(spark, spec.store(), spec.checkpoints());
    Dataset<Row> aggregates = spec.tokens() == null
        ? aggregates(spark, table, exampleIds, unit, spec.blockRows(), spec.unit() ? d : 0)
        : TokenFlag.aggregates(spark, spec.tokens().rows(), spec.tokens().checkpoints(), metas, exampleIds, unit,
            spec.unit());
    return ranked(spark, aggregates, exampleIds, spec.aggregate(), spec.selfInfluence(), spec.fraction(), spec.topK(),
        folder, (n, flagged, selection) -> provenance(spec, table.checkpoints(), exampleIds, n, flagged, selection));
  }

  /** The provenance JSON of a finished ranking of {@code n} rows with {@code flagged} flagged. */
  @FunctionalInterface
  public interface ProvenanceOf {
    String of(long n, long flagged, String selection);
  }

  /**
   * Per-sequence aggregates {@code (train_id, mean, max, strongest_example)} computed by another method (e.g.
   * representer points), ranked, flagged, explained and written exactly as {@link #run} does, with the provenance
   * {@code provenance} writes; an output that is already complete is returned as it is.
   */
  public static Dataset<Row> publish(SparkSession spark, java.util.function.Supplier<Dataset<Row>> aggregates,
                                     String[] exampleIds, Aggregate aggregate, Dataset<Row> selfInfluence,
                                     double fraction, int topK, Path output, ProvenanceOf provenance) {
    PublishedFolder folder = PublishedFolder.at(spark, output, DATA_FOLDER, JSON_LINES, "flag");
    var done = folder.existing();
    if (done.isPresent()) {
      LOG.info("flags in {} are already complete; skipping", output);
      return done.get().orderBy(col("rank"));
    }
    return ranked(spark, aggregates.get(), exampleIds, aggregate, selfInfluence, fraction, topK, folder, provenance);
  }

  /** A provenance object with the fields every flag output has, for {@link #publish}'s callers to complete. */
  public static Map<String, Object> provenanceBase(String method, Aggregate aggregate, String normalisation,
      boolean combined, String selection, long n, long flagged, String examplesFile, String[] exampleIds) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", "influence-flag/1");
    m.put("method", method);
    m.put("damping", null);
    m.put("aggregate", io.influence.spark.config.Choices.word(aggregate));
    m.put("normalisation", normalisation);
    m.put("span", "sequence");   // these methods score whole sequences whatever flag.span says
    m.put("combine_self_influence", combined ? "rank-mean" : "none");
    m.put("selection", selection);
    m.put("rows", n);
    m.put("flagged", flagged);
    m.put("examples", Map.of("file", examplesFile, "ids", List.of(exampleIds)));
    return m;
  }

  /** {@code m} as the provenance file's text. */
  public static String provenanceText(Map<String, Object> m) {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write " + PROVENANCE + ": " + e.getMessage(), e);
    }
  }

  private static Dataset<Row> ranked(SparkSession spark, Dataset<Row> aggregates, String[] exampleIds,
      Aggregate aggregate, Dataset<Row> selfInfluence, double fraction, int topK, PublishedFolder folder,
      ProvenanceOf provenanceOf) {
    Dataset<Row> scored = aggregates.withColumn("score", col(aggregate == Aggregate.MEAN ? "mean" : "max"));
    if (selfInfluence != null) {
      scored = withSelfInfluence(scored, selfInfluence);
    }
    FlagReasons reasons = new FlagReasons(aggregate, exampleIds.length, selfInfluence != null,
        FlagReasons.selection(fraction, topK));
    long n = scored.count();
    long flagged = topK > 0 ? Math.min(topK, n) : (long) Math.ceil(fraction * n - 1e-9);
    Dataset<Row> result = spark.createDataFrame(FlagRanking.rank(scored, n, flagged, reasons), SCHEMA)
        .orderBy(col("rank")).localCheckpoint();
    LOG.info("flag: {} training sequences against {} examples, {} flagged", n, exampleIds.length, flagged);
    if (folder == null) {
      return result;
    }
    String provenance = provenanceOf.of(n, flagged, reasons.selection());
    return folder.publish(tmp -> {
      result.coalesce(1).write().parquet(folder.dataPath(tmp).toString());
      AtomicOutput.writeString(folder.fs(), new Path(tmp, PROVENANCE), provenance);
    }, tmp -> spark.read().parquet(folder.dataPath(tmp).toString()).orderBy(col("rank")).toLocalIterator())
        .orderBy(col("rank"));
  }

  /**
   * Pass over every wide row: {@code (train_id, mean, max, strongest_example)}, one row per training sequence; with
   * {@code unitPart > 0} each {@code unitPart}-long part of every row (a checkpoint's gradient) is unit-normalised.
   */
  static Dataset<Row> aggregates(SparkSession spark, GradientTable table, String[] exampleIds, double[] unit,
      int blockRows, int unitPart) {
    RowGather gather = table.gather();
    int width = table.width();
    // cap the heap block at about 256 MiB for wide (full-gradient) rows, as the score stage does
    int rows = (int) Math.max(1, Math.min(blockRows, (256L << 20) / (8L * width)));
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<double[]> eb = jsc.broadcast(unit);
    JavaRDD<Row> out = table.rows().queryExecution().toRdd().toJavaRDD().mapPartitions(it -> {
      List<Row> kept = new ArrayList<>();
      AggregateScorer scorer = new AggregateScorer(exampleIds, eb.value(), width, rows,
          a -> kept.add(RowFactory.create(a.id(), a.mean(), a.max(), exampleIds[a.strongest()])));
      while (it.hasNext()) {
        InternalRow r = it.next();
        String id = gather.id(r);
        int off = scorer.beginRow(id);
        gather.copy(r, id, scorer.buffer(), off);
        if (unitPart > 0) {
          UnitNorm.normalizeParts(scorer.buffer(), off, width, unitPart);
        }
      }
      scorer.finish();
      return kept.iterator();
    });
    Dataset<Row> result = spark.createDataFrame(out, AGGREGATES).localCheckpoint();
    eb.destroy();
    return result;
  }

  /**
   * {@code score} replaced by the mean of its own quantile and the self-influence quantile; every scored row must
   * have a self-influence row (else the error names some that lack one).
   */
  private static Dataset<Row> withSelfInfluence(Dataset<Row> scored, Dataset<Row> selfInfluence) {
    Dataset<Row> own = FlagRanking.quantiles(scored).withColumnRenamed("quantile", "q_aggregate");
    Dataset<Row> self = selfInfluence.select(col("train_id"), col("quantile").as("q_self"));
    Dataset<Row> joined = scored.drop("score").join(own, "train_id").join(self, "train_id", "left").localCheckpoint();
    List<String> missing = joined.filter(col("q_self").isNull()).select("train_id").orderBy("train_id").limit(5)
        .collectAsList().stream().map(r -> r.getString(0)).toList();
    if (!missing.isEmpty()) {
      throw new IllegalStateException("influence.flag.combine-self-influence = rank-mean needs the self-influence of "
          + "every stored training sequence, but some have none, e.g. " + missing + ". HINT: compute self-influence "
          + "again for this store (--overwrite), or set influence.flag.combine-self-influence = none");
    }
    return joined.withColumn("score", col("q_aggregate").plus(col("q_self")).divide(2)).drop("q_aggregate", "q_self");
  }

  private static String provenance(FlagSpec spec, List<StoreMetadata> metas, String[] exampleIds, long n, long flagged,
      String selection) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", "influence-flag/1");
    m.put("method", spec.provenance().method());
    m.put("damping", spec.provenance().damping());
    m.put("aggregate", io.influence.spark.config.Choices.word(spec.aggregate()));
    m.put("normalisation", NORMALISATION);
    m.put("span", spec.tokens() == null ? "sequence" : "positive-tokens");
    m.put("gradients", spec.unit() ? "unit" : "raw");
    m.put("combine_self_influence", spec.selfInfluence() == null ? "none" : "rank-mean");
    m.put("selection", selection);
    m.put("rows", n);
    m.put("flagged", flagged);
    m.put("examples", Map.of("file", spec.provenance().examplesFile(), "ids", List.of(exampleIds)));
    List<Map<String, Object>> checkpoints = new ArrayList<>();
    for (int i = 0; i < metas.size(); i++) {
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("name", metas.get(i).checkpoint());
      c.put("sha256", metas.get(i).sha256());
      c.put("weight", spec.weights().get(i));
      checkpoints.add(c);
    }
    m.put("checkpoints", checkpoints);
    m.put("projection", metas.get(0).projectionDescription());
    m.put("solver", spec.provenance().solver());
    m.put("settings_fingerprint", spec.provenance().settings());
    m.put("engine_version", ScoreJob.ENGINE_VERSION);
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write " + PROVENANCE + ": " + e.getMessage(), e);
    }
  }
}
