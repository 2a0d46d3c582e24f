package io.influence.bench;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.AdamScaling;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.grad.Preconditioner;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.PairwiseScores;
import io.influence.core.score.Stats;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.InverseHvpPreconditioner;
import io.influence.core.tracin.CheckpointGradients;
import io.influence.core.tracin.CheckpointSource;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.tracin.TracInCp;
import io.influence.core.truth.DenseMath;
import io.influence.core.truth.Digits;
import io.influence.core.truth.LogisticRegression;
import io.influence.ekfac.Damping;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.spark.config.BlasThreads;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/*
 * Bench task "loo": influence predictions against retrained models.
 *
 * Convention (as in LeaveOneOutTest). A model minimises R(w) = (1/N) Σ_i m_i ℓ_i(w) + (α/2)‖w‖² with a
 * 0/1 mask m and N fixed, so removing point j is the upweighting ε = −1/N and, to first order, the test
 * loss changes by score(z_j, z_test)/N, where score = ∇L_testᵀ (H + αI)⁻¹ ∇ℓ_j is the engine's sign
 * convention (positive = upweighting z_j lowers the test loss). Retraining is Newton's method on the
 * masked objective, warm-started at ŵ, to ‖∇R‖ < 1e-10: the exact optimum, not a noisy re-run.
 *
 * 1. Leave-one-out (Koh and Liang 2017, Fig. 2) on real data: L2 logistic regression on handwritten digits 1
 *    vs 7 (Digits; the seed shuffles the 361 rows into train and held-out parts). For each of the held-out
 *    points with the highest loss, remove each of its `removed` training points with the largest |score|,
 *    retrain, and correlate predicted with actual change of its loss. Scores from the engine's path: CG on
 *    the exact Hessian operator (InverseHvpPreconditioner), one GEMM against all training gradients.
 *    Target (issue): Pearson ≥ 0.95.
 * 2. Linear datamodeling score (LDS, Park et al. 2023, TRAK) for the same model: `models` random subsets
 *    keeping `fraction` of the training points (seeded), retrained exactly; for each of `points` held-out
 *    points, Spearman between the predicted loss −Σ_{i∈S} score(i) (the additive first-order model; the
 *    constant and the 1/N do not change ranks) and the actual loss over the subsets; the mean over points.
 * 3. LDS for a tiny GPT-2 (TinyLm) trained with the engine's Trainer: the full model and `models` models
 *    retrained from the same initialisation and batch-order seed on random subsets (same number of steps),
 *    summed query loss as the actual value. Predictions from EK-FAC at the final model (fitted on the full
 *    training set, all tracked layers, the engine's default damping 0.1 × mean eigenvalue) and from TracInCP
 *    over the checkpoints of the full run. A stochastically trained network has no single optimum, so this
 *    LDS is far below the convex model's; no bar, reported as measured.
 *
 * Flags (-P key=value; quick/full defaults): loo.train (300 digits rows; the rest are held out), loo.alpha
 * (1e-2), loo.removed (40), loo.points (1/3); loo.lds.{models (30/50), fraction (0.5), points (10/20)};
 * loo.gpt2.{train (64/128), queries (8/16), models (6/30), fraction (0.5), checkpoints (4/5), retrains (1: models
 * per subset, each with its own batch order; above 1 the actual output is their mean, and gpt2.lds1.* and
 * gpt2.lds.retrain-agreement report one retrain and the noise ceiling)} and the TinyLm
 * keys under loo.gpt2 (steps 100/300).
 */
final class LeaveOneOutTask implements BenchTask {

  static final double LOO_BAR = 0.95;
  private static final double NEWTON_TOLERANCE = 1e-10;

  @Override
  public String name() {
    return "loo";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "influence vs retraining: leave-one-out on digits (logistic regression), LDS for logistic regression "
        + "and a tiny GPT-2";
  }

  @Override
  public BenchResult run(BenchOptions o) {
    BenchResult.Builder b = BenchResult.of(name());
    try (BlasThreads one = BlasThreads.set(1)) {
      Split split = split(o);
      leaveOneOut(o, b, split);
      logisticLds(o, b, split);
      gpt2Lds(o, b);
    }
    return b.build();
  }

  // ---------------------------------------------------------------- digits, logistic regression

  /** The digits shuffled by the seed: the first {@code train} rows train, the rest are held out. */
  private record Split(double[][] trainX, double[] trainY, double[][] testX, double[] testY, double alpha,
                       LogisticRegression model, double[] w, double[][] scores) {}

  private static Split split(BenchOptions o) {
    Digits all = Digits.oneVsSeven();
    int train = o.intParam("loo.train", 300, 300);
    double alpha = o.doubleParam("loo.alpha", 1e-2, 1e-2);
    if (train < 2 || train >= all.size()) {
      throw new IllegalArgumentException("-P loo.train=" + train + " must be in [2, " + all.size() + ") (the digits "
          + "have " + all.size() + " rows; the rest are held out)");
    }
    List<Integer> order = new ArrayList<>(IntStream.range(0, all.size()).boxed().toList());
    java.util.Collections.shuffle(order, new Random(o.seed()));
    double[][] x = order.stream().map(i -> all.x()[i]).toArray(double[][]::new);
    double[] y = order.stream().mapToDouble(i -> all.y()[i]).toArray();
    double[][] trainX = Arrays.copyOfRange(x, 0, train);
    double[] trainY = Arrays.copyOfRange(y, 0, train);
    double[][] testX = Arrays.copyOfRange(x, train, x.length);
    double[] testY = Arrays.copyOfRange(y, train, y.length);
    LogisticRegression model = new LogisticRegression(trainX, trainY, alpha);
    double[] w = model.fit(new double[Digits.FEATURES], LogisticRegression.all(train), NEWTON_TOLERANCE);

    // engine path: CG on the exact data Hessian (damping α), then one GEMM for every test × train score
    LinearOperator h = model.dataHessian(w, LogisticRegression.all(train));
    LayerLayout layout = LayerLayout.of(List.of(LogisticRegression.LAYER),
        Map.of(LogisticRegression.LAYER, new long[] {1, Digits.FEATURES}));
    InverseHvpPreconditioner pre = InverseHvpPreconditioner.of(IhvpSolver.conjugateGradient(alpha, 1e-12, 500), h,
        layout, true);
    List<String> queryIds = new ArrayList<>();
    List<Map<String, INDArray>> queries = new ArrayList<>();
    for (int i = 0; i < testX.length; i++) {
      queryIds.add("test-" + i);
      queries.add(pre.apply(LogisticRegression.asLayers(LogisticRegression.gradient(w, testX[i], testY[i]))));
    }
    List<String> trainIds = new ArrayList<>();
    List<Map<String, INDArray>> grads = new ArrayList<>();
    for (int i = 0; i < train; i++) {
      trainIds.add("train-" + i);
      grads.add(LogisticRegression.asLayers(LogisticRegression.gradient(w, trainX[i], trainY[i])));
    }
    double[][] scores = PairwiseScores.score(layout, queryIds, queries, trainIds, grads);
    return new Split(trainX, trainY, testX, testY, alpha, model, w, scores);
  }

  private static void leaveOneOut(BenchOptions o, BenchResult.Builder b, Split s) {
    long t0 = System.nanoTime();
    int removed = o.intParam("loo.removed", 40, 40);
    int points = o.intParam("loo.points", 1, 3);
    int n = s.trainX().length;
    if (removed < 3 || removed > n || points < 1 || points > s.testX().length) {
      throw new IllegalArgumentException("-P loo.removed=" + removed + " must be in [3, " + n + "] and -P loo.points="
          + points + " in [1, " + s.testX().length + "]");
    }
    boolean[] keep = LogisticRegression.all(n);
    int[] hardest = IntStream.range(0, s.testX().length).boxed()
        .sorted(Comparator.comparingDouble((Integer i) -> -LogisticRegression.loss(s.w(), s.testX()[i], s.testY()[i])))
        .limit(points).mapToInt(Integer::intValue).toArray();
    double[] pearson = new double[points];
    double[] spearman = new double[points];
    double[] slope = new double[points];
    for (int k = 0; k < points; k++) {
      int q = hardest[k];
      double[] score = s.scores()[q];
      double base = LogisticRegression.loss(s.w(), s.testX()[q], s.testY()[q]);
      int[] chosen = IntStream.range(0, n).boxed().sorted(Comparator.comparingDouble((Integer i) -> -Math.abs(score[i])))
          .limit(removed).mapToInt(Integer::intValue).toArray();
      double[] predicted = new double[removed];
      double[] actual = new double[removed];
      for (int r = 0; r < removed; r++) {
        int j = chosen[r];
        predicted[r] = score[j] / n;
        boolean[] without = keep.clone();
        without[j] = false;
        double[] wj = s.model().fit(s.w(), without, NEWTON_TOLERANCE);
        actual[r] = LogisticRegression.loss(wj, s.testX()[q], s.testY()[q]) - base;
      }
      pearson[k] = Stats.pearson(predicted, actual);
      spearman[k] = Stats.spearman(predicted, actual);
      slope[k] = DenseMath.dot(actual, predicted) / DenseMath.dot(predicted, predicted);
    }
    b.atLeast("lr.loo.pearson", mean(pearson), LOO_BAR);
    b.metric("lr.loo.pearson.min", Arrays.stream(pearson).min().orElseThrow());
    b.metric("lr.loo.spearman", mean(spearman));
    b.metric("lr.loo.slope", mean(slope));
    b.note(String.format(Locale.ROOT, "lr.loo: digits 1 vs 7, %d training rows (seed %d split), L2 %.1e; the %d "
            + "held-out point(s) with the highest loss, each without its %d largest-|score| training points, "
            + "retrained by Newton to |grad| < 1e-10; Pearson per point %s; slope = least-squares actual/predicted "
            + "(1 = right scale); %.1f s", n, o.seed(), s.alpha(), points, removed, Arrays.toString(round(pearson)),
        (System.nanoTime() - t0) / 1e9));
  }

  private static void logisticLds(BenchOptions o, BenchResult.Builder b, Split s) {
    long t0 = System.nanoTime();
    int models = o.intParam("loo.lds.models", 30, 50);
    double fraction = o.doubleParam("loo.lds.fraction", 0.5, 0.5);
    int points = Math.min(o.intParam("loo.lds.points", 10, 20), s.testX().length);
    int n = s.trainX().length;
    int kept = (int) Math.round(fraction * n);
    if (models < 3 || kept < 1 || kept >= n) {
      throw new IllegalArgumentException("-P loo.lds.models=" + models + " must be >= 3 and -P loo.lds.fraction="
          + fraction + " must keep between 1 and " + (n - 1) + " of " + n + " training points");
    }
    Random random = new Random(o.seed() + 17);
    double[][] predicted = new double[points][models];
    double[][] actual = new double[points][models];
    for (int m = 0; m < models; m++) {
      boolean[] keep = subset(random, n, kept);
      double[] wm = s.model().fit(s.w(), keep, NEWTON_TOLERANCE);
      for (int q = 0; q < points; q++) {
        actual[q][m] = LogisticRegression.loss(wm, s.testX()[q], s.testY()[q]);
        predicted[q][m] = -sumKept(s.scores()[q], keep);
      }
    }
    double[] lds = lds(predicted, actual);
    b.metric("lr.lds.spearman", mean(lds));
    b.metric("lr.lds.spearman.min", Arrays.stream(lds).min().orElseThrow());
    b.note(String.format(Locale.ROOT, "lr.lds: %d models each retrained (Newton, exact optimum) on a random %.0f%% of "
            + "the %d training rows; Spearman(predicted, actual test loss) for the first %d held-out points: %s; "
            + "%.1f s", models, 100 * fraction, n, points, Arrays.toString(round(lds)),
        (System.nanoTime() - t0) / 1e9));
  }

  // ---------------------------------------------------------------- tiny GPT-2

  private static void gpt2Lds(BenchOptions o, BenchResult.Builder b) {
    long t0 = System.nanoTime();
    TinyLm lm = TinyLm.from(o, "loo.gpt2", 100, 300, 1, 1);
    int n = o.intParam("loo.gpt2.train", 64, 128);
    int queries = o.intParam("loo.gpt2.queries", 8, 16);
    int models = o.intParam("loo.gpt2.models", 6, 30);
    int checkpoints = o.intParam("loo.gpt2.checkpoints", 4, 5);
    double fraction = o.doubleParam("loo.gpt2.fraction", 0.5, 0.5);
    int retrains = o.intParam("loo.gpt2.retrains", 1, 1);
    int kept = (int) Math.round(fraction * n);
    if (n < 4 || queries < 1 || models < 3 || checkpoints < 1 || kept < 1 || kept >= n || retrains < 1) {
      throw new IllegalArgumentException("loo.gpt2 needs train >= 4, queries >= 1, models >= 3, checkpoints >= 1 and "
          + "a fraction keeping 1.." + (n - 1) + " sequences; got " + n + ", " + queries + ", " + models + ", "
          + checkpoints + ", " + fraction);
    }
    TinyLm.Sample sample = lm.sample(o.seed() + 101, new Random(o.seed() + 102), n + queries);
    List<int[]> data = sample.sequences().subList(0, n);
    List<int[]> querySeqs = sample.sequences().subList(n, n + queries);
    long initSeed = o.seed() + 103;
    int every = Math.max(1, lm.steps() / checkpoints);
    TinyLm.Trained full = lm.train(data, initSeed, initSeed, every, o.workDir().resolve("gpt2-full"));
    CausalLm model = full.model().withDataType(DataType.DOUBLE);
    List<String> trainIds = IntStream.range(0, n).mapToObj(i -> "train-" + i).toList();
    List<String> queryIds = IntStream.range(0, queries).mapToObj(i -> "query-" + i).toList();

    // EK-FAC at the final model, every tracked layer
    GradientExtractor extractor = new GradientExtractor(model, Map.of(), 32);
    List<ExampleGradient> trainGrads = extractor.extract(trainIds, data, null);
    List<ExampleGradient> queryGrads = extractor.extract(queryIds, querySeqs, null);
    LayerLayout layout = LayerLayout.ofExample(model.linearLayers(), trainGrads.get(0).layers());
    Preconditioner ekfac = KroneckerPreconditioners.ekfac(InMemoryEkfac.fit(model, data, model.linearLayers()),
        Damping.DEFAULT);
    double[][] ekfacScores = PairwiseScores.score(layout, queryIds,
        queryGrads.stream().map(g -> ekfac.apply(g.layers())).toList(), trainIds,
        trainGrads.stream().map(ExampleGradient::layers).toList());
    double[][] gradScores = PairwiseScores.score(layout, queryIds,
        queryGrads.stream().map(ExampleGradient::layers).toList(), trainIds,
        trainGrads.stream().map(ExampleGradient::layers).toList());

    // TracInCP over the saved checkpoints of the full run, on raw and on Adam-scaled gradients (each checkpoint's
    // AdamW state, both sides; issue 16's option), each checkpoint loaded once
    List<CheckpointGradients> perCheckpoint = new ArrayList<>();
    List<CheckpointGradients> adamCheckpoints = new ArrayList<>();
    AdamScaling lastAdam = null;
    for (RunCheckpoint c : full.run().checkpoints()) {
      CausalLm at = load(c);
      lastAdam = adam(at, c);
      perCheckpoint.add(gradients(c, new GradientExtractor(at, Map.of(), 32), queryIds, querySeqs, trainIds, data));
      adamCheckpoints.add(gradients(c, new GradientExtractor(at, Map.of(), 32, lastAdam), queryIds, querySeqs,
          trainIds, data));
    }
    double[][] tracin = TracInCp.scores(layout, CheckpointSource.of(perCheckpoint)).total();
    // the other options on the same run: unit-normalised (cosine) TracIn, Adam-aware TracIn, both, and EK-FAC in
    // Adam's coordinates at the final model
    Map<String, double[][]> options = new java.util.LinkedHashMap<>();
    options.put("tracin-unit", TracInCp.scores(layout, CheckpointSource.of(unit(perCheckpoint))).total());
    options.put("tracin-adam", TracInCp.scores(layout, CheckpointSource.of(adamCheckpoints)).total());
    options.put("tracin-adam-unit", TracInCp.scores(layout, CheckpointSource.of(unit(adamCheckpoints))).total());
    Preconditioner ekfacAdam = KroneckerPreconditioners.ekfac(InMemoryEkfac.fitAdam(model, data, model.linearLayers(),
        lastAdam, true), Damping.DEFAULT);
    CheckpointGradients lastScaled = adamCheckpoints.get(adamCheckpoints.size() - 1);
    options.put("ekfac-adam", PairwiseScores.score(layout, queryIds,
        lastScaled.queries().stream().map(g -> ekfacAdam.apply(g.layers())).toList(), trainIds,
        lastScaled.train().stream().map(ExampleGradient::layers).toList()));
    long tFull = System.nanoTime();

    Random random = new Random(o.seed() + 104);
    double[][] actual = new double[queries][models];          // mean over the retrains of each subset
    double[][][] perRetrain = new double[retrains][queries][models];
    double[][] predEkfac = new double[queries][models];
    double[][] predTracin = new double[queries][models];
    double[][] predGrad = new double[queries][models];
    Map<String, double[][]> predOptions = new java.util.LinkedHashMap<>();
    options.keySet().forEach(k -> predOptions.put(k, new double[queries][models]));
    TokenBatch queryBatch = TokenBatch.of(querySeqs.toArray(new int[0][]));
    for (int m = 0; m < models; m++) {
      boolean[] keep = subset(random, n, kept);
      List<int[]> subsetData = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        if (keep[i]) {
          subsetData.add(data.get(i));
        }
      }
      // retrain r > 0: same initialisation and subset, another batch order: the training noise that LDS averages
      for (int r = 0; r < retrains; r++) {
        TinyLm.Trained t = lm.train(subsetData, initSeed, initSeed + 7919L * r, lm.steps(),
            o.workDir().resolve("gpt2-subset-" + m + (r == 0 ? "" : "-retrain-" + r)));
        double[] losses = t.model().withDataType(DataType.DOUBLE).losses(queryBatch);
        for (int q = 0; q < queries; q++) {
          perRetrain[r][q][m] = losses[q];
          actual[q][m] += losses[q] / retrains;
        }
      }
      for (int q = 0; q < queries; q++) {
        predEkfac[q][m] = -sumKept(ekfacScores[q], keep);
        predTracin[q][m] = -sumKept(tracin[q], keep);
        predGrad[q][m] = -sumKept(gradScores[q], keep);
        for (Map.Entry<String, double[][]> e : options.entrySet()) {
          predOptions.get(e.getKey())[q][m] = -sumKept(e.getValue()[q], keep);
        }
      }
      System.err.printf(Locale.ROOT, "[bench] loo: GPT-2 subset model %d/%d trained%n", m + 1, models);
    }
    double[] ldsEkfac = lds(predEkfac, actual);
    double[] ldsTracin = lds(predTracin, actual);
    double[] ldsGrad = lds(predGrad, actual);
    b.metric("gpt2.lds.ekfac", mean(ldsEkfac));
    b.metric("gpt2.lds.tracin", mean(ldsTracin));
    b.metric("gpt2.lds.gradient", mean(ldsGrad));
    if (retrains > 1) {
      // against one retrain per subset (what retrains = 1 measures), and the noise ceiling: how well one retrain's
      // losses rank the subsets like another's (Spearman per query between retrains 0 and 1, averaged)
      b.metric("gpt2.lds1.ekfac", mean(lds(predEkfac, perRetrain[0])));
      b.metric("gpt2.lds1.tracin", mean(lds(predTracin, perRetrain[0])));
      for (Map.Entry<String, double[][]> e : predOptions.entrySet()) {
        b.metric("gpt2.lds1." + e.getKey(), mean(lds(e.getValue(), perRetrain[0])));
      }
      b.metric("gpt2.lds.retrain-agreement", mean(lds(perRetrain[1], perRetrain[0])));
    }
    List<String> optionLds = new ArrayList<>();
    for (Map.Entry<String, double[][]> e : predOptions.entrySet()) {
      double[] l = lds(e.getValue(), actual);
      b.metric("gpt2.lds." + e.getKey(), mean(l));
      optionLds.add(e.getKey() + " " + Arrays.toString(round(l)));
    }
    b.note("gpt2.lds options, per query: " + String.join("; ", optionLds) + " (tracin-unit: cosines per checkpoint; "
        + "tracin-adam: gradients divided by sqrt(v_hat) + eps of each checkpoint's AdamW state, both sides; "
        + "ekfac-adam: EK-FAC in Adam's coordinates at the final model, fit as fit-ekfac fits an Adam store)");
    b.note(String.format(Locale.ROOT, "gpt2.lds: %d layer(s) of width %d, vocabulary %d, %d topics, %d-token "
            + "sequences; %d models each trained %d steps (AdamW, lr %.3g, batch %d, same initialisation) on a random "
            + "%.0f%% of %d training sequences, " + retrains + " batch order(s) per subset; actual = summed loss of each "
            + "of %d query sequences (mean over the retrains); EK-FAC per query %s; "
            + "TracInCP over %d checkpoints per query %s; 'gradient' = plain inner product at the final model; "
            + "full run %.1f s (last batch loss %.3f), all %.1f s", lm.layers(), lm.width(), lm.vocab(), lm.topics(),
        lm.seq(), models, lm.steps(), lm.learningRate(), lm.batch(), 100 * fraction, n, queries,
        Arrays.toString(round(ldsEkfac)), perCheckpoint.size(), Arrays.toString(round(ldsTracin)),
        (tFull - t0) / 1e9, full.lastLoss(), (System.nanoTime() - t0) / 1e9));
  }

  /** Checkpoint {@code c}'s query and training gradients by {@code e}. */
  private static CheckpointGradients gradients(RunCheckpoint c, GradientExtractor e, List<String> queryIds,
      List<int[]> queries, List<String> trainIds, List<int[]> train) {
    return new CheckpointGradients("checkpoint-" + c.step(), c.learningRate(), e.extract(queryIds, queries, null),
        e.extract(trainIds, train, null));
  }

  /** Every gradient of {@code checkpoints} divided by its norm over all layers (cosine TracIn). */
  private static List<CheckpointGradients> unit(List<CheckpointGradients> checkpoints) {
    List<CheckpointGradients> out = new ArrayList<>();
    for (CheckpointGradients c : checkpoints) {
      out.add(new CheckpointGradients(c.checkpoint(), c.learningRate(), unitEach(c.queries()), unitEach(c.train())));
    }
    return out;
  }

  private static List<ExampleGradient> unitEach(List<ExampleGradient> gradients) {
    List<ExampleGradient> out = new ArrayList<>();
    for (ExampleGradient g : gradients) {
      double sq = 0;
      for (INDArray l : g.layers().values()) {
        sq += l.castTo(DataType.DOUBLE).mul(l.castTo(DataType.DOUBLE)).sumNumber().doubleValue();
      }
      double norm = Math.sqrt(sq);
      Map<String, INDArray> scaled = new java.util.LinkedHashMap<>();
      g.layers().forEach((k, v) -> scaled.put(k, norm > 0 ? v.div(norm) : v.dup()));
      out.add(new ExampleGradient(g.id(), scaled));
    }
    return out;
  }

  private static AdamScaling adam(CausalLm at, RunCheckpoint c) {
    try {
      return AdamScaling.of(at, at.linearLayers(), io.influence.checkpoints.OptimizerState.read(c.dir()));
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("optimizer state of " + c.dir() + " just written is unreadable: "
          + e.getMessage(), e);
    }
  }

  private static CausalLm load(RunCheckpoint c) {
    try {
      return CausalLm.load(c.dir(), DataType.DOUBLE);
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("checkpoint " + c.dir() + " just written is unreadable: " + e.getMessage(), e);
    }
  }

  // ---------------------------------------------------------------- shared

  /** A uniformly random subset of exactly {@code kept} of {@code n} indices. */
  static boolean[] subset(Random random, int n, int kept) {
    List<Integer> order = new ArrayList<>(IntStream.range(0, n).boxed().toList());
    java.util.Collections.shuffle(order, random);
    boolean[] keep = new boolean[n];
    for (int i = 0; i < kept; i++) {
      keep[order.get(i)] = true;
    }
    return keep;
  }

  static double sumKept(double[] scores, boolean[] keep) {
    double s = 0;
    for (int i = 0; i < keep.length; i++) {
      if (keep[i]) {
        s += scores[i];
      }
    }
    return s;
  }

  /** Spearman between predicted and actual over the models, per query ([query][model] inputs). */
  static double[] lds(double[][] predicted, double[][] actual) {
    double[] out = new double[predicted.length];
    for (int q = 0; q < out.length; q++) {
      out[q] = Stats.spearman(predicted[q], actual[q]);
    }
    return out;
  }

  private static double mean(double[] v) {
    return Arrays.stream(v).average().orElseThrow();
  }

  private static double[] round(double[] v) {
    return Arrays.stream(v).map(x -> Math.round(x * 1000) / 1000.0).toArray();
  }
}
