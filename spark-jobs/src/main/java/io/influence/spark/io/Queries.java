package io.influence.spark.io;

import java.util.ArrayList;
import io.influence.spark.config.BadRows;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Reads the queries to explain: JSON Lines or Parquet rows {@code (id, prompt, completion)}. The
 * loss of a query counts only its completion's tokens. Queries are few, so they are collected to
 * the driver; every problem (missing column, empty completion, repeated id) is reported at once,
 * naming the rows.
 */
public final class Queries {

  /** One query: the model is asked why it continues {@code prompt} with {@code completion}. */
  public record Query(String id, String prompt, String completion) {}

  private Queries() {}

  /** The queries at {@code location} (a path or URI on any Hadoop file system, see {@link Locations#resolve}). */
  public static List<Query> read(SparkSession spark, String location) {
    return read(spark, Locations.resolve(spark, location));
  }

  /** The queries in local file or folder {@code path}. */
  public static List<Query> read(SparkSession spark, java.nio.file.Path path) {
    return read(spark, Locations.local(path));
  }

  public static List<Query> read(SparkSession spark, Path path) {
    InputFormat format = InputFormat.detect(spark.sparkContext().hadoopConfiguration(), path);
    Dataset<Row> raw = switch (format) {
      case PARQUET -> spark.read().parquet(path.toString());
      case JSON_LINES -> Corpus.jsonLines(spark, path, "queries", BadRows.FAIL);
      case HF_ARROW -> throw new IllegalArgumentException(path + ": queries must be JSON Lines or Parquet");
    };
    List<String> columns = Arrays.asList(raw.columns());
    for (String required : List.of("id", "prompt", "completion")) {
      if (!columns.contains(required)) {
        throw new IllegalArgumentException(path + ": queries need columns id, prompt, completion; `" + required
            + "` is missing (columns: " + columns + ")");
      }
    }
    List<Query> out = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    int row = 0;
    for (Row r : raw.selectExpr("cast(id as string)", "prompt", "completion").collectAsList()) {
      row++;
      String id = r.getString(0);
      String prompt = r.isNullAt(1) ? "" : r.getString(1);
      String completion = r.isNullAt(2) ? null : r.getString(2);
      if (id == null) {
        problems.add("row " + row + ": no id");
      } else if (!seen.add(id)) {
        problems.add("row " + row + ": id " + id + " repeats");
      } else if (completion == null || completion.isEmpty()) {
        problems.add("query " + id + ": empty completion (the loss would count no token)");
      } else {
        out.add(new Query(id, prompt, completion));
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(path + ": " + problems.size() + " bad quer" + (problems.size() == 1 ? "y" : "ies")
          + ": " + problems.subList(0, Math.min(20, problems.size())));
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(path + " holds no queries");
    }
    return out;
  }
}
