package io.influence.spark.selfinf;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.grad.Preconditioner;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.SelfInfluenceScorer;
import io.influence.spark.progress.Progress;
import io.influence.spark.progress.ProgressCounter;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.GradientTable;
import io.influence.spark.store.PublishedFolder;
import io.influence.spark.store.RowGather;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
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
 * The self-influence stage, for data cleaning: per training example
 * {@code score = Σ_i w_i ⟨g_i, P_i g_i⟩} (TracInCP with the identity: {@code Σ_i η_i ‖g_i‖²}, Pruthi et al. 2020),
 * summed in float64 on the executors from the stored float32 gradients by influence-core's
 * {@link SelfInfluenceScorer}.
 *
 * <p>Quantile and flag are exact: rows are sorted by (score, train_id) ascending, the row at 0-based position
 * {@code p} gets {@code quantile = (p + 1) / n}, and the last {@code m = ceil(flagFraction · n)} positions are
 * flagged (ties at the boundary resolved by train_id). Output rows {@link #SCHEMA}, ordered by score descending,
 * written when {@code spec.output()} is set as
 * <pre>
 *   output/self_influence.parquet/part-*.parquet
 *   output/summary.jsonl           one JSON object per row
 * </pre>
 * atomically; an output that is already complete is returned without recomputing.
 */
public final class SelfInfluenceJob {

  public static final String DATA_FOLDER = "self_influence.parquet";
  public static final String SUMMARY_FILE = PublishedFolder.SUMMARY_FILE;

  public static final StructType SCHEMA = new StructType()
      .add("train_id", DataTypes.StringType, false)
      .add("score", DataTypes.DoubleType, false)
      .add("quantile", DataTypes.DoubleType, false)
      .add("flagged", DataTypes.BooleanType, false);

  /**
   * Divides each score by its example's number of predicted tokens; an id without a count, or with a count
   * below 1, is an error naming it (nothing is dropped).
   */
  private static Dataset<Row> perToken(Dataset<Row> perExample, Dataset<Row> lossTokens) {
    Dataset<Row> joined = perExample.join(lossTokens.select(col("id").as("train_id"), col("n")), "train_id", "left")
        .localCheckpoint();
    List<Row> bad = joined.filter(col("n").isNull().or(col("n").lt(1))).select("train_id", "n").orderBy("train_id")
        .limit(5).collectAsList();
    if (!bad.isEmpty()) {
      throw new IllegalStateException("per-token self-influence needs each training example's token count, but "
          + bad.size() + "+ stored example(s) have none or fewer than 1 predicted token, e.g. " + bad
          + ". HINT: extract again from this corpus, or set influence.self-influence.normalize = sum");
    }
    return joined.select(col("train_id"), col("score").divide(col("n")).as("score")).localCheckpoint();
  }

  private static final Logger LOG = LoggerFactory.getLogger(SelfInfluenceJob.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private SelfInfluenceJob() {}

  public static Dataset<Row> run(SparkSession spark, SelfInfluenceSpec spec) {
    PublishedFolder folder = spec.output() == null ? null
        : PublishedFolder.at(spark, spec.output(), DATA_FOLDER, "self-influence");
    if (folder != null) {
      var done = folder.existing();
      if (done.isPresent()) {
        LOG.info("self-influence in {} is already complete; skipping", spec.output());
        return done.get().orderBy(col("score").desc(), col("train_id"));
      }
    }
    GradientTable table = GradientStore.table(spark, spec.store(), spec.checkpoints());
    RowGather gather = table.gather();
    List<String> names = table.checkpointNames();
    LayerLayout layout = table.checkpoints().get(0).layout();
    int width = table.width();
    double[] w = spec.weights().stream().mapToDouble(Double::doubleValue).toArray();
    Preconditioner.PerCheckpoint p = spec.preconditioner();
    StructType scored = new StructType().add("train_id", DataTypes.StringType, false)
        .add("score", DataTypes.DoubleType, false);
    long stored = GradientStore.read(spark, spec.store(), names.get(0)).count();
    Dataset<Row> perExample;
    try (Progress progress = Progress.start(spark.sparkContext(), "self-influence", stored)) {
      ProgressCounter done = progress.counter();
      JavaRDD<Row> scores = table.rows().queryExecution().toRdd().toJavaRDD().mapPartitions(it -> {
        SelfInfluenceScorer scorer = new SelfInfluenceScorer(layout, names, w, p);
        float[] row = new float[width];
        List<Row> outRows = new ArrayList<>();
        while (it.hasNext()) {
          InternalRow r = it.next();
          String id = gather.id(r);
          gather.copy(r, id, row, 0);
          outRows.add(RowFactory.create(id, scorer.score(id, row)));
          done.add(1);   // a row is a batch here: scoring one costs far more than counting it
        }
        return outRows.iterator();
      });
      perExample = spark.createDataFrame(scores, scored).localCheckpoint();
      progress.finish();
    }
    if (spec.lossTokens() != null) {
      perExample = perToken(perExample, spec.lossTokens());
    }
    return ranked(spark, perExample, spec.flagFraction(), folder);
  }

  /**
   * Self-influence scores computed by another method ({@code (train_id, score)} rows, e.g. representer points'),
   * ranked, flagged and written exactly as {@link #run} does; an output that is already complete is returned as it
   * is (its rows, without calling {@code perExample}).
   */
  public static Dataset<Row> publish(SparkSession spark, java.util.function.Supplier<Dataset<Row>> perExample,
                                     double flagFraction, org.apache.hadoop.fs.Path output) {
    PublishedFolder folder = PublishedFolder.at(spark, output, DATA_FOLDER, "self-influence");
    var done = folder.existing();
    if (done.isPresent()) {
      LOG.info("self-influence in {} is already complete; skipping", output);
      return done.get().orderBy(col("score").desc(), col("train_id"));
    }
    return ranked(spark, perExample.get(), flagFraction, folder);
  }

  private static Dataset<Row> ranked(SparkSession spark, Dataset<Row> perExample, double flagFraction,
                                     PublishedFolder folder) {
    long n = perExample.count();
    long flaggedCount = (long) Math.ceil(flagFraction * n - 1e-9);
    long firstFlagged = n - flaggedCount;
    JavaRDD<Row> ranked = perExample.orderBy(col("score"), col("train_id")).javaRDD().zipWithIndex()
        .map(t -> RowFactory.create(t._1().getString(0), t._1().getDouble(1), (t._2() + 1) / (double) n,
            t._2() >= firstFlagged));
    Dataset<Row> result = spark.createDataFrame(ranked, SCHEMA).orderBy(col("score").desc(), col("train_id"));
    LOG.info("self-influence of {} training examples, {} flagged", n, flaggedCount);
    if (folder == null) {
      return result.localCheckpoint();
    }
    return folder.publish(tmp -> result.write().parquet(folder.dataPath(tmp).toString()),
        tmp -> spark.read().parquet(folder.dataPath(tmp).toString()).orderBy(col("score").desc(), col("train_id"))
            .toLocalIterator()).orderBy(col("score").desc(), col("train_id"));
  }
}
