package io.influence.checkpoints;

/** The architecture of a checkpoint, read from its Hugging Face {@code config.json} by {@link ModelConfigs}. */
public sealed interface ModelConfig permits Gpt2Config, LlamaConfig {
    /** The {@code model_type} value in config.json ("gpt2", "llama"). */
    String modelType();

    int vocabSize();

    /** Width of the residual stream. */
    int hiddenSize();

    /** Number of transformer blocks. */
    int numLayers();

    int numHeads();

    /** Size of one attention head: {@code hiddenSize() / numHeads()}. */
    default int headSize() {
        return hiddenSize() / numHeads();
    }

    /** Longest sequence the position embeddings (or RoPE setting) support. */
    int maxPositions();
}
