package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.grad.TokenFactors;
import io.influence.core.hvp.GaussNewtonOperator;
import io.influence.core.hvp.TrainingSequences;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.LayerLayout;
import io.influence.core.solve.HutchinsonTrace;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.PreconditionerOperator;
import io.influence.core.solve.SolveResult;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.train.Initialization;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * ASTRA-style preconditioned CG (Wang et al. 2025) on a tiny GPT-2: CG on the exact damped Gauss-Newton operator
 * {@code G + λI} of every linear layer (all layers coupled), with and without EK-FAC's {@code (Ĝ + λI)⁻¹} (fitted on
 * the same sequences with labels sampled from the model, the true Fisher, whose expectation is {@code G}; same
 * absolute λ) as the preconditioner. The empirical-Fisher EK-FAC (observed labels) is printed beside it: it
 * approximates another matrix and can cost more products than no preconditioner. Both must reach the same true
 * relative residual (1e-8) and agree with each other. λ is given relative to the mean eigenvalue of {@code G}
 * (Hutchinson estimate), as the engine's relative damping is; the products each solve took are printed, and
 * {@link #main} prints the README's table over three dampings (whether a preconditioner saves products is measured,
 * not asserted: on a tiny random-init model it did not).
 */
class PreconditionedCgGpt2Test {

  private static final Gpt2Config CONFIG = new Gpt2Config(23, 16, 8, 1, 2, 1e-5, "gelu_new");
    private static final double TOLERANCE = 1e-8;
  private static final int MAX_ITERATIONS = 3000;
  /** The two solves meet a 1e-8 residual; their solutions may differ by about the condition number times that. */
  private static final double AGREEMENT = 1e-5;

  @Test
  void ekfacPreconditionedCg_reachesTheSameSolve() {
    String table = compare(16, new double[] {1e-1}, true);
    System.out.print(table);
  }

  /**
   * The table in the README (run by hand, it takes minutes): {@code java -cp <ekfac test classpath>
   * io.influence.ekfac.PreconditionedCgGpt2Test [sequences]}.
   */
  public static void main(String[] args) {
    int train = args.length > 0 ? Integer.parseInt(args[0]) : 48;
    System.out.print(compare(train, new double[] {1e-3, 1e-2, 1e-1}, false));
  }

  /**
   * Solves one query gradient at each damping factor (× the mean eigenvalue of G) with plain CG and CG
   * preconditioned by EK-FAC fitted with sampled labels (true Fisher), with observed labels (empirical Fisher) and
   * by K-FAC (true Fisher, no eigenvalue correction); with {@code check}, asserts that plain and true-Fisher
   * preconditioned CG converge and agree. Returns the table.
   */
  static String compare(int trainSize, double[] factors, boolean check) {
    Gpt2Model model = Initialization.gpt2(CONFIG, 3, DataType.DOUBLE);
    SplittableRandom random = new SplittableRandom(5);
    List<int[]> train = sequences(random, trainSize);
    List<int[]> query = sequences(random, 1);
    List<String> layers = model.linearLayers();
    Map<String, LayerFactors> empirical = fit(model, train, layers, GradientRequest.Labels.OBSERVED);
    Map<String, LayerFactors> trueFisher = fit(model, train, layers, GradientRequest.Labels.sampled(1));

    GaussNewtonOperator gn = GaussNewtonOperator.create(model, layers, TrainingSequences.of(train, trainSize));
    LayerLayout layout = gn.layout();
    ExampleGradient q = new GradientExtractor(model, Map.of(), 8).extract(List.of("q"), query, null).get(0);
    double[] b = layout.toVector("q", q.layers());
    double mean = HutchinsonTrace.estimate((io.influence.core.linalg.BlockLinearOperator) gn, 16, 7).meanEigenvalue();

    StringBuilder table = new StringBuilder(String.format("tiny GPT-2 (random init), %d parameters, %d sequences; "
        + "mean eigenvalue of G %.3e; operator products to a true relative residual of %.0e:%n", gn.dim(), trainSize,
        mean, TOLERANCE));
    for (double factor : factors) {
      double lambda = factor * mean;
      SolveResult plain = IhvpSolver.conjugateGradient(lambda, TOLERANCE, MAX_ITERATIONS).solve(gn, b);
      SolveResult pre = preconditioned(gn, b, lambda, KroneckerPreconditioners.ekfac(trueFisher,
          Damping.absolute(lambda)), layout);
      table.append(String.format("  λ = %.0e × mean: CG %d; EK-FAC (true Fisher) PCG %d", factor,
          plain.iterations(), pre.iterations()));
      if (!check) {
        table.append(String.format("; EK-FAC (empirical Fisher) PCG %d; K-FAC (true Fisher) PCG %d",
            preconditioned(gn, b, lambda, KroneckerPreconditioners.ekfac(empirical, Damping.absolute(lambda)), layout)
                .iterations(),
            preconditioned(gn, b, lambda, KroneckerPreconditioners.kfac(trueFisher, Damping.absolute(lambda)), layout)
                .iterations()));
      }
      table.append(String.format("%n"));
      if (check) {
        assertTrue(plain.converged() && plain.relativeResidual() <= TOLERANCE, "plain CG at " + factor + ": " + plain);
        assertTrue(pre.converged() && pre.relativeResidual() <= TOLERANCE, "preconditioned CG at " + factor + ": "
            + pre);
        double diff = relativeDifference(pre.x(), plain.x());
        assertTrue(diff <= AGREEMENT, "the two solves differ by " + diff + " at λ = " + factor + " × mean");
      }
    }
    return table.toString();
  }

  private static SolveResult preconditioned(GaussNewtonOperator gn, double[] b, double lambda,
      io.influence.core.grad.Preconditioner m, LayerLayout layout) {
    return IhvpSolver.conjugateGradient(lambda, TOLERANCE, MAX_ITERATIONS, new PreconditionerOperator(m, layout))
        .solve(gn, b);
  }

  /** EK-FAC factors of every layer, as the fit-ekfac stage computes them (empirical Fisher of the summed loss). */
  private static Map<String, LayerFactors> fit(Gpt2Model model, List<int[]> train, List<String> layers,
      GradientRequest.Labels labels) {
    Map<String, CovarianceAccumulator> cov = new LinkedHashMap<>();
    BatchGradients factors = model.gradients(TokenBatch.of(train.toArray(new int[0][])),
        GradientRequest.perExampleTokenFactors().withFullPerExample(true).withLabels(labels));
    for (Map<String, TokenFactors> example : factors.tokenFactors()) {
      for (TokenFactors f : example.values()) {
        cov.computeIfAbsent(f.layer(), l -> new CovarianceAccumulator(l, f.dIn(), f.dOut())).add(f);
      }
    }
    Map<String, LayerFactors> fitted = new LinkedHashMap<>();
    for (String layer : layers) {
      LayerFactors base = LayerFactors.fromCovariances(cov.get(layer).finish());
      EigenvalueCorrection correction = new EigenvalueCorrection(base);
      for (int n = 0; n < train.size(); n++) {
        correction.addGradient(factors.fullPerExample().get(n).get(layer), 1.0, "t" + n);
      }
      fitted.put(layer, base.withCorrection(correction.finish(), train.size()));
    }
    return fitted;
  }

  private static List<int[]> sequences(SplittableRandom random, int n) {
    List<int[]> out = new ArrayList<>();
    IntStream.range(0, n).forEach(i -> {
      int[] s = new int[6 + random.nextInt(10)];
      int base = random.nextInt(CONFIG.vocabSize());
      for (int t = 0; t < s.length; t++) {
        s[t] = random.nextInt(4) == 0 ? random.nextInt(CONFIG.vocabSize()) : (base + t) % CONFIG.vocabSize();
      }
      out.add(s);
    });
    return out;
  }

  private static double relativeDifference(double[] a, double[] b) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) * (a[i] - b[i]);
      den += b[i] * b[i];
    }
    return Math.sqrt(num / den);
  }
}
