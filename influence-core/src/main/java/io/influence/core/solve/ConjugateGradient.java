package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
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
 * The arithmetic of one system is State; Lockstep drives it for solve and solveAll alike.
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

  @Override
  public SolveResult solve(LinearOperator h, double[] b) {
    return Lockstep.solve(h, b, METHOD, damping, State::new);
  }

  @Override
  public List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs) {
    return Lockstep.solveAll(h, bs, METHOD, damping, State::new);
  }

  /** One system's iterate, residual, direction and stopping state. */
  private final class State implements Lockstep.Iteration {
    private final double[] x;
    private final double[] r;
    private final double[] p;
    private final double[] ap;   // H p from the driver, then (H + λI) p
    private final double bNorm;
    private double rr;
    private int iterations;
    private boolean running;
    private boolean converged;

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

    @Override
    public boolean running() {
      return running;
    }

    @Override
    public int beginStep() {
      return ++iterations;
    }

    @Override
    public double[] input() {
      return p;
    }

    @Override
    public double[] product() {
      return ap;
    }

    /** One CG update; stops on non-positive curvature, at the tolerance or after the last iteration. */
    @Override
    public void update(String label) {
      Vectors.addScaled(ap, damping, p);
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

    @Override
    public double[] solution() {
      return x;
    }

    @Override
    public int steps() {
      return iterations;
    }

    @Override
    public boolean converged() {
      return converged;
    }
  }

  @Override
  public String toString() {
    return "ConjugateGradient[damping=" + damping + ", tolerance=" + tolerance + ", maxIterations=" + maxIterations + "]";
  }
}
