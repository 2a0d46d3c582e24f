package io.influence.ekfac;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

/*
 * Eigendecomposition stage (Kronfluence's "eigendecomposition"): X = Q diag(λ) Qᵀ for a
 * symmetric positive semi-definite covariance X.
 *
 * Numerics: always float64. The input is symmetrised (X + Xᵀ)/2 before LAPACK dsyev (through
 * ND4J's Eigen.symmetricGeneralizedEigenvalues, which overwrites its argument with the
 * eigenvectors, one per column). Eigenvalues come back ascending; tiny negative ones produced
 * by rounding (a PSD matrix has none) are clamped to 0 so that K-FAC eigenvalue products and
 * damping stay non-negative. Layout of the result: row-major n×n, column j is the unit
 * eigenvector of eigenvalue j.
 */
final class SymmetricEigen {

  /** Row-major {@code n × n} eigenvectors (column {@code j} belongs to {@code values[j]}), ascending values. */
  record Result(int n, double[] vectors, double[] values) {}

  private SymmetricEigen() {}

  static Result decompose(double[] x, int n, String what) {
    if (x.length != (long) n * n) {
      throw new IllegalArgumentException(what + ": expected " + n + "×" + n + " values, got " + x.length);
    }
    double[] sym = new double[x.length];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        double v = 0.5 * (x[i * n + j] + x[j * n + i]);
        if (!Double.isFinite(v)) {
          throw new IllegalArgumentException(what + ": entry (" + i + ", " + j + ") is " + v
              + ". HINT: a NaN/Inf reached the covariance; re-run the covariance pass with input checks.");
        }
        sym[i * n + j] = v;
      }
    }
    INDArray m = Nd4j.create(sym, new long[] {n, n}, 'c').dup('f');
    INDArray values = Eigen.symmetricGeneralizedEigenvalues(m, true);
    double[] lambda = values.dup().data().asDouble();
    for (int j = 0; j < n; j++) {
      if (!Double.isFinite(lambda[j])) {
        throw new IllegalStateException(what + ": LAPACK dsyev returned eigenvalue " + lambda[j]);
      }
      lambda[j] = Math.max(0.0, lambda[j]);
    }
    double[] vectors = m.dup('c').data().asDouble();
    return new Result(n, vectors, lambda);
  }
}
