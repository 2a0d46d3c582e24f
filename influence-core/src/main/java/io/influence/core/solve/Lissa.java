package io.influence.core.solve;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.List;

/*
 * LiSSA: the Neumann-series estimator of (H + λI)⁻¹ b (Agarwal, Bullins and Hazan 2017, as used
 * for influence functions by Koh and Liang 2017), in float64.
 *
 * Recursion per repetition: h_0 = b, h_j = b + (1 − λ/s) h_{j−1} − (H h_{j−1})/s, whose fixed
 * point is s (H + λI)⁻¹ b, so the estimate is h/s. It converges iff every eigenvalue of
 * (H + λI)/s lies in (0, 2); in practice choose s above λ_max(H) + λ. A repetition stops early
 * once ‖h_j − h_{j−1}‖ <= tolerance · ‖h_j‖; the result is converged only if every repetition
 * stopped that way. With an exact operator all repetitions are identical; repetitions matter
 * when the operator is a stochastic (mini-batch) estimate of H.
 *
 * Divergence: the step is h_j − h_{j−1} = M^j b with M = I − (H + λI)/s, symmetric for the curvatures used
 * here. While the series can converge (every eigenvalue of (H + λI)/s in (0, 2)) each |1 − μ/s| <= 1, so no
 * step is longer than ‖b‖; a step longer than 2‖b‖ (the factor covers rounding and the slight asymmetry of a
 * finite-difference Hessian), or a norm that overflows, proves the scale too small or the damped operator
 * not positive definite: the solve stops at once, diverged and not converged, instead of running to depth
 * and handing back huge numbers. The test needs no bound on the smallest eigenvalue, so it holds for an
 * indefinite Hessian damped above |λ_min| too.
 *
 * Chebyshev acceleration (LissaAcceleration.CHEBYSHEV): the recursion above is Richardson's iteration on
 * A = H + λI with step 1/s, whose error after j steps is (I − A/s)^j, so a direction of eigenvalue μ of A shrinks
 * by (1 − μ/s) per step: about (s/λ)·ln(1/tol) steps for the smallest, μ = λ. Over the same products (one H·v per
 * step) Chebyshev semi-iteration applies, after j steps, the polynomial of degree j that is smallest on the whole
 * interval [λ, s] that holds A's spectrum (λ because H is positive semi-definite, s because the scale is above
 * λ_max(H) + λ): its error shrinks by about 2·((√κ − 1)/(√κ + 1))^j with κ = s/λ, i.e. about (√κ/2)·ln(2/tol)
 * steps: 144× fewer at κ = 20,800 (λ = 0.01, s = 1.5·139 on the bench GPT-2). Recurrence (Saad, Iterative Methods
 * for Sparse Linear Systems, 2nd ed., Algorithm 12.1), from x = 0, r = b, θ = (s + λ)/2, δ = (s − λ)/2,
 * σ = θ/δ, ρ = 1/σ, d = r/θ: x += d; r −= A d; ρ' = 1/(2σ − ρ); d = ρ'ρ d + (2ρ'/δ) r; ρ = ρ'. A repetition
 * stops when ‖r‖ <= tolerance · ‖b‖ (r is the recursive residual; the returned residual is recomputed). The
 * residual polynomial is at most 1 in absolute value on [λ, s], so while the spectrum lies there ‖r‖ <= ‖b‖; a
 * residual longer than 2‖b‖ proves it does not (a scale below λ_max, or an indefinite damped Hessian) and the
 * solve stops as diverged, as the plain recursion does.
 *
 * Preconditioned (ASTRA, Wang et al. 2025): with M ≈ (H + λI)⁻¹ symmetric positive definite, the same
 * semi-iteration runs on M A, whose spectrum lies in an interval [μ_lo, μ_hi] (PreconditionedRange estimates it
 * from Lanczos Ritz values): the direction takes z = M r instead of r, and about (√(μ_hi/μ_lo)/2)·ln(2/tol) steps suffice; with a good M the
 * interval is narrow (bench exactness, gpt2.preconditioning: κ 20,541 → 38 at λ = 1e-3 × mean on the 1-layer bench
 * GPT-2). The divergence test then bounds rᵀ M r by 4 bᵀ M b.
 *
 * solveAll runs the recursion of k right-hand sides in lockstep: per step one block product over
 * the systems still running (each may be in a different repetition), then the same per-system
 * update as solve() (State, driven by Lockstep); a system leaves the block after its last
 * repetition.
 */
final class Lissa implements IhvpSolver {

  private static final String METHOD = "lissa";

  private final double damping;
  private final double scale;
  private final int depth;
  private final int repetitions;
  private final double tolerance;
  private final LissaAcceleration acceleration;
  private final LinearOperator preconditioner;   // M ≈ (H + λI)⁻¹, or null
  private final double lower;                    // the Chebyshev interval's lower end: λ, or μ_min(M A) estimated

  Lissa(double damping, double scale, int depth, int repetitions, double tolerance, LissaAcceleration acceleration) {
    this(damping, scale, depth, repetitions, tolerance, acceleration, null, damping);
  }

  /**
   * Chebyshev semi-iteration on the preconditioned system {@code M (H + λI) x = M b} over {@code [lower, upper]}, an
   * interval holding the spectrum of {@code M (H + λI)} (see {@link PreconditionedRange}).
   */
  Lissa(double damping, double lower, double upper, int depth, int repetitions, double tolerance,
      LinearOperator preconditioner) {
    this(damping, upper, depth, repetitions, tolerance, LissaAcceleration.CHEBYSHEV,
        java.util.Objects.requireNonNull(preconditioner, "preconditioner"), lower);
    if (!(lower > 0) || !(upper > lower) || !Double.isFinite(upper)) {
      throw new IllegalArgumentException("lissa: a preconditioned solve needs 0 < lower < upper, finite, got ["
          + lower + ", " + upper + "]. HINT: estimate them on M (H + λI) (PreconditionedRange)");
    }
  }

  private Lissa(double damping, double scale, int depth, int repetitions, double tolerance,
      LissaAcceleration acceleration, LinearOperator preconditioner, double lower) {
    this.preconditioner = preconditioner;
    this.lower = lower;
    this.acceleration = java.util.Objects.requireNonNull(acceleration, "acceleration");
    this.damping = Vectors.requireNonNegative(METHOD, "damping", damping);
    if (preconditioner == null && (!(scale > damping) || !Double.isFinite(scale))) {
      throw new IllegalArgumentException("lissa: scale must be finite and > damping (" + damping + "), got " + scale
          + ". HINT: use a scale above the largest eigenvalue of H plus the damping.");
    }
    if (depth < 1 || repetitions < 1) {
      throw new IllegalArgumentException("lissa: depth and repetitions must be >= 1, got " + depth + " and " + repetitions);
    }
    this.scale = scale;
    this.depth = depth;
    this.repetitions = repetitions;
    this.tolerance = Vectors.requireNonNegative(METHOD, "tolerance", tolerance);
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
    return Lockstep.solve(h, b, METHOD, damping, this::start);
  }

  @Override
  public List<SolveResult> solveAll(BlockLinearOperator h, List<double[]> bs) {
    return Lockstep.solveAll(h, bs, METHOD, damping, this::start);
  }

  private Lockstep.Iteration start(double[] b) {
    return acceleration == LissaAcceleration.CHEBYSHEV ? new Chebyshev(b) : new State(b);
  }

  /**
   * What both iterations keep per system: the product buffer, the sum over finished repetitions and the counters;
   * {@link #endRepetition} and {@link #stopDiverged} are the only ways a repetition ends.
   */
  private abstract class Repetitions implements Lockstep.Iteration {
    final double[] b;
    final double[] sum;
    final double[] hv;           // H · input(), from the driver
    int rep;                     // finished repetitions
    int step;                    // steps within the current repetition
    private int steps;           // steps over all repetitions
    private boolean allConverged = true;
    boolean diverged;

    Repetitions(double[] b) {
      this.b = b;
      sum = new double[b.length];
      hv = new double[b.length];
    }

    @Override
    public boolean running() {
      return rep < repetitions;
    }

    @Override
    public int beginStep() {
      step++;
      return ++steps;
    }

    @Override
    public double[] product() {
      return hv;
    }

    /** Stops the solve: the iteration grows without bound. */
    void stopDiverged() {
      diverged = true;
      allConverged = false;
      rep = repetitions;
    }

    /** Adds {@code estimate} to the sum and starts the next repetition (if any) with {@code restart}. */
    void endRepetition(boolean converged, double[] estimate, Runnable restart) {
      allConverged &= converged;
      for (int i = 0; i < sum.length; i++) {
        sum[i] += estimate[i];
      }
      rep++;
      step = 0;
      if (rep < repetitions) {
        restart.run();
      }
    }

    @Override
    public int steps() {
      return steps;
    }

    @Override
    public boolean converged() {
      return allConverged;
    }

    @Override
    public boolean diverged() {
      return diverged;
    }
  }

  /** One system's Chebyshev semi-iteration over [λ, s] (see the class comment), repetitions as the recursion's. */
  private final class Chebyshev extends Repetitions {
    private final double[] x;
    private final double[] r;
    private final double[] d;
    private final double[] z;   // M r (preconditioned), else r itself
    private final double theta = (scale + lower) / 2;
    private final double delta = (scale - lower) / 2;
    private final double sigma = theta / delta;
    private final double bNorm;
    private final double bz;    // bᵀ M b: the bound of rᵀ M r while the spectrum lies in the interval
    private double rho;

    Chebyshev(double[] b) {
      super(b);
      x = new double[b.length];
      r = new double[b.length];
      d = new double[b.length];
      z = preconditioner == null ? r : new double[b.length];
      bNorm = Math.sqrt(Vectors.dot(b, b));
      restart();
      bz = Vectors.dot(b, z);
    }

    private void restart() {
      java.util.Arrays.fill(x, 0);
      System.arraycopy(b, 0, r, 0, b.length);
      precondition();
      for (int i = 0; i < d.length; i++) {
        d[i] = z[i] / theta;
      }
      rho = 1 / sigma;
    }

    private void precondition() {
      if (preconditioner != null) {
        preconditioner.apply(r, z);
        Vectors.requireFinite(z, METHOD, "the preconditioned residual", steps());
      }
    }

    @Override
    public double[] input() {
      return d;
    }

    /** {@code x += d; r −= (H + λI) d}; stop at the tolerance or depth, else the next direction. */
    @Override
    public void update(String label) {
      double rr = 0;
      for (int i = 0; i < b.length; i++) {
        x[i] += d[i];
        r[i] -= hv[i] + damping * d[i];
        rr += r[i] * r[i];
      }
      double rNorm = Math.sqrt(rr);
      precondition();
      // outside the polynomial's bound, or NaN/Inf: the spectrum is not in the interval. Unpreconditioned ‖r‖ <= ‖b‖;
      // preconditioned rᵀMr <= bᵀMb (M A is self-adjoint in the A inner product, where the polynomial is bounded by 1)
      boolean outside = preconditioner == null ? !(rNorm <= 2 * bNorm) : !(Vectors.dot(r, z) <= 4 * bz);
      if (outside) {
        stopDiverged();
        return;
      }
      Vectors.requireFinite(x, METHOD, "the iterate" + label, steps());
      boolean converged = rNorm <= tolerance * bNorm;
      if (converged || step >= depth) {
        endRepetition(converged, x, this::restart);
        return;
      }
      double next = 1 / (2 * sigma - rho);
      double keep = next * rho;
      double push = 2 * next / delta;
      for (int i = 0; i < d.length; i++) {
        d[i] = keep * d[i] + push * z[i];
      }
      rho = next;
    }

    /** The repetitions' mean of x; after divergence the last iterate (worthless, finite, for its residual). */
    @Override
    public double[] solution() {
      if (diverged) {
        return x.clone();
      }
      double[] out = new double[sum.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = sum[i] / repetitions;
      }
      return out;
    }
  }

  /** One system's recursion: the running iterate and the step's scratch vector. */
  private final class State extends Repetitions {
    private double[] cur;
    private double[] next;
    private final double bound;  // (2‖b‖)²: no step of a recursion that can converge is longer

    State(double[] b) {
      super(b);
      cur = b.clone();
      next = new double[b.length];
      bound = 4 * Vectors.dot(b, b);
    }

    @Override
    public double[] input() {
      return cur;
    }

    /**
     * {@code cur ← b + (1 − λ/s) cur − hv/s}; the repetition ends when the step changed the iterate
     * by at most {@code tolerance} relative to it, or at {@code depth}.
     */
    @Override
    public void update(String label) {
      double keep = 1 - damping / scale;
      double diff = 0;
      double size = 0;
      for (int i = 0; i < b.length; i++) {
        double v = b[i] + keep * cur[i] - hv[i] / scale;
        double d = v - cur[i];
        diff += d * d;
        size += v * v;
        next[i] = v;
      }
      if (!(diff <= bound) || !Double.isFinite(size)) {  // a step past 2‖b‖ or overflowing: growing without bound
        stopDiverged();
        return;
      }
      Vectors.requireFinite(next, METHOD, "the iterate" + label, steps());
      double[] t = cur;
      cur = next;
      next = t;
      boolean converged = Math.sqrt(diff) <= tolerance * Math.sqrt(size);
      if (converged || step >= depth) {
        endRepetition(converged, cur, () -> System.arraycopy(b, 0, cur, 0, b.length));
      }
    }

    /**
     * The estimate of {@code (H + λI)⁻¹ b}: the repetitions' mean of {@code h/s}; after divergence the last iterate
     * within the bound, divided by {@code s} (worthless, but finite, so that its residual can be reported).
     */
    @Override
    public double[] solution() {
      double[] x = new double[sum.length];
      if (diverged) {
        for (int i = 0; i < x.length; i++) {
          x[i] = cur[i] / scale;
        }
        return x;
      }
      for (int i = 0; i < x.length; i++) {
        x[i] = sum[i] / (scale * repetitions);
      }
      return x;
    }
  }

  @Override
  public String toString() {
    return "Lissa[damping=" + damping + (preconditioner == null ? ", scale=" + scale
        : ", preconditioned, interval=[" + lower + ", " + scale + "]") + ", depth=" + depth + ", repetitions="
        + repetitions + ", tolerance=" + tolerance + ", acceleration=" + acceleration.word() + "]";
  }
}
