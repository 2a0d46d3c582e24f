package io.influence.spark.ihvp;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.influence.core.solve.IhvpSolver;
import java.util.List;

/**
 * The {@code influence.ihvp} settings block (score.method "cg" or "lissa"), checked on the driver; every error
 * names the setting.
 *
 * @param curvature          "ggn" (exact Gauss-Newton products, PSD) or "hessian" (central differences of
 *                           gradients, exact up to O(ε²), may be indefinite)
 * @param damping            λ added to the curvature's diagonal (absolute), {@code >= 0}
 * @param lastOnly           true: only the last extracted checkpoint; false: every checkpoint, weight 1 each
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
public record IhvpSettings(String curvature, double damping, boolean lastOnly, int batchSize, long sampleRows,
    long sampleSeed, int partitions, boolean requireConvergence, Cg cg, Lissa lissa) implements java.io.Serializable {

  private static final String P = "influence.ihvp.";

  /** {@code ihvp.cg}: stop when {@code ‖r‖/‖b‖ <= tolerance} or after {@code maxIterations}. */
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

  /** {@code ihvp.lissa}: the Neumann recursion's scale (above λ_max(H) + λ), depth, repetitions, stopping tolerance. */
  public record Lissa(double scale, int depth, int repetitions, double tolerance) implements java.io.Serializable {
    public Lissa {
      if (!(scale > 0) || !Double.isFinite(scale)) {
        throw new IllegalArgumentException(P + "lissa.scale must be finite and > 0, got " + scale
            + ". HINT: use a value above the largest eigenvalue of the curvature plus the damping");
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
    if (!curvature.equals("ggn") && !curvature.equals("hessian")) {
      throw new IllegalArgumentException(P + "curvature must be \"ggn\" or \"hessian\", got \"" + curvature
          + "\". HINT: ggn (the Gauss-Newton matrix, positive semi-definite) unless you need the exact Hessian");
    }
    if (!(damping >= 0) || !Double.isFinite(damping)) {
      throw new IllegalArgumentException(P + "damping must be finite and >= 0, got " + damping);
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
    if (!(lissa.scale() > damping)) {
      throw new IllegalArgumentException(P + "lissa.scale (" + lissa.scale() + ") must exceed " + P + "damping ("
          + damping + "). HINT: use a scale above the largest eigenvalue of the curvature plus the damping");
    }
  }

  /** Reads {@code ihvp.*} from the resolved {@code influence} settings. */
  public static IhvpSettings from(Config influence) {
    Config c = influence;
    try {
      String which = c.getString("ihvp.checkpoints");
      boolean last = switch (which) {
        case "all" -> false;
        case "last" -> true;
        default -> throw new IllegalArgumentException(P + "checkpoints must be \"all\" or \"last\", got \"" + which
            + "\"");
      };
      return new IhvpSettings(c.getString("ihvp.curvature"), c.getDouble("ihvp.damping"), last,
          c.getInt("ihvp.batch-size"), c.getLong("ihvp.sample-rows"), c.getLong("ihvp.sample-seed"),
          c.getInt("ihvp.partitions"), c.getBoolean("ihvp.require-convergence"),
          new Cg(c.getInt("ihvp.cg.max-iterations"), c.getDouble("ihvp.cg.tolerance")),
          new Lissa(c.getDouble("ihvp.lissa.scale"), c.getInt("ihvp.lissa.depth"), c.getInt("ihvp.lissa.repetitions"),
              c.getDouble("ihvp.lissa.tolerance")));
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad influence.ihvp setting: " + e.getMessage()
          + ". HINT: see the ihvp block of conf/reference.conf", e);
    }
  }

  /** The solver of {@code method} ("cg" or "lissa") with these settings. */
  public IhvpSolver solver(String method) {
    return switch (method) {
      case "cg" -> IhvpSolver.conjugateGradient(damping, cg.tolerance(), cg.maxIterations());
      case "lissa" -> IhvpSolver.lissa(damping, lissa.scale(), lissa.depth(), lissa.repetitions(), lissa.tolerance());
      default -> throw new IllegalArgumentException("no iterative solver named \"" + method + "\"; use cg or lissa");
    };
  }

  /** The checkpoints to solve at, out of {@code available} (ordered by step). */
  public List<String> select(List<String> available) {
    if (available.isEmpty()) {
      throw new IllegalArgumentException("no checkpoints to score. HINT: run `influence extract` first");
    }
    return lastOnly ? List.of(available.get(available.size() - 1)) : List.copyOf(available);
  }
}
