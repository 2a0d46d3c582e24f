package io.influence.checkpoints;

/**
 * Llama hyper-parameters with Hugging Face's field meanings ({@code model_type: "llama"}).
 * Validated on construction: positive sizes, {@code hiddenSize % numAttentionHeads == 0},
 * {@code numAttentionHeads % numKeyValueHeads == 0} (grouped-query attention), positive finite
 * {@code rmsNormEps} and {@code ropeTheta}.
 */
public record LlamaConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                          int numAttentionHeads, int numKeyValueHeads, double rmsNormEps, double ropeTheta,
                          boolean tieWordEmbeddings, int maxPositionEmbeddings) implements ModelConfig {
    public static final double DEFAULT_ROPE_THETA = 10000.0;

    public LlamaConfig {
        Gpt2Config.positive("vocab_size", vocabSize);
        Gpt2Config.positive("hidden_size", hiddenSize);
        Gpt2Config.positive("intermediate_size", intermediateSize);
        Gpt2Config.positive("num_hidden_layers", numHiddenLayers);
        Gpt2Config.positive("num_attention_heads", numAttentionHeads);
        Gpt2Config.positive("num_key_value_heads", numKeyValueHeads);
        Gpt2Config.positive("max_position_embeddings", maxPositionEmbeddings);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size = " + hiddenSize + " is not divisible by num_attention_heads = "
                    + numAttentionHeads + "; HINT: the head size must be an integer.");
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("num_key_value_heads = " + numKeyValueHeads + " does not divide num_attention_heads = "
                    + numAttentionHeads + "; HINT: each key/value head serves a whole group of query heads.");
        }
        if (!(rmsNormEps > 0) || !Double.isFinite(rmsNormEps)) {
            throw new IllegalArgumentException("rms_norm_eps = " + rmsNormEps + " must be positive and finite.");
        }
        if (!(ropeTheta > 0) || !Double.isFinite(ropeTheta)) {
            throw new IllegalArgumentException("rope_theta = " + ropeTheta + " must be positive and finite.");
        }
    }

    @Override
    public String modelType() {
        return "llama";
    }

    @Override
    public int numLayers() {
        return numHiddenLayers;
    }

    @Override
    public int numHeads() {
        return numAttentionHeads;
    }

    @Override
    public int maxPositions() {
        return maxPositionEmbeddings;
    }
}
