package io.influence.core.model;

import io.influence.checkpoints.Checkpoint;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.ModelConfig;
import java.nio.file.Path;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Chooses the {@link CausalLm} implementation from a checkpoint's {@code config.json}. */
final class ModelFamilies {

  private ModelFamilies() {}

  static CausalLm load(Path dir, DataType dataType) throws CheckpointFormatException {
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      ModelConfig config = ckpt.config();
      Map<String, INDArray> tensors = CheckpointTensors.read(ckpt, dataType);
      try {
        return fromTensors(config, tensors, dataType);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(dir + ": " + e.getMessage(), e);
      }
    }
  }

  static CausalLm fromTensors(ModelConfig config, Map<String, INDArray> tensors, DataType dataType) {
    if (config instanceof Gpt2Config g) {
      return Gpt2Model.fromTensors(g, tensors, dataType);
    }
    if (config instanceof LlamaConfig l) {
      return LlamaModel.fromTensors(l, tensors, dataType);
    }
    // ModelConfig is sealed over the two; a new family adds its case here
    throw new IllegalStateException("no implementation for model_type " + config.modelType());
  }
}
