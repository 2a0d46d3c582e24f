package io.influence.core.model;

import io.influence.checkpoints.AdapterFolders;
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

  /** The checkpoint in {@code dir} with the LoRA adapter in {@code adapterDir} (null for none); Llama family only. */
  static CausalLm load(Path dir, Path adapterDir, DataType dataType) throws CheckpointFormatException {
    if (adapterDir != null && AdapterFolders.isAdapter(dir)) {
      throw new CheckpointFormatException(dir, null, "is itself an adapter; stacked adapters are not supported.",
          "merge the first adapter into its base, then load the merged model with the second adapter.");
    }
    CausalLm base = load(dir, dataType);
    if (adapterDir == null) {
      return base;
    }
    if (base instanceof LlamaModel l) {
      return l.withAdapter(adapterDir);
    }
    throw new CheckpointFormatException(adapterDir, null, "is a LoRA adapter for a " + base.config().modelType()
        + " model, but adapters are supported on the Llama family (llama, mistral, qwen2, qwen3) only.",
        "merge the adapter into the base model and load the merged checkpoint.");
  }

  /**
   * The checkpoint in {@code dir}; an adapter checkpoint ({@link AdapterFolders}: a training run of
   * LoRA adapters) is loaded on its base.
   */
  static CausalLm load(Path dir, DataType dataType) throws CheckpointFormatException {
    if (AdapterFolders.isAdapter(dir)) {
      return load(AdapterFolders.baseOf(dir), dir, dataType);
    }
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
