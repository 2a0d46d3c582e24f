package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.List;

/*
 * Conjugate gradients (Hestenes and Stiefel 1952) on A = H + λI, started at x = 0, in float64.
 *
 * One Hessian-vector product per iteration; the residual r is updated recursively
 * (r ← r − α A p). Once ‖r‖/‖b‖ <= tolerance, the true residual b − A x is computed (one more
 * product) and decides: converged means the true relative residual met the tolerance. If rounding
 * made the recursive residual drift below the true one, CG restarts from x with the true residual
 * (still within maxIterations CG updates). The reported residual is recomputed once more at the
 * end by the driver. If A shows non-positive curvature (pᵀAp <= 0: H is not PSD and the
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
    private final double[] b;
    private final double[] x;
    private final double[] r;
    private final double[] p;
    private final double[] ap;   // H p (or H x when verifying) from the driver
    private final double bNorm;
    private double rr;
    private int iterations;      // CG updates, against maxIterations
    private int products;        // operator products, verifications included
    private boolean verifying;   // this step's product is H x, to check the true residual
    private boolean running;
    private boolean converged;

    State(double[] b) {
      int n = b.length;
      this.b = b;
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
      return ++products;
    }

    @Override
    public double[] input() {
      return verifying ? x : p;
    }

    @Override
    public double[] product() {
      return ap;
    }

    @Override
    public void update(String label) {
      if (verifying) {
        verify();
      } else {
        step();
      }
    }

    /** One CG update; stops on non-positive curvature or after the last iteration; verifies at the tolerance. */
    private void step() {
      iterations++;
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
        verifying = true;
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

    /**
     * {@code ap} holds {@code H x}: the true residual {@code b − (H + λI) x} decides; if it misses the tolerance
     * (the recursive residual drifted), CG restarts from {@code x} with the true residual, within the budget.
     */
    private void verify() {
      verifying = false;
      for (int i = 0; i < r.length; i++) {
        r[i] = b[i] - ap[i] - damping * x[i];
      }
      rr = Vectors.dot(r, r);
      if (Math.sqrt(rr) / bNorm <= tolerance) {
        converged = true;
        running = false;
        return;
      }
      System.arraycopy(r, 0, p, 0, r.length);
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
      return products;
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
