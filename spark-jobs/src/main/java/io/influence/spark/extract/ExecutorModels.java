package io.influence.spark.extract;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.core.model.Gpt2Model;
import io.influence.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
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

  private static final ThreadLocal<Map<String, Gpt2Model>> MODELS = ThreadLocal.withInitial(ConcurrentHashMap::new);
  private static final Map<String, Optional<Tokenizer>> TOKENIZERS = new ConcurrentHashMap<>();

  private ExecutorModels() {}

  /** This thread's float32 model of checkpoint {@code dir} (content hash {@code sha256}), loaded on first use. */
  public static Gpt2Model model(String dir, String sha256) {
    return model(dir, sha256, DataType.FLOAT);
  }

  /** As {@link #model(String, String)} in {@code dataType} (FLOAT, or DOUBLE for exact curvature products). */
  public static Gpt2Model model(String dir, String sha256, DataType dataType) {
    String key = dir + "#" + sha256 + (dataType == DataType.FLOAT ? "" : "#" + dataType);
    return MODELS.get().computeIfAbsent(key, k -> {
      try {
        return Gpt2Model.load(Path.of(dir), dataType);
      } catch (CheckpointFormatException e) {
        throw new IllegalStateException("cannot load checkpoint " + dir + ": " + e.getMessage(), e);
      }
    });
  }

  /** The checkpoint's {@code tokenizer.json}, if it has one. */
  static Optional<Tokenizer> tokenizer(String dir) {
    return TOKENIZERS.computeIfAbsent(dir, d -> {
      Path file = Path.of(d, "tokenizer.json");
      if (!Files.isRegularFile(file)) {
        return Optional.empty();
      }
      try {
        return Optional.of(Tokenizer.fromTokenizerJson(file));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
      }
    });
  }
}
