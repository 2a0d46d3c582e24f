package io.influence.checkpoints;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A checkpoint file (safetensors, shard index, config.json, run manifest, trainer_state.json)
 * that cannot be used as it is. The message names the file and, where one is concerned, the
 * tensor, says what is wrong and ends with a {@code HINT:} saying how to fix it.
 */
public final class CheckpointFormatException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String tensor;

    /**
     * @param file    the offending file or folder (not null)
     * @param tensor  the offending tensor, or null when the problem is not about one tensor
     * @param problem what is wrong, stating the rule and the bad value
     * @param hint    how to fix it (without the "HINT: " prefix)
     */
    public CheckpointFormatException(Path file, String tensor, String problem, String hint) {
        this(file, tensor, problem, hint, null);
    }

    public CheckpointFormatException(Path file, String tensor, String problem, String hint, Throwable cause) {
        super(format(file, tensor, problem, hint), cause);
        this.file = Objects.requireNonNull(file, "file");
        this.tensor = tensor;
    }

    /** The offending file or folder. */
    public Path file() {
        return file;
    }

    /** The offending tensor, or null when the problem is not about one tensor. */
    public String tensor() {
        return tensor;
    }

    private static String format(Path file, String tensor, String problem, String hint) {
        StringBuilder sb = new StringBuilder();
        sb.append(file);
        if (tensor != null) {
            sb.append(": tensor '").append(tensor).append('\'');
        }
        sb.append(": ").append(problem);
        if (hint != null && !hint.isEmpty()) {
            sb.append(" HINT: ").append(hint);
        }
        return sb.toString();
    }
}
