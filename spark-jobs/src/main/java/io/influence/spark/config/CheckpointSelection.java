package io.influence.spark.config;

import java.util.List;

/** {@code ekfac.checkpoints} / {@code ihvp.checkpoints}: which extracted checkpoints an influence method uses. */
public enum CheckpointSelection {
  /**
   * Every extracted checkpoint, the scores summed with weight 1 each (no learning-rate weighting): a variant along
   * training, not the influence function of the trained model.
   */
  ALL,
  /** The last checkpoint only: the influence function of the trained model (the default of both blocks). */
  LAST;

  /** The checkpoints to use, out of {@code available} (ordered by step, at least one). */
  public List<String> select(List<String> available) {
    if (available.isEmpty()) {
      throw new IllegalArgumentException("no extracted checkpoints to use. HINT: run `influence extract` first");
    }
    return this == LAST ? List.of(available.get(available.size() - 1)) : List.copyOf(available);
  }
}
