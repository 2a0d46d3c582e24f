package io.influence.spark.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The output protocol of a stage that publishes one folder of results (score, self-influence):
 * <pre>
 *   folder/DATA/             the rows, Parquet
 *   folder/...               anything else the stage keeps beside them
 *   folder/summary.jsonl     the same rows, one JSON object per line: written last, it marks the folder complete
 * </pre>
 * Everything is written into a temporary sibling and renamed into place in one step ({@link AtomicOutput}), so a
 * reader sees a complete folder or none. A complete folder is reused as it is; a folder without its summary is a
 * leftover nobody should trust and is refused.
 */
public final class PublishedFolder {

  /** The marker and JSON Lines copy of the rows. */
  public static final String SUMMARY_FILE = "summary.jsonl";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final SparkSession spark;
  private final FileSystem fs;
  private final Path folder;
  private final String data;
  private final String what;
  private final String summary;

  private PublishedFolder(SparkSession spark, Path folder, String data, String summary, String what) {
    this.spark = spark;
    this.fs = AtomicOutput.fs(folder, spark.sparkContext().hadoopConfiguration());
    this.folder = folder;
    this.data = data;
    this.what = what;
    this.summary = summary;
  }

  /**
   * The folder {@code folder} of results called {@code what} in messages (e.g. "score"), rows under
   * {@code folder/data}.
   */
  public static PublishedFolder at(SparkSession spark, Path folder, String data, String what) {
    return new PublishedFolder(spark, folder, data, SUMMARY_FILE, what);
  }

  /** The same protocol with the JSON Lines copy (and completion marker) named {@code summary} instead. */
  public static PublishedFolder at(SparkSession spark, Path folder, String data, String summary, String what) {
    return new PublishedFolder(spark, folder, data, summary, what);
  }

  /** The rows of a complete folder; empty when there is none; refused when the folder exists without its summary. */
  public Optional<Dataset<Row>> existing() {
    if (AtomicOutput.isComplete(fs, folder, summary)) {
      return Optional.of(spark.read().parquet(new Path(folder, data).toString()));
    }
    try {
      if (fs.exists(folder)) {
        throw new IllegalStateException(folder + " exists but holds no " + summary + ", so it is not a complete "
            + what + " output. HINT: delete it or choose another output folder.");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + folder + ": " + e.getMessage(), e);
    }
    return Optional.empty();
  }

  /**
   * Publishes the folder: {@code write} fills a temporary folder (the rows under {@link #dataPath}), then the
   * summary of {@code summaryRows} (given the temporary folder) is written last and the folder renamed into place.
   * Returns the published rows.
   */
  public Dataset<Row> publish(Consumer<Path> write, Function<Path, Iterator<Row>> summaryRows) {
    Path tmp = AtomicOutput.newTemporary(folder.getParent());
    try {
      write.accept(tmp);
      writeSummary(new Path(tmp, summary), summaryRows.apply(tmp));
      AtomicOutput.publishAfterTasks(spark.sparkContext(), fs, tmp, folder, AtomicOutput.ZOMBIE_PATIENCE);
    } catch (RuntimeException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw e;
    }
    return spark.read().parquet(new Path(folder, data).toString());
  }

  /** Where the rows go inside a (temporary or final) folder. */
  public Path dataPath(Path in) {
    return new Path(in, data);
  }

  /** The file system of the folder. */
  public FileSystem fs() {
    return fs;
  }

  private void writeSummary(Path file, Iterator<Row> rows) {
    try (OutputStream o = fs.create(file, true)) {
      while (rows.hasNext()) {
        o.write((json(rows.next()) + "\n").getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /** One row as a JSON object in its schema's column order (arrays as lists, maps as objects). */
  public static String json(Row r) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < r.size(); i++) {
      Object v = r.get(i);
      if (v instanceof scala.collection.Seq<?> s) {
        v = scala.jdk.javaapi.CollectionConverters.asJava(s);
      } else if (v instanceof scala.collection.Map<?, ?> mm) {
        v = scala.jdk.javaapi.CollectionConverters.asJava(mm);
      }
      m.put(r.schema().fieldNames()[i], v);
    }
    try {
      return JSON.writeValueAsString(m);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a summary line: " + e.getMessage(), e);
    }
  }
}
