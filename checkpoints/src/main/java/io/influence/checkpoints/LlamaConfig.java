package io.influence.checkpoints;

import java.util.Locale;
import java.util.Objects;

/**
 * Hyper-parameters of the Llama family ({@code model_type} llama, mistral, qwen2, qwen3) with Hugging
 * Face's field meanings: one record for the four, the differences being a few switches.
 *
 * <pre>
 * family   q/k/v bias        o_proj bias       mlp bias   q_norm/k_norm   sliding window
 * llama    attention_bias    attention_bias    mlp_bias   no              no
 * mistral  attention_bias    attention_bias    mlp_bias   no              sliding_window (0 = none)
 * qwen2    always            never             mlp_bias   no              no
 * qwen3    attention_bias    attention_bias    mlp_bias   yes (over head_dim, before RoPE)   no
 * </pre>
 * ({@code attentionBias} must be false for qwen2, whose biases are fixed by the family.) With a window
 * {@code w}, position {@code i} attends {@code j} when {@code 0 <= i − j < w}.
 *
 * <p>Validated on construction: positive sizes, {@code numAttentionHeads % numKeyValueHeads == 0}
 * (grouped-query attention), positive finite {@code rmsNormEps}, a valid {@link Rope}. The head size
 * is {@code headDim}, which need not be {@code hiddenSize / numAttentionHeads} (the parser derives it
 * from those two only when config.json has no {@code head_dim}).
 *
 * @param slidingWindow mistral's window, or 0 for none (the only value for the other families)
 */
public record LlamaConfig(Family family, int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                          int numAttentionHeads, int numKeyValueHeads, int headDim, double rmsNormEps,
                          int maxPositionEmbeddings, boolean tieWordEmbeddings, boolean attentionBias, boolean mlpBias,
                          int slidingWindow, Rope rope) implements ModelConfig {
    public static final double DEFAULT_ROPE_THETA = 10000.0;

    /** The four architectures this record describes, by their {@code model_type}. */
    public enum Family {
        LLAMA("LlamaForCausalLM"), MISTRAL("MistralForCausalLM"), QWEN2("Qwen2ForCausalLM"), QWEN3("Qwen3ForCausalLM");

        private final String architecture;

        Family(String architecture) {
            this.architecture = architecture;
        }

        /** The {@code model_type} string: "llama", "mistral", "qwen2", "qwen3". */
        public String modelType() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The {@code architectures} entry transformers writes for a causal LM of this family. */
        public String architecture() {
            return architecture;
        }
    }

    /** RoPE frequency scalings: none, {@code linear} (position interpolation), {@code llama3} (Llama 3.1's). */
    public enum RopeType {
        DEFAULT, LINEAR, LLAMA3;

        /** The {@code rope_type} string of config.json. */
        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Rotary position embedding: base {@code theta} and its scaling. Fields a type does not use are
     * stored as 0 (normalised here, so equal settings are equal records).
     *
     * <ul>
     *   <li>{@code DEFAULT}: {@code inv_i = theta^(−2i/d)}, {@code i < d/2};
     *   <li>{@code LINEAR}: {@code inv_i / factor};
     *   <li>{@code LLAMA3}: with {@code λ_i = 2π / inv_i}, {@code λ_lo = original / lowFreqFactor},
     *       {@code λ_hi = original / highFreqFactor}: {@code inv_i} when {@code λ_i < λ_hi},
     *       {@code inv_i / factor} when {@code λ_i > λ_lo}, else {@code (1 − s) inv_i / factor + s inv_i}
     *       with {@code s = (original / λ_i − lowFreqFactor) / (highFreqFactor − lowFreqFactor)}.
     * </ul>
     */
    public record Rope(RopeType type, double theta, double factor, double lowFreqFactor, double highFreqFactor,
                       int originalMaxPositionEmbeddings) {
        public Rope {
            Objects.requireNonNull(type, "type");
            if (!(theta > 0) || !Double.isFinite(theta)) {
                throw new IllegalArgumentException("rope_theta = " + theta + " must be positive and finite.");
            }
            if (type == RopeType.DEFAULT) {
                factor = 0;
            }
            if (type != RopeType.LLAMA3) {
                lowFreqFactor = 0;
                highFreqFactor = 0;
                originalMaxPositionEmbeddings = 0;
            }
            if (type != RopeType.DEFAULT && (!(factor > 0) || !Double.isFinite(factor))) {
                throw new IllegalArgumentException("rope scaling factor = " + factor + " must be positive and finite.");
            }
            if (type == RopeType.LLAMA3) {
                if (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || !Double.isFinite(highFreqFactor)) {
                    throw new IllegalArgumentException("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor, got "
                            + lowFreqFactor + " and " + highFreqFactor + ".");
                }
                Gpt2Config.positive("original_max_position_embeddings", originalMaxPositionEmbeddings);
            }
        }

        /** No scaling. */
        public static Rope standard(double theta) {
            return new Rope(RopeType.DEFAULT, theta, 0, 0, 0, 0);
        }

        /** Linear scaling (position interpolation) by {@code factor}. */
        public static Rope linear(double theta, double factor) {
            return new Rope(RopeType.LINEAR, theta, factor, 0, 0, 0);
        }

        /** Llama 3.1's scaling. */
        public static Rope llama3(double theta, double factor, double lowFreqFactor, double highFreqFactor,
                                  int originalMaxPositionEmbeddings) {
            return new Rope(RopeType.LLAMA3, theta, factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings);
        }

        /** The {@code head_dim / 2} inverse frequencies, in float64 (the formulas above). */
        public double[] inverseFrequencies(int headDim) {
            int half = headDim / 2;
            double[] inv = new double[half];
            for (int i = 0; i < half; i++) {
                double base = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
                inv[i] = switch (type) {
                    case DEFAULT -> base;
                    case LINEAR -> base / factor;
                    case LLAMA3 -> llama3(base);
                };
            }
            return inv;
        }

        private double llama3(double inv) {
            double lowWavelen = originalMaxPositionEmbeddings / lowFreqFactor;
            double highWavelen = originalMaxPositionEmbeddings / highFreqFactor;
            double wavelen = 2 * Math.PI / inv;
            double scaled = wavelen > lowWavelen ? inv / factor : inv;
            if (wavelen >= highWavelen && wavelen <= lowWavelen) {
                double smooth = (originalMaxPositionEmbeddings / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                return (1 - smooth) * scaled / factor + smooth * scaled;
            }
            return scaled;
        }
    }

    public LlamaConfig {
        Objects.requireNonNull(family, "family");
        Objects.requireNonNull(rope, "rope");
        Gpt2Config.positive("vocab_size", vocabSize);
        Gpt2Config.positive("hidden_size", hiddenSize);
        Gpt2Config.positive("intermediate_size", intermediateSize);
        Gpt2Config.positive("num_hidden_layers", numHiddenLayers);
        Gpt2Config.positive("num_attention_heads", numAttentionHeads);
        Gpt2Config.positive("num_key_value_heads", numKeyValueHeads);
        Gpt2Config.positive("head_dim", headDim);
        Gpt2Config.positive("max_position_embeddings", maxPositionEmbeddings);
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim = " + headDim + " must be even; HINT: rotary embeddings rotate "
                    + "pairs of features.");
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("num_key_value_heads = " + numKeyValueHeads + " does not divide num_attention_heads = "
                    + numAttentionHeads + "; HINT: each key/value head serves a whole group of query heads.");
        }
        if (!(rmsNormEps > 0) || !Double.isFinite(rmsNormEps)) {
            throw new IllegalArgumentException("rms_norm_eps = " + rmsNormEps + " must be positive and finite.");
        }
        if (family == Family.QWEN2 && attentionBias) {
            throw new IllegalArgumentException("attention_bias must be false for qwen2; HINT: qwen2 always has q/k/v "
                    + "biases and no o_proj bias (see qkvBias(), outputBias()).");
        }
        if (slidingWindow < 0 || (slidingWindow > 0 && family != Family.MISTRAL)) {
            throw new IllegalArgumentException("sliding_window = " + slidingWindow + " is not valid for " + family.modelType()
                    + "; HINT: a positive window for mistral, 0 for none.");
        }
    }

    /**
     * A plain Llama (no biases, no window, no rope scaling), {@code head_dim = hidden_size / num_attention_heads}.
     */
    public LlamaConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers, int numAttentionHeads,
                       int numKeyValueHeads, double rmsNormEps, double ropeTheta, boolean tieWordEmbeddings,
                       int maxPositionEmbeddings) {
        this(Family.LLAMA, vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
                headDimOf(hiddenSize, numAttentionHeads), rmsNormEps, maxPositionEmbeddings, tieWordEmbeddings, false, false,
                0, Rope.standard(ropeTheta));
    }

    /** {@code hidden / heads}, refusing a remainder (for configs without {@code head_dim}). */
    static int headDimOf(int hiddenSize, int numAttentionHeads) {
        Gpt2Config.positive("num_attention_heads", numAttentionHeads);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size = " + hiddenSize + " is not divisible by num_attention_heads = "
                    + numAttentionHeads + "; HINT: the head size must be an integer (or give head_dim explicitly).");
        }
        return hiddenSize / numAttentionHeads;
    }

    @Override
    public String modelType() {
        return family.modelType();
    }

    /** RoPE base. */
    public double ropeTheta() {
        return rope.theta();
    }

    /** Whether q_proj, k_proj and v_proj have biases. */
    public boolean qkvBias() {
        return family == Family.QWEN2 || attentionBias;
    }

    /** Whether o_proj has a bias. */
    public boolean outputBias() {
        return family != Family.QWEN2 && attentionBias;
    }

    /** Whether attention has per-head RMSNorms {@code q_norm}, {@code k_norm} (qwen3). */
    public boolean qkNorm() {
        return family == Family.QWEN3;
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
    public int headSize() {
        return headDim;
    }

    @Override
    public int maxPositions() {
        return maxPositionEmbeddings;
    }
}
