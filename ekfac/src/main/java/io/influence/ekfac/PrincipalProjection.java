package io.influence.ekfac;

import io.influence.core.model.KroneckerProjection;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The principal Kronecker projection of one layer (LoGra's PCA initialisation, Choe et al. 2024): {@code P_in}'s rows
 * are the eigenvectors of the {@code kIn} largest eigenvalues of the activation covariance {@code A = E_t[a aᵀ]} and
 * {@code P_out}'s those of the {@code kOut} largest of {@code S = E_t[g gᵀ]}, largest first.
 *
 * <p>Why: a Gaussian {@code P} keeps inner products only on average, with an error that shrinks slowly in {@code k};
 * rows that span the directions where the layer's gradients {@code Σ_t g_t a_tᵀ} put their energy keep most of each
 * inner product at the same {@code k}, and at {@code k = d} the projection is a rotation, so inner products are exact.
 * With orthonormal rows the projected EK-FAC fit is the full fit restricted to the kept eigen-directions.
 *
 * <p>Determinism: float64 eigendecomposition ({@link SymmetricEigen}); each eigenvector's sign is fixed so that its
 * entry of largest magnitude (the first such) is positive, so the same covariances give the same matrices.
 */
final class PrincipalProjection {

  private PrincipalProjection() {}

  /**
   * @param c        the layer's covariances (full sizes, bias column included in {@code A})
   * @param kIn      rows of {@code P_in}, 1..dIn
   * @param kOut     rows of {@code P_out}, 1..dOut
   * @param dataType FLOAT or DOUBLE: the matrices' type (values computed in float64, rounded once)
   */
  static KroneckerProjection of(Covariances c, int kIn, int kOut, DataType dataType) {
    if (kIn < 1 || kIn > c.dIn() || kOut < 1 || kOut > c.dOut()) {
      throw new IllegalArgumentException("layer " + c.layer() + ": a principal projection keeps 1.." + c.dIn()
          + " input and 1.." + c.dOut() + " output directions, got kIn=" + kIn + ", kOut=" + kOut);
    }
    double[] pIn = top(c.a(), c.dIn(), kIn, "layer " + c.layer() + " A");
    double[] pOut = top(c.s(), c.dOut(), kOut, "layer " + c.layer() + " S");
    return KroneckerProjection.of(c.layer(),
        Nd4j.create(pIn, new long[] {kIn, c.dIn()}, 'c').castTo(dataType),
        Nd4j.create(pOut, new long[] {kOut, c.dOut()}, 'c').castTo(dataType));
  }

  /** Row-major {@code [k, d]}: the eigenvectors of the {@code k} largest eigenvalues of {@code x}, largest first. */
  static double[] top(double[] x, int d, int k, String what) {
    SymmetricEigen.Result e = SymmetricEigen.decompose(x, d, what);   // ascending; column j = vector j
    double[] out = new double[k * d];
    for (int r = 0; r < k; r++) {
      int col = d - 1 - r;
      for (int i = 0; i < d; i++) {
        out[r * d + i] = e.vectors()[i * d + col];
      }
    }
    fixSigns(out, k, d);
    return out;
  }

  /** Flips each row of row-major {@code [k, d]} so that its (first) entry of largest magnitude is positive. */
  static void fixSigns(double[] rows, int k, int d) {
    for (int r = 0; r < k; r++) {
      int arg = 0;
      for (int i = 1; i < d; i++) {
        if (Math.abs(rows[r * d + i]) > Math.abs(rows[r * d + arg])) {
          arg = i;
        }
      }
      if (rows[r * d + arg] < 0) {
        for (int i = 0; i < d; i++) {
          rows[r * d + i] = -rows[r * d + i];
        }
      }
    }
  }
}
