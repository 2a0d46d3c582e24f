package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A PEFT LoRA adapter's {@code adapter_config.json}: the adapted layer computes
 * {@code W x (+ b) + s·B(A x)} with {@code A [r, in]}, {@code B [out, r]} and {@link #scale()}
 * {@code s = lora_alpha / r}, or {@code lora_alpha / √r} with rsLoRA.
 *
 * <pre>
 * read        r (required, positive), lora_alpha (default 8), target_modules (required: a list of module
 *             names or name suffixes, as PEFT matches them), use_rslora (default false)
 * ignored     lora_dropout (dropout is off at inference and for gradients of the trained model),
 *             task_type, base_model_name_or_path, inference_mode, init_lora_weights, revision
 * refused     peft_type other than "LORA"; target_modules as a string (a regular expression or
 *             "all-linear"); bias other than "none"; fan_in_fan_out, lora_bias or use_dora true; non-empty
 *             modules_to_save, layers_to_transform, rank_pattern, alpha_pattern, layer_replication,
 *             exclude_modules, target_parameters, trainable_token_indices
 * (other keys peft writes, e.g. peft_version, loftq_config, megatron_config, use_qalora, are ignored)
 * </pre>
 *
 * @param targetModules module names or suffixes, e.g. {@code q_proj} or {@code self_attn.q_proj}
 * @param loraDropout   as written; not applied (see above)
 */
public record LoraConfig(int r, double loraAlpha, List<String> targetModules, boolean useRslora, double loraDropout) {

    public LoraConfig {
        Gpt2Config.positive("r", r);
        if (!Double.isFinite(loraAlpha)) {
            throw new IllegalArgumentException("lora_alpha = " + loraAlpha + " must be finite.");
        }
        targetModules = List.copyOf(Objects.requireNonNull(targetModules, "targetModules"));
        if (targetModules.isEmpty()) {
            throw new IllegalArgumentException("target_modules is empty; HINT: an adapter adapts at least one module.");
        }
    }

    /** {@code lora_alpha / r}, or {@code lora_alpha / √r} with rsLoRA. */
    public double scale() {
        return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
    }

    /** Whether PEFT's list matching adapts the module called {@code moduleName} (equal, or ends with "." + target). */
    public boolean targets(String moduleName) {
        for (String t : targetModules) {
            if (moduleName.equals(t) || moduleName.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    /** Reads and validates {@code adapter_config.json} (the rules above). */
    public static LoraConfig read(Path adapterConfigJson) throws CheckpointFormatException {
        ObjectNode root = Json.requireObject(adapterConfigJson, Json.readFile(adapterConfigJson, "adapter_config.json"),
                "adapter_config.json");
        ModelConfigs.Fields f = new ModelConfigs.Fields(adapterConfigJson, root);
        String type = f.text("peft_type", "LORA");
        if (!type.equals("LORA")) {
            throw refuse(adapterConfigJson, "has \"peft_type\": " + Json.abbreviate(type) + "; only LoRA adapters "
                    + "(\"LORA\") are supported.", "use a LoRA adapter.");
        }
        String bias = f.text("bias", "none");
        if (!bias.equals("none")) {
            throw refuse(adapterConfigJson, "has \"bias\": " + Json.abbreviate(bias) + "; only \"none\" is supported "
                    + "(the adapter must not train the base biases).", "train the adapter with bias=\"none\".");
        }
        if (f.bool("fan_in_fan_out", false)) {
            throw refuse(adapterConfigJson, "has \"fan_in_fan_out\": true; Llama-family layers are nn.Linear "
                    + "(fan_in_fan_out false).", "set fan_in_fan_out to false; it is only for GPT-2's Conv1D.");
        }
        if (!f.absent("lora_bias") && f.bool("lora_bias", false)) {
            throw refuse(adapterConfigJson, "has \"lora_bias\": true; LoRA-B biases are not supported.",
                    "use an adapter trained with lora_bias=False.");
        }
        if (!f.absent("use_dora") && f.bool("use_dora", false)) {
            throw refuse(adapterConfigJson, "has \"use_dora\": true; DoRA adapters are not supported.",
                    "use a plain LoRA adapter.");
        }
        for (String key : List.of("modules_to_save", "layers_to_transform", "rank_pattern", "alpha_pattern",
                "layer_replication", "exclude_modules", "target_parameters", "trainable_token_indices")) {
            JsonNode v = root.get(key);
            if (v != null && !v.isNull() && !(v.isContainerNode() && v.isEmpty())) {
                throw refuse(adapterConfigJson, "has \"" + key + "\": " + Json.kind(v) + "; only uniform LoRA on the "
                        + "target modules is supported.", "remove " + key + " (or merge those modules into the base).");
            }
        }
        JsonNode targets = root.get("target_modules");
        if (targets == null || targets.isNull()) {
            throw f.missing("target_modules");
        }
        if (!targets.isArray()) {
            throw refuse(adapterConfigJson, "has \"target_modules\": " + Json.kind(targets) + "; only the list form "
                    + "(module names such as [\"q_proj\", \"v_proj\"]) is supported, not a regular expression or "
                    + "\"all-linear\".", "list the adapted modules explicitly in target_modules.");
        }
        List<String> modules = new ArrayList<>();
        for (JsonNode t : targets) {
            if (!t.isTextual()) {
                throw f.wrongType("target_modules", "a list of strings", targets);
            }
            modules.add(t.textValue());
        }
        try {
            return new LoraConfig(f.integer("r"), f.number("lora_alpha", 8.0), modules, f.bool("use_rslora", false),
                    f.number("lora_dropout", 0.0));
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(adapterConfigJson, null, "is not a valid LoRA config: " + e.getMessage(),
                    "fix the value in adapter_config.json.", e);
        }
    }

    private static CheckpointFormatException refuse(Path file, String problem, String hint) {
        return new CheckpointFormatException(file, null, problem, hint);
    }
}
