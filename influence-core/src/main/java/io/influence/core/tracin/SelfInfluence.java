package io.influence.core.tracin;

import java.util.List;

/**
 * TracInCP self-influence. {@code total[t] = Σ_i perCheckpoint[i][t]}, where
 * {@code perCheckpoint[i][t] = η_i ‖∇L(train t; θ_i)‖²}.
 */
public record SelfInfluence(List<String> ids, List<String> checkpoints, double[] total, double[][] perCheckpoint) {}
