package io.influence.core.hvp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.GradientExtractor;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.truth.DenseMath;
import io.influence.core.model.Gpt2Model;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.Stats;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.SolveResult;
import io.influence.core.tracin.ExampleGradient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The bar on GPT-2: influence scores {@code g_qᵀ (M + λI)⁻¹ g_train} of TRAIN × QUERIES
 * pairs with M the GGN or Hessian of the mean training loss over a small layer subset, from an exact
 * dense solve (M formed column by column from the operator's products, Cholesky) versus
 * {@link IhvpSolver#conjugateGradient} and {@link IhvpSolver#lissa} on the operator itself.
 */
final class InfluenceBar {

  static final int TRAIN = 50;
  static final int QUERIES = 5;
  /** 8 × (8 + 1) = 72 parameters: the dense matrix takes 72 products. */
  static final List<String> LAYERS = List.of("h.1.attn.c_proj");
  static final double MIN_PEARSON_CG = 0.9999;
  static final double MIN_PEARSON_LISSA = 0.99;
  /** Damping: this fraction of λ_max, plus |λ_min| when the matrix is indefinite. */
  static final double DAMPING_FRACTION = 0.1;
  static final double CG_TOLERANCE = 1e-6;
  static final int CG_MAX_ITERATIONS = 100;
  static final int LISSA_DEPTH = 40;
  static final double LISSA_TOLERANCE = 1e-5;
  /** LiSSA's scale: this factor times λ_max + λ (it converges only above λ_max + λ). */
  static final double LISSA_SCALE_MARGIN = 1.05;

  final Gpt2Model model;
  final LayerLayout layout;
  final TrainingSequences data;
  final List<double[]> train = new ArrayList<>();
  final List<double[]> queries = new ArrayList<>();

  InfluenceBar(HvpFixture fx) {
    model = fx.model;
    SplittableRandom rnd = new SplittableRandom(11);
    int vocab = model.config().vocabSize();
    int ctx = model.config().nPositions();
    List<int[]> trainTokens = sequences(rnd, TRAIN, vocab, ctx);
    List<int[]> queryTokens = sequences(rnd, QUERIES, vocab, ctx);
    data = TrainingSequences.of(trainTokens, TRAIN);
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (String l : LAYERS) {
      int[] s = model.linearShape(l);
      shapes.put(l, new long[] {s[0], s[1]});
    }
    layout = LayerLayout.of(LAYERS, shapes);
    flatten(trainTokens, "train", train);
    flatten(queryTokens, "query", queries);
  }

  private void flatten(List<int[]> tokens, String prefix, List<double[]> out) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < tokens.size(); i++) {
      ids.add(prefix + "-" + i);
    }
    for (ExampleGradient g : new GradientExtractor(model, Map.of(), 25).extract(ids, tokens, null)) {
      Map<String, INDArray> chosen = new LinkedHashMap<>();
      for (String l : LAYERS) {
        chosen.put(l, g.layers().get(l));
      }
      out.add(layout.toVector(g.id(), chosen));
    }
  }

  private static List<int[]> sequences(SplittableRandom rnd, int n, int vocab, int ctx) {
    List<int[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int[] t = new int[3 + rnd.nextInt(ctx - 2)];
      for (int j = 0; j < t.length; j++) {
        t[j] = rnd.nextInt(vocab);
      }
      out.add(t);
    }
    return out;
  }

  /** Scores [query][train] with {@code x_q = (M + λI)⁻¹ g_q} from the given solve. */
  double[] scores(java.util.function.Function<double[], double[]> solve) {
    double[] s = new double[QUERIES * TRAIN];
    for (int q = 0; q < QUERIES; q++) {
      double[] x = solve.apply(queries.get(q));
      for (int i = 0; i < TRAIN; i++) {
        s[q * TRAIN + i] = DenseMath.dot(x, train.get(i));
      }
    }
    return s;
  }

  /**
   * Forms the matrix of {@code op}, checks the sign of its spectrum ({@code psd}: λ_min ≥ −1e-9 λ_max),
   * damps it above |λ_min|, and checks CG's and LiSSA's scores against the exact solve's.
   */
  void check(String what, LinearOperator op, boolean psd) {
    long t0 = System.nanoTime();
    double[][] m = DenseMath.matrix(op);
    double[] eig = org.nd4j.linalg.eigen.Eigen.symmetricGeneralizedEigenvalues(org.nd4j.linalg.factory.Nd4j.create(m),
        false).toDoubleVector();
    java.util.Arrays.sort(eig);
    double lmin = eig[0];
    double lmax = eig[eig.length - 1];
    System.out.printf("%s dim %d formed from %d products in %.1f s: eigenvalues [%.4e, %.4e]%n", what, op.dim(), op.dim(),
        (System.nanoTime() - t0) / 1e9, lmin, lmax);
    if (psd) {
      assertTrue(lmin >= -1e-9 * lmax, what + " has a negative eigenvalue " + lmin + " (λ_max " + lmax + ")");
    } else {
      assertTrue(lmin < 0, what + ": expected an indefinite Hessian, λ_min = " + lmin);
    }
    double damping = Math.max(0, -lmin) + DAMPING_FRACTION * lmax;
    double[] exact = scores(q -> DenseMath.solve(m, damping, q));
    pearson(what, exact, IhvpSolver.conjugateGradient(damping, CG_TOLERANCE, CG_MAX_ITERATIONS), op, this,
        MIN_PEARSON_CG);
    pearson(what, exact, IhvpSolver.lissa(damping, LISSA_SCALE_MARGIN * (lmax + damping), LISSA_DEPTH, 1,
        LISSA_TOLERANCE), op, this, MIN_PEARSON_LISSA);
    System.out.printf("%s check took %.1f s in all (damping %.4g)%n", what, (System.nanoTime() - t0) / 1e9, damping);
  }

  /** Pearson of the solver's scores against the exact ones; prints both solvers' numbers. */
  static double pearson(String what, double[] exact, IhvpSolver solver, LinearOperator op, InfluenceBar bar,
                        double minPearson) {
    long t0 = System.nanoTime();
    int[] steps = new int[1];
    double[] worstResidual = new double[1];
    double[] got = bar.scores(g -> {
      SolveResult r = solver.solve(op, g);
      steps[0] += r.iterations();
      worstResidual[0] = Math.max(worstResidual[0], r.relativeResidual());
      return r.x();
    });
    double p = Stats.pearson(exact, got);
    System.out.printf("%s %s: %d scores, Pearson vs exact solve %.9f, %d products, worst relative residual %.2e, %.1f s%n",
        what, solver.method(), exact.length, p, steps[0], worstResidual[0], (System.nanoTime() - t0) / 1e9);
    assertTrue(p >= minPearson, what + " " + solver.method() + ": Pearson " + p + " < " + minPearson);
    return p;
  }
}
