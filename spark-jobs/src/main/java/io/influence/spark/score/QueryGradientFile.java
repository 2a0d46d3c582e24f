package io.influence.spark.score;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.checkpoints.SafetensorsWriter;
import io.influence.spark.io.Locations;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The query gradients a score stage scored with, as it used them: preconditioned by the stage's method
 * (TracIn: raw; EK-FAC, CG, LiSSA: {@code (H + λI)⁻¹ g}), in the store's space, with each checkpoint's
 * weight. Saved as {@code query-gradients.safetensors} next to the scores so that later readers (the
 * report's token-level attribution and score histograms) reproduce the stage's scores exactly,
 * whatever the method, without solving again.
 *
 * <p>Layout: one float32 tensor per (query, checkpoint, layer), named {@code q<i>/<checkpoint>/<layer>}
 * with {@code i} the query's position, flattened row-major (shape {@code [rows·cols]}, the store's
 * layer shape); the metadata holds {@code query_ids}, {@code checkpoints} and {@code weights} (JSON
 * arrays), {@code method} and {@code gradients} ({@code "unit"} when the scores are cosines: each checkpoint's query
 * and training gradient divided by its norm over every layer first; {@code "raw"}, or absent in files of older
 * engines, for inner products). The gradients are saved as scored, before any unit normalisation.
 */
public final class QueryGradientFile {

  public static final String FILE = "query-gradients.safetensors";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * What a score stage scored with; {@code unit}: the scores are {@code Σ_i w_i cos(q_i, g_i)} over checkpoints i
   * (each checkpoint's query and training gradient unit-normalised over all its layers), not inner products.
   */
  public record Scored(String method, List<String> queryIds, List<String> checkpoints, List<Double> weights,
                       Map<String, List<Map<String, float[]>>> gradients, boolean unit) {

    /** The preconditioned gradient of {@code queryId} at checkpoint {@code name}, layer {@code layer} (row-major). */
    public float[] gradient(String queryId, String checkpoint, String layer) {
      List<Map<String, float[]>> perCheckpoint = gradients.get(queryId);
      int i = checkpoints.indexOf(checkpoint);
      if (perCheckpoint == null || i < 0 || !perCheckpoint.get(i).containsKey(layer)) {
        throw new IllegalArgumentException(FILE + " has no gradient for query '" + queryId + "' at " + checkpoint
            + " layer " + layer + ". HINT: score again; the scores and the gradient store must come from the same run");
      }
      return perCheckpoint.get(i).get(layer);
    }

    /** The weight of checkpoint {@code name} in the scores (a learning rate for TracIn, 1 otherwise). */
    public double weight(String checkpoint) {
      int i = checkpoints.indexOf(checkpoint);
      if (i < 0) {
        throw new IllegalArgumentException(FILE + " scored no checkpoint " + checkpoint + "; it scored " + checkpoints);
      }
      return weights.get(i);
    }
  }

  private QueryGradientFile() {}

  /** Writes {@code spec}'s query gradients into {@code dir/}{@value #FILE} on {@code fs}. */
  static void write(FileSystem fs, Path dir, ScoreSpec spec) {
    SafetensorsWriter w = new SafetensorsWriter();
    List<String> ids = new ArrayList<>();
    for (int q = 0; q < spec.queries().size(); q++) {
      QueryGradient g = spec.queries().get(q);
      ids.add(g.id());
      for (int i = 0; i < spec.checkpoints().size(); i++) {
        for (Map.Entry<String, float[]> e : new java.util.TreeMap<>(g.perCheckpoint().get(i)).entrySet()) {
          w.put("q" + q + "/" + spec.checkpoints().get(i) + "/" + e.getKey(), new long[] {e.getValue().length},
              e.getValue());
        }
      }
    }
    java.nio.file.Path local = null;
    try {
      w.metadata("method", spec.method());
      w.metadata("query_ids", JSON.writeValueAsString(ids));
      w.metadata("checkpoints", JSON.writeValueAsString(spec.checkpoints()));
      w.metadata("weights", JSON.writeValueAsString(spec.weights()));
      w.metadata("gradients", spec.unit() ? "unit" : "raw");
      // a file in a fresh folder, not Files.createTempFile: that one is rw-------, a mode the copy would keep
      local = Locations.localTemporary("query-gradients");
      w.write(local.resolve(FILE));
      fs.copyFromLocalFile(true, true, new Path(local.resolve(FILE).toUri()), new Path(dir, FILE));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + new Path(dir, FILE) + ": " + e.getMessage(), e);
    } finally {
      if (local != null) {
        Locations.deleteLocal(local);
      }
    }
  }

  /**
   * Reads {@code scoresDir/}{@value #FILE} (on any Hadoop file system; a remote file is read from a local copy);
   * a missing or malformed file is an error naming it.
   */
  public static Scored read(Configuration conf, Path scoresDir) {
    Path file = new Path(scoresDir, FILE);
    if (!Locations.isFile(conf, file)) {
      throw new IllegalStateException(file + " is missing: these scores were written by an older engine. HINT: run "
          + "`influence score --overwrite` to score again");
    }
    java.nio.file.Path copy = null;
    try {
      java.nio.file.Path local;
      if (Locations.isLocal(file)) {
        local = Locations.toLocal(file);
      } else {
        copy = Locations.localTemporary("query-gradients-");
        local = copy.resolve(FILE);
        Locations.download(conf, file, local);
      }
      return read(local, file.toString());
    } finally {
      Locations.deleteLocal(copy);
    }
  }

  /** Reads {@code scoresDir/}{@value #FILE} of a local score folder. */
  public static Scored read(java.nio.file.Path scoresDir) {
    return read(Locations.conf(), Locations.local(scoresDir));
  }

  private static Scored read(java.nio.file.Path local, String file) {
    try (SafetensorsFile f = SafetensorsFile.open(local)) {
      Map<String, String> meta = f.metadata();
      List<String> ids = list(meta, "query_ids", file, new TypeReference<List<String>>() {});
      List<String> checkpoints = list(meta, "checkpoints", file, new TypeReference<List<String>>() {});
      List<Double> weights = list(meta, "weights", file, new TypeReference<List<Double>>() {});
      if (weights.size() != checkpoints.size()) {
        throw new IllegalStateException(file + ": " + weights.size() + " weights for " + checkpoints.size()
            + " checkpoints. HINT: score again");
      }
      Map<String, List<Map<String, float[]>>> gradients = new LinkedHashMap<>();
      for (int q = 0; q < ids.size(); q++) {
        List<Map<String, float[]>> perCheckpoint = new ArrayList<>();
        for (String c : checkpoints) {
          perCheckpoint.add(new LinkedHashMap<>());
        }
        gradients.put(ids.get(q), perCheckpoint);
      }
      for (String name : f.names()) {
        String[] parts = name.split("/", 3);
        int q = parts.length == 3 && parts[0].startsWith("q") ? parseIndex(parts[0].substring(1)) : -1;
        int c = parts.length == 3 ? checkpoints.indexOf(parts[1]) : -1;
        if (q < 0 || q >= ids.size() || c < 0) {
          throw new IllegalStateException(file + ": unexpected tensor '" + name + "'. HINT: score again");
        }
        gradients.get(ids.get(q)).get(c).put(parts[2], f.readFloats(name));
      }
      String kind = meta.getOrDefault("gradients", "raw");
      if (!kind.equals("raw") && !kind.equals("unit")) {
        throw new IllegalStateException(file + ": metadata 'gradients' is '" + kind + "', neither raw nor unit. HINT: "
            + "score again with this engine");
      }
      return new Scored(meta.getOrDefault("method", ""), ids, checkpoints, weights, gradients, kind.equals("unit"));
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("cannot read " + file + ": " + e.getMessage() + ". HINT: score again", e);
    }
  }

  private static int parseIndex(String s) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static <T> T list(Map<String, String> meta, String key, String file, TypeReference<T> type) {
    String v = meta.get(key);
    if (v == null) {
      throw new IllegalStateException(file + " has no '" + key + "' metadata. HINT: score again");
    }
    try {
      return JSON.readValue(v, type);
    } catch (IOException e) {
      throw new IllegalStateException(file + ": metadata '" + key + "' is not valid JSON: " + e.getMessage(), e);
    }
  }
}
