package io.influence.spark.store;

import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.apache.hadoop.fs.Path;

/**
 * The checkpoints of a gradient store that a stage sums over, each with its weight (TracIn: the
 * learning rate; a single preconditioned checkpoint: 1.0), checked once for every stage.
 */
public final class CheckpointWeights {

  private CheckpointWeights() {}

  /** Throws when {@code checkpoints} is empty or repeats, or {@code weights} do not pair with them as finite numbers. */
  public static void check(Path store, List<String> checkpoints, List<Double> weights) {
    Objects.requireNonNull(store, "store");
    Objects.requireNonNull(checkpoints, "checkpoints");
    Objects.requireNonNull(weights, "weights");
    if (checkpoints.isEmpty()) {
      throw new IllegalArgumentException("name at least one checkpoint of " + store);
    }
    if (Set.copyOf(checkpoints).size() != checkpoints.size()) {
      throw new IllegalArgumentException("checkpoints repeat: " + checkpoints);
    }
    if (weights.size() != checkpoints.size()) {
      throw new IllegalArgumentException(checkpoints.size() + " checkpoints but " + weights.size() + " weights."
          + " HINT: give one learning rate per checkpoint (1.0 for a single preconditioned checkpoint).");
    }
    for (int i = 0; i < weights.size(); i++) {
      if (weights.get(i) == null || !Double.isFinite(weights.get(i))) {
        throw new IllegalArgumentException("weight of checkpoint '" + checkpoints.get(i) + "' must be finite, got "
            + weights.get(i));
      }
    }
  }
}
