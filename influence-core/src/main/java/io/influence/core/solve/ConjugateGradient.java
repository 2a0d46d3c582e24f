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
 * Preconditioned (PCG): with M ≈ (H + λI)⁻¹ symmetric positive definite (e.g. EK-FAC's inverse, as in
 * ASTRA, Wang et al. 2025), z = M r replaces r in the direction and step updates (α = rᵀz / pᵀAp,
 * β = r'ᵀz' / rᵀz). M costs no operator product; the stopping rule still reads the unpreconditioned
 * residual ‖b − A x‖/‖b‖, so a preconditioned solve meets the same tolerance as a plain one. Without M,
 * z is r itself and the arithmetic is the plain method's, bit for bit.
 *
 * The arithmetic of one system is State; Lockstep drives it for solve and solveAll alike.
 */
final class ConjugateGradient implements IhvpSolver {

  private static final String METHOD = "cg";

  private final double damping;
  private final double tolerance;
  private final int maxIterations;
  private final LinearOperator preconditioner;   // M ≈ (H + λI)⁻¹, or null

  ConjugateGradient(double damping, double tolerance, int maxIterations) {
    this(damping, tolerance, maxIterations, null);
  }

  ConjugateGradient(double damping, double tolerance, int maxIterations, LinearOperator preconditioner) {
    this.damping = Vectors.requireNonNegative(METHOD, "damping", damping);
    this.tolerance = Vectors.requireNonNegative(METHOD, "tolerance", tolerance);
    if (maxIterations < 1) {
      throw new IllegalArgumentException("cg: maxIterations must be >= 1, got " + maxIterations);
    }
    this.maxIterations = maxIterations;
    this.preconditioner = preconditioner;
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
    requirePreconditionerFits(h.dim());
    return Lockstep.solve(h, b, METHOD, damping, State::new);
  }

  @Override
  public List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs) {
    requirePreconditionerFits(h.dim());
    return Lockstep.solveAll(h, bs, METHOD, damping, State::new);
  }

  private void requirePreconditionerFits(int dim) {
    if (preconditioner != null && preconditioner.dim() != dim) {
      throw new IllegalArgumentException("cg: the preconditioner has dimension " + preconditioner.dim()
          + " but the operator " + dim + ". HINT: build both over the same layers in the same order.");
    }
  }

  /** {@code z = M r}, or {@code r} itself without a preconditioner; checked finite. */
  private double[] precondition(double[] r, double[] z, int step) {
    if (preconditioner == null) {
      return r;
    }
    preconditioner.apply(r, z);
    Vectors.requireFinite(z, METHOD, "the preconditioned residual", step);
    return z;
  }

  /** One system's iterate, residual, direction and stopping state. */
  private final class State implements Lockstep.Iteration {
    private final double[] b;
    private final double[] x;
    private final double[] r;
    private final double[] p;
    private final double[] ap;   // H p (or H x when verifying) from the driver
    private final double[] zBuffer;
    private double[] z;          // M r, or r itself without a preconditioner
    private final double bNorm;
    private double rr;           // rᵀz (= rᵀr without a preconditioner)
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
      ap = new double[n];
      zBuffer = preconditioner == null ? null : new double[n];
      z = precondition(r, zBuffer, 0);
      p = z.clone();
      bNorm = Vectors.norm(b);
      rr = Vectors.dot(r, z);
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
      if (Math.sqrt(Vectors.dot(r, r)) / bNorm <= tolerance) {
        verifying = true;
        return;
      }
      z = precondition(r, zBuffer, products);
      double rrNew = Vectors.dot(r, z);
      double beta = rrNew / rr;
      for (int i = 0; i < p.length; i++) {
        p[i] = z[i] + beta * p[i];
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
      if (Math.sqrt(Vectors.dot(r, r)) / bNorm <= tolerance) {
        converged = true;
        running = false;
        return;
      }
      z = precondition(r, zBuffer, products);
      rr = Vectors.dot(r, z);
      System.arraycopy(z, 0, p, 0, z.length);
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
    return "ConjugateGradient[damping=" + damping + ", tolerance=" + tolerance + ", maxIterations=" + maxIterations
        + (preconditioner == null ? "" : ", preconditioned") + "]";
  }
}
