package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Reads and writes Hugging Face {@code config.json} files.
 *
 * <pre>
 * gpt2:  vocab_size, n_positions, n_embd, n_layer, n_head (required integers);
 *        layer_norm_epsilon (default 1e-5), activation_function (default "gelu_new")
 llama, mistral, qwen2, qwen3: see {@link LlamaConfigJson}
 * </pre>
 * Other fields (architectures, torch_dtype, bos_token_id, ...) are ignored. A field present with
 * the wrong JSON type (a string where a number belongs, 3.5 for a count, null) is an error, not
 * a default.
 */
public final class ModelConfigs {
    static final String SUPPORTED = "[gpt2, llama, mistral, qwen2, qwen3]";

    private ModelConfigs() {
    }

    /** Reads and validates a config.json. */
    public static ModelConfig read(Path configJson) throws CheckpointFormatException {
        ObjectNode root = Json.requireObject(configJson, Json.readFile(configJson, "config.json"), "config.json");
        JsonNode type = root.get("model_type");
        if (type == null || !type.isTextual()) {
            throw new CheckpointFormatException(configJson, null, "\"model_type\" must be a string but is " + Json.kind(type)
                    + "; supported model types: " + SUPPORTED + ".",
                    "save the model with transformers' save_pretrained, which writes model_type.");
        }
        Fields f = new Fields(configJson, root);
        try {
            return switch (type.textValue()) {
                case "gpt2" -> new Gpt2Config(f.integer("vocab_size"), f.integer("n_positions"), f.integer("n_embd"),
                        f.integer("n_layer"), f.integer("n_head"),
                        f.number("layer_norm_epsilon", Gpt2Config.DEFAULT_LAYER_NORM_EPSILON),
                        f.text("activation_function", Gpt2Config.DEFAULT_ACTIVATION));
                case "llama", "mistral", "qwen2", "qwen3" -> LlamaConfigJson.read(f, type.textValue());
                default -> throw new CheckpointFormatException(configJson, null, "has model_type "
                        + Json.abbreviate(type.textValue()) + ", which is not supported; supported model types: " + SUPPORTED + ".",
                        "only GPT-2 and the Llama family (llama, mistral, qwen2, qwen3) are implemented; convert the checkpoint or pick a supported model.");
            };
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(configJson, null, "is not a valid " + type.textValue() + " config: "
                    + e.getMessage(), "fix the value in config.json.", e);
        }
    }

    /** Writes a config.json in Hugging Face's field names, atomically. */
    public static void write(Path configJson, ModelConfig config) throws IOException {
        Objects.requireNonNull(config, "config");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model_type", config.modelType());
        if (config instanceof Gpt2Config g) {
            out.put("architectures", new String[] {"GPT2LMHeadModel"});
            out.put("vocab_size", g.vocabSize());
            out.put("n_positions", g.nPositions());
            out.put("n_embd", g.nEmbd());
            out.put("n_layer", g.nLayer());
            out.put("n_head", g.nHead());
            out.put("layer_norm_epsilon", g.layerNormEpsilon());
            out.put("activation_function", g.activationFunction());
        } else if (config instanceof LlamaConfig l) {
            LlamaConfigJson.write(l, out);
        }
        Json.writeAtomically(configJson, out);
    }

    /** Typed field access with file-naming errors. */
    record Fields(Path file, ObjectNode root) {
        int integer(String name) throws CheckpointFormatException {
            if (root.get(name) == null) {
                throw missing(name);
            }
            return integer(name, 0);
        }

        int integer(String name, int dflt) throws CheckpointFormatException {
            JsonNode v = root.get(name);
            if (v == null) {
                return dflt;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw wrongType(name, "an integer", v);
            }
            return v.intValue();
        }

        double number(String name, double dflt) throws CheckpointFormatException {
            JsonNode v = root.get(name);
            if (v == null) {
                if (Double.isNaN(dflt)) {
                    throw missing(name);
                }
                return dflt;
            }
            if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
                throw wrongType(name, "a finite number", v);
            }
            return v.doubleValue();
        }

        String text(String name, String dflt) throws CheckpointFormatException {
            JsonNode v = root.get(name);
            if (v == null) {
                return dflt;
            }
            if (!v.isTextual()) {
                throw wrongType(name, "a string", v);
            }
            return v.textValue();
        }

        boolean bool(String name, boolean dflt) throws CheckpointFormatException {
            JsonNode v = root.get(name);
            if (v == null) {
                return dflt;
            }
            if (!v.isBoolean()) {
                throw wrongType(name, "true or false", v);
            }
            return v.booleanValue();
        }

        /** Whether the field is absent or JSON null. */
        boolean absent(String name) {
            JsonNode v = root.get(name);
            return v == null || v.isNull();
        }

        CheckpointFormatException missing(String name) {
            return new CheckpointFormatException(file, null, "is missing the required field \"" + name + "\".",
                    "add it; see the model's original config.json.");
        }

        CheckpointFormatException wrongType(String name, String expected, JsonNode v) {
            return new CheckpointFormatException(file, null, "field \"" + name + "\" must be " + expected + " but is "
                    + Json.kind(v) + ".", "fix the value in config.json.");
        }
    }
}
