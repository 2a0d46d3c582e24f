package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.List;

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

  /** {@code y += a·x}. */
  static void addScaled(double[] y, double a, double[] x) {
    for (int i = 0; i < x.length; i++) {
      y[i] += a * x[i];
    }
  }

  /** {@code out = (H + damping·I) v}, checking the product for NaN/Inf. */
  static void applyDamped(LinearOperator h, double damping, double[] v, double[] out,
      String method, int iteration) {
    h.apply(v, out);
    requireFinite(out, method, "the Hessian-vector product", iteration);
    addScaled(out, damping, v);
  }

  /** {@code value} if finite and {@code >= 0}; otherwise an IllegalArgumentException naming the method and the setting. */
  static double requireNonNegative(String method, String what, double value) {
    if (!(value >= 0) || !Double.isFinite(value)) {
      throw new IllegalArgumentException(method + ": " + what + " must be finite and >= 0, got " + value);
    }
    return value;
  }

  static void requireDim(LinearOperator h, double[] b, String method) {
    requireLength(b, h.dim(), method, "right-hand side");
  }

  private static void requireLength(double[] b, int dim, String method, String what) {
    if (b.length != dim) {
      throw new IllegalArgumentException(method + ": " + what + " has length " + b.length
          + " but the operator has dimension " + dim
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

  /** Checks the right-hand sides of a block solve (lengths, finiteness); names the system on failure. */
  static void requireBlock(BlockLinearOperator h, List<double[]> bs, String method) {
    if (bs.isEmpty()) {
      throw new IllegalArgumentException(method + ": no right-hand sides to solve");
    }
    for (int j = 0; j < bs.size(); j++) {
      double[] b = bs.get(j);
      requireLength(b, h.dim(), method, "right-hand side " + j);
      requireFinite(b, method, "right-hand side " + j, 0);
    }
  }

  /**
   * One block product for the systems in {@code active}: {@code out[j] = H in[j]} for each {@code j} in it, checked
   * finite (a failure names system {@code j} at {@code iterations[j]}).
   */
  static void applyActive(BlockLinearOperator h, List<Integer> active, double[][] in, double[][] out, String method,
      int[] iterations) {
    int m = active.size();
    double[][] vs = new double[m][];
    double[][] outs = new double[m][];
    int[] systems = new int[m];
    int[] its = new int[m];
    for (int i = 0; i < m; i++) {
      int j = active.get(i);
      vs[i] = in[j];
      outs[i] = out[j];
      systems[i] = j;
      its[i] = iterations[j];
    }
    applyBlock(h, vs, outs, method, systems, its);
  }

  /** {@code outs[j] = H vs[j]} for the block, each product checked for NaN/Inf (no damping added). */
  static void applyBlock(BlockLinearOperator h, double[][] vs, double[][] outs, String method, int[] systems,
      int[] iterations) {
    h.apply(vs, outs);
    for (int j = 0; j < vs.length; j++) {
      requireFinite(outs[j], method, "the Hessian-vector product of system " + systems[j], iterations[j]);
    }
  }

  /**
   * {@code ‖b_j − (H + λI) x_j‖ / ‖b_j‖} for every system (0 when {@code b_j = 0} and {@code x_j = 0}), with one
   * block product over the systems whose {@code b_j} is non-zero.
   */
  static double[] relativeResiduals(BlockLinearOperator h, double damping, double[][] xs, List<double[]> bs,
      String method, int[] iterations) {
    int k = bs.size();
    double[] out = new double[k];
    int[] live = java.util.stream.IntStream.range(0, k).filter(j -> norm(bs.get(j)) != 0).toArray();
    for (int j = 0; j < k; j++) {
      if (norm(bs.get(j)) == 0) {
        out[j] = norm(xs[j]) == 0 ? 0 : Double.POSITIVE_INFINITY;
      }
    }
    if (live.length == 0) {
      return out;
    }
    double[][] vs = new double[live.length][];
    double[][] ax = new double[live.length][h.dim()];
    int[] its = new int[live.length];
    for (int i = 0; i < live.length; i++) {
      vs[i] = xs[live[i]];
      its[i] = iterations[live[i]] + 1;
    }
    applyBlock(h, vs, ax, method, live, its);
    for (int i = 0; i < live.length; i++) {
      double[] b = bs.get(live[i]);
      double s = 0;
      for (int n = 0; n < b.length; n++) {
        double d = b[n] - (ax[i][n] + damping * vs[i][n]);
        s += d * d;
      }
      out[live[i]] = Math.sqrt(s) / norm(b);
    }
    return out;
  }
}
