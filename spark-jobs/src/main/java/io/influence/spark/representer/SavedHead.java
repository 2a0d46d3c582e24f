package io.influence.spark.representer;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.checkpoints.SafetensorsWriter;
import io.influence.core.representer.RepresenterHead;
import io.influence.spark.io.Locations;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The fitted head on disk: {@code <dir>/head.safetensors} holding {@code weight [V, d]} (F64) and, in the header
 * metadata, the fingerprint of what it was fitted from (checkpoint hash, corpus content, settings) and how the fit
 * went. {@link #read} returns it only when the fingerprint matches: a head fitted from another checkpoint, corpus or
 * λ is never reused.
 *
 * @param head     the fitted head
 * @param metadata the header metadata (fingerprint, lambda, tokens, iterations, cg_products, relative_residual,
 *                 objective)
 */
record SavedHead(RepresenterHead head, Map<String, String> metadata) {

  static final String FILE = "head.safetensors";
  static final String FINGERPRINT = "fingerprint";

  /** The head saved under {@code dir} if it was fitted with {@code fingerprint}. */
  static Optional<SavedHead> read(Configuration conf, Path dir, String fingerprint) {
    Path file = new Path(dir, FILE);
    if (!Locations.exists(conf, file)) {
      return Optional.empty();
    }
    java.nio.file.Path local = Locations.localTemporary("representer-head");
    try {
      java.nio.file.Path copy = local.resolve(FILE);
      Locations.download(conf, file, copy);
      try (SafetensorsFile f = SafetensorsFile.open(copy)) {
        Map<String, String> meta = new LinkedHashMap<>(f.metadata());
        if (!fingerprint.equals(meta.get(FINGERPRINT))) {
          return Optional.empty();
        }
        long[] shape = f.info("weight").shape();
        RepresenterHead head = new RepresenterHead((int) shape[0], (int) shape[1], f.readDoubles("weight"),
            Double.parseDouble(meta.get("lambda")), Long.parseLong(meta.get("tokens")));
        return Optional.of(new SavedHead(head, meta));
      }
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException(file + " is not a readable fitted head: " + e.getMessage()
          + ". HINT: delete it; the score stage fits the head again", e);
    } finally {
      Locations.deleteLocal(local);
    }
  }

  /** Writes this head under {@code dir} (replacing an older one). */
  void write(Configuration conf, Path dir) {
    java.nio.file.Path local = Locations.localTemporary("representer-head");
    try {
      SafetensorsWriter w = new SafetensorsWriter();
      metadata.forEach(w::metadata);
      w.put("weight", new long[] {head.vocab(), head.dim()}, head.weight());
      java.nio.file.Path file = local.resolve(FILE);
      w.write(file);
      Locations.mkdirs(conf, dir);
      // upload beside, then replace: a reader never sees a half-written head
      Path tmp = new Path(dir, "_tmp-" + System.nanoTime() + "-" + FILE);
      Locations.upload(conf, file, tmp);
      Path target = new Path(dir, FILE);
      Locations.deleteRecursively(conf, target);
      if (!Locations.fs(conf, tmp).rename(tmp, target)) {
        throw new IOException("cannot rename " + tmp + " to " + target);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the fitted head under " + dir + ": " + e.getMessage(), e);
    } finally {
      Locations.deleteLocal(local);
    }
  }
}
