package io.influence.ekfac;

import java.util.Objects;

/**
 * The fitted curvature factors of one layer: the eigenbases of {@code A} and {@code S}, their
 * eigenvalues, and (after the EK-FAC correction pass) the corrected eigenvalues {@code Λ}.
 *
 * <p>Layout: every matrix is row-major. {@code qA} is {@code dIn × dIn} and its column
 * {@code j} is the eigenvector of {@code eigA[j]}; likewise {@code qS} ({@code dOut × dOut}).
 * {@code lambda} is {@code dOut × dIn} with {@code lambda[i * dIn + j]} the curvature along
 * {@code qS[:, i] qA[:, j]ᵀ}; it is null until {@link #withCorrection}. Arrays are shared, not
 * copied: do not modify them.
 *
 * <p>Scale: both covariances are token averages, while the curvature that influence functions
 * invert is the Gauss-Newton matrix of the per-example summed loss, averaged over examples,
 * {@code H = E_z[Σ_t (g_t g_tᵀ ⊗ a_t a_tᵀ)] + cross-token terms}. Dropping cross-token terms
 * and assuming {@code a} and {@code g} independent gives {@code H ≈ T̄ · S ⊗ A} with
 * {@code T̄ = tokensPerExample}, so {@link #kfacEigenvalues()} are {@code T̄ λ^S_i λ^A_j}. The
 * EK-FAC eigenvalues {@code E_z[(Q_Sᵀ G(z) Q_A)²]} are averaged over examples and estimate the
 * same {@code H} (including the cross-token terms), so K-FAC and EK-FAC share one scale and
 * one damping rule. With relative damping the scale cancels except for a global factor on all
 * scores.
 *
 * @param tokens             token rows seen by the covariance pass
 * @param examples           examples seen by the covariance pass
 * @param tokensPerExample   weighted mean tokens per example of the covariance pass ({@code T̄})
 * @param correctionExamples examples seen by the correction pass (0 before it)
 */
public record LayerFactors(String layer, int dIn, int dOut,
                           double[] qA, double[] eigA, double[] qS, double[] eigS,
                           double tokensPerExample, double[] lambda,
                           long tokens, long examples, long correctionExamples) {

  public LayerFactors {
    Objects.requireNonNull(layer, "layer");
    check(layer, "Q_A", qA, (long) dIn * dIn);
    check(layer, "eigenvalues_A", eigA, dIn);
    check(layer, "Q_S", qS, (long) dOut * dOut);
    check(layer, "eigenvalues_S", eigS, dOut);
    if (lambda != null) {
      check(layer, "lambda", lambda, (long) dOut * dIn);
    }
    if (!(tokensPerExample > 0) || Double.isInfinite(tokensPerExample)) {
      throw new IllegalArgumentException("layer " + layer + ": tokensPerExample must be positive and finite, got " + tokensPerExample);
    }
  }

  private static void check(String layer, String name, double[] x, long n) {
    Objects.requireNonNull(x, name);
    if (x.length != n) {
      throw new IllegalArgumentException("layer " + layer + ": " + name + " must hold " + n + " values, got " + x.length);
    }
  }

  /** Eigendecomposes the covariances (float64, symmetrised, eigenvalues clamped at 0). */
  public static LayerFactors fromCovariances(Covariances c) {
    SymmetricEigen.Result ea = SymmetricEigen.decompose(c.a(), c.dIn(), "layer " + c.layer() + " A");
    SymmetricEigen.Result es = SymmetricEigen.decompose(c.s(), c.dOut(), "layer " + c.layer() + " S");
    return new LayerFactors(c.layer(), c.dIn(), c.dOut(), ea.vectors(), ea.values(), es.vectors(), es.values(),
        c.tokensPerExample(), null, c.tokens(), c.examples(), 0);
  }

  /** A copy carrying the EK-FAC eigenvalues from {@link EigenvalueCorrection#finish()}. */
  public LayerFactors withCorrection(double[] correctedLambda, long correctionExamples) {
    return new LayerFactors(layer, dIn, dOut, qA, eigA, qS, eigS, tokensPerExample, correctedLambda,
        tokens, examples, correctionExamples);
  }

  public boolean corrected() {
    return lambda != null;
  }

  /** K-FAC eigenvalues {@code T̄ λ^S_i λ^A_j}, row-major {@code dOut × dIn}. */
  public double[] kfacEigenvalues() {
    double[] out = new double[dOut * dIn];
    for (int i = 0; i < dOut; i++) {
      for (int j = 0; j < dIn; j++) {
        out[i * dIn + j] = tokensPerExample * eigS[i] * eigA[j];
      }
    }
    return out;
  }

  /** EK-FAC eigenvalues; throws if the correction pass has not been run. */
  public double[] ekfacEigenvalues() {
    if (lambda == null) {
      throw new IllegalStateException("layer " + layer + " has no corrected eigenvalues. HINT: run the EK-FAC eigenvalue "
          + "correction pass (EigenvalueCorrection) and attach it with withCorrection, or use K-FAC.");
    }
    return lambda;
  }
}
