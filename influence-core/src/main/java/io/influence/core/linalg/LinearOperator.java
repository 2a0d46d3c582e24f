package io.influence.core.linalg;

/**
 * A symmetric linear map {@code v -> M v} on {@code R^dim}, given only by its action; the
 * inverse-Hessian solvers see the Hessian (or Gauss-Newton matrix) through this interface.
 *
 * <p>Implementations must not keep a reference to {@code v} or {@code out}; {@code out} is
 * overwritten, and {@code v} and {@code out} are never the same array.
 */
public interface LinearOperator {

  /** Dimension of the space the operator acts on. */
  int dim();

  /** Writes {@code M v} into {@code out}; both arrays have length {@link #dim()}. */
  void apply(double[] v, double[] out);
}
