package io.influence.core.tracin;

import java.util.List;

/**
 * TracInCP scores. {@code total[q][t] = Σ_i perCheckpoint[i][q][t]}, where
 * {@code perCheckpoint[i][q][t] = η_i ⟨∇L(query q; θ_i), ∇L(train t; θ_i)⟩}.
 */
public record TracInScores(List<String> queryIds, List<String> trainIds, List<String> checkpoints, double[][] total,
    double[][][] perCheckpoint) {}
