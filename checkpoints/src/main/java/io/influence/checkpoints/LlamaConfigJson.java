package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.influence.checkpoints.LlamaConfig.Family;
import io.influence.checkpoints.LlamaConfig.Rope;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Llama family's {@code config.json} fields (model_type llama, mistral, qwen2, qwen3), read into
 * one {@link LlamaConfig} and written back in transformers 4.x spelling.
 *
 * <pre>
 * required   vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 *            max_position_embeddings
 * optional   num_key_value_heads (num_attention_heads), head_dim (hidden_size / num_attention_heads;
 *            null = absent), rms_norm_eps (1e-6), tie_word_embeddings (false), attention_bias (false;
 *            not read for qwen2, whose q/k/v biases are always on and o_proj has none), mlp_bias (false),
 *            hidden_act (must be "silu"), partial_rotary_factor (must be 1)
 * mistral    sliding_window: a positive integer, or null/absent for none
 * qwen2/3    use_sliding_window: must be false when present (sliding_window is then ignored);
 *            layer_types (transformers 5): every entry must be "full_attention" (not read for mistral)
 * rope       transformers 5.x: "rope_parameters": {"rope_type", "rope_theta", ...};
 *            transformers 4.x: "rope_theta" (10000) + "rope_scaling": null or {"rope_type" or "type", ...}.
 *            rope_parameters wins when both are present; a rope_theta inside the object wins over the
 *            top-level one (as torch_llama.py and transformers read them).
 *            types: "default" (or no object), "linear" {factor},
 *            "llama3" {factor, low_freq_factor, high_freq_factor, original_max_position_embeddings}
 * refused    any other rope type (yarn, dynamic, longrope, ...); mixture-of-experts keys
 *            (num_local_experts, num_experts, ...) with a value other than null or 0
 * </pre>
 */
final class LlamaConfigJson {

    static final double DEFAULT_RMS_NORM_EPS = 1e-6;
    private static final List<String> MOE_KEYS = List.of("num_local_experts", "num_experts", "num_experts_per_tok",
            "n_routed_experts", "moe_intermediate_size");
    private static final String ROPE_TYPES = "[default, linear, llama3]";

    private LlamaConfigJson() {
    }

    static LlamaConfig read(ModelConfigs.Fields f, String modelType) throws CheckpointFormatException {
        Family family = Family.valueOf(modelType.toUpperCase(Locale.ROOT));
        for (String key : MOE_KEYS) {
            JsonNode v = f.root().get(key);
            if (v != null && !v.isNull() && !(v.isNumber() && v.doubleValue() == 0)) {
                throw refuse(f, "has \"" + key + "\": " + v + ", a mixture-of-experts setting; the engine implements "
                        + "dense Llama-family models only (llama, mistral, qwen2, qwen3 without experts).",
                        "use a dense checkpoint; mixture-of-experts models (Mixtral, Qwen-MoE) are not supported.");
            }
        }
        String act = f.text("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw refuse(f, "has \"hidden_act\": " + Json.abbreviate(act) + "; the Llama family's MLP is implemented with "
                    + "\"silu\" only.", "use a checkpoint whose hidden_act is silu.");
        }
        if (!f.absent("partial_rotary_factor") && f.number("partial_rotary_factor", 1.0) != 1.0) {
            throw refuse(f, "has \"partial_rotary_factor\": " + f.root().get("partial_rotary_factor")
                    + "; only full rotary embeddings (1.0) are supported.", "use a checkpoint that rotates the whole head.");
        }
        int heads = f.integer("num_attention_heads");
        int hidden = f.integer("hidden_size");
        int headDim = f.absent("head_dim") ? LlamaConfig.headDimOf(hidden, heads) : f.integer("head_dim");
        boolean attentionBias = family != Family.QWEN2 && f.bool("attention_bias", false);
        int window = 0;
        if (family == Family.MISTRAL && !f.absent("sliding_window")) {
            window = f.integer("sliding_window");
            if (window <= 0) {
                throw refuse(f, "has \"sliding_window\": " + window + ", which must be positive (or null for none).",
                        "fix the value in config.json.");
            }
        }
        if ((family == Family.QWEN2 || family == Family.QWEN3) && !f.absent("use_sliding_window")
                && f.bool("use_sliding_window", false)) {
            throw refuse(f, "has \"use_sliding_window\": true; sliding-window attention is implemented for mistral only "
                    + "(not qwen's per-layer max_window_layers scheme).", "set use_sliding_window to false if the model "
                    + "was trained without it, or use another checkpoint.");
        }
        JsonNode layerTypes = f.root().get("layer_types");
        if (family != Family.MISTRAL && layerTypes != null && layerTypes.isArray()) {
            for (JsonNode t : layerTypes) {
                if (!t.isTextual() || !t.textValue().equals("full_attention")) {
                    throw refuse(f, "has \"layer_types\" with " + Json.kind(t) + "; only \"full_attention\" layers are "
                            + "supported for " + modelType + " (sliding-window layers only for mistral).",
                            "use a checkpoint without sliding-window layers.");
                }
            }
        }
        return new LlamaConfig(family, f.integer("vocab_size"), hidden, f.integer("intermediate_size"),
                f.integer("num_hidden_layers"), heads, f.integer("num_key_value_heads", heads), headDim,
                f.number("rms_norm_eps", DEFAULT_RMS_NORM_EPS), f.integer("max_position_embeddings"),
                f.bool("tie_word_embeddings", false), attentionBias, f.bool("mlp_bias", false), window, rope(f));
    }

    private static Rope rope(ModelConfigs.Fields f) throws CheckpointFormatException {
        String key = !f.absent("rope_parameters") ? "rope_parameters" : !f.absent("rope_scaling") ? "rope_scaling" : null;
        double topTheta = f.number("rope_theta", LlamaConfig.DEFAULT_ROPE_THETA);
        if (key == null) {
            return Rope.standard(topTheta);
        }
        JsonNode node = f.root().get(key);
        if (!(node instanceof ObjectNode o)) {
            throw f.wrongType(key, "an object", node);
        }
        double theta = o.has("rope_theta") ? number(f, o, key, "rope_theta") : topTheta;
        String typeKey = o.has("rope_type") ? "rope_type" : o.has("type") ? "type" : null;
        String type = "default";
        if (typeKey != null) {
            JsonNode t = o.get(typeKey);
            if (!t.isTextual()) {
                throw f.wrongType(key + "." + typeKey, "a string", t);
            }
            type = t.textValue();
        }
        return switch (type) {
            case "default" -> Rope.standard(theta);
            case "linear" -> Rope.linear(theta, number(f, o, key, "factor"));
            case "llama3" -> Rope.llama3(theta, number(f, o, key, "factor"), number(f, o, key, "low_freq_factor"),
                    number(f, o, key, "high_freq_factor"), integer(f, o, key, "original_max_position_embeddings"));
            default -> throw refuse(f, "has \"" + key + "\" with " + typeKey + " " + Json.abbreviate(type)
                    + ", which is not supported; supported rope types: " + ROPE_TYPES + ".",
                    "use a checkpoint with default, linear or llama3 rotary scaling.");
        };
    }

    private static double number(ModelConfigs.Fields f, ObjectNode o, String key, String name) throws CheckpointFormatException {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) {
            throw f.missing(key + "." + name);
        }
        if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
            throw f.wrongType(key + "." + name, "a finite number", v);
        }
        return v.doubleValue();
    }

    private static int integer(ModelConfigs.Fields f, ObjectNode o, String key, String name) throws CheckpointFormatException {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) {
            throw f.missing(key + "." + name);
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw f.wrongType(key + "." + name, "an integer", v);
        }
        return v.intValue();
    }

    private static CheckpointFormatException refuse(ModelConfigs.Fields f, String problem, String hint) {
        return new CheckpointFormatException(f.file(), null, problem, hint);
    }

    /** The fields of {@code l} in transformers 4.x spelling (rope_theta + rope_scaling), appended to {@code out}. */
    static void write(LlamaConfig l, Map<String, Object> out) {
        out.put("architectures", new String[] {l.family().architecture()});
        out.put("vocab_size", l.vocabSize());
        out.put("hidden_size", l.hiddenSize());
        out.put("intermediate_size", l.intermediateSize());
        out.put("num_hidden_layers", l.numHiddenLayers());
        out.put("num_attention_heads", l.numAttentionHeads());
        out.put("num_key_value_heads", l.numKeyValueHeads());
        out.put("head_dim", l.headDim());
        out.put("rms_norm_eps", l.rmsNormEps());
        out.put("max_position_embeddings", l.maxPositionEmbeddings());
        out.put("tie_word_embeddings", l.tieWordEmbeddings());
        if (l.family() != Family.QWEN2) {
            out.put("attention_bias", l.attentionBias());
        }
        out.put("mlp_bias", l.mlpBias());
        if (l.family() == Family.MISTRAL) {
            out.put("sliding_window", l.slidingWindow() == 0 ? null : l.slidingWindow());
        }
        if (l.family() == Family.QWEN2 || l.family() == Family.QWEN3) {
            out.put("use_sliding_window", false);
        }
        out.put("hidden_act", "silu");
        Rope r = l.rope();
        out.put("rope_theta", r.theta());
        Map<String, Object> scaling = null;
        switch (r.type()) {
            case DEFAULT -> { }
            case LINEAR -> {
                scaling = new LinkedHashMap<>();
                scaling.put("rope_type", "linear");
                scaling.put("factor", r.factor());
            }
            case LLAMA3 -> {
                scaling = new LinkedHashMap<>();
                scaling.put("rope_type", "llama3");
                scaling.put("factor", r.factor());
                scaling.put("low_freq_factor", r.lowFreqFactor());
                scaling.put("high_freq_factor", r.highFreqFactor());
                scaling.put("original_max_position_embeddings", r.originalMaxPositionEmbeddings());
            }
        }
        out.put("rope_scaling", scaling);
    }
}
