package io.influence.core.linalg;

import java.util.Arrays;

/**
 * {@code S M S} for a symmetric block operator {@code M} and a diagonal {@code S = diag(s)}: the curvature of the
 * same loss in the coordinates {@code θ̂ = S⁻¹ θ}, in which a gradient is {@code S g}. With Adam's factors
 * {@code s = 1 / (√v̂ + ε)} the gradients are Adam's update directions, and a solve of
 * {@code (S M S + λI) x = S g_q} scored against {@code S g} is {@code g_qᵀ (M + λ S⁻²)⁻¹ g}: the influence function
 * of the raw loss with a damping shaped like Adam's second moment. Symmetric whenever {@code M} is.
 */
public final class DiagonalCongruence implements BlockLinearOperator {

  private final BlockLinearOperator m;
  private final double[] s;

  /**
   * @param m the operator
   * @param s the diagonal, of length {@code m.dim()}, finite
   */
  public DiagonalCongruence(BlockLinearOperator m, double[] s) {
    if (s.length != m.dim()) {
      throw new IllegalArgumentException("the diagonal has length " + s.length + " but the operator has dimension "
          + m.dim());
    }
    for (int i = 0; i < s.length; i++) {
      if (!Double.isFinite(s[i])) {
        throw new IllegalArgumentException("the diagonal's entry " + i + " is " + s[i]);
      }
    }
    this.m = m;
    this.s = s.clone();
  }

  @Override
  public int dim() {
    return s.length;
  }

  /** {@code v ⊙ s}, a new array. */
  public double[] scale(double[] v) {
    if (v.length != s.length) {
      throw new IllegalArgumentException("vector has length " + v.length + " but the diagonal has " + s.length);
    }
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i] * s[i];
    }
    return out;
  }

  @Override
  public void apply(double[][] vs, double[][] outs) {
    BlockLinearOperator.checkBlock(this, vs, outs);
    double[][] scaled = new double[vs.length][];
    for (int j = 0; j < vs.length; j++) {
      scaled[j] = scale(vs[j]);
    }
    m.apply(scaled, outs);
    for (double[] out : outs) {
      for (int i = 0; i < out.length; i++) {
        out[i] *= s[i];
      }
    }
  }

  @Override
  public String toString() {
    return "diag(s) M diag(s) with s in [" + Arrays.stream(s).min().orElse(0) + ", "
        + Arrays.stream(s).max().orElse(0) + "]";
  }
}
