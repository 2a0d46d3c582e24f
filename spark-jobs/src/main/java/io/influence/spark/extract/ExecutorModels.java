package io.influence.spark.extract;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.core.model.CausalLm;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Runs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Checkpoints and tokenizers loaded once per JVM (driver or executor) and shared by its tasks.
 *
 * <p>A model keeps per-batch workspaces and is not thread-safe, so each task thread gets its own
 * model, loaded once per thread and checkpoint; the key includes the checkpoint's content hash,
 * so a checkpoint rewritten in place is reloaded.
 */
public final class ExecutorModels {

  private static final ThreadLocal<Map<String, CausalLm>> MODELS = ThreadLocal.withInitial(ConcurrentHashMap::new);
  private static final Map<String, Optional<Tokenizer>> TOKENIZERS = new ConcurrentHashMap<>();

  private ExecutorModels() {}

  /**
   * This thread's float32 model of the checkpoint at {@code location} ({@link Runs#location}: a local folder, or
   * a remote one that is copied to this machine once) with content hash {@code sha256}, loaded on first use.
   */
  public static CausalLm model(String location, String sha256) {
    return model(location, sha256, DataType.FLOAT);
  }

  /** As {@link #model(String, String)} in {@code dataType} (FLOAT, or DOUBLE for exact curvature products). */
  public static CausalLm model(String location, String sha256, DataType dataType) {
    Path dir = Runs.checkpointDir(Locations.conf(), location, sha256);
    String key = dir + "#" + sha256 + (dataType == DataType.FLOAT ? "" : "#" + dataType);
    return MODELS.get().computeIfAbsent(key, k -> {
      try {
        return CausalLm.load(dir, dataType);
      } catch (CheckpointFormatException e) {
        throw new IllegalStateException("cannot load checkpoint " + location + ": " + e.getMessage(), e);
      }
    });
  }

  /** The {@code tokenizer.json} of the checkpoint at {@code location} ({@link Runs#location}), if it has one. */
  public static Optional<Tokenizer> tokenizer(String location) {
    return TOKENIZERS.computeIfAbsent(location, d -> {
      Optional<Path> file = Runs.localFile(Locations.conf(), d, "tokenizer.json");
      if (file.isEmpty()) {
        return Optional.empty();
      }
      try {
        return Optional.of(Tokenizer.fromTokenizerJson(file.get()));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + d + "/tokenizer.json: " + e.getMessage(), e);
      }
    });
  }
}
