package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import java.util.Locale;

/**
 * LiSSA's scale {@code s}: the Neumann recursion converges only when {@code s > (λ_max(H) + λ) / 2} and is reliable
 * (monotone in every eigendirection) when {@code s >= λ_max(H) + λ}. Either a {@link Fixed} number the user chose,
 * or {@link Auto}: estimated on the operator the solve runs against.
 */
public sealed interface LissaScale extends java.io.Serializable {

  /** The scale for solving {@code (H + damping·I) x = b} with this {@code h}; may apply {@code h} (Auto). */
  double resolve(BlockLinearOperator h, double damping);

  /** A scale given as a number, used as is. */
  record Fixed(double value) implements LissaScale {
    public Fixed {
      if (!(value > 0) || !Double.isFinite(value)) {
        throw new IllegalArgumentException("lissa scale must be finite and > 0, got " + value);
      }
    }

    @Override
    public double resolve(BlockLinearOperator h, double damping) {
      return value;
    }

    @Override
    public String toString() {
      return Double.toString(value);
    }
  }

  /**
   * {@code safety × (λ̂_max + λ)}: {@code λ̂_max} from {@code iterations} steps of seeded {@link PowerIteration} on
   * {@code H} (so {@code λ̂_max + λ} is the power-iteration estimate of the damped operator's largest eigenvalue).
   * The estimate is a lower bound; a safety factor of 1.5 covers an underestimate of up to a third, and LiSSA stops
   * and reports a diverging recursion if it is still too small.
   *
   * @param safety     factor above the estimate, at least 1
   * @param iterations power-iteration steps (each one curvature-vector product), at least 1
   * @param seed       seed of the start vector
   */
  record Auto(double safety, int iterations, long seed) implements LissaScale {

    /** The default: 1.5 × the estimate after 10 power-iteration steps, seed 0. */
    public static final Auto DEFAULT = new Auto(1.5, 10, 0);

    public Auto {
      if (!(safety >= 1) || !Double.isFinite(safety)) {
        throw new IllegalArgumentException("lissa auto scale: safety factor must be finite and >= 1, got " + safety);
      }
      if (iterations < 1) {
        throw new IllegalArgumentException("lissa auto scale: iterations must be >= 1, got " + iterations);
      }
    }

    @Override
    public double resolve(BlockLinearOperator h, double damping) {
      return safety * (PowerIteration.largestEigenvalue(h, iterations, seed) + damping);
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "auto(%.3g x power iteration, %d steps, seed %d)", safety, iterations, seed);
    }
  }
}
