package io.influence.bench;

import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.Stats;
import io.influence.core.shapley.Budget;
import io.influence.core.shapley.ExactShapley;
import io.influence.core.shapley.FineTuneGame;
import io.influence.core.shapley.GShapley;
import io.influence.core.shapley.ShapleyValues;
import io.influence.core.shapley.TmcShapley;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.Settings;
import io.influence.spark.config.ShapleySettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/*
 * Bench task "shapley": Data Shapley on the language-model game, with the engine's default shapley settings
 * (conf/reference.conf: fine-tune SGD, its rate, steps and batch; the budget, convergence rule and truncation).
 *
 * A TinyLm GPT-2 is trained on a sample of its language (the checkpoint fine-tuned from). Players: `players`
 * groups of `per` sequences each, drawn from the language, the last `noisy` groups of uniformly random tokens
 * (which should get the lowest values). Queries: `queries` sequences of the language, loss over every token.
 * 1. Exact Shapley by all 2^players coalitions (one fine-tuning each) against TMC-Shapley and G-Shapley at the
 *    defaults: Pearson per query (the mean and the worst reported; bar 0.95 on the mean for TMC), the
 *    efficiency gap |Σφ − (V(D) − V(∅))| against its bound (truncation tolerance·|V(D)| + 3 standard errors).
 * 2. The defaults on a larger game (`large` players of one sequence each): whether the convergence rule stops
 *    the run inside the budget, with how many permutations and fine-tunings, and the wall time on one core.
 *
 * Flags (-P key=value; quick/full defaults): shapley.players (8/10), shapley.per (2), shapley.noisy (1),
 * shapley.queries (4), shapley.large (12/40), and the TinyLm keys under shapley (steps 150/300).
 */
final class ShapleyTask implements BenchTask {

  static final double PEARSON_BAR = 0.95;

  @Override
  public String name() {
    return "shapley";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "Data Shapley on a tiny GPT-2 fine-tuning game: TMC- and G-Shapley at the default settings vs exact "
        + "values by all coalitions; convergence of the defaults on a larger game";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    BenchResult.Builder b = BenchResult.of(name());
    ShapleySettings defaults = Settings.load(Optional.empty(), Map.of()).shapley();
    TinyLm lm = TinyLm.from(o, "shapley", 150, 300, 1, 1);
    int players = o.intParam("shapley.players", 8, 10);
    int per = o.intParam("shapley.per", 2, 2);
    int noisy = o.intParam("shapley.noisy", 1, 1);
    int nq = o.intParam("shapley.queries", 4, 4);
    int large = o.intParam("shapley.large", 12, 40);
    Random random = new Random(o.seed());
    long language = o.seed() + 1;
    try (BlasThreads one = BlasThreads.set(1)) {
      Path dir = Files.createTempDirectory(o.workDir(), "shapley");
      List<int[]> pretrain = lm.sample(language, random, 64).sequences();
      CausalLm base = lm.train(pretrain, o.seed(), o.seed(), lm.steps(), dir.resolve("run")).model();
      List<int[]> qs = lm.sample(language, random, nq).sequences();
      int[][] mask = new int[nq][];
      for (int q = 0; q < nq; q++) {
        mask[q] = new int[lm.seq()];
        java.util.Arrays.fill(mask[q], 1, lm.seq(), 1);
      }
      TokenBatch queries = new TokenBatch(qs.toArray(int[][]::new), mask);

      List<int[][]> groups = new ArrayList<>();
      for (int p = 0; p < players; p++) {
        int[][] g = p < players - noisy ? lm.sample(language, random, per).sequences().toArray(int[][]::new)
            : noise(lm, random, per);
        groups.add(g);
      }
      FineTuneGame game = new FineTuneGame(base, groups, queries, defaults.fineTune());
      long t0 = System.nanoTime();
      ShapleyValues exact = ExactShapley.of(game);
      long t1 = System.nanoTime();
      ShapleyValues tmc = TmcShapley.run(game, defaults.truncation(), defaults.seed(), defaults.budget());
      long t2 = System.nanoTime();
      ShapleyValues g = GShapley.run(game, defaults.seed(), defaults.budget());
      double[] full = game.value(all(players));
      double[] empty = game.value(new int[0]);
      double meanT = 0;
      double worstT = 1;
      double meanG = 0;
      double worstGap = 0;
      for (int q = 0; q < nq; q++) {
        double rt = Stats.pearson(tmc.target(q), exact.target(q));
        double rg = Stats.pearson(g.target(q), exact.target(q));
        meanT += rt / nq;
        worstT = Math.min(worstT, rt);
        meanG += rg / nq;
        double bound = defaults.truncation() * Math.abs(full[q]) + 3 * tmc.totalStderr()[q];
        worstGap = Math.max(worstGap, Math.abs(tmc.total()[q] - (full[q] - empty[q])) / bound);
      }
      b.atLeast("tmc_pearson_vs_exact_mean", meanT, PEARSON_BAR);
      b.metric("tmc_pearson_vs_exact_worst_query", worstT);
      b.metric("g_pearson_vs_exact_mean", meanG);
      b.atMost("tmc_efficiency_gap_over_bound", worstGap, 1.0);
      b.metric("tmc_permutations", tmc.permutations());
      b.metric("tmc_fine_tunings", tmc.evaluations());
      b.metric("tmc_converged", tmc.converged() ? 1 : 0);
      b.metric("exact_fine_tunings", exact.evaluations());
      b.metric("exact_seconds", (t1 - t0) / 1e9);
      b.metric("tmc_seconds", (t2 - t1) / 1e9);
      b.metric("overall_pearson_tmc_vs_exact", Stats.pearson(tmc.overall(), exact.overall()));
      int lowest = 0;
      for (int p = 1; p < players; p++) {
        lowest = exact.overall()[p] < exact.overall()[lowest] ? p : lowest;
      }
      b.metric("exact_lowest_is_noisy", lowest >= players - noisy ? 1 : 0);
      System.err.printf(java.util.Locale.ROOT, "[shapley] %d players: TMC Pearson vs exact mean %.4f (worst query %.4f),"
          + " G-Shapley %.4f; efficiency gap / bound %.3f; TMC %d permutations (%d truncated), %d fine-tunings,"
          + " converged %s, %.1f s; exact %d fine-tunings, %.1f s%n", players, meanT, worstT, meanG, worstGap,
          tmc.permutations(), tmc.truncatedPermutations(), tmc.evaluations(), tmc.converged(), (t2 - t1) / 1e9,
          exact.evaluations(), (t1 - t0) / 1e9);

      List<int[][]> singles = new ArrayList<>();
      for (int[] s : lm.sample(language, random, large).sequences()) {
        singles.add(new int[][] {s});
      }
      FineTuneGame big = new FineTuneGame(base, singles, queries, defaults.fineTune());
      long t3 = System.nanoTime();
      ShapleyValues bigTmc = TmcShapley.run(big, defaults.truncation(), defaults.seed(), defaults.budget());
      long t4 = System.nanoTime();
      System.err.printf(java.util.Locale.ROOT, "[shapley] %d players: converged %s after %d permutations (%d truncated),"
          + " %d fine-tunings, %.1f s%n", large, bigTmc.converged(), bigTmc.permutations(),
          bigTmc.truncatedPermutations(), bigTmc.evaluations(), (t4 - t3) / 1e9);
      b.metric("large_players", large);
      b.metric("large_converged", bigTmc.converged() ? 1 : 0);
      b.metric("large_permutations", bigTmc.permutations());
      b.metric("large_fine_tunings", bigTmc.evaluations());
      b.metric("large_truncated_permutations", bigTmc.truncatedPermutations());
      b.metric("large_seconds_one_core", (t4 - t3) / 1e9);
      b.note(String.format(java.util.Locale.ROOT, "%d players x %d sequences (%d noisy), %d queries; V(D) - V(empty) of"
          + " query 0 = %.4f (V(D) = %.4f); TMC %d permutations (%d truncated, converged %s), G-Shapley %d",
          players, per, noisy, nq, full[0] - empty[0], full[0], tmc.permutations(), tmc.truncatedPermutations(),
          tmc.converged(), g.permutations()));
    }
    return b.build();
  }

  private static int[][] noise(TinyLm lm, Random random, int count) {
    int[][] out = new int[count][lm.seq()];
    for (int[] s : out) {
      for (int t = 0; t < s.length; t++) {
        s[t] = random.nextInt(lm.vocab());
      }
    }
    return out;
  }

  private static int[] all(int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = i;
    }
    return a;
  }

}
