package io.influence.spark.flag;

import static org.apache.spark.sql.functions.col;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Exact ranks and quantiles of scored rows {@code (train_id, score, ...)}: rows sorted by (score, train_id)
 * ascending, the row at 0-based position {@code p} of {@code n} has {@code quantile = (p + 1) / n} and
 * {@code rank = n − p} (1 = highest score); ties at a boundary resolve by train_id, as in the self-influence stage.
 */
final class FlagRanking {

  private FlagRanking() {}

  /** {@code (train_id, quantile)} of every row of {@code scored} by its {@code score}. */
  static Dataset<Row> quantiles(Dataset<Row> scored) {
    long n = scored.count();
    JavaRDD<Row> q = scored.select("train_id", "score").orderBy(col("score"), col("train_id")).javaRDD()
        .zipWithIndex().map(t -> RowFactory.create(t._1().getString(0), (t._2() + 1) / (double) n));
    StructType schema = new StructType().add("train_id", DataTypes.StringType, false)
        .add("quantile", DataTypes.DoubleType, false);
    return scored.sparkSession().createDataFrame(q, schema);
  }

  /**
   * The rows of {@link FlagJob#SCHEMA}: {@code scored} has {@code train_id, score, mean, max, strongest_example}
   * and {@code n} rows, of which the {@code flagged} highest are flagged.
   */
  static JavaRDD<Row> rank(Dataset<Row> scored, long n, long flagged, FlagReasons reasons) {
    long first = n - flagged;
    return scored.select("train_id", "score", "mean", "max", "strongest_example")
        .orderBy(col("score"), col("train_id")).javaRDD().zipWithIndex().map(t -> {
          Row r = t._1();
          long p = t._2();
          boolean isFlagged = p >= first;
          long rank = n - p;
          return RowFactory.create(r.getString(0), r.getDouble(1), r.getDouble(2), r.getDouble(3), (p + 1) / (double) n,
              isFlagged, rank, r.getString(4), reasons.of(isFlagged, rank, n, r.getString(4)));
        });
  }
}
