package io.influence.core.truth;

import io.influence.core.linalg.LinearOperator;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Float64 dense linear algebra for exact references (tests and {@code influence bench}): the matrix of an
 * operator formed column by column from its products, Cholesky solves, eigenvalues. O(n³) scalar loops,
 * meant for the few hundred dimensions where an exact solve is affordable; never on a hot path.
 */
public final class DenseMath {

  private DenseMath() {}

  /** {@code m} as an operator: {@code out = m v}, row by row. */
  public static LinearOperator operator(double[][] m) {
    return new LinearOperator() {
      @Override
      public int dim() {
        return m.length;
      }

      @Override
      public void apply(double[] v, double[] out) {
        for (int i = 0; i < m.length; i++) {
          out[i] = dot(m[i], v);
        }
      }
    };
  }

  /** The matrix of {@code op}, column by column from products with unit vectors, symmetrised. */
  public static double[][] matrix(LinearOperator op) {
    int n = op.dim();
    double[][] m = new double[n][n];
    double[] e = new double[n];
    double[] col = new double[n];
    for (int j = 0; j < n; j++) {
      e[j] = 1;
      op.apply(e, col);
      e[j] = 0;
      for (int i = 0; i < n; i++) {
        m[i][j] = col[i];
      }
    }
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < i; j++) {
        double s = 0.5 * (m[i][j] + m[j][i]);
        m[i][j] = s;
        m[j][i] = s;
      }
    }
    return m;
  }

  /** Solves {@code (m + damping I) x = b} by Cholesky; throws if not positive definite. */
  public static double[] solve(double[][] m, double damping, double[] b) {
    int n = b.length;
    double[][] l = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        double s = m[i][j] + (i == j ? damping : 0);
        for (int k = 0; k < j; k++) {
          s -= l[i][k] * l[j][k];
        }
        if (i == j) {
          if (!(s > 0)) {
            throw new IllegalStateException("matrix is not positive definite at pivot " + i + ": " + s);
          }
          l[i][i] = Math.sqrt(s);
        } else {
          l[i][j] = s / l[j][j];
        }
      }
    }
    double[] y = new double[n];
    for (int i = 0; i < n; i++) {
      double s = b[i];
      for (int k = 0; k < i; k++) {
        s -= l[i][k] * y[k];
      }
      y[i] = s / l[i][i];
    }
    double[] x = new double[n];
    for (int i = n - 1; i >= 0; i--) {
      double s = y[i];
      for (int k = i + 1; k < n; k++) {
        s -= l[k][i] * x[k];
      }
      x[i] = s / l[i][i];
    }
    return x;
  }

  /** Gershgorin upper bound on the largest eigenvalue of a symmetric matrix. */
  public static double maxEigenvalueBound(double[][] m) {
    double best = 0;
    for (double[] row : m) {
      double s = 0;
      for (double x : row) {
        s += Math.abs(x);
      }
      best = Math.max(best, s);
    }
    return best;
  }

  /**
   * The eigenvalues of a symmetric matrix in ascending order (ND4J's LAPACK {@code dsyev} on a float64 copy;
   * the input is not modified).
   */
  public static double[] eigenvalues(double[][] m) {
    double[] e = Eigen.symmetricGeneralizedEigenvalues(Nd4j.create(m).castTo(DataType.DOUBLE), false).toDoubleVector();
    Arrays.sort(e);
    return e;
  }

  public static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
