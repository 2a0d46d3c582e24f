package io.influence.bench;

import io.influence.checkpoints.TrainingLog;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.Stats;
import io.influence.core.sgdinfluence.LmReplay;
import io.influence.core.sgdinfluence.ReplayModel;
import io.influence.core.sgdinfluence.SgdInfluence;
import io.influence.core.train.Initialization;
import io.influence.core.train.LearningRateSchedule;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;
import io.influence.core.truth.Digits;
import io.influence.spark.config.BlasThreads;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;

/*
 * Bench task "sgd-influence": SGD-influence (Hara et al. 2019) against real counterfactual retraining.
 *
 * Counterfactual (Hara et al.'s): the same seeded run (same initialisation, same batches, same rates)
 * with one training point's terms removed from the batches it was drawn into, each batch's divisor
 * unchanged. The figure is the Pearson correlation, per query, between the predicted and the actual
 * change of the query loss over every removed point; the mean over queries is reported.
 *
 * 1. Convex: L2 logistic regression (α = 0.01, per-example loss log(1+e^z) − yz + α/2‖w‖²) on digits 1 vs 7
 *    (Digits, real data; the seed shuffles the rows), minibatch SGD from w = 0, batch `lr.batch`, `lr.epochs`
 *    seeded epochs, rate `lr.rate`/(1 + 0.01 t); every training point removed in turn; queries = the
 *    `lr.points` held-out points with the highest loss. Hara et al. report close agreement here.
 * 2. Non-convex: a tiny GPT-2 (TinyLm language and sizes under gpt2.*) trained by the engine's Trainer with
 *    plain SGD (constant rate `gpt2.lr`, batch `gpt2.batch`, no clipping, `gpt2.epochs` epochs) on
 *    `gpt2.train` sequences; the run is replayed from its training log (LmReplay: bit-exact forward replay,
 *    float64 backward replay with finite-difference HVPs); every training sequence removed in turn and the
 *    model retrained with Trainer.trainWithout; queries = `gpt2.queries` held-out sequences. No bar: reported
 *    as measured.
 *
 * Flags (-P key=value; quick/full): lr.train (200/300), lr.batch (10), lr.epochs (5), lr.rate (0.05),
 * lr.points (2/3); gpt2.train (32/48), gpt2.queries (1/3), gpt2.batch (4), gpt2.epochs (3), gpt2.lr (0.1)
 * and TinyLm's keys under gpt2 (layers 1/2).
 */
final class SgdInfluenceTask implements BenchTask {

  @Override
  public String name() {
    return "sgd-influence";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "SGD-influence vs counterfactual retraining without each training point: logistic regression (digits) "
        + "and a tiny GPT-2 trained with SGD";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    BenchResult.Builder b = BenchResult.of(name());
    try (BlasThreads one = BlasThreads.set(1)) {
      logistic(o, b);
      gpt2(o, b);
    }
    return b.build();
  }

  // ---------------------------------------------------------------- logistic regression on digits

  private static final double ALPHA = 0.01;

  /** L2 logistic regression with exact gradients and Hessians, as a ReplayModel. */
  private static final class Logistic implements ReplayModel {
    final double[][] x;
    final double[] y;
    double[] w;

    Logistic(double[][] x, double[] y) {
      this.x = x;
      this.y = y;
      this.w = new double[x[0].length];
    }

    @Override
    public int dim() {
      return w.length;
    }

    @Override
    public void setParameters(double[] theta) {
      w = theta.clone();
    }

    static double dot(double[] a, double[] b) {
      double s = 0;
      for (int i = 0; i < a.length; i++) {
        s += a[i] * b[i];
      }
      return s;
    }

    double[] gradient(double[] xi, double yi) {
      double r = 1 / (1 + Math.exp(-dot(xi, w))) - yi;
      double[] g = new double[w.length];
      for (int k = 0; k < g.length; k++) {
        g[k] = r * xi[k] + ALPHA * w[k];
      }
      return g;
    }

    double loss(double[] xi, double yi) {
      double z = dot(xi, w);
      return (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - yi * z + 0.5 * ALPHA * dot(w, w);
    }

    @Override
    public double[][] exampleGradients(int[] examples) {
      double[][] out = new double[examples.length][];
      for (int b = 0; b < examples.length; b++) {
        out[b] = gradient(x[examples[b]], y[examples[b]]);
      }
      return out;
    }

    @Override
    public double[][] hessianSums(int[] examples, double[][] vectors) {
      double[][] out = new double[vectors.length][w.length];
      for (int i : examples) {
        double p = 1 / (1 + Math.exp(-dot(x[i], w)));
        for (int v = 0; v < vectors.length; v++) {
          double s = p * (1 - p) * dot(x[i], vectors[v]);
          for (int k = 0; k < w.length; k++) {
            out[v][k] += s * x[i][k] + ALPHA * vectors[v][k];
          }
        }
      }
      return out;
    }

    /** SGD along {@code steps} from 0 with {@code leftOut} (or -1) removed; the trajectory θ_0..θ_{T−1}. */
    List<double[]> train(List<TrainingLog.Step> steps, int leftOut) {
      w = new double[w.length];
      List<double[]> trajectory = new ArrayList<>();
      for (TrainingLog.Step s : steps) {
        trajectory.add(w.clone());
        double[] sum = new double[w.length];
        for (int i : s.examples()) {
          if (i != leftOut) {
            double[] g = gradient(x[i], y[i]);
            for (int k = 0; k < sum.length; k++) {
              sum[k] += g[k];
            }
          }
        }
        double c = s.learningRate() / s.lossDivisor();
        for (int k = 0; k < sum.length; k++) {
          w[k] -= c * sum[k];
        }
      }
      return trajectory;
    }
  }

  private static void logistic(BenchOptions o, BenchResult.Builder b) {
    long t0 = System.nanoTime();
    Digits all = Digits.oneVsSeven();
    int n = o.intParam("lr.train", 200, 300);
    int batch = o.intParam("lr.batch", 10, 10);
    int epochs = o.intParam("lr.epochs", 5, 5);
    double rate = o.doubleParam("lr.rate", 0.05, 0.05);
    int points = o.intParam("lr.points", 2, 3);
    if (n < 2 || n >= all.size() || batch < 1 || batch > n || epochs < 1 || points < 1 || points > all.size() - n) {
      throw new IllegalArgumentException("-P lr.train=" + n + " must be in [2, " + all.size() + "), lr.batch in [1, "
          + "lr.train], lr.epochs >= 1, lr.points in [1, held-out rows]");
    }
    List<Integer> order = new ArrayList<>(IntStream.range(0, all.size()).boxed().toList());
    Collections.shuffle(order, new Random(o.seed()));
    double[][] x = order.stream().map(i -> all.x()[i]).toArray(double[][]::new);
    double[] y = order.stream().mapToDouble(i -> all.y()[i]).toArray();
    Logistic model = new Logistic(Arrays.copyOf(x, n), Arrays.copyOf(y, n));
    Random random = new Random(o.seed() + 1);
    List<TrainingLog.Step> steps = new ArrayList<>();
    for (int e = 0; e < epochs; e++) {
      List<Integer> perm = new ArrayList<>(IntStream.range(0, n).boxed().toList());
      Collections.shuffle(perm, random);
      for (int s = 0; s + batch <= n; s += batch) {
        int t = steps.size() + 1;
        steps.add(new TrainingLog.Step(t, rate / (1 + 0.01 * t), perm.subList(s, s + batch).stream()
            .mapToInt(Integer::intValue).toArray(), batch, 1));
      }
    }
    List<double[]> trajectory = model.train(steps, -1);
    double[] finalW = model.w.clone();
    int[] queries = IntStream.range(n, x.length).boxed()
        .sorted((i, j) -> Double.compare(model.loss(x[j], y[j]), model.loss(x[i], y[i])))
        .limit(points).mapToInt(Integer::intValue).toArray();
    double[][] qg = new double[points][];
    double[] base = new double[points];
    for (int q = 0; q < points; q++) {
      qg[q] = model.gradient(x[queries[q]], y[queries[q]]);
      base[q] = model.loss(x[queries[q]], y[queries[q]]);
    }
    double[][] predicted = SgdInfluence.queryScores(model, trajectory, steps, qg, n);
    double[][] actual = new double[points][n];
    for (int j = 0; j < n; j++) {
      model.train(steps, j);
      for (int q = 0; q < points; q++) {
        actual[q][j] = model.loss(x[queries[q]], y[queries[q]]) - base[q];
      }
    }
    model.setParameters(finalW);
    double[] pearson = new double[points];
    for (int q = 0; q < points; q++) {
      pearson[q] = Stats.pearson(predicted[q], actual[q]);
    }
    b.metric("lr.sgd_influence.pearson", mean(pearson));
    b.metric("lr.sgd_influence.pearson.min", Arrays.stream(pearson).min().orElseThrow());
    b.note(String.format(Locale.ROOT, "lr: digits 1 vs 7, %d training rows, %d SGD steps (batch %d, rate %.3g/(1+0.01t)), "
            + "L2 %.0e; %d held-out queries with the highest loss, each point removed in turn (%d retrainings); "
            + "Pearson per query %s; %.1f s", n, steps.size(), batch, rate, ALPHA, points, n, Arrays.toString(round(pearson)),
        (System.nanoTime() - t0) / 1e9));
  }

  // ---------------------------------------------------------------- tiny GPT-2 trained with SGD

  private static void gpt2(BenchOptions o, BenchResult.Builder b) throws Exception {
    long t0 = System.nanoTime();
    TinyLm lm = TinyLm.from(o, "gpt2", 1, 1, 1, 2);
    int n = o.intParam("gpt2.train", 32, 48);
    int queries = o.intParam("gpt2.queries", 1, 3);
    int batch = o.intParam("gpt2.batch", 4, 4);
    int epochs = o.intParam("gpt2.epochs", 3, 3);
    double rate = o.doubleParam("gpt2.lr", 0.1, 0.1);
    if (n < 2 || queries < 1 || batch < 1 || epochs < 1 || !(rate > 0)) {
      throw new IllegalArgumentException("-P gpt2.train >= 2, gpt2.queries/batch/epochs >= 1 and gpt2.lr > 0 are needed");
    }
    Random random = new Random(o.seed());
    TinyLm.Sample sample = lm.sample(o.seed(), random, n + queries);
    List<int[]> corpus = sample.sequences().subList(0, n);
    List<TokenBatch> query = new ArrayList<>();
    for (int q = 0; q < queries; q++) {
      query.add(TokenBatch.of(sample.sequences().get(n + q)));
    }
    int steps = epochs * n / batch;
    Trainer.Settings settings = new Trainer.Settings(Optimizer.sgd(0), LearningRateSchedule.constant(rate), steps, batch,
        steps, 0, o.seed() + 2);
    long initSeed = o.seed() + 3;
    CausalLm model = Initialization.gpt2(lm.config(), initSeed, DataType.FLOAT);
    Path runDir = o.workDir().resolve("sgd-influence-run");
    Trainer.train(model, corpus, settings, runDir, Optional.empty(), s -> { });
    CausalLm trained = model.withDataType(DataType.DOUBLE);
    double[] base = new double[queries];
    for (int q = 0; q < queries; q++) {
      base[q] = trained.losses(query.get(q))[0];
    }
    long t1 = System.nanoTime();
    LmReplay replay = LmReplay.open(runDir, corpus);
    double[][] predicted = replay.scores(query);
    long t2 = System.nanoTime();
    double[][] actual = new double[queries][n];
    for (int j = 0; j < n; j++) {
      CausalLm retrained = Initialization.gpt2(lm.config(), initSeed, DataType.FLOAT);
      Trainer.trainWithout(retrained, corpus, settings, j);
      CausalLm r64 = retrained.withDataType(DataType.DOUBLE);
      for (int q = 0; q < queries; q++) {
        actual[q][j] = r64.losses(query.get(q))[0] - base[q];
      }
    }
    double[] pearson = new double[queries];
    for (int q = 0; q < queries; q++) {
      pearson[q] = Stats.pearson(predicted[q], actual[q]);
    }
    b.metric("gpt2.sgd_influence.pearson", mean(pearson));
    b.metric("gpt2.sgd_influence.pearson.min", Arrays.stream(pearson).min().orElseThrow());
    b.metric("gpt2.sgd_influence.replay_error", replay.replayError());
    b.note(String.format(Locale.ROOT, "gpt2: %s; %d training sequences, %d SGD steps (batch %d, rate %.3g, no clipping), "
            + "%d parameters; %d held-out queries, each sequence removed in turn (%d retrainings with "
            + "Trainer.trainWithout); Pearson per query %s; replay of the final checkpoint off by %.3g; "
            + "scores %.1f s, retraining %.1f s", lm.config(), n, steps, batch, rate, replay.dim(), queries, n,
        Arrays.toString(round(pearson)), replay.replayError(), (t2 - t1) / 1e9, (System.nanoTime() - t2) / 1e9));
  }

  private static double mean(double[] v) {
    return Arrays.stream(v).average().orElse(Double.NaN);
  }

  private static double[] round(double[] v) {
    return Arrays.stream(v).map(d -> Math.round(d * 1000) / 1000.0).toArray();
  }
}
