package io.influence.checkpoints;

import java.util.List;
import java.util.Objects;

/** The checkpoints of one training run, by strictly increasing step; never empty. */
public record TrainingRun(List<RunCheckpoint> checkpoints) {
    public TrainingRun {
        checkpoints = List.copyOf(Objects.requireNonNull(checkpoints, "checkpoints"));
        if (checkpoints.isEmpty()) {
            throw new IllegalArgumentException("a training run needs at least one checkpoint.");
        }
        for (int i = 1; i < checkpoints.size(); i++) {
            if (checkpoints.get(i).step() <= checkpoints.get(i - 1).step()) {
                throw new IllegalArgumentException("checkpoint steps must increase strictly, but step "
                        + checkpoints.get(i).step() + " follows step " + checkpoints.get(i - 1).step() + ".");
            }
        }
    }
}
