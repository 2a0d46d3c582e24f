package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * PEFT adapter checkpoints: a folder holding {@value #CONFIG} and {@code adapter_model.safetensors}
 * instead of a full model, trained on top of a base checkpoint.
 *
 * <p>The base is the folder named by the adapter's {@code base_model_name_or_path}, resolved
 * against the adapter folder when relative (PEFT writes the path the base was loaded from). A Hub
 * id such as {@code meta-llama/Llama-2-7b-hf} that is not a local folder is an error saying to
 * download the base and point {@code base_model_name_or_path} at it.
 *
 * <p>An adapter checkpoint's identity covers both parts: {@link TrainingRuns#sha256} hashes the
 * adapter's safetensors followed by the base's, so retraining either one invalidates what was
 * computed from it.
 */
public final class AdapterFolders {
    /** The PEFT adapter configuration file. */
    public static final String CONFIG = "adapter_config.json";

    private AdapterFolders() {
    }

    /** Whether {@code dir} is an adapter checkpoint (holds {@value #CONFIG}). */
    public static boolean isAdapter(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG));
    }

    /** The base checkpoint folder of the adapter in {@code adapterDir} (absolute, normalised). */
    public static Path baseOf(Path adapterDir) throws CheckpointFormatException {
        Path file = adapterDir.resolve(CONFIG);
        ObjectNode root = Json.requireObject(file, Json.readFile(file, CONFIG), CONFIG);
        JsonNode base = root.get("base_model_name_or_path");
        String fix = "download the base model and set \"base_model_name_or_path\" in " + CONFIG
                + " to its local folder (absolute, or relative to the adapter folder).";
        if (base == null || !base.isTextual() || base.textValue().isBlank()) {
            throw new CheckpointFormatException(file, null, "\"base_model_name_or_path\" must name the base model's folder but is "
                    + Json.kind(base) + ".", fix);
        }
        Path resolved;
        try {
            resolved = adapterDir.toAbsolutePath().resolve(base.textValue()).normalize();
        } catch (InvalidPathException e) {
            throw new CheckpointFormatException(file, null, "\"base_model_name_or_path\" " + Json.abbreviate(base.textValue())
                    + " is not a path.", fix, e);
        }
        if (!Files.isRegularFile(resolved.resolve(Checkpoint.CONFIG))) {
            throw new CheckpointFormatException(file, null, "\"base_model_name_or_path\" " + Json.abbreviate(base.textValue())
                    + " is not a local checkpoint folder (no " + resolved.resolve(Checkpoint.CONFIG) + ").", fix);
        }
        if (isAdapter(resolved)) {
            throw new CheckpointFormatException(file, null, "\"base_model_name_or_path\" names another adapter, " + resolved
                    + "; stacked adapters are not supported.", "merge the first adapter into its base, then point at the merged model.");
        }
        return resolved;
    }
}
