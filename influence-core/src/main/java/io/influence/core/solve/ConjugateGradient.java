package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.ArrayList;
import java.util.List;

/*
 * Conjugate gradients (Hestenes and Stiefel 1952) on A = H + λI, started at x = 0, in float64.
 *
 * One Hessian-vector product per iteration; the residual r is updated recursively
 * (r ← r − α A p) and the stopping test is ‖r‖/‖b‖ <= tolerance. The reported residual is
 * recomputed from scratch at the end (one more product), so drift of the recursive residual
 * is visible to the caller. If A shows non-positive curvature (pᵀAp <= 0: H is not PSD and the
 * damping is too small) the iteration stops and the result is returned as not converged.
 */
final class ConjugateGradient implements IhvpSolver {

  private static final String METHOD = "cg";

  private final double damping;
  private final double tolerance;
  private final int maxIterations;

  ConjugateGradient(double damping, double tolerance, int maxIterations) {
    if (!(damping >= 0) || !Double.isFinite(damping)) {
      throw new IllegalArgumentException("cg: damping must be finite and >= 0, got " + damping);
    }
    if (!(tolerance >= 0) || !Double.isFinite(tolerance)) {
      throw new IllegalArgumentException("cg: tolerance must be finite and >= 0, got " + tolerance);
    }
    if (maxIterations < 1) {
      throw new IllegalArgumentException("cg: maxIterations must be >= 1, got " + maxIterations);
    }
    this.damping = damping;
    this.tolerance = tolerance;
    this.maxIterations = maxIterations;
  }

  @Override
  public String method() {
    return METHOD;
  }

  @Override
  public double damping() {
    return damping;
  }

  @Override
  public SolveResult solve(LinearOperator h, double[] b) {
    Vectors.requireDim(h, b, METHOD);
    Vectors.requireFinite(b, METHOD, "the right-hand side", 0);
    int n = b.length;
    double[] x = new double[n];
    double bNorm = Vectors.norm(b);
    if (bNorm == 0) {
      return new SolveResult(x, 0, 0, true);
    }
    double[] r = b.clone();
    double[] p = b.clone();
    double[] ap = new double[n];
    double rr = Vectors.dot(r, r);
    boolean converged = false;
    int it = 0;
    while (it < maxIterations) {
      it++;
      Vectors.applyDamped(h, damping, p, ap, METHOD, it);
      double pap = Vectors.dot(p, ap);
      if (!(pap > 0)) {
        break;
      }
      double alpha = rr / pap;
      for (int i = 0; i < n; i++) {
        x[i] += alpha * p[i];
        r[i] -= alpha * ap[i];
      }
      double rrNew = Vectors.dot(r, r);
      if (Math.sqrt(rrNew) / bNorm <= tolerance) {
        converged = true;
        break;
      }
      double beta = rrNew / rr;
      for (int i = 0; i < n; i++) {
        p[i] = r[i] + beta * p[i];
      }
      rr = rrNew;
    }
    double residual = Vectors.relativeResidual(h, damping, x, b, METHOD, it + 1);
    return new SolveResult(x, it, residual, converged);
  }

  @Override
  public List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs) {
    Vectors.requireBlock(h, bs, METHOD);
    int k = bs.size();
    int n = h.dim();
    double[][] x = new double[k][n];
    double[][] r = new double[k][];
    double[][] p = new double[k][];
    double[][] ap = new double[k][n];
    double[] rr = new double[k];
    double[] bNorm = new double[k];
    int[] it = new int[k];
    boolean[] running = new boolean[k];
    boolean[] converged = new boolean[k];
    for (int j = 0; j < k; j++) {
      bNorm[j] = Vectors.norm(bs.get(j));
      r[j] = bs.get(j).clone();
      p[j] = bs.get(j).clone();
      rr[j] = Vectors.dot(r[j], r[j]);
      running[j] = bNorm[j] != 0;
      converged[j] = bNorm[j] == 0;
    }
    while (true) {
      List<Integer> block = new ArrayList<>();
      for (int j = 0; j < k; j++) {
        if (running[j]) {
          block.add(j);
        }
      }
      if (block.isEmpty()) {
        break;
      }
      for (int j : block) {
        it[j]++;
      }
      Vectors.applyActive(h, block, p, ap, METHOD, it);
      for (int j : block) {
        double[] pj = p[j];
        double[] apj = ap[j];
        double[] xj = x[j];
        double[] rj = r[j];
        for (int i = 0; i < n; i++) {
          apj[i] += damping * pj[i];
        }
        double pap = Vectors.dot(pj, apj);
        if (!(pap > 0)) {
          running[j] = false;
          continue;
        }
        double alpha = rr[j] / pap;
        for (int i = 0; i < n; i++) {
          xj[i] += alpha * pj[i];
          rj[i] -= alpha * apj[i];
        }
        double rrNew = Vectors.dot(rj, rj);
        if (Math.sqrt(rrNew) / bNorm[j] <= tolerance) {
          converged[j] = true;
          running[j] = false;
          continue;
        }
        double beta = rrNew / rr[j];
        for (int i = 0; i < n; i++) {
          pj[i] = rj[i] + beta * pj[i];
        }
        rr[j] = rrNew;
        if (it[j] >= maxIterations) {
          running[j] = false;
        }
      }
    }
    double[] residuals = Vectors.relativeResiduals(h, damping, x, bs, METHOD, it);
    List<SolveResult> out = new ArrayList<>(k);
    for (int j = 0; j < k; j++) {
      out.add(new SolveResult(x[j], it[j], residuals[j], converged[j]));
    }
    return out;
  }

  @Override
  public String toString() {
    return "ConjugateGradient[damping=" + damping + ", tolerance=" + tolerance + ", maxIterations=" + maxIterations + "]";
  }
}
