package io.influence.ekfac;

/**
 * The damping {@code λ} of {@code (H + λI)⁻¹}, the one setting every influence-function method shares: either an
 * absolute value, or {@code factor × mean eigenvalue} of the curvature being inverted (factor 0.1 is the heuristic
 * of Grosse et al. 2023, which Kronfluence uses only when its {@code damping_factor} is {@code None};
 * Kronfluence's default {@code damping_factor} is an absolute 1e-8).
 *
 * <p>The mean eigenvalue is {@code tr(H)/dim} of the curvature the method inverts. EK-FAC inverts one block per
 * layer and takes the mean of that layer's corrected eigenvalues ({@link #resolve(double[])}), so each layer gets
 * its own λ; CG and LiSSA invert the whole curvature over the tracked layers and take one estimated
 * {@code tr(H)/dim} for all of them ({@link ResolvedDamping#onCurvature}). With one tracked layer, and where EK-FAC's
 * eigenvalues are exact, both give the same λ.
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
    return resolveMean(sum / eigenvalues.length);
  }

  /** The absolute damping for a curvature whose mean eigenvalue ({@code trace/dim}) is {@code meanEigenvalue}. */
  public double resolveMean(double meanEigenvalue) {
    return mode == Mode.ABSOLUTE ? value : value * meanEigenvalue;
  }

  /** True for {@code factor × mean eigenvalue}. */
  public boolean relative() {
    return mode == Mode.RELATIVE_TO_MEAN;
  }

  /** The damping as the settings spell it: {@code relative 0.1} or {@code absolute 0.01}. */
  public String words() {
    return (relative() ? "relative " : "absolute ") + value;
  }
}
