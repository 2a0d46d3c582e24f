package io.influence.checkpoints;

import java.util.Objects;
import java.util.Set;

/**
 * GPT-2 hyper-parameters with Hugging Face's field meanings ({@code model_type: "gpt2"}).
 * Validated on construction: positive sizes, {@code nEmbd % nHead == 0}, a positive finite
 * epsilon and a known activation.
 */
public record Gpt2Config(int vocabSize, int nPositions, int nEmbd, int nLayer, int nHead,
                         double layerNormEpsilon, String activationFunction) implements ModelConfig {
    /** Activations of Hugging Face's ACT2FN table that a GPT-2 MLP may use here. */
    static final Set<String> ACTIVATIONS = Set.of("gelu_new", "gelu", "gelu_pytorch_tanh", "relu", "silu", "gelu_fast");
    public static final double DEFAULT_LAYER_NORM_EPSILON = 1e-5;
    public static final String DEFAULT_ACTIVATION = "gelu_new";

    public Gpt2Config {
        positive("vocab_size", vocabSize);
        positive("n_positions", nPositions);
        positive("n_embd", nEmbd);
        positive("n_layer", nLayer);
        positive("n_head", nHead);
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException("n_embd = " + nEmbd + " is not divisible by n_head = " + nHead
                    + "; HINT: the head size n_embd / n_head must be an integer.");
        }
        if (!(layerNormEpsilon > 0) || !Double.isFinite(layerNormEpsilon)) {
            throw new IllegalArgumentException("layer_norm_epsilon = " + layerNormEpsilon + " must be positive and finite.");
        }
        Objects.requireNonNull(activationFunction, "activationFunction");
        if (!ACTIVATIONS.contains(activationFunction)) {
            throw new IllegalArgumentException("activation_function \"" + activationFunction + "\" is not supported; supported: "
                    + new java.util.TreeSet<>(ACTIVATIONS) + ".");
        }
    }

    static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " = " + value + " must be positive.");
        }
    }

    @Override
    public String modelType() {
        return "gpt2";
    }

    @Override
    public int hiddenSize() {
        return nEmbd;
    }

    @Override
    public int numLayers() {
        return nLayer;
    }

    @Override
    public int numHeads() {
        return nHead;
    }

    @Override
    public int maxPositions() {
        return nPositions;
    }
}
