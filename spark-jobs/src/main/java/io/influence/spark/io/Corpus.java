package io.influence.spark.io;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;

import io.influence.spark.config.BadRows;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.IntegralType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Reads a training corpus into the engine's row shape, checking its schema on the driver
 * before any work is done.
 *
 * <p>Input: Parquet, JSON Lines or a Hugging Face {@code datasets} folder with an {@code id}
 * column (string or integer) and either {@code text} (string, tokenised later with the
 * checkpoint's tokenizer) or {@code input_ids} (a list of integers). Output columns, always all
 * three: {@code id: string not null}, {@code text: string}, {@code input_ids: array<int>}.
 * Missing ids and duplicate ids are errors that name examples of the offending rows; content
 * problems (empty, too long, ids outside the vocabulary) are judged later, where the tokenizer
 * and the model are known.
 */
public final class Corpus {

  public static final StructType SCHEMA = new StructType()
      .add("id", DataTypes.StringType, false)
      .add("text", DataTypes.StringType, true)
      .add("input_ids", DataTypes.createArrayType(DataTypes.IntegerType, false), true);

  private Corpus() {}

  /**
   * Reads and validates the corpus at {@code location} (a path or URI on any Hadoop file system, see
   * {@link Locations#resolve}), recognising its format from the path.
   */
  public static Dataset<Row> read(SparkSession spark, String location) {
    return read(spark, Locations.resolve(spark, location));
  }

  /**
   * As {@link #read(SparkSession, String)}; {@code badRows} says what a JSON Lines line that is not a JSON object
   * does: {@link BadRows#FAIL} stops naming the file and line, {@link BadRows#SKIP} leaves it out (bytes that are
   * not UTF-8 always stop: Spark would read them as U+FFFD).
   */
  public static Dataset<Row> read(SparkSession spark, String location, BadRows badRows) {
    return read(spark, Locations.resolve(spark, location), badRows);
  }

  /** As {@link #read(SparkSession, String, BadRows)} for a resolved {@code path}. */
  public static Dataset<Row> read(SparkSession spark, Path path, BadRows badRows) {
    return read(spark, path, InputFormat.detect(spark.sparkContext().hadoopConfiguration(), path), badRows);
  }

  /** Reads and validates the corpus at {@code path}, recognising its format from the path. */
  public static Dataset<Row> read(SparkSession spark, Path path) {
    return read(spark, path, InputFormat.detect(spark.sparkContext().hadoopConfiguration(), path));
  }

  /** Reads and validates the corpus in local file or folder {@code path}. */
  public static Dataset<Row> read(SparkSession spark, java.nio.file.Path path) {
    return read(spark, Locations.local(path));
  }

  /**
   * A fingerprint of the corpus's content: its row count and an order-independent sum of a 64-bit hash of every
   * row's {@code (id, text, input_ids)}, so that any changed, added or removed row changes it (whatever the
   * partitioning or file order). Computed by one scan; rows as {@link #read} returns them.
   */
  public static String fingerprint(Dataset<Row> corpus) {
    Column h = org.apache.spark.sql.functions.xxhash64(col("id"), col("text"), col("input_ids"));
    Row r = corpus.agg(count(lit(1)), org.apache.spark.sql.functions.sum(h.bitwiseAND(lit(0xFFFFFFFFL))),
        org.apache.spark.sql.functions.sum(org.apache.spark.sql.functions.shiftrightunsigned(h, 32))).first();
    long n = r.getLong(0);
    return n == 0 ? "rows=0" : String.format(java.util.Locale.ROOT, "rows=%d;xxh64-sums=%x:%x", n, r.getLong(1),
        r.getLong(2));
  }

  /** Reads and validates the corpus at {@code path} in {@code format}; a bad JSON Lines line fails the read. */
  public static Dataset<Row> read(SparkSession spark, Path path, InputFormat format) {
    return read(spark, path, format, BadRows.FAIL);
  }

  /** Reads and validates the corpus at {@code path} in {@code format}; {@code badRows} as in {@link #read(SparkSession, String, BadRows)}. */
  public static Dataset<Row> read(SparkSession spark, Path path, InputFormat format, BadRows badRows) {
    Dataset<Row> shaped = shape(raw(spark, path, format, badRows), path.toString());
    checkIds(shaped, path.toString());
    return shaped;
  }

  /** The corpus file's rows with every column as stored (no shaping, no id checks). */
  private static Dataset<Row> raw(SparkSession spark, Path path, InputFormat format, BadRows badRows) {
    return switch (format) {
      case PARQUET -> spark.read().parquet(path.toString());
      case JSON_LINES -> jsonLines(spark, path, "corpus", badRows);
      case HF_ARROW -> HfArrowFolder.read(spark, path);
    };
  }

  /**
   * {@code (id: string, group: string)} of every corpus row, from the corpus column {@code column} (cast to a
   * string), for attributing to sources (Data Shapley's players); a missing column or a row without a value fails
   * naming the column and an example row.
   */
  public static Dataset<Row> groups(SparkSession spark, Path path, BadRows badRows, String column) {
    Dataset<Row> raw = raw(spark, path, InputFormat.detect(spark.sparkContext().hadoopConfiguration(), path), badRows);
    if (!Arrays.asList(raw.schema().fieldNames()).contains(column)) {
      throw new IllegalArgumentException(path + ": no `" + column + "` column to group by (columns: "
          + Arrays.asList(raw.schema().fieldNames()) + "). HINT: add the column, or set influence.shapley.group-column"
          + " = \"\" to make each training sequence a player");
    }
    Dataset<Row> g = raw.select(col("id").cast(DataTypes.StringType).as("id"),
        col(column).cast(DataTypes.StringType).as("group"));
    List<Row> missing = g.filter(col("group").isNull()).limit(3).collectAsList();
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException(path + ": rows without a `" + column + "` value, e.g. id "
          + missing.get(0).getString(0) + ". HINT: give every row a group");
    }
    return g;
  }

  /**
   * The JSON Lines at {@code path} (a {@code what} file: "corpus" or "queries"), checked line by line on the driver
   * first ({@link JsonLinesCheck}) so that a bad line is named by file and line number.
   */
  static Dataset<Row> jsonLines(SparkSession spark, Path path, String what, BadRows badRows) {
    boolean clean = requireUsable(JsonLinesCheck.check(spark.sparkContext().hadoopConfiguration(), path), path, what,
        badRows);
    return spark.read().option("mode", clean ? "FAILFAST" : "DROPMALFORMED").json(path.toString());
  }

  /**
   * Before Spark starts: a local JSON Lines {@code what} ("corpus" or "queries") at {@code location} is checked line
   * by line and refused as its read would refuse it (a missing file, Parquet, a datasets folder or a remote file is
   * left to the stage, which checks a remote JSON Lines file when it reads it, still before any Spark job over it).
   */
  public static void precheckLocal(String location, String what, BadRows badRows) {
    Configuration conf = new Configuration();
    Path path = Locations.resolve(conf, location);
    if (!Locations.isLocal(path) || !Locations.exists(conf, path)
        || InputFormat.detect(conf, path) != InputFormat.JSON_LINES) {
      return;
    }
    requireUsable(JsonLinesCheck.check(conf, path), path, what, badRows);
  }

  /** Whether the checked file is clean; refuses it when a bad line must fail the read (always for bytes not UTF-8). */
  private static boolean requireUsable(JsonLinesCheck.Result check, Path path, String what, BadRows badRows) {
    if (check.clean()) {
      return true;
    }
    if (badRows == BadRows.FAIL || check.invalidUtf8()) {
      throw new IllegalArgumentException(what + " " + path + ": " + check.badLines() + " line(s) are not JSON objects "
          + "in UTF-8: " + String.join("; ", check.examples()) + ". HINT: " + (check.invalidUtf8()
          ? "save the file as UTF-8 (bytes that are not UTF-8 are never skipped)"
          : "fix them (one JSON object per line)" + (what.equals("corpus")
          ? ", or set influence.input.bad-rows = skip to leave them out" : "")));
    }
    return false;
  }

  /** Projects a raw frame onto {@link #SCHEMA}, refusing one that lacks what the engine needs. */
  static Dataset<Row> shape(Dataset<Row> raw, String source) {
    StructType schema = raw.schema();
    List<String> names = Arrays.asList(schema.fieldNames());
    if (!names.contains("id")) {
      throw new IllegalArgumentException(source + ": no `id` column (columns: " + names
          + "). HINT: add a unique id per training sequence");
    }
    DataType idType = schema.apply("id").dataType();
    if (!(idType instanceof IntegralType) && idType != DataTypes.StringType) {
      throw new IllegalArgumentException(source + ": column `id` must be a string or an integer, found " + idType);
    }
    boolean hasText = names.contains("text");
    boolean hasIds = names.contains("input_ids");
    if (!hasText && !hasIds) {
      throw new IllegalArgumentException(source + ": neither `text` nor `input_ids` is present (columns: " + names
          + "). HINT: give the raw text in `text` or token ids in `input_ids`");
    }
    if (hasText && schema.apply("text").dataType() != DataTypes.StringType) {
      throw new IllegalArgumentException(source + ": column `text` must be a string, found "
          + schema.apply("text").dataType());
    }
    if (hasIds) {
      StructField f = schema.apply("input_ids");
      if (!(f.dataType() instanceof ArrayType a) || !(a.elementType() instanceof IntegralType)) {
        throw new IllegalArgumentException(source + ": column `input_ids` must be a list of integers, found "
            + f.dataType());
      }
    }
    Column text = hasText ? col("text") : lit(null).cast(DataTypes.StringType);
    Column ids = hasIds ? col("input_ids").cast(DataTypes.createArrayType(DataTypes.IntegerType))
        : lit(null).cast(DataTypes.createArrayType(DataTypes.IntegerType));
    return raw.select(col("id").cast(DataTypes.StringType).as("id"), text.as("text"), ids.as("input_ids"));
  }

  private static void checkIds(Dataset<Row> corpus, String source) {
    long missing = corpus.filter(col("id").isNull()).count();
    if (missing > 0) {
      throw new IllegalArgumentException(source + ": " + missing + " rows have no id. HINT: every row needs a unique id");
    }
    List<Row> duplicates = corpus.groupBy("id").agg(count(lit(1)).as("n")).filter(col("n").gt(1))
        .orderBy("id").limit(5).collectAsList();
    if (!duplicates.isEmpty()) {
      throw new IllegalArgumentException(source + ": ids must be unique, but these repeat: "
          + duplicates.stream().map(r -> r.getString(0) + " (" + r.getLong(1) + "×)").toList());
    }
  }

  /**
   * {@code rows} spread over at least the default parallelism: a small input file arrives as one partition,
   * which would leave all but one core idle during compute-bound work (extraction, curvature products).
   */
  public static Dataset<Row> spreadOverCores(Dataset<Row> rows) {
    int cores = rows.sparkSession().sparkContext().defaultParallelism();
    return rows.rdd().getNumPartitions() < cores ? rows.repartition(cores) : rows;
  }
}
