package io.influence.spark.score;

import io.influence.ekfac.Damping;
import java.util.Map;
import java.util.TreeMap;

/**
 * Provenance of the damping an influence-function method used, written in every score row: the mode and value as
 * set ({@code damping_mode}, {@code damping}: the factor for relative, λ for absolute) and the absolute λ actually
 * added to the curvature ({@code damping_lambda}), keyed by where it applies: the checkpoint for CG and LiSSA (one λ
 * for all tracked layers), {@code checkpoint/layer} for EK-FAC (one λ per layer block).
 *
 * @param mode   "relative" or "absolute"
 * @param value  the factor (relative) or λ (absolute) as set
 * @param lambda the resolved λ by checkpoint or checkpoint/layer, each finite and >= 0
 */
public record DampingUsed(String mode, double value, Map<String, Double> lambda) implements java.io.Serializable {

  public DampingUsed {
    if (!"relative".equals(mode) && !"absolute".equals(mode)) {
      throw new IllegalArgumentException("damping mode must be \"relative\" or \"absolute\", got " + mode);
    }
    if (!(value >= 0) || !Double.isFinite(value)) {
      throw new IllegalArgumentException("damping value must be finite and >= 0, got " + value);
    }
    lambda = new TreeMap<>(java.util.Objects.requireNonNull(lambda, "lambda"));
    lambda.forEach((k, v) -> {
      if (v == null || !(v >= 0) || !Double.isFinite(v)) {
        throw new IllegalArgumentException("resolved damping λ at " + k + " must be finite and >= 0, got " + v);
      }
    });
    lambda = java.util.Collections.unmodifiableMap(lambda);
  }

  /** {@code setting} with the λ it resolved to, by checkpoint (CG, LiSSA) or checkpoint/layer (EK-FAC). */
  public static DampingUsed of(Damping setting, Map<String, Double> lambda) {
    return new DampingUsed(setting.relative() ? "relative" : "absolute", setting.value(), lambda);
  }
}
