package io.influence.core.shapley;

import java.util.List;

/**
 * The permutation-sampling loop shared by {@link TmcShapley} and {@link GShapley}: asks a
 * {@link Runner} for rounds of permutations, adds their marginals in permutation order, and stops by the
 * {@link Budget}. Because permutations are seeded by index and added in index order, a runner that
 * computes them on many machines gives bit-for-bit the one-machine result.
 *
 * <p>Accumulates, per (player, target), the sum and sum of squares of the marginals (float64), and keeps
 * the running estimates of the last {@code window} permutations for the convergence rule.
 */
public final class MonteCarlo {

  /** Computes permutations {@code first .. first+count-1}; returns them in any order. */
  @FunctionalInterface
  public interface Runner {
    List<Marginals> run(long first, int count);
  }

  private static final double EPS = 1e-12;

  private MonteCarlo() {}

  /** Runs {@code runner} until {@code budget} says stop; values for {@code players × targets}. */
  public static ShapleyValues estimate(int players, int targets, Budget budget, Runner runner) {
    int width = players * targets;
    double[] sum = new double[width];
    double[] sumSq = new double[width];
    double[] overallSum = new double[players];
    double[] overallSq = new double[players];
    double[] totalSum = new double[targets];
    double[] totalSq = new double[targets];
    int window = budget.threshold() > 0 ? budget.window() : 0;
    double[][] history = new double[window][];
    long evaluations = 0;
    int truncated = 0;
    int used = 0;
    boolean converged = false;
    double error = Double.NaN;
    while (used < budget.maxPermutations() && !converged) {
      int count = Math.min(budget.round(), budget.maxPermutations() - used);
      Marginals[] round = new Marginals[count];
      for (Marginals m : runner.run(used, count)) {
        int k = (int) (m.index() - used);
        if (k < 0 || k >= count || round[k] != null || m.marginal().length != width) {
          throw new IllegalStateException("runner returned permutation " + m.index() + " with " + m.marginal().length
              + " marginals; expected each of " + used + ".." + (used + count - 1) + " once with " + width);
        }
        round[k] = m;
      }
      for (Marginals m : round) {
        if (m == null) {
          throw new IllegalStateException("runner left out a permutation of round " + used + ".." + (used + count - 1));
        }
        double[] x = m.marginal();
        double[] perTarget = new double[targets];
        for (int p = 0; p < players; p++) {
          double perPlayer = 0;
          for (int t = 0; t < targets; t++) {
            double v = x[p * targets + t];
            sum[p * targets + t] += v;
            sumSq[p * targets + t] += v * v;
            perPlayer += v;
            perTarget[t] += v;
          }
          overallSum[p] += perPlayer;
          overallSq[p] += perPlayer * perPlayer;
        }
        for (int t = 0; t < targets; t++) {
          totalSum[t] += perTarget[t];
          totalSq[t] += perTarget[t] * perTarget[t];
        }
        evaluations += m.evaluations();
        truncated += m.truncated() ? 1 : 0;
        used++;
        if (window > 0) {
          double[] running = new double[width];
          for (int i = 0; i < width; i++) {
            running[i] = sum[i] / used;
          }
          history[(used - 1) % window] = running;
          if (used >= window) {
            error = spread(history, running);
            if (error < budget.threshold()) {
              converged = true;
              break;
            }
          }
        }
      }
    }
    double[][] values = new double[players][targets];
    double[][] stderr = new double[players][targets];
    double[] overall = new double[players];
    double[] overallStderr = new double[players];
    for (int p = 0; p < players; p++) {
      for (int t = 0; t < targets; t++) {
        values[p][t] = sum[p * targets + t] / used;
        stderr[p][t] = standardError(sum[p * targets + t], sumSq[p * targets + t], used);
      }
      overall[p] = overallSum[p] / used;
      overallStderr[p] = standardError(overallSum[p], overallSq[p], used);
    }
    double[] total = new double[targets];
    double[] totalStderr = new double[targets];
    for (int t = 0; t < targets; t++) {
      total[t] = totalSum[t] / used;
      totalStderr[t] = standardError(totalSum[t], totalSq[t], used);
    }
    return new ShapleyValues(values, stderr, overall, overallStderr, total, totalStderr, used, evaluations, truncated,
        converged, error);
  }

  /** The convergence rule: max over the window of the mean relative distance to the current estimates. */
  private static double spread(double[][] history, double[] now) {
    double worst = 0;
    for (double[] past : history) {
      double s = 0;
      for (int i = 0; i < now.length; i++) {
        s += Math.abs(past[i] - now[i]) / (Math.abs(now[i]) + EPS);
      }
      worst = Math.max(worst, s / now.length);
    }
    return worst;
  }

  /** {@code sd / √n} from a sum and a sum of squares (sample variance, n − 1); NaN for n &lt; 2, 0 when rounding makes the variance negative. */
  static double standardError(double sum, double sumSq, int n) {
    if (n < 2) {
      return Double.NaN;
    }
    double mean = sum / n;
    double var = (sumSq - n * mean * mean) / (n - 1);
    return var > 0 ? Math.sqrt(var / n) : 0;
  }
}
