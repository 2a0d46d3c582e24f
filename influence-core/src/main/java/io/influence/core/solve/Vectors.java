package io.influence.core.solve;

import io.influence.core.linalg.LinearOperator;

/** Small float64 vector helpers shared by the solvers; all loops are over plain arrays. */
final class Vectors {

  private Vectors() {}

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  static double norm(double[] a) {
    return Math.sqrt(dot(a, a));
  }

  /** Throws naming {@code what} and {@code iteration} when {@code v} holds NaN or infinity. */
  static void requireFinite(double[] v, String method, String what, int iteration) {
    for (int i = 0; i < v.length; i++) {
      if (!Double.isFinite(v[i])) {
        throw new IllegalStateException(method + ": " + what + " holds " + v[i] + " at index " + i
            + " in iteration " + iteration + (iteration == 0 ? " (the input)" : "")
            + ". HINT: check the gradients and the Hessian-vector product for overflow or a"
            + " diverging model; for LiSSA make scale larger than the largest eigenvalue of H + damping.");
      }
    }
  }

  /** {@code out = (H + damping·I) v}, checking the product for NaN/Inf. */
  static void applyDamped(LinearOperator h, double damping, double[] v, double[] out,
      String method, int iteration) {
    h.apply(v, out);
    requireFinite(out, method, "the Hessian-vector product", iteration);
    for (int i = 0; i < v.length; i++) {
      out[i] += damping * v[i];
    }
  }

  static void requireDim(LinearOperator h, double[] b, String method) {
    if (b.length != h.dim()) {
      throw new IllegalArgumentException(method + ": right-hand side has length " + b.length
          + " but the operator has dimension " + h.dim()
          + ". HINT: flatten the gradient in the same layer order the operator was built with.");
    }
  }

  /** {@code ‖b − (H + λI) x‖ / ‖b‖}, or 0 when b = 0; one Hessian-vector product. */
  static double relativeResidual(LinearOperator h, double damping, double[] x, double[] b,
      String method, int iteration) {
    double bNorm = norm(b);
    if (bNorm == 0) {
      return norm(x) == 0 ? 0 : Double.POSITIVE_INFINITY;
    }
    double[] ax = new double[x.length];
    applyDamped(h, damping, x, ax, method, iteration);
    double s = 0;
    for (int i = 0; i < b.length; i++) {
      double d = b[i] - ax[i];
      s += d * d;
    }
    return Math.sqrt(s) / bNorm;
  }
}
