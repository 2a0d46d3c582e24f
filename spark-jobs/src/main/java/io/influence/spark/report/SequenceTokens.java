package io.influence.spark.report;

import com.fasterxml.jackson.databind.JsonNode;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.ModelConfigs;
import io.influence.core.tokenizer.Tokenizer;
import org.apache.hadoop.fs.Path;

/** The tokens of a scored training row, as the stages used them, and the context they were cut to. */
final class SequenceTokens {

  private SequenceTokens() {}

  /** The model's context: the length of the training sequences the stages cut long texts into. */
  static int context(TokenContributions.At at) {
    return context(at.checkpoint().dir());
  }

  /** The context of the model in checkpoint folder {@code dir}. */
  static int context(java.nio.file.Path dir) {
    java.nio.file.Path config = dir.resolve("config.json");
    try {
      return ModelConfigs.read(config).maxPositions();
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("cannot read " + config + ": " + e.getMessage(), e);
    }
  }

  /** The row's {@code input_ids}, or its {@code text} encoded as the extract stage encodes it. */
  static int[] ofRow(JsonNode r, Tokenizer tokenizer, Path summary) {
    JsonNode ids = r.get("input_ids");
    if (ids != null && ids.isArray()) {
      int[] t = new int[ids.size()];
      for (int i = 0; i < t.length; i++) {
        t[i] = ids.get(i).asInt();
      }
      return t;
    }
    JsonNode text = r.get("text");
    if (text == null || !text.isTextual()) {
      throw new IllegalStateException(summary + ": row (" + r.get("query_id").asText() + ", "
          + r.get("train_id").asText() + ") has neither input_ids nor text. HINT: score with the corpus so the rows "
          + "carry their tokens");
    }
    return tokenizer.encodeDocument(text.asText());
  }
}
