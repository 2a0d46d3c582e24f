package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.SplittableRandom;

/*
 * The trace of a symmetric operator M from products only (Hutchinson 1990), in float64:
 *
 *     tr(M) ≈ (1/k) Σ_j z_jᵀ M z_j,     z_j ∈ {−1, +1}^dim independent Rademacher probes (seeded),
 *
 * unbiased, with variance 2 (‖M‖_F² − Σ_i M_ii²) / k per estimate (the smallest of any i.i.d. probe distribution),
 * so its relative error is about sqrt(2/k) · ‖offdiag(M)‖_F / tr(M): small for a curvature whose mass sits on its
 * diagonal or spreads over many eigenvalues, larger for one dominated by a few off-diagonal directions.
 *
 * All k probes are one block product (one call of BlockLinearOperator#apply): over a Spark corpus one job, one pass
 * over the data with k vectors per sequence. The reported standard error is the sample standard deviation of the k
 * quadratic forms over sqrt(k) (NaN for k = 1). The mean eigenvalue is tr(M)/dim, the quantity a relative damping
 * multiplies.
 */
public final class HutchinsonTrace {

  private HutchinsonTrace() {}

  /**
   * An estimate of {@code tr(M)} from {@code probes} Rademacher probes.
   *
   * @param trace         the estimate of the trace
   * @param standardError the sample standard error of that estimate (NaN with one probe)
   * @param probes        the number of probes
   * @param dim           the operator's dimension
   * @param seed          the probes' seed
   */
  public record Estimate(double trace, double standardError, int probes, int dim, long seed)
      implements java.io.Serializable {

    /** The estimated mean eigenvalue {@code tr(M)/dim}. */
    public double meanEigenvalue() {
      return trace / dim;
    }
  }

  /** Estimates {@code tr(h)} with one block product of {@code probes} seeded Rademacher vectors. */
  public static Estimate estimate(BlockLinearOperator h, int probes, long seed) {
    if (probes < 1) {
      throw new IllegalArgumentException("Hutchinson trace: probes must be >= 1, got " + probes);
    }
    int n = h.dim();
    if (n < 1) {
      throw new IllegalArgumentException("Hutchinson trace: the operator has dimension " + n);
    }
    SplittableRandom random = new SplittableRandom(seed);
    double[][] z = new double[probes][n];
    double[][] hz = new double[probes][n];
    for (double[] v : z) {
      for (int i = 0; i < n; i++) {
        v[i] = random.nextBoolean() ? 1 : -1;
      }
    }
    h.apply(z, hz);
    double[] q = new double[probes];
    double sum = 0;
    for (int j = 0; j < probes; j++) {
      Vectors.requireFinite(hz[j], "Hutchinson trace", "the curvature-vector product of probe " + j, 1);
      q[j] = Vectors.dot(z[j], hz[j]);
      sum += q[j];
    }
    double mean = sum / probes;
    double se = Double.NaN;
    if (probes > 1) {
      double ss = 0;
      for (double x : q) {
        ss += (x - mean) * (x - mean);
      }
      se = Math.sqrt(ss / (probes - 1) / probes);
    }
    return new Estimate(mean, se, probes, n, seed);
  }

  /** {@link #estimate(BlockLinearOperator, int, long)} for an operator applied one vector at a time. */
  public static Estimate estimate(LinearOperator h, int probes, long seed) {
    return estimate(BlockLinearOperator.oneAtATime(h), probes, seed);
  }
}
