package io.influence.spark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.LissaScale;
import io.influence.ekfac.Damping;
import java.util.List;

/**
 * The {@code influence.ihvp} settings block (score.method "cg" or "lissa"), checked on the driver; every error
 * names the setting.
 *
 * @param curvature          the Gauss-Newton matrix (exact products, PSD) or the Hessian (central differences of
 *                           gradients, exact up to O(ε²), may be indefinite)
 * @param damping            λ added to the curvature's diagonal: absolute (the same type as EK-FAC's damping; a
 *                           relative damping needs the curvature's eigenvalues, which an iterative solve never has)
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
public record IhvpSettings(Curvature curvature, Damping damping, CheckpointSelection checkpoints, int batchSize, long sampleRows,
    long sampleSeed, int partitions, boolean requireConvergence, Cg cg, Lissa lissa) implements java.io.Serializable {

  private static final String P = "influence.ihvp.";

  /** {@code ihvp.curvature}. */
  public enum Curvature {
    /** The generalised Gauss-Newton matrix (exact forward-mode products; positive semi-definite). */
    GGN,
    /** The Hessian of the loss (central differences of gradients; may be indefinite). */
    HESSIAN
  }

  /** {@code ihvp.cg}: stop when the true {@code ‖b − (H + λI) x‖/‖b‖ <= tolerance} or after {@code maxIterations}. */
  public record Cg(int maxIterations, double tolerance) implements java.io.Serializable {
    public Cg {
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
   * of each checkpoint; or a number above λ_max(H) + λ), depth, repetitions, stopping tolerance.
   */
  public record Lissa(LissaScale scale, int depth, int repetitions, double tolerance) implements java.io.Serializable {
    public Lissa {
      java.util.Objects.requireNonNull(scale, P + "lissa.scale");
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
    if (damping.mode() != Damping.Mode.ABSOLUTE) {
      throw new IllegalArgumentException(P + "damping must be absolute, got " + damping);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException(P + "batch-size must be >= 1, got " + batchSize);
    }
    if (sampleRows < 0) {
      throw new IllegalArgumentException(P + "sample-rows must be >= 0 (0 = the whole corpus), got " + sampleRows);
    }
    if (partitions < 0) {
      throw new IllegalArgumentException(P + "partitions must be >= 0 (0 = as the corpus comes), got " + partitions);
    }
    if (lissa.scale() instanceof LissaScale.Fixed f && !(f.value() > damping.value())) {
      throw new IllegalArgumentException(P + "lissa.scale (" + f.value() + ") must exceed " + P + "damping ("
          + damping.value() + "). HINT: use \"auto\" or a scale above the largest eigenvalue of the curvature plus "
          + "the damping");
    }
  }

  /** Reads {@code ihvp.*} from the resolved {@code influence} settings. */
  static IhvpSettings from(Config influence) {
    Config c = influence;
    try {
      double damping = c.getDouble("ihvp.damping");
      if (!(damping >= 0) || !Double.isFinite(damping)) {
        throw new IllegalArgumentException(P + "damping must be finite and >= 0, got " + damping);
      }
      return new IhvpSettings(Choices.parse(Curvature.class, "ihvp.curvature", c.getString("ihvp.curvature")),
          Damping.absolute(damping), Choices.parse(CheckpointSelection.class, "ihvp.checkpoints",
          c.getString("ihvp.checkpoints")),
          c.getInt("ihvp.batch-size"), c.getLong("ihvp.sample-rows"), c.getLong("ihvp.sample-seed"),
          c.getInt("ihvp.partitions"), c.getBoolean("ihvp.require-convergence"),
          new Cg(c.getInt("ihvp.cg.max-iterations"), c.getDouble("ihvp.cg.tolerance")),
          new Lissa(lissaScale(c), c.getInt("ihvp.lissa.depth"), c.getInt("ihvp.lissa.repetitions"),
              c.getDouble("ihvp.lissa.tolerance")));
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

  /**
   * The solver of an iterative {@code method} (CG or LiSSA) with these settings, for solves against {@code h}: an
   * {@code "auto"} LiSSA scale is estimated here on {@code h} (a few products; see {@link LissaScale.Auto}).
   */
  public IhvpSolver solver(Method method, BlockLinearOperator h) {
    return switch (method) {
      case CG -> IhvpSolver.conjugateGradient(damping.value(), cg.tolerance(), cg.maxIterations());
      case LISSA -> IhvpSolver.lissa(damping.value(), lissa.scale().resolve(h, damping.value()), lissa.depth(),
          lissa.repetitions(), lissa.tolerance());
      case TRACIN, EKFAC -> throw new IllegalArgumentException(method.word() + " is not an iterative solver; use cg "
          + "or lissa");
    };
  }

  /** The checkpoints to solve at, out of {@code available} (ordered by step). */
  public List<String> select(List<String> available) {
    return checkpoints.select(available);
  }
}
