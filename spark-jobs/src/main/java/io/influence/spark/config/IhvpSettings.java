package io.influence.spark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.LissaAcceleration;
import io.influence.core.solve.LissaScale;
import io.influence.core.solve.PreconditionedRange;
import io.influence.ekfac.Damping;
import io.influence.ekfac.ResolvedDamping;
import java.util.List;

/**
 * The {@code influence.ihvp} settings block (score.method "cg" or "lissa"), checked on the driver; every error
 * names the setting.
 *
 * @param curvature          the Gauss-Newton matrix (exact products, PSD) or the Hessian (central differences of
 *                           gradients, exact up to O(ε²), may be indefinite)
 * @param damping            λ added to the curvature's diagonal, the same type and setting shape as EK-FAC's:
 *                           absolute, or relative = factor × tr(H)/dim of the curvature over the tracked layers,
 *                           resolved per checkpoint by {@link #resolveDamping} (a Hutchinson trace estimate)
 * @param trace              the Hutchinson probes a relative damping is resolved with
 * @param checkpoints        the last extracted checkpoint only, or every checkpoint with weight 1 each
 * @param batchSize          sequences per forward/backward pass inside an HVP task
 * @param sampleRows         0: the whole (usable) corpus defines the curvature; else this many rows of it, chosen
 *                           by a seeded hash of the row id (the same rows whatever the partitioning)
 * @param sampleSeed         seed of that hash
 * @param partitions         partitions of the HVP corpus (0 = as the corpus comes)
 * @param requireConvergence true: a solve that misses its tolerance fails the stage; false: it is reported
 *                           (log warning, each score row's {@code solver} column) and the estimate is used
 * @param cg                 conjugate-gradient settings
 * @param lissa              LiSSA settings
 */
public record IhvpSettings(Curvature curvature, Damping damping, Trace trace, CheckpointSelection checkpoints, int batchSize, long sampleRows,
    long sampleSeed, int partitions, boolean requireConvergence, Cg cg, Lissa lissa) implements java.io.Serializable {

  private static final String P = "influence.ihvp.";

  /** {@code ihvp.curvature}. */
  public enum Curvature {
    /** The generalised Gauss-Newton matrix (exact forward-mode products; positive semi-definite). */
    GGN,
    /** The Hessian of the loss (central differences of gradients; may be indefinite). */
    HESSIAN
  }

  /**
   * {@code ihvp.trace}: {@code probes} seeded Rademacher probes of the Hutchinson estimate of {@code tr(H)} that a
   * relative damping multiplies (per checkpoint, one block product = one more pass over the corpus; unused when the
   * damping is absolute).
   */
  public record Trace(int probes, long seed) implements java.io.Serializable {
    public Trace {
      if (probes < 1) {
        throw new IllegalArgumentException(P + "trace.probes must be >= 1, got " + probes);
      }
    }
  }

  /** {@code ihvp.cg.preconditioner}, {@code ihvp.lissa.preconditioner}: what an iterative solve is preconditioned with. */
  public enum SolvePreconditioner {
    /** None. */
    NONE,
    /**
     * {@code M = (Ĥ_EKFAC + λI)⁻¹} per layer from the factors fit-ekfac fitted at the same checkpoint, with the
     * solve's own absolute λ (ASTRA, Wang et al. 2025): the same solve, in fewer iterations when EK-FAC is close.
     */
    EKFAC
  }

  /**
   * {@code ihvp.cg}: stop when the true {@code ‖b − (H + λI) x‖/‖b‖ <= tolerance} or after {@code maxIterations};
   * {@code preconditioner} changes the path to the solve, not the solve.
   */
  public record Cg(int maxIterations, double tolerance, SolvePreconditioner preconditioner) implements java.io.Serializable {
    public Cg {
      java.util.Objects.requireNonNull(preconditioner, P + "cg.preconditioner");
      if (maxIterations < 1) {
        throw new IllegalArgumentException(P + "cg.max-iterations must be >= 1, got " + maxIterations);
      }
      if (!(tolerance >= 0) || !Double.isFinite(tolerance)) {
        throw new IllegalArgumentException(P + "cg.tolerance must be finite and >= 0, got " + tolerance);
      }
    }
  }

  /**
   * {@code ihvp.lissa}: the Neumann recursion's scale ({@code "auto"}: estimated by power iteration on the curvature
   * of each checkpoint; or a number above λ_max(H) + λ), depth, repetitions, stopping tolerance, and how the products
   * are combined ({@link LissaAcceleration}: the plain recursion, or Chebyshev semi-iteration over {@code [λ, scale]}).
   */
  public record Lissa(LissaScale scale, int depth, int repetitions, double tolerance, LissaAcceleration acceleration,
      SolvePreconditioner preconditioner) implements java.io.Serializable {
    public Lissa {
      java.util.Objects.requireNonNull(scale, P + "lissa.scale");
      java.util.Objects.requireNonNull(acceleration, P + "lissa.acceleration");
      java.util.Objects.requireNonNull(preconditioner, P + "lissa.preconditioner");
      if (preconditioner != SolvePreconditioner.NONE && acceleration != LissaAcceleration.CHEBYSHEV) {
        throw new IllegalArgumentException(P + "lissa.preconditioner = " + Choices.word(preconditioner) + " needs "
            + P + "lissa.acceleration = chebyshev (the semi-iteration runs on the preconditioned system), got "
            + Choices.word(acceleration) + ". HINT: set " + P + "lissa.acceleration = chebyshev or "
            + P + "lissa.preconditioner = none");
      }
      if (depth < 1) {
        throw new IllegalArgumentException(P + "lissa.depth must be >= 1, got " + depth);
      }
      if (repetitions < 1) {
        throw new IllegalArgumentException(P + "lissa.repetitions must be >= 1, got " + repetitions);
      }
      if (!(tolerance >= 0) || !Double.isFinite(tolerance)) {
        throw new IllegalArgumentException(P + "lissa.tolerance must be finite and >= 0, got " + tolerance);
      }
    }
  }

  public IhvpSettings {
    java.util.Objects.requireNonNull(damping, P + "damping");
    java.util.Objects.requireNonNull(trace, P + "trace");
    if (batchSize < 1) {
      throw new IllegalArgumentException(P + "batch-size must be >= 1, got " + batchSize);
    }
    if (sampleRows < 0) {
      throw new IllegalArgumentException(P + "sample-rows must be >= 0 (0 = the whole corpus), got " + sampleRows);
    }
    if (partitions < 0) {
      throw new IllegalArgumentException(P + "partitions must be >= 0 (0 = as the corpus comes), got " + partitions);
    }
    if (!damping.relative()) {
      requireScaleAbove(lissa.scale(), damping.value());
    }
  }

  /** Lanczos steps (products) that estimate a preconditioned LiSSA's interval. */
  static final int RANGE_ITERATIONS = 20;
  /** Factor each end of that interval is widened by. */
  static final double RANGE_SAFETY = 1.5;

  /** Reads {@code ihvp.*} from the resolved {@code influence} settings. */
  static IhvpSettings from(Config influence) {
    Config c = influence;
    try {
      return new IhvpSettings(Choices.parse(Curvature.class, "ihvp.curvature", c.getString("ihvp.curvature")),
          DampingSettings.read(c, "ihvp"), new Trace(c.getInt("ihvp.trace.probes"), c.getLong("ihvp.trace.seed")),
          Choices.parse(CheckpointSelection.class, "ihvp.checkpoints",
          c.getString("ihvp.checkpoints")),
          c.getInt("ihvp.batch-size"), c.getLong("ihvp.sample-rows"), c.getLong("ihvp.sample-seed"),
          c.getInt("ihvp.partitions"), c.getBoolean("ihvp.require-convergence"),
          new Cg(c.getInt("ihvp.cg.max-iterations"), c.getDouble("ihvp.cg.tolerance"),
              Choices.parse(SolvePreconditioner.class, "ihvp.cg.preconditioner", c.getString("ihvp.cg.preconditioner"))),
          new Lissa(lissaScale(c), c.getInt("ihvp.lissa.depth"), c.getInt("ihvp.lissa.repetitions"),
              c.getDouble("ihvp.lissa.tolerance"), Choices.parse(LissaAcceleration.class, "ihvp.lissa.acceleration",
              c.getString("ihvp.lissa.acceleration")), Choices.parse(SolvePreconditioner.class,
              "ihvp.lissa.preconditioner", c.getString("ihvp.lissa.preconditioner"))));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad influence.ihvp setting: " + e.getMessage()
          + ". HINT: see the ihvp block of conf/reference.conf", e);
    }
  }

  /** {@code ihvp.lissa.scale}: the word {@code "auto"} or a number; anything else fails naming the setting. */
  private static LissaScale lissaScale(Config c) {
    String key = "ihvp.lissa.scale";
    if (c.getValue(key).valueType() == com.typesafe.config.ConfigValueType.STRING && "auto".equals(c.getString(key))) {
      return LissaScale.Auto.DEFAULT;
    }
    double value;
    try {
      value = c.getDouble(key);
    } catch (ConfigException.WrongType e) {
      throw new IllegalArgumentException(P + "lissa.scale must be \"auto\" or a number, got \"" + c.getString(key)
          + "\"", e);
    }
    if (!(value > 0) || !Double.isFinite(value)) {
      throw new IllegalArgumentException(P + "lissa.scale must be \"auto\" or a finite number > 0, got " + value
          + ". HINT: use a value above the largest eigenvalue of the curvature plus the damping");
    }
    return new LissaScale.Fixed(value);
  }

  private static void requireScaleAbove(LissaScale scale, double lambda) {
    if (scale instanceof LissaScale.Fixed f && !(f.value() > lambda)) {
      throw new IllegalArgumentException(P + "lissa.scale (" + f.value() + ") must exceed the damping λ (" + lambda
          + ", " + P + "damping). HINT: use \"auto\" or a scale above the largest eigenvalue of the curvature plus "
          + "the damping");
    }
  }

  /**
   * The absolute λ for solves against the curvature {@code h} (one checkpoint's): an absolute damping as is, a
   * relative one as factor × the Hutchinson estimate of {@code tr(h)/dim} ({@code trace.probes} probes in one block
   * product).
   */
  public ResolvedDamping resolveDamping(BlockLinearOperator h) {
    return ResolvedDamping.onCurvature(damping, h, trace.probes(), trace.seed());
  }

  /** {@link #solver(Method, BlockLinearOperator, ResolvedDamping)} with the damping resolved here on {@code h}. */
  public IhvpSolver solver(Method method, BlockLinearOperator h) {
    return solver(method, h, resolveDamping(h));
  }

  /**
   * The solver of an iterative {@code method} (CG or LiSSA) with these settings and the damping {@code lambda}
   * resolved on {@code h}: an {@code "auto"} LiSSA scale is estimated here on {@code h} (a few products; see
   * {@link LissaScale.Auto}); a fixed one must exceed λ.
   */
  public IhvpSolver solver(Method method, BlockLinearOperator h, ResolvedDamping lambda) {
    return solver(method, h, lambda, null);
  }

  /**
   * As {@link #solver(Method, BlockLinearOperator, ResolvedDamping)}, preconditioned by {@code m} when it is not null
   * ({@code ihvp.cg.preconditioner}, {@code ihvp.lissa.preconditioner}). Preconditioned LiSSA runs Chebyshev
   * semi-iteration over the spectrum of {@code m (h + λI)}, estimated here ({@link PreconditionedRange}: the Ritz
   * values of 20 Lanczos steps, each end widened by 1.5); its scale setting is then unused.
   */
  public IhvpSolver solver(Method method, BlockLinearOperator h, ResolvedDamping lambda, LinearOperator m) {
    double d = lambda.lambda();
    return switch (method) {
      case CG -> m == null ? IhvpSolver.conjugateGradient(d, cg.tolerance(), cg.maxIterations())
          : IhvpSolver.conjugateGradient(d, cg.tolerance(), cg.maxIterations(), m);
      case LISSA -> {
        if (m != null) {
          yield IhvpSolver.lissa(d, PreconditionedRange.estimate(h, d, m, RANGE_ITERATIONS, 0, RANGE_SAFETY),
              lissa.depth(), lissa.repetitions(), lissa.tolerance(), m);
        }
        requireScaleAbove(lissa.scale(), d);
        yield IhvpSolver.lissa(d, lissa.scale().resolve(h, d), lissa.depth(), lissa.repetitions(), lissa.tolerance(),
            lissa.acceleration());
      }
      case TRACIN, EKFAC, SGD_INFLUENCE, TMC_SHAPLEY, G_SHAPLEY, REPRESENTER -> throw new IllegalArgumentException(method.word() + " is not an iterative solver; use cg "
          + "or lissa");
    };
  }

  /** The checkpoints to solve at, out of {@code available} (ordered by step). */
  public List<String> select(List<String> available) {
    return checkpoints.select(available);
  }
}
