package io.influence.spark.progress;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The machine-readable progress of one stage run: JSON Lines in {@code <output.dir>/_progress/<stage>.jsonl},
 * beside the stage's output folder, never inside it (score and self-influence publish their folder by renaming a
 * temporary one into place, and refuse a folder that exists without its summary). One object per update:
 * <pre>
 *   {"stage":"extract","task":"extract step-6","done":1200,"total":4000,"unit":"rows","elapsed_s":14.2,
 *    "time":"2025-01-01T12:00:00.123Z"}
 * </pre>
 * plus {@code max} and {@code residual} on solver iterations ({@code unit "iterations"}) and
 * {@code "finished": true|false} on the last line of a task. A stage run replaces the file of its previous run.
 * Each line is flushed ({@code hflush}) as it is written: visible at once on a local file system and on HDFS; an
 * object store (s3a) shows the file only when the stage ends. Writing is best effort: an error is logged once and
 * the stage goes on with console progress only.
 *
 * <p>While open, the log is the one every {@link Progress} started on the driver writes to ({@link #active}).
 */
public final class ProgressLog implements AutoCloseable {

  /** The folder under {@code output.dir} that holds the logs. */
  public static final String FOLDER = "_progress";

  private static final Logger LOG = LoggerFactory.getLogger(ProgressLog.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static volatile ProgressLog active;

  private final String stage;
  private final Path file;
  private final ProgressLog previous;
  private FSDataOutputStream out;

  private ProgressLog(String stage, Path file, FSDataOutputStream out, ProgressLog previous) {
    this.stage = stage;
    this.file = file;
    this.out = out;
    this.previous = previous;
  }

  /** The log file of {@code stage} under output folder {@code outputDir}. */
  public static Path file(Path outputDir, String stage) {
    return new Path(new Path(outputDir, FOLDER), stage + ".jsonl");
  }

  /** Opens (replacing) the log of {@code stage} under {@code outputDir} and makes it the active one until closed. */
  public static synchronized ProgressLog open(Configuration conf, Path outputDir, String stage) {
    Path file = file(outputDir, stage);
    FSDataOutputStream out = null;
    try {
      FileSystem fs = file.getFileSystem(conf);
      fs = fs instanceof ChecksumFileSystem c ? c.getRawFileSystem() : fs;   // no .crc beside it
      fs.mkdirs(file.getParent());
      out = fs.create(file, true);
    } catch (IOException | RuntimeException e) {
      LOG.warn("cannot write the progress log {} ({}); progress goes to the console only", file, e.toString());
    }
    ProgressLog log = new ProgressLog(stage, file, out, active);
    active = log;
    return log;
  }

  /** The log progress is written to now, or null. */
  static ProgressLog active() {
    return active;
  }

  /** Where the log is. */
  public Path file() {
    return file;
  }

  /** Appends one object: {@code stage}, then {@code fields} in order, then {@code time}. */
  synchronized void write(Map<String, Object> fields) {
    if (out == null) {
      return;
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("stage", stage);
    m.putAll(fields);
    m.put("time", Instant.now().toString());
    try {
      out.write((JSON.writeValueAsString(m) + "\n").getBytes(StandardCharsets.UTF_8));
      out.hflush();
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write progress " + m, e);
    } catch (IOException e) {
      LOG.warn("cannot write the progress log {} ({}); progress goes to the console only from now", file, e.toString());
      closeQuietly();
    }
  }

  @Override
  public void close() {
    synchronized (ProgressLog.class) {
      if (active == this) {
        active = previous;
      }
    }
    closeQuietly();
  }

  private synchronized void closeQuietly() {
    if (out != null) {
      try {
        out.close();
      } catch (IOException e) {
        LOG.warn("cannot close the progress log {} ({})", file, e.toString());
      }
      out = null;
    }
  }
}
