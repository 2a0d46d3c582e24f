package io.influence.bench;

import io.influence.checkpoints.OptimizerState;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.AdamScaling;

import io.influence.core.grad.GradientExtractor;
import io.influence.core.grad.Preconditioner;
import io.influence.core.grad.TokenFactors;
import io.influence.core.hvp.GaussNewtonOperator;
import io.influence.core.hvp.HessianOperator;
import io.influence.core.hvp.TrainingSequences;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.Stats;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.InverseHvpPreconditioner;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.truth.DenseMath;
import io.influence.core.truth.MultinomialLogisticRegression;
import io.influence.ekfac.CovarianceAccumulator;
import io.influence.ekfac.Damping;
import io.influence.ekfac.EigenvalueCorrection;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.ekfac.LayerFactors;
import io.influence.spark.config.BlasThreads;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * Bench task "exactness": influence scores g_qᵀ (M + λI)⁻¹ g_t of TRAIN × QUERIES pairs from each engine
 * method against the exact damped solve, Pearson and Spearman over all pairs.
 *
 * Truth: M formed column by column from exact curvature-vector products (DenseMath.matrix), solved by
 * float64 Cholesky. λ = fraction · trace(M)/dim (the engine's default EK-FAC rule, 0.1 of the mean
 * eigenvalue), the same absolute λ for every method so that only the solve differs.
 *
 * 1. Multinomial logistic regression (one linear layer, C classes, D features + bias; data drawn from a
 *    seeded softmax model with weak signal, correlated anisotropic features, as in the ekfac tests), fitted
 *    by Newton's method with a small L2 term. M = its data Hessian, which for this model is also its GGN.
 *    CG and LiSSA on the exact operator; K-FAC and EK-FAC fitted on the GGN itself: the output-gradient
 *    covariance takes the expectation over model labels exactly (each example contributes g = p − e_c with
 *    weight p_c for every class c), so what differs from the truth is only the Kronecker structure.
 *    Targets (methods issue): CG ≥ 0.9999, LiSSA ≥ 0.99, EK-FAC ≥ 0.98 (Pearson).
 * 2. Tiny GPT-2 (TinyLm, trained on its generated language), restricted to a few tracked layers. M = the
 *    exact GGN of the mean training loss (GaussNewtonOperator) and, for CG and LiSSA, also the true Hessian
 *    (HessianOperator, damped above |λ_min| since it is indefinite). K-FAC and EK-FAC are fitted the way the
 *    fit-ekfac stage fits them, on the empirical Fisher (the data's own next tokens), so they are compared
 *    with both the exact damped GGN and the exact damped empirical Fisher (1/N) Σ g gᵀ of the same layers.
 *    The same fit on the true Fisher (ekfac.fisher = true: labels sampled from the model's softmax, 1 or more draws
 *    per position) is compared with the exact damped GGN, which is that Fisher's expectation.
 *    No bar here (the issue sets none): block-diagonal Kronecker factors of a transformer are an
 *    approximation, reported as measured. "identity" (the plain gradient inner product, TracIn at one
 *    checkpoint) is the baseline a preconditioner should beat.
 *
 * 3. Tiny Llama: the same as 2 for the Llama of the same sizes (TinyLm.llamaConfig: RMSNorm, rotary positions,
 *    SwiGLU, grouped-query attention), trained by our trainer on the same language; metrics llama.*, flags
 *    exactness.llama.* as exactness.gpt2.* (tracked model.layers.N.self_attn.o_proj), exactness.llama.enabled (1).
 *    The Adam and preconditioning rows run on GPT-2 only.
 *
 * Flags (-P key=value; quick/full defaults): exactness.train (50/100) and exactness.queries (5/5) scored pairs;
 * exactness.damping (0.1, × mean eigenvalue); exactness.lr.{n (400), features (6), classes (4), signal (0.1),
 * alpha (1e-3), lissa-depth (20000)}; exactness.gpt2.{sequences (50/100: the curvature's training set), track
 * (h.0.attn.c_proj / h.0.attn.c_proj,h.1.attn.c_proj), lissa-depth (200/400), hessian (0/1), defaults (0/1: the
 * engine's default CG and LiSSA, SolverDefaults; logistic regression always has them),
 * hessian-lissa-depth (700), fisher-samples (1 / 1,4,16: label draws per position of
 * the true-Fisher fits)} and the TinyLm keys under exactness.gpt2 (layers 1/2, steps 100/200).
 */
final class ExactnessTask implements BenchTask {

  static final double CG_BAR = 0.9999;
  static final double LISSA_BAR = 0.99;
  static final double EKFAC_LR_BAR = 0.98;
  /** LiSSA's scale: this factor times λ_max + λ (it converges only above λ_max + λ). */
  private static final double LISSA_MARGIN = 1.05;

  @Override
  public String name() {
    return "exactness";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "CG, LiSSA, K-FAC, EK-FAC scores vs the exact damped GGN/Hessian solve (logistic regression, tiny GPT-2, "
        + "tiny Llama)";
  }

  /** Flattened train and query gradients of one problem, in one layout. */
  private record Pairs(LayerLayout layout, List<double[]> train, List<double[]> queries) {
    Map<String, INDArray> queryMap(int q) {
      return layout.fromVector(queries.get(q), DataType.DOUBLE);
    }

    /** Scores [query][train] flattened, with {@code x_q} from {@code solve}. */
    double[] scores(java.util.function.IntFunction<double[]> solvedQuery) {
      double[] out = new double[queries.size() * train.size()];
      for (int q = 0; q < queries.size(); q++) {
        double[] x = solvedQuery.apply(q);
        for (int t = 0; t < train.size(); t++) {
          out[q * train.size() + t] = DenseMath.dot(x, train.get(t));
        }
      }
      return out;
    }
  }

  @Override
  public BenchResult run(BenchOptions o) {
    int train = o.intParam("exactness.train", 50, 100);
    int queries = o.intParam("exactness.queries", 5, 5);
    double fraction = o.doubleParam("exactness.damping", 0.1, 0.1);
    if (train < 2 || queries < 1 || !(fraction > 0)) {
      throw new IllegalArgumentException("exactness needs -P exactness.train >= 2, exactness.queries >= 1 and "
          + "exactness.damping > 0; got " + train + ", " + queries + ", " + fraction);
    }
    BenchResult.Builder b = BenchResult.of(name());
    try (BlasThreads one = BlasThreads.set(1)) {
      logistic(o, b, train, queries, fraction);
      transformer(o, b, train, queries, fraction, false);
      if (o.intParam("exactness.llama.enabled", 1, 1) != 0) {
        transformer(o, b, train, queries, fraction, true);
      }
    }
    return b.build();
  }

  // ---------------------------------------------------------------- multinomial logistic regression

  private void logistic(BenchOptions o, BenchResult.Builder b, int train, int queries, double fraction) {
    long t0 = System.nanoTime();
    int n = o.intParam("exactness.lr.n", 400, 400);
    int d = o.intParam("exactness.lr.features", 6, 6);
    int classes = o.intParam("exactness.lr.classes", 4, 4);
    double signal = o.doubleParam("exactness.lr.signal", 0.1, 0.1);
    double alpha = o.doubleParam("exactness.lr.alpha", 1e-3, 1e-3);
    if (train > n) {
      throw new IllegalArgumentException("-P exactness.train=" + train + " exceeds -P exactness.lr.n=" + n);
    }
    Random rnd = new Random(o.seed());
    double[] wTrue = new double[classes * (d + 1)];
    for (int k = 0; k < wTrue.length; k++) {
      wTrue[k] = signal * rnd.nextGaussian();
    }
    double[][] x = new double[n + queries][];
    int[] y = new int[n + queries];
    for (int i = 0; i < x.length; i++) {
      x[i] = feature(rnd, d);
      y[i] = sample(MultinomialLogisticRegression.softmax(wTrue, classes, x[i]), rnd);
    }
    MultinomialLogisticRegression model = new MultinomialLogisticRegression(Arrays.copyOf(x, n), Arrays.copyOf(y, n),
        classes, alpha);
    double[] w = model.fit(1e-10);
    LinearOperator h = model.dataHessian(w);
    double[][] m = DenseMath.matrix(h);
    double[] eig = DenseMath.eigenvalues(m);
    double lambda = fraction * mean(eig);
    List<double[]> tg = new ArrayList<>();
    List<double[]> qg = new ArrayList<>();
    for (int i = 0; i < train; i++) {
      tg.add(model.gradient(w, x[i], y[i]));
    }
    for (int i = n; i < n + queries; i++) {
      qg.add(model.gradient(w, x[i], y[i]));
    }
    Pairs p = new Pairs(model.layout(), tg, qg);
    double[] exact = p.scores(q -> DenseMath.solve(m, lambda, qg.get(q)));

    // EK-FAC / K-FAC of the GGN: the label expectation taken exactly (weights p_c)
    String layer = MultinomialLogisticRegression.LAYER;
    CovarianceAccumulator cov = new CovarianceAccumulator(layer, d + 1, classes);
    List<TokenFactors> factors = new ArrayList<>();
    List<Double> weights = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      double[] prob = model.probabilities(w, x[i]);
      for (int c = 0; c < classes; c++) {
        factors.add(new TokenFactors(layer, Nd4j.create(x[i], new long[] {1, d + 1}, 'c'),
            Nd4j.create(MultinomialLogisticRegression.residual(prob, c), new long[] {1, classes}, 'c')));
        weights.add(prob[c]);
      }
    }
    for (int k = 0; k < factors.size(); k++) {
      cov.add(factors.get(k), weights.get(k), "row " + k / classes);
    }
    LayerFactors base = LayerFactors.fromCovariances(cov.finish());
    EigenvalueCorrection corr = new EigenvalueCorrection(base);
    for (int k = 0; k < factors.size(); k++) {
      corr.add(factors.get(k), weights.get(k), "row " + k / classes);
    }
    LayerFactors fitted = base.withCorrection(corr.finish(), corr.examples());

    String pre = "lr.";
    compare(b, pre + "cg", exact, cg(h, p, lambda, b, pre + "cg"), CG_BAR);
    compare(b, pre + "lissa", exact, lissa(h, p, lambda, eig[eig.length - 1],
        o.intParam("exactness.lr.lissa-depth", 20_000, 20_000), b, pre + "lissa"), LISSA_BAR);
    compare(b, pre + "kfac", exact, preconditioned(KroneckerPreconditioners.kfac(Map.of(layer, fitted),
        Damping.absolute(lambda)), p), Double.NaN);
    compare(b, pre + "ekfac", exact, preconditioned(KroneckerPreconditioners.ekfac(Map.of(layer, fitted),
        Damping.absolute(lambda)), p), EKFAC_LR_BAR);
    compare(b, pre + "identity", exact, p.scores(qg::get), Double.NaN);
    SolverDefaults.compare(b, "lr", h, m, tg, qg);
    b.note(String.format(Locale.ROOT, "lr: multinomial logistic regression, N=%d, %d features + bias, %d classes, "
            + "signal %.3g, L2 %.1e, %d parameters; GGN (= Hessian) eigenvalues [%.3e, %.3e], damping %.3e "
            + "(%.3g x mean eigenvalue); %d train x %d query pairs; %.1f s", n, d, classes, signal, alpha, model.dim(),
        eig[0], eig[eig.length - 1], lambda, fraction, train, queries, (System.nanoTime() - t0) / 1e9));
  }

  private static double[] feature(Random rnd, int d) {
    double[] x = new double[d + 1];
    double z = rnd.nextGaussian();
    for (int j = 0; j < d; j++) {
      x[j] = (rnd.nextGaussian() + 0.6 * z) * (0.3 + 0.5 * j);
    }
    x[d] = 1;
    return x;
  }

  private static int sample(double[] p, Random rnd) {
    double u = rnd.nextDouble();
    for (int c = 0; c < p.length - 1; c++) {
      u -= p[c];
      if (u < 0) {
        return c;
      }
    }
    return p.length - 1;
  }

  // ---------------------------------------------------------------- tiny GPT-2

  /**
   * The tiny transformer part: GPT-2 (metrics {@code gpt2.*}, flags {@code exactness.gpt2.*}) or, with
   * {@code llama}, the Llama of the same sizes ({@link TinyLm#llamaConfig}: RMSNorm, rotary positions, SwiGLU,
   * grouped-query attention; metrics {@code llama.*}, flags {@code exactness.llama.*}, tracked layers
   * {@code model.layers.N.self_attn.o_proj}) on the same generated language. The Adam and preconditioning rows run on
   * GPT-2 only.
   */
  private void transformer(BenchOptions o, BenchResult.Builder b, int train, int queries, double fraction,
                           boolean llama) {
    long t0 = System.nanoTime();
    String fam = llama ? "llama" : "gpt2";
    String flags = "exactness." + fam;
    TinyLm lm = TinyLm.from(o, flags, 100, 200, 1, 2);
    int n = o.intParam(flags + ".sequences", 50, 100);
    String first = llama ? "model.layers.0.self_attn.o_proj" : "h.0.attn.c_proj";
    String second = llama ? "model.layers.1.self_attn.o_proj" : "h.1.attn.c_proj";
    List<String> layers = List.of(o.param(flags + ".track", o.quick() ? first : first + "," + second).split(","));
    if (train > n) {
      throw new IllegalArgumentException("-P exactness.train=" + train + " exceeds -P " + flags + ".sequences=" + n);
    }
    TinyLm.Sample sample = lm.sample(o.seed(), new Random(o.seed() + 1), n + queries);
    List<int[]> data = sample.sequences().subList(0, n);
    List<int[]> querySeqs = sample.sequences().subList(n, n + queries);
    Path runDir = o.workDir().resolve(fam + "-run");
    TinyLm.Trained trained = llama ? lm.trainLlama(data, o.seed(), o.seed(), lm.steps(), runDir)
        : lm.train(data, o.seed(), o.seed(), lm.steps(), runDir);
    CausalLm model = trained.model().withDataType(DataType.DOUBLE);
    long tTrain = System.nanoTime();

    GaussNewtonOperator ggn = GaussNewtonOperator.create(model, layers, TrainingSequences.of(data, n));
    LayerLayout layout = ggn.layout();
    GradientExtractor extractor = new GradientExtractor(model, Map.of(), 32);
    List<double[]> all = flatten(extractor, layout, "train", data);
    List<double[]> qg = flatten(extractor, layout, "query", querySeqs);
    Pairs p = new Pairs(layout, all.subList(0, train), qg);

    double[][] m = DenseMath.matrix(ggn);
    long tForm = System.nanoTime();
    double[] eig = DenseMath.eigenvalues(m);
    double lambda = fraction * mean(eig);
    double[] exact = p.scores(q -> DenseMath.solve(m, lambda, qg.get(q)));
    int depth = o.intParam(flags + ".lissa-depth", 200, 400);
    String pre = fam + ".ggn.";
    compare(b, pre + "cg", exact, cg(ggn, p, lambda, b, pre + "cg"), CG_BAR);
    compare(b, pre + "lissa", exact, lissa(ggn, p, lambda, eig[eig.length - 1], depth, b, pre + "lissa"), LISSA_BAR);
    Map<String, LayerFactors> fitted = InMemoryEkfac.fit(model, data, layers);
    Preconditioner kfac = KroneckerPreconditioners.kfac(fitted, Damping.absolute(lambda));
    Preconditioner ekfac = KroneckerPreconditioners.ekfac(fitted, Damping.absolute(lambda));
    compare(b, pre + "kfac", exact, preconditioned(kfac, p), Double.NaN);
    compare(b, pre + "ekfac", exact, preconditioned(ekfac, p), Double.NaN);
    compare(b, pre + "identity", exact, p.scores(qg::get), Double.NaN);
    // ekfac.fisher = true: labels drawn from the model's softmax, whose expectation is this very GGN
    for (String k : o.param(flags + ".fisher-samples", o.quick() ? "1" : "1,4,16").split(",")) {
      int samples = Integer.parseInt(k.trim());
      Map<String, LayerFactors> sampled = InMemoryEkfac.fit(model, data, layers,
          GradientRequest.Labels.sampled(o.seed()), samples);
      String name = pre + "true-fisher" + (samples == 1 ? "" : "-x" + samples) + ".";
      compare(b, name + "kfac", exact, preconditioned(KroneckerPreconditioners.kfac(sampled,
          Damping.absolute(lambda)), p), Double.NaN);
      compare(b, name + "ekfac", exact, preconditioned(KroneckerPreconditioners.ekfac(sampled,
          Damping.absolute(lambda)), p), Double.NaN);
    }
    if (o.intParam(flags + ".defaults", o.quick() ? 0 : 1, 1) != 0) {
      SolverDefaults.compare(b, fam + ".ggn", ggn, m, p.train(), qg);
    }

    String adamNote = llama ? "Adam and preconditioning rows: GPT-2 only"
        : adam(b, model, trained, data, layers, layout, m, all.subList(0, train), qg, fraction);
    if (!llama && o.intParam("exactness.gpt2.preconditioning", 1, 1) != 0) {
      preconditioning(b, fitted, layout, m, eig, qg);
    }

    // the curvature EK-FAC is fitted to: the empirical Fisher (1/N) Σ g gᵀ of the same layers
    int dim = layout.dim();
    double[][] f = new double[dim][dim];
    for (double[] g : all) {
      for (int i = 0; i < dim; i++) {
        double gi = g[i] / n;
        if (gi != 0) {
          for (int j = 0; j < dim; j++) {
            f[i][j] += gi * g[j];
          }
        }
      }
    }
    double lambdaF = fraction * trace(f) / dim;
    double[] exactF = p.scores(q -> DenseMath.solve(f, lambdaF, qg.get(q)));
    compare(b, fam + ".fisher.ekfac", exactF, preconditioned(KroneckerPreconditioners.ekfac(fitted,
        Damping.absolute(lambdaF)), p), Double.NaN);
    compare(b, fam + ".fisher.kfac", exactF, preconditioned(KroneckerPreconditioners.kfac(fitted,
        Damping.absolute(lambdaF)), p), Double.NaN);

    // the true Hessian (indefinite): damped above |λ_min|
    String hessian = "";
    int hessianDepth = o.intParam(flags + ".hessian-lissa-depth", 700, 700);
    if (o.intParam(flags + ".hessian", o.quick() ? 0 : 1, 1) != 0) {
      HessianOperator hop = HessianOperator.create(model, layers, TrainingSequences.of(data, n));
      double[][] mh = DenseMath.matrix(hop);
      double[] eh = DenseMath.eigenvalues(mh);
      double lambdaH = Math.max(0, -eh[0]) + lambda;
      double[] exactH = p.scores(q -> DenseMath.solve(mh, lambdaH, qg.get(q)));
      compare(b, fam + ".hessian.cg", exactH, cg(hop, p, lambdaH, b, fam + ".hessian.cg"), CG_BAR);
      compare(b, fam + ".hessian.lissa", exactH, lissa(hop, p, lambdaH, eh[eh.length - 1], hessianDepth, b,
          fam + ".hessian.lissa"), LISSA_BAR);
      hessian = String.format(Locale.ROOT, "; Hessian eigenvalues [%.3e, %.3e], damping %.3e (|λ_min| + λ), LiSSA "
          + "depth %d", eh[0], eh[eh.length - 1], lambdaH, hessianDepth);
    }
    b.note(String.format(Locale.ROOT, fam + (llama ? " (RMSNorm, RoPE, SwiGLU of 2 x width, grouped-query attention)"
            : "") + ": %d layer(s) of width %d, vocabulary %d, %d-token sequences, trained %d "
            + "steps on N=%d sequences (last batch loss %.3f); tracked %s (%d parameters); GGN eigenvalues "
            + "[%.3e, %.3e], damping %.3e (%.3g x mean eigenvalue)%s; LiSSA depth %d; %d train x %d query pairs; "
            + "%s; training %.1f s, forming the GGN %.1f s, all %.1f s", lm.layers(), lm.width(), lm.vocab(), lm.seq(),
        lm.steps(), n, trained.lastLoss(), layers, dim, eig[0], eig[eig.length - 1], lambda, fraction, hessian, depth,
        train, queries, adamNote, (tTrain - t0) / 1e9, (tForm - tTrain) / 1e9, (System.nanoTime() - t0) / 1e9));
  }

  /**
   * Adam's coordinates ({@code extract.optimizer-preconditioning = adam}): gradients {@code S g} with
   * {@code S = diag(1 / (√v̂ + ε))} from the AdamW state of the last checkpoint, curvature {@code S G S}. The truth is
   * the dense damped solve of {@code S G S} at {@code fraction} × its mean eigenvalue (what CG/LiSSA solve on an Adam
   * store); against it EK-FAC as fit-ekfac fits it on an Adam store (eigenbasis of the token factors scaled by the
   * rank-one fit of S, correction from the scaled gradients), the same with the raw factors' eigenbasis, EK-FAC of the
   * raw store applied in these coordinates, and the identity (Adam-aware TracIn). Returns the note's part.
   */
  private static String adam(BenchResult.Builder b, CausalLm model, TinyLm.Trained trained, List<int[]> data,
      List<String> layers, LayerLayout layout, double[][] g, List<double[]> train, List<double[]> queries,
      double fraction) {
    RunCheckpoint last = trained.run().checkpoints().get(trained.run().checkpoints().size() - 1);
    AdamScaling adam;
    try {
      adam = AdamScaling.of(model, layers, OptimizerState.read(last.dir()));
    } catch (io.influence.checkpoints.CheckpointFormatException e) {
      throw new IllegalStateException("the bench GPT-2's optimizer state: " + e.getMessage(), e);
    }
    Map<String, org.nd4j.linalg.api.ndarray.INDArray> factors = new java.util.LinkedHashMap<>();
    layers.forEach(l -> factors.put(l, adam.factors(l)));
    double[] s = layout.toVector("adam", factors);
    int dim = s.length;
    double[][] gs = new double[dim][dim];
    for (int i = 0; i < dim; i++) {
      for (int j = 0; j < dim; j++) {
        gs[i][j] = s[i] * g[i][j] * s[j];
      }
    }
    java.util.function.UnaryOperator<double[]> scale = v -> {
      double[] out = new double[v.length];
      for (int i = 0; i < v.length; i++) {
        out[i] = s[i] * v[i];
      }
      return out;
    };
    Pairs p = new Pairs(layout, train.stream().map(scale).toList(), queries.stream().map(scale).toList());
    double lambda = fraction * trace(gs) / dim;
    double[] exact = p.scores(q -> DenseMath.solve(gs, lambda, p.queries().get(q)));
    compare(b, "gpt2.adam.ekfac", exact, preconditioned(KroneckerPreconditioners.ekfac(
        InMemoryEkfac.fitAdam(model, data, layers, adam, true), Damping.absolute(lambda)), p), Double.NaN);
    compare(b, "gpt2.adam.ekfac-raw-basis", exact, preconditioned(KroneckerPreconditioners.ekfac(
        InMemoryEkfac.fitAdam(model, data, layers, adam, false), Damping.absolute(lambda)), p), Double.NaN);
    Map<String, LayerFactors> raw = InMemoryEkfac.fit(model, data, layers);
    compare(b, "gpt2.adam.ekfac-raw-correction", exact, preconditioned(KroneckerPreconditioners.ekfac(raw,
        Damping.absolute(lambda)), p), Double.NaN);
    compare(b, "gpt2.adam.identity", exact, p.scores(p.queries()::get), Double.NaN);
    return String.format(Locale.ROOT, "Adam coordinates: S in [%.3e, %.3e], damping %.3e (%.3g x mean eigenvalue of "
        + "S G S)", java.util.Arrays.stream(s).min().orElse(0), java.util.Arrays.stream(s).max().orElse(0), lambda,
        fraction);
  }

  /**
   * Can EK-FAC precondition the iterative solves on this model (ASTRA)? At λ = 1e-3, 1e-2, 1e-1 × the GGN's mean
   * eigenvalue: the condition number of {@code A = G + λI} and of {@code M⁻¹A} with {@code M} = the fitted EK-FAC
   * + λI (dense, generalised eigenvalues), the iterations CG and EK-FAC-preconditioned CG take to a relative
   * residual of 1e-10 on the dense operator (mean over the queries), and the steps Chebyshev-accelerated LiSSA needs
   * by its bound {@code (√κ/2)·ln(2/1e-6)} without and with the preconditioner, given exact spectrum bounds (the best
   * a preconditioned LiSSA could do; in practice the bounds are estimated and looser).
   */
  private static void preconditioning(BenchResult.Builder b, Map<String, LayerFactors> fitted, LayerLayout layout,
      double[][] g, double[] eig, List<double[]> queries) {
    int dim = g.length;
    double mean = mean(eig);
    LinearOperator dense = DenseMath.operator(g);
    List<String> rows = new ArrayList<>();
    for (double f : new double[] {1e-3, 1e-2, 1e-1}) {
      double lambda = f * mean;
      Preconditioner ekfac = KroneckerPreconditioners.ekfac(fitted, Damping.absolute(lambda));
      io.influence.core.solve.PreconditionerOperator mOp = new io.influence.core.solve.PreconditionerOperator(ekfac,
          layout);
      double[][] w = DenseMath.matrix(mOp);   // M⁻¹, column by column, symmetrised
      double[][] a = new double[dim][dim];
      for (int i = 0; i < dim; i++) {
        a[i] = g[i].clone();
        a[i][i] += lambda;
      }
      // eig(M⁻¹A) = eig(A^½ M⁻¹ A^½), symmetric: A^½ from A's eigenvectors (dsyev overwrites its input with them)
      INDArray vecs = Nd4j.create(a).castTo(DataType.DOUBLE);
      INDArray vals = org.nd4j.linalg.eigen.Eigen.symmetricGeneralizedEigenvalues(vecs, true);
      INDArray sqrt = org.nd4j.linalg.ops.transforms.Transforms.sqrt(vals, true);
      INDArray half = vecs.mulRowVector(sqrt).mmul(vecs.transpose());
      INDArray k = half.mmul(Nd4j.create(w).castTo(DataType.DOUBLE)).mmul(half);
      k = k.add(k.transpose()).muli(0.5);
      double[] mu = org.nd4j.linalg.eigen.Eigen.symmetricGeneralizedEigenvalues(k, false).toDoubleVector();
      Arrays.sort(mu);
      double kappaA = (eig[eig.length - 1] + lambda) / (Math.max(0, eig[0]) + lambda);
      double kappaPre = mu[mu.length - 1] / mu[0];
      double cg = 0;
      double pcg = 0;
      for (double[] q : queries) {
        cg += IhvpSolver.conjugateGradient(lambda, 1e-10, 20 * dim).solve(dense, q).iterations();
        pcg += IhvpSolver.conjugateGradient(lambda, 1e-10, 20 * dim, mOp).solve(dense, q).iterations();
      }
      cg /= queries.size();
      pcg /= queries.size();
      // the solvers themselves, as the score stage runs them: Chebyshev LiSSA with the auto scale (10 power-iteration
      // products) and with EK-FAC and the estimated interval (20 products), to a relative residual of 1e-6
      io.influence.core.linalg.BlockLinearOperator block = io.influence.core.linalg.BlockLinearOperator.oneAtATime(dense);
      double scale = io.influence.core.solve.LissaScale.Auto.DEFAULT.resolve(block, lambda);
      io.influence.core.solve.PreconditionedRange.Range range = io.influence.core.solve.PreconditionedRange.estimate(
          block, lambda, mOp, 20, 0, 1.5);
      double lissa = 0;
      double lissaPre = 0;
      boolean converged = true;
      for (double[] q : queries) {
        var plain = IhvpSolver.lissa(lambda, scale, 50_000, 1, 1e-6,
            io.influence.core.solve.LissaAcceleration.CHEBYSHEV).solve(dense, q);
        var pre = IhvpSolver.lissa(lambda, range, 50_000, 1, 1e-6, mOp).solve(dense, q);
        converged &= plain.converged() && pre.converged();
        lissa += plain.iterations();
        lissaPre += pre.iterations();
      }
      lissa /= queries.size();
      lissaPre /= queries.size();
      double chebyshev = Math.ceil(Math.sqrt(kappaA) / 2 * Math.log(2 / 1e-6));
      double chebyshevPre = Math.ceil(Math.sqrt(kappaPre) / 2 * Math.log(2 / 1e-6));
      String key = String.format(Locale.ROOT, "gpt2.preconditioning.lambda-%.0e.", f);
      b.metric(key + "kappa", kappaA);
      b.metric(key + "kappa-ekfac", kappaPre);
      b.metric(key + "cg-iterations", cg);
      b.metric(key + "pcg-iterations", pcg);
      b.metric(key + "lissa-chebyshev-bound", chebyshev);
      b.metric(key + "lissa-chebyshev-bound-ekfac", chebyshevPre);
      b.metric(key + "lissa-steps", lissa);
      b.metric(key + "lissa-ekfac-steps", lissaPre);
      b.metric(key + "lissa-converged", converged ? 1 : 0);
      rows.add(String.format(Locale.ROOT, "λ = %.0e × mean: κ(A) %.3g, κ(M⁻¹A) %.3g (μ in [%.3g, %.3g]), CG %.0f, "
          + "PCG %.0f iterations, Chebyshev LiSSA bound %.0f / %.0f steps, LiSSA %.0f steps (+10 for the scale) / "
          + "preconditioned %.0f steps (+20 for the interval %s)", f, kappaA, kappaPre, mu[0],
          mu[mu.length - 1], cg, pcg, chebyshev, chebyshevPre, lissa, lissaPre, range));
    }
    b.note("gpt2.preconditioning (EK-FAC empirical Fisher as M): " + String.join("; ", rows));
  }

  private static List<double[]> flatten(GradientExtractor extractor, LayerLayout layout, String prefix,
                                        List<int[]> sequences) {
    List<String> ids = IntStream.range(0, sequences.size()).mapToObj(i -> prefix + "-" + i).toList();
    List<double[]> out = new ArrayList<>();
    for (ExampleGradient g : extractor.extract(ids, sequences, null)) {
      Map<String, INDArray> chosen = new LinkedHashMap<>();
      for (String l : layout.layers()) {
        chosen.put(l, g.layers().get(l));
      }
      out.add(layout.toVector(g.id(), chosen));
    }
    return out;
  }

  // ---------------------------------------------------------------- methods and comparison

  private static double[] cg(LinearOperator op, Pairs p, double lambda, BenchResult.Builder b, String name) {
    return iterative(IhvpSolver.conjugateGradient(lambda, 1e-9, 10 * op.dim()), op, p, b, name);
  }

  private static double[] lissa(LinearOperator op, Pairs p, double lambda, double lambdaMax, int depth,
                                BenchResult.Builder b, String name) {
    return iterative(IhvpSolver.lissa(lambda, LISSA_MARGIN * (lambdaMax + lambda), depth, 1, 1e-9), op, p, b, name);
  }

  /** Scores through the engine's preconditioner on the operator; notes the products and worst residual. */
  private static double[] iterative(IhvpSolver solver, LinearOperator op, Pairs p, BenchResult.Builder b,
                                    String name) {
    long t0 = System.nanoTime();
    InverseHvpPreconditioner pre = InverseHvpPreconditioner.of(solver, op, p.layout(), false);
    int[] products = new int[1];
    double[] worst = new double[1];
    double[] s = p.scores(q -> {
      InverseHvpPreconditioner.Solved r = pre.solve("query-" + q, p.queryMap(q));
      products[0] += r.result().iterations();
      worst[0] = Math.max(worst[0], r.result().relativeResidual());
      return p.layout().toVector("query-" + q, r.preconditioned());
    });
    b.note(String.format(Locale.ROOT, "%s: %d products for %d queries, worst relative residual %.1e, %.1f s", name,
        products[0], p.queries().size(), worst[0], (System.nanoTime() - t0) / 1e9));
    return s;
  }

  private static double[] preconditioned(Preconditioner pre, Pairs p) {
    return p.scores(q -> p.layout().toVector("query-" + q, pre.apply(p.queryMap(q))));
  }

  private static void compare(BenchResult.Builder b, String name, double[] exact, double[] got, double bar) {
    double pearson = Stats.pearson(exact, got);
    if (Double.isNaN(bar)) {
      b.metric(name + ".pearson", pearson);
    } else {
      b.atLeast(name + ".pearson", pearson, bar);
    }
    b.metric(name + ".spearman", Stats.spearman(exact, got));
  }

  private static double mean(double[] v) {
    return Arrays.stream(v).sum() / v.length;
  }

  private static double trace(double[][] m) {
    double s = 0;
    for (int i = 0; i < m.length; i++) {
      s += m[i][i];
    }
    return s;
  }
}
