package io.influence.spark.ekfac;

import com.typesafe.config.Config;
import io.influence.ekfac.Damping;
import java.util.List;

/**
 * The {@code influence.ekfac} settings block, checked on the driver.
 *
 * @param damping        λ added to the corrected eigenvalues: {@code relative} = factor × mean(Λ) of each layer
 *                       (default 0.1), or {@code absolute}
 * @param lastOnly       true: fit and use only the last extracted checkpoint (the influence function of the final
 *                       model); false: every checkpoint, scores summed with weight 1 each
 * @param batchSize      sequences per forward/backward pass in the covariance pass
 * @param partitions     partitions of both passes; 0 keeps the input's partitioning
 */
public record EkfacSettings(Damping damping, boolean lastOnly, int batchSize, int partitions) {

  public EkfacSettings {
    if (batchSize < 1) {
      throw new IllegalArgumentException("influence.ekfac.batch-size must be >= 1, got " + batchSize);
    }
    if (partitions < 0) {
      throw new IllegalArgumentException("influence.ekfac.partitions must be >= 0 (0 = keep the input's), got "
          + partitions);
    }
  }

  /** Reads {@code ekfac.*} from the resolved {@code influence} settings. */
  public static EkfacSettings from(Config influence) {
    Config e = influence.getConfig("ekfac");
    String mode = e.getString("damping.mode");
    double value = e.getDouble("damping.value");
    Damping damping = switch (mode) {
      case "relative" -> Damping.relativeToMean(value);
      case "absolute" -> Damping.absolute(value);
      default -> throw new IllegalArgumentException("influence.ekfac.damping.mode must be \"relative\" or \"absolute\","
          + " got \"" + mode + "\". HINT: relative (factor × mean eigenvalue, 0.1) unless you know the curvature's scale");
    };
    String which = e.getString("checkpoints");
    boolean last = switch (which) {
      case "all" -> false;
      case "last" -> true;
      default -> throw new IllegalArgumentException("influence.ekfac.checkpoints must be \"all\" or \"last\", got \""
          + which + "\"");
    };
    return new EkfacSettings(damping, last, e.getInt("batch-size"), e.getInt("partitions"));
  }

  /** The checkpoints to fit and score with, out of {@code available} (ordered by step). */
  public List<String> select(List<String> available) {
    if (available.isEmpty()) {
      throw new IllegalArgumentException("no checkpoints to use for EK-FAC. HINT: run `influence extract` first");
    }
    return lastOnly ? List.of(available.get(available.size() - 1)) : List.copyOf(available);
  }
}
