package io.influence.checkpoints;

import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One checkpoint of a training run: the optimizer step it was saved at, the learning rate in
 * effect there (TracIn's η_i), its folder, and the SHA-256 (lower-case hex) over its safetensors
 * files in file-name order (see {@link TrainingRuns#sha256}).
 */
public record RunCheckpoint(long step, double learningRate, Path dir, String sha256) {
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    public RunCheckpoint {
        if (step < 0) {
            throw new IllegalArgumentException("step = " + step + " must be >= 0.");
        }
        if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
            throw new IllegalArgumentException("learning rate " + learningRate + " at step " + step
                    + " must be positive and finite.");
        }
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(sha256, "sha256");
        if (!HEX64.matcher(sha256).matches()) {
            throw new IllegalArgumentException("sha256 " + Json.abbreviate(sha256) + " at step " + step
                    + " is not 64 lower-case hex digits; HINT: compute it with TrainingRuns.sha256(dir).");
        }
    }
}
