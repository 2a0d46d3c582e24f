package io.influence.spark.selfinf;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.SelfInfluenceScorer;
import io.influence.spark.store.AtomicOutput;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.GradientTable;
import io.influence.spark.store.RowGather;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
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
  public static final String SUMMARY_FILE = "summary.jsonl";

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
    FileSystem fs = null;
    Path out = null;
    if (spec.output() != null) {
      out = spec.output();
      fs = AtomicOutput.fs(out, spark.sparkContext().hadoopConfiguration());
      if (AtomicOutput.isComplete(fs, out, SUMMARY_FILE)) {
        LOG.info("self-influence in {} is already complete; skipping", spec.output());
        return spark.read().parquet(new Path(out, DATA_FOLDER).toString()).orderBy(col("score").desc(),
            col("train_id"));
      }
      try {
        if (fs.exists(out)) {
          throw new IllegalStateException(spec.output() + " exists but holds no " + SUMMARY_FILE
              + ", so it is not a complete self-influence output. HINT: delete it or choose another output folder.");
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    GradientTable table = GradientStore.table(spark, spec.store(), spec.checkpoints());
    RowGather gather = table.gather();
    List<String> names = table.checkpointNames();
    LayerLayout layout = table.checkpoints().get(0).layout();
    int width = table.width();
    double[] w = spec.weights().stream().mapToDouble(Double::doubleValue).toArray();
    SelfPreconditioner p = spec.preconditioner();

    JavaRDD<Row> scores = table.rows().queryExecution().toRdd().toJavaRDD().mapPartitions(it -> {
      SelfInfluenceScorer scorer = new SelfInfluenceScorer(layout, names, w, p == null ? null : p::apply);
      float[] row = new float[width];
      List<Row> outRows = new ArrayList<>();
      while (it.hasNext()) {
        InternalRow r = it.next();
        String id = gather.id(r);
        gather.copy(r, id, row, 0);
        outRows.add(RowFactory.create(id, scorer.score(id, row)));
      }
      return outRows.iterator();
    });
    StructType scored = new StructType().add("train_id", DataTypes.StringType, false)
        .add("score", DataTypes.DoubleType, false);
    Dataset<Row> perExample = spark.createDataFrame(scores, scored).localCheckpoint();
    if (spec.lossTokens() != null) {
      perExample = perToken(perExample, spec.lossTokens());
    }
    long n = perExample.count();
    long flaggedCount = (long) Math.ceil(spec.flagFraction() * n - 1e-9);
    long firstFlagged = n - flaggedCount;
    JavaRDD<Row> ranked = perExample.orderBy(col("score"), col("train_id")).javaRDD().zipWithIndex()
        .map(t -> RowFactory.create(t._1().getString(0), t._1().getDouble(1), (t._2() + 1) / (double) n,
            t._2() >= firstFlagged));
    Dataset<Row> result = spark.createDataFrame(ranked, SCHEMA).orderBy(col("score").desc(), col("train_id"));
    LOG.info("self-influence of {} training examples, {} flagged", n, flaggedCount);
    if (out == null) {
      return result.localCheckpoint();
    }
    Path tmp = AtomicOutput.newTemporary(out.getParent());
    try {
      result.write().parquet(new Path(tmp, DATA_FOLDER).toString());
      Dataset<Row> written = spark.read().parquet(new Path(tmp, DATA_FOLDER).toString())
          .orderBy(col("score").desc(), col("train_id"));
      writeSummary(fs, new Path(tmp, SUMMARY_FILE), written.toLocalIterator());
      AtomicOutput.publish(fs, tmp, out);
    } catch (RuntimeException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw e;
    }
    return spark.read().parquet(new Path(out, DATA_FOLDER).toString()).orderBy(col("score").desc(), col("train_id"));
  }

  private static void writeSummary(FileSystem fs, Path file, Iterator<Row> rows) {
    try (OutputStream o = fs.create(file, true)) {
      while (rows.hasNext()) {
        Row r = rows.next();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("train_id", r.getString(0));
        m.put("score", r.getDouble(1));
        m.put("quantile", r.getDouble(2));
        m.put("flagged", r.getBoolean(3));
        o.write((JSON.writeValueAsString(m) + "\n").getBytes(StandardCharsets.UTF_8));
      }
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a summary line: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }
}
