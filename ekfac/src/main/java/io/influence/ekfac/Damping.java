package io.influence.ekfac;

/**
 * The damping {@code λ} added to the curvature eigenvalues before inversion, per layer:
 * either an absolute value, or {@code factor × mean(Λ)} of that layer's eigenvalues (factor 0.1 is
 * the heuristic of Grosse et al. 2023, which Kronfluence uses only when its {@code damping_factor} is
 * {@code None}; Kronfluence's default {@code damping_factor} is an absolute 1e-8).
 */
public record Damping(Mode mode, double value) implements java.io.Serializable {

  public enum Mode { ABSOLUTE, RELATIVE_TO_MEAN }

  /** {@code 0.1 × mean(Λ)} per layer. */
  public static final Damping DEFAULT = relativeToMean(0.1);

  public Damping {
    if (mode == null || !(value >= 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException("damping must have a mode and a finite value >= 0, got " + mode + " " + value
          + ". HINT: use Damping.relativeToMean(0.1) unless you know the curvature's scale.");
    }
  }

  public static Damping absolute(double lambda) {
    return new Damping(Mode.ABSOLUTE, lambda);
  }

  public static Damping relativeToMean(double factor) {
    return new Damping(Mode.RELATIVE_TO_MEAN, factor);
  }

  /** The absolute damping for a layer with eigenvalues {@code eigenvalues}. */
  public double resolve(double[] eigenvalues) {
    if (mode == Mode.ABSOLUTE) {
      return value;
    }
    double sum = 0;
    for (double v : eigenvalues) {
      sum += v;
    }
    return value * sum / eigenvalues.length;
  }
}
