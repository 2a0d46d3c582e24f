package io.influence.ekfac;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.solve.HutchinsonTrace;

/**
 * A {@link Damping} setting resolved to the absolute {@code λ} one solve uses, with what it was resolved from.
 *
 * <p>For the iterative solvers (CG, LiSSA) on a curvature operator {@code H} over the tracked layers, a relative
 * damping is {@code factor × tr(H)/dim} with {@code tr(H)} estimated by {@link HutchinsonTrace} from
 * {@code probes} seeded Rademacher probes: one block product, so over a Spark corpus one more pass over the data.
 * The estimate is unbiased; its standard error is kept in {@link #trace()} so the outputs can show how far λ may be
 * from {@code factor × exact mean eigenvalue}. An absolute damping costs no product.
 *
 * @param setting the damping as set
 * @param lambda  the absolute λ added to the curvature's diagonal
 * @param trace   the trace estimate a relative λ came from; null for an absolute damping
 */
public record ResolvedDamping(Damping setting, double lambda, HutchinsonTrace.Estimate trace)
    implements java.io.Serializable {

  public ResolvedDamping {
    java.util.Objects.requireNonNull(setting, "setting");
    if (!(lambda >= 0) || !Double.isFinite(lambda)) {
      throw new IllegalStateException("the damping " + setting.words() + " resolved to λ = " + lambda
          + (trace == null ? "" : " (estimated curvature trace " + trace.trace() + " over " + trace.dim()
          + " parameters)") + ". HINT: a relative damping needs a positive semi-definite curvature (use the"
          + " Gauss-Newton curvature) or use an absolute damping");
    }
  }

  /** An absolute damping, as is. */
  public static ResolvedDamping absolute(Damping setting) {
    if (setting.relative()) {
      throw new IllegalArgumentException("damping " + setting.words() + " is relative; resolve it on a curvature");
    }
    return new ResolvedDamping(setting, setting.value(), null);
  }

  /**
   * {@code setting} resolved on the curvature {@code h}: absolute as is (no product), relative as
   * {@code factor × tr(h)/dim} from {@code probes} Rademacher probes seeded by {@code seed} (one block product).
   */
  public static ResolvedDamping onCurvature(Damping setting, BlockLinearOperator h, int probes, long seed) {
    if (!setting.relative()) {
      return absolute(setting);
    }
    HutchinsonTrace.Estimate e = HutchinsonTrace.estimate(h, probes, seed);
    return new ResolvedDamping(setting, setting.resolveMean(e.meanEigenvalue()), e);
  }
}
