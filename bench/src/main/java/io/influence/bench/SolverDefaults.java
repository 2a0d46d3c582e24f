package io.influence.bench;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.score.Stats;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.SolveResult;
import io.influence.core.truth.DenseMath;
import io.influence.spark.config.IhvpSettings;
import io.influence.spark.config.Method;
import io.influence.spark.config.Settings;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/*
 * Part of bench task "exactness": the engine's CG and LiSSA exactly as `score.method = cg / lissa` builds them
 * from the default settings (conf/reference.conf, nothing overridden: damping, tolerances, budgets, LiSSA
 * scale), on the task's exact curvature operator, against the exact dense solve at the same damping.
 *
 * Per method: <prefix>.defaults.<method>.pearson (scores of every train × query pair), .solve-error (the worst
 * over queries of ‖x − x*‖ / ‖x*‖, x* = float64 Cholesky solve), .iterations (the most over queries), .converged
 * (the fraction of queries whose solver said it met its tolerance), .diverged (the fraction it stopped as diverging). A solver that throws (LiSSA's iterate
 * overflowing) is recorded as NaN with a note, not hidden.
 */
final class SolverDefaults {

  /** The bar of the solver-defaults issue: the default CG reaches the exact solve to 1e-6 relative. */
  static final double CG_SOLVE_BAR = 1e-6;

  private SolverDefaults() {}

  /**
   * Runs both default solvers on {@code op} (dense form {@code m}) for every query; scores against {@code train}.
   * Returns the damping used.
   */
  static double compare(BenchResult.Builder b, String prefix, LinearOperator op, double[][] m, List<double[]> train,
                        List<double[]> queries) {
    IhvpSettings s = Settings.load(Optional.empty(), Map.of()).ihvp();
    double lambda = s.resolveDamping(BlockLinearOperator.oneAtATime(op)).lambda();
    double[][] exact = new double[queries.size()][];
    for (int q = 0; q < queries.size(); q++) {
      exact[q] = DenseMath.solve(m, lambda, queries.get(q));
    }
    for (Method method : List.of(Method.CG, Method.LISSA)) {
      IhvpSolver solver = s.solver(method, BlockLinearOperator.oneAtATime(op));
      String name = prefix + ".defaults." + method.word();
      long t0 = System.nanoTime();
      double[][] x = new double[queries.size()][];
      double worst = 0;
      int iterations = 0;
      int converged = 0;
      int diverged = 0;
      try {
        for (int q = 0; q < queries.size(); q++) {
          SolveResult r = solver.solve(op, queries.get(q));
          x[q] = r.x();
          worst = Math.max(worst, relativeError(r.x(), exact[q]));
          iterations = Math.max(iterations, r.iterations());
          converged += r.converged() ? 1 : 0;
          diverged += r.diverged() ? 1 : 0;
        }
      } catch (IllegalStateException e) {
        b.metric(name + ".pearson", Double.NaN);
        b.metric(name + ".solve-error", Double.NaN);
        b.note(name + ": threw " + e.getMessage());
        continue;
      }
      b.metric(name + ".pearson", Stats.pearson(scores(exact, train), scores(x, train)));
      if (method == Method.CG) {
        b.atMost(name + ".solve-error", worst, CG_SOLVE_BAR);
      } else {
        b.metric(name + ".solve-error", worst);
      }
      b.metric(name + ".iterations", iterations);
      b.metric(name + ".converged", (double) converged / queries.size());
      b.metric(name + ".diverged", (double) diverged / queries.size());
      b.note(String.format(Locale.ROOT, "%s: %s, damping %.3e (the default), %.1f s", name, solver, lambda,
          (System.nanoTime() - t0) / 1e9));
    }
    return lambda;
  }

  private static double relativeError(double[] x, double[] exact) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < x.length; i++) {
      diff += (x[i] - exact[i]) * (x[i] - exact[i]);
      norm += exact[i] * exact[i];
    }
    return Math.sqrt(diff / norm);
  }

  private static double[] scores(double[][] x, List<double[]> train) {
    double[] out = new double[x.length * train.size()];
    for (int q = 0; q < x.length; q++) {
      for (int t = 0; t < train.size(); t++) {
        out[q * train.size() + t] = DenseMath.dot(x[q], train.get(t));
      }
    }
    return out;
  }
}
