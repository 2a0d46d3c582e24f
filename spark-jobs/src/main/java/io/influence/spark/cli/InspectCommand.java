package io.influence.spark.cli;

import io.influence.spark.io.Corpus;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code influence inspect --corpus PATH}: reads a corpus the way the pipeline will, checks its
 * schema and ids, and prints one JSON line with what it found. Use it before a long job.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Check a corpus (schema, unique ids) and print its row counts as JSON.")
final class InspectCommand implements Callable<Integer> {

  @Option(names = "--corpus", required = true,
      description = "Parquet, JSON Lines or Hugging Face datasets folder (a path or URI)")
  String corpus;

  @Option(names = "--master", description = "Spark master (default: spark-submit's, else local[*])")
  String master;

  @Override
  public Integer call() {
    SparkSession.Builder builder = SparkSession.builder().appName("influence inspect");
    if (master != null) {
      builder.master(master);
    } else if (!new org.apache.spark.SparkConf().contains("spark.master")) {
      builder.master("local[*]");
    }
    SparkSession spark = builder.getOrCreate();
    try {
      System.out.println(summary(spark, corpus));
      return 0;
    } finally {
      spark.stop();
    }
  }

  /** The summary line: total rows, rows with text, rows with token ids, and total tokens given. */
  static String summary(SparkSession spark, Path corpus) {
    return summary(spark, corpus.toString());
  }

  /** {@link #summary(SparkSession, Path)} of a corpus location (a path or URI). */
  static String summary(SparkSession spark, String corpus) {
    Row r = Corpus.read(spark, corpus).selectExpr("count(*)", "count(text)", "count(input_ids)",
        "coalesce(sum(size(input_ids)), 0)").first();
    return String.format("{\"corpus\":\"%s\",\"rows\":%d,\"with_text\":%d,\"with_input_ids\":%d,\"input_tokens\":%d}",
        corpus.replace("\\", "\\\\").replace("\"", "\\\""), r.getLong(0), r.getLong(1), r.getLong(2),
        r.getLong(3));
  }
}
