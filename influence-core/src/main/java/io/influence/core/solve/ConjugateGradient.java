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
 *
 * solve and solveAll share the per-system state and update (State): solveAll only gathers the
 * products of the running systems into one block product.
 */
final class ConjugateGradient implements IhvpSolver {

  private static final String METHOD = "cg";

  private final double damping;
  private final double tolerance;
  private final int maxIterations;

  ConjugateGradient(double damping, double tolerance, int maxIterations) {
    this.damping = Vectors.requireNonNegative(METHOD, "damping", damping);
    this.tolerance = Vectors.requireNonNegative(METHOD, "tolerance", tolerance);
    if (maxIterations < 1) {
      throw new IllegalArgumentException("cg: maxIterations must be >= 1, got " + maxIterations);
    }
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

  /** One system's iterate, residual, direction and stopping state. */
  private static final class State {
    final double[] x;
    final double[] r;
    final double[] p;
    final double[] ap;   // (H + λI) p, filled by the caller before each update
    final double bNorm;
    double rr;
    int iterations;
    boolean running;
    boolean converged;

    State(double[] b) {
      int n = b.length;
      x = new double[n];
      r = b.clone();
      p = b.clone();
      ap = new double[n];
      bNorm = Vectors.norm(b);
      rr = Vectors.dot(r, r);
      running = bNorm != 0;
      converged = bNorm == 0;
    }

    /** After {@code ap = (H + λI) p}: one CG update; stops on non-positive curvature, the tolerance or the last iteration. */
    void update(double tolerance, int maxIterations) {
      double pap = Vectors.dot(p, ap);
      if (!(pap > 0)) {
        running = false;
        return;
      }
      double alpha = rr / pap;
      for (int i = 0; i < x.length; i++) {
        x[i] += alpha * p[i];
        r[i] -= alpha * ap[i];
      }
      double rrNew = Vectors.dot(r, r);
      if (Math.sqrt(rrNew) / bNorm <= tolerance) {
        converged = true;
        running = false;
        return;
      }
      double beta = rrNew / rr;
      for (int i = 0; i < p.length; i++) {
        p[i] = r[i] + beta * p[i];
      }
      rr = rrNew;
      if (iterations >= maxIterations) {
        running = false;
      }
    }
  }

  @Override
  public SolveResult solve(LinearOperator h, double[] b) {
    Vectors.requireDim(h, b, METHOD);
    Vectors.requireFinite(b, METHOD, "the right-hand side", 0);
    State s = new State(b);
    if (!s.running) {
      return new SolveResult(s.x, 0, 0, true);
    }
    while (s.running) {
      s.iterations++;
      Vectors.applyDamped(h, damping, s.p, s.ap, METHOD, s.iterations);
      s.update(tolerance, maxIterations);
    }
    double residual = Vectors.relativeResidual(h, damping, s.x, b, METHOD, s.iterations + 1);
    return new SolveResult(s.x, s.iterations, residual, s.converged);
  }

  @Override
  public List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs) {
    Vectors.requireBlock(h, bs, METHOD);
    int k = bs.size();
    State[] systems = new State[k];
    double[][] x = new double[k][];
    double[][] p = new double[k][];
    double[][] ap = new double[k][];
    int[] it = new int[k];
    for (int j = 0; j < k; j++) {
      systems[j] = new State(bs.get(j));
      x[j] = systems[j].x;
      p[j] = systems[j].p;
      ap[j] = systems[j].ap;
    }
    while (true) {
      List<Integer> block = new ArrayList<>();
      for (int j = 0; j < k; j++) {
        if (systems[j].running) {
          block.add(j);
        }
      }
      if (block.isEmpty()) {
        break;
      }
      for (int j : block) {
        it[j] = ++systems[j].iterations;
      }
      Vectors.applyActive(h, block, p, ap, METHOD, it);
      for (int j : block) {
        Vectors.addScaled(ap[j], damping, p[j]);
        systems[j].update(tolerance, maxIterations);
      }
    }
    double[] residuals = Vectors.relativeResiduals(h, damping, x, bs, METHOD, it);
    List<SolveResult> out = new ArrayList<>(k);
    for (int j = 0; j < k; j++) {
      out.add(new SolveResult(x[j], it[j], residuals[j], systems[j].converged));
    }
    return out;
  }

  @Override
  public String toString() {
    return "ConjugateGradient[damping=" + damping + ", tolerance=" + tolerance + ", maxIterations=" + maxIterations + "]";
  }
}
