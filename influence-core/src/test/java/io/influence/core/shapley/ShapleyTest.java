package io.influence.core.shapley;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.score.Stats;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * TMC-Shapley and G-Shapley on the logistic-regression game of {@link LogisticGame} (10 points, two with
 * flipped labels), checked against the exact Shapley values by enumerating all 2^10 coalitions.
 */
class ShapleyTest {

  /** The default budget of conf/reference.conf (shapley.permutations, convergence, round): the paper's rule. */
  static final Budget BUDGET = new Budget(500, 100, 0.05, 32);
  /** The truncation tolerance of this game's test: 5% of |V(D)| (the paper's order). */
  static final double TOLERANCE = 0.05;
  static final long SEED = 17;

  private final LogisticGame game = LogisticGame.generate(10, 2, 5);
  private final ShapleyValues exact = ExactShapley.of(game);

  @Test
  void exact_smallGame_equalsTheAverageOverAllPermutations() {
    LogisticGame small = LogisticGame.generate(4, 1, 8);
    ShapleyValues e = ExactShapley.of(small);
    List<int[]> all = new ArrayList<>();
    permute(new int[] {0, 1, 2, 3}, 0, all);
    double[][] mean = new double[4][LogisticGame.TARGETS];
    for (int[] order : all) {
      double[] previous = small.value(new int[0]);
      for (int j = 0; j < 4; j++) {
        double[] now = small.value(java.util.Arrays.copyOf(order, j + 1));
        for (int t = 0; t < LogisticGame.TARGETS; t++) {
          mean[order[j]][t] += (now[t] - previous[t]) / all.size();
        }
        previous = now;
      }
    }
    for (int p = 0; p < 4; p++) {
      assertArrayEquals(mean[p], e.values()[p], 1e-12);
    }
  }

  @Test
  void tmc_documentedBudget_agreesWithExactAndIsEfficientWithinItsError() {
    ShapleyValues tmc = TmcShapley.run(game, TOLERANCE, SEED, BUDGET);
    double[] full = game.value(TmcShapley.all(10));
    double[] empty = game.value(new int[0]);
    for (int t = 0; t < LogisticGame.TARGETS; t++) {
      double r = Stats.pearson(tmc.target(t), exact.target(t));
      double gap = tmc.total()[t] - (full[t] - empty[t]);
      double allowed = TOLERANCE * Math.abs(full[t]) + 3 * tmc.totalStderr()[t];
      System.out.printf("TMC target %d: Pearson vs exact %.4f, Σφ − (V(D) − V(∅)) = %.2e (allowed %.2e: tolerance·|V(D)|"
          + " + 3·stderr %.2e); exact Σφ gap %.1e; %d permutations (%d truncated), %d retrainings, converged %s"
          + " (error %.4f)%n", t, r, gap, allowed, tmc.totalStderr()[t], exact.total()[t] - (full[t] - empty[t]),
          tmc.permutations(), tmc.truncatedPermutations(), tmc.evaluations(), tmc.converged(), tmc.convergenceError());
      assertTrue(r >= 0.95, "TMC vs exact Pearson " + r + " for target " + t);
      assertTrue(Math.abs(gap) <= allowed, "efficiency gap " + gap + " exceeds " + allowed);
      assertEquals(full[t] - empty[t], exact.total()[t], 1e-12, "exact values are efficient");
      for (int p = 0; p < 10; p++) {
        assertTrue(Math.abs(tmc.values()[p][t] - exact.values()[p][t]) <= 5 * tmc.stderr()[p][t] + 1e-3,
            "player " + p + " target " + t + ": " + tmc.values()[p][t] + " vs exact " + exact.values()[p][t]
                + " ± " + tmc.stderr()[p][t]);
      }
    }
    assertTrue(tmc.converged(), "the default budget converges on 10 players");
    assertTrue(tmc.truncatedPermutations() > 0, "truncation was exercised");
    // the flipped-label point 0 (drawn from class 0, labelled 1) hurts the validation loss most
    assertEquals(0, argmin(exact.target(0)));
    assertEquals(0, argmin(tmc.target(0)));
    assertTrue(exact.values()[0][0] < 0 && tmc.values()[0][0] < 0);
  }

  @Test
  void tmc_untruncated_isEfficientToRounding() {
    ShapleyValues tmc = TmcShapley.run(game, 0, SEED, Budget.fixed(30, 8));
    double[] full = game.value(TmcShapley.all(10));
    double[] empty = game.value(new int[0]);
    assertEquals(0, tmc.truncatedPermutations());
    for (int t = 0; t < LogisticGame.TARGETS; t++) {
      assertEquals(full[t] - empty[t], tmc.total()[t], 1e-12);
      assertTrue(tmc.totalStderr()[t] < 1e-7, "per-permutation sums are all V(D) − V(∅)");
    }
  }

  @Test
  void tmc_sameSeed_sameValuesWhateverTheRoundSize() {
    ShapleyValues a = TmcShapley.run(game, TOLERANCE, SEED, new Budget(400, 100, 0.05, 7));
    ShapleyValues b = TmcShapley.run(game, TOLERANCE, SEED, new Budget(400, 100, 0.05, 64));
    assertEquals(a.permutations(), b.permutations());
    for (int p = 0; p < 10; p++) {
      assertArrayEquals(a.values()[p], b.values()[p], 0.0);
      assertArrayEquals(a.stderr()[p], b.stderr()[p], 0.0);
    }
    ShapleyValues c = TmcShapley.run(game, TOLERANCE, SEED + 1, new Budget(400, 100, 0.05, 64));
    assertTrue(c.values()[3][0] != a.values()[3][0], "another seed draws other permutations");
  }

  @Test
  void gShapley_logisticGame_telescopesToTheEpochAndIsReportedAgainstExact() {
    ShapleyValues g = GShapley.run(game, SEED, BUDGET);
    // each permutation's marginals sum to (utility after its epoch) − (utility at w = 0): check the mean
    double[] start = game.start().utility();
    double[] meanEnd = new double[LogisticGame.TARGETS];
    for (int k = 0; k < g.permutations(); k++) {
      Stepwise.Learner l = game.start();
      for (int p : Permutations.of(10, SEED, k)) {
        l.step(p);
      }
      double[] end = l.utility();
      for (int t = 0; t < LogisticGame.TARGETS; t++) {
        meanEnd[t] += end[t] / g.permutations();
      }
    }
    for (int t = 0; t < LogisticGame.TARGETS; t++) {
      assertEquals(meanEnd[t] - start[t], g.total()[t], 1e-12);
      System.out.printf("G-Shapley target %d: Pearson vs exact TMC-game values %.4f (%d permutations, converged %s)%n",
          t, Stats.pearson(g.target(t), exact.target(t)), g.permutations(), g.converged());
    }
  }

  private static int argmin(double[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      best = v[i] < v[best] ? i : best;
    }
    return best;
  }

  private static void permute(int[] a, int k, List<int[]> out) {
    if (k == a.length) {
      out.add(a.clone());
      return;
    }
    for (int i = k; i < a.length; i++) {
      int t = a[k];
      a[k] = a[i];
      a[i] = t;
      permute(a, k + 1, out);
      a[i] = a[k];
      a[k] = t;
    }
  }
}
