package io.influence.core.solve;

/**
 * How LiSSA combines its curvature products (see {@link IhvpSolver#lissa}): {@link #NONE}, the Neumann recursion
 * itself (Richardson's iteration with step {@code 1/scale}); {@link #CHEBYSHEV}, Chebyshev semi-iteration over the
 * interval {@code [λ, scale]} with the same one product per step, which needs about the square root of the
 * recursion's steps.
 */
public enum LissaAcceleration {
  NONE("none"),
  CHEBYSHEV("chebyshev");

  private final String word;

  LissaAcceleration(String word) {
    this.word = word;
  }

  /** The settings word. */
  public String word() {
    return word;
  }
}
