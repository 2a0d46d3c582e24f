package io.influence.core.plan;

/**
 * The space the stored per-example gradients live in: full {@code [dOut, cols]} matrices per layer, or
 * Kronecker-projected {@code [kOut, kIn]} ones (the same sizes for every layer, as {@code extract.projection} sets
 * them).
 *
 * @param kIn  projected input side, 0 for full gradients
 * @param kOut projected output side, 0 for full gradients
 */
public record GradientSpace(int kIn, int kOut) {

  public GradientSpace {
    if ((kIn == 0) != (kOut == 0) || kIn < 0 || kOut < 0) {
      throw new IllegalArgumentException("projection sizes must both be positive (projected) or both 0 (full), got kIn="
          + kIn + " kOut=" + kOut);
    }
  }

  /** Full per-example gradients. */
  public static GradientSpace full() {
    return new GradientSpace(0, 0);
  }

  /** Kronecker-projected gradients of {@code [kOut, kIn]} per layer. */
  public static GradientSpace projected(int kIn, int kOut) {
    if (kIn < 1 || kOut < 1) {
      throw new IllegalArgumentException("projection sizes must be >= 1, got kIn=" + kIn + " kOut=" + kOut);
    }
    return new GradientSpace(kIn, kOut);
  }

  public boolean projected() {
    return kIn > 0;
  }

  /** {@code full} or {@code kOut x kIn}. */
  public String describe() {
    return projected() ? kOut + "x" + kIn + " projected" : "full";
  }
}
