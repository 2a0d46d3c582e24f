package io.influence.spark.io;

import java.util.List;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * The on-disk formats a corpus or a query set may come in, and how one is recognised.
 *
 * <p>A folder holding {@code state.json} or {@code *.arrow} files is a Hugging Face
 * {@code datasets} folder ({@code Dataset.save_to_disk}: Arrow IPC stream files). Otherwise the
 * extension decides ({@code .parquet}, {@code .jsonl}/{@code .json}), and a folder is judged by
 * the files inside it (Spark writes Parquet and JSON as folders of part files).
 */
public enum InputFormat {
  PARQUET, JSON_LINES, HF_ARROW;

  /** Recognises the format of a path on any Hadoop file system; throws with a hint when it cannot. */
  public static InputFormat detect(Configuration conf, Path path) {
    FileStatus status = Locations.status(conf, path);
    if (status == null) {
      throw new IllegalArgumentException("input " + path + " does not exist. HINT: check the path in your settings");
    }
    if (status.isDirectory()) {
      List<String> names = Locations.list(conf, path).stream()
          .map(s -> s.getPath().getName().toLowerCase(Locale.ROOT)).toList();
      if (names.contains("state.json")) {
        return HF_ARROW;
      }
      if (names.stream().anyMatch(n -> n.endsWith(".arrow"))) {
        return HF_ARROW;
      }
      if (names.stream().anyMatch(n -> n.endsWith(".parquet"))) {
        return PARQUET;
      }
      if (names.stream().anyMatch(n -> n.endsWith(".jsonl") || n.endsWith(".json"))) {
        return JSON_LINES;
      }
      throw new IllegalArgumentException("cannot tell the format of folder " + path
          + ": it holds no .parquet, .jsonl/.json or .arrow files. HINT: set the format explicitly");
    }
    String name = path.getName().toLowerCase(Locale.ROOT);
    if (name.endsWith(".parquet")) {
      return PARQUET;
    }
    if (name.endsWith(".jsonl") || name.endsWith(".json") || name.endsWith(".ndjson")) {
      return JSON_LINES;
    }
    if (name.endsWith(".arrow")) {
      return HF_ARROW;
    }
    throw new IllegalArgumentException("cannot tell the format of " + path
        + " from its name. HINT: use .parquet, .jsonl or a Hugging Face datasets folder, or set the format explicitly");
  }

  /** Recognises the format of a local file or folder. */
  public static InputFormat detect(java.nio.file.Path path) {
    return detect(Locations.conf(), Locations.local(path));
  }
}
