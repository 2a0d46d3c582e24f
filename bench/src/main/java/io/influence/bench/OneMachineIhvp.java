package io.influence.bench;

import io.influence.core.grad.GradientExtractor;
import io.influence.core.hvp.GaussNewtonOperator;
import io.influence.core.hvp.TrainingSequences;
import io.influence.core.model.CausalLm;
import io.influence.core.score.LayerLayout;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.SolveResult;
import io.influence.core.tracin.ExampleGradient;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.nd4j.linalg.api.buffer.DataType;

/*
 * Influence functions with exact Gauss-Newton-vector products, on one machine (not Spark): the
 * planted-facts task's CG and LiSSA rows, until the pipeline's score stage runs them.
 *
 *   score(z_train, q) = ⟨(G + λI)⁻¹ ∇L(q), ∇L(z_train)⟩   at the final checkpoint,
 *
 * G the generalised Gauss-Newton matrix of the mean training loss over a seeded sample of `sample`
 * training sequences (GaussNewtonOperator, exact products), restricted to the chosen tracked layers
 * (by default those of the last block: the cost of every product grows with the parameters
 * differentiated, and the whole model's G would make the bench too slow for 2 cores). Gradients are
 * full (not projected) per-example gradients of those layers (GradientExtractor), so this is the
 * unapproximated influence function on that parameter subset.
 *
 * Damping: λ = relativeDamping · tr(G)/dim, the mean eigenvalue estimated by Hutchinson's estimator
 * with `probes` Rademacher vectors (EK-FAC's "relative" damping applied to the whole subset).
 * CG: from 0, at most `cgIterations` iterations or relative residual `cgTolerance`. LiSSA: depth
 * `lissaDepth` (0 = off), one repetition (the operator is exact, not stochastic), scale = 1.5 × (λ_max
 * estimated by 10 power iterations + λ) so that the series converges; with a fixed depth it is a
 * truncated Neumann series, as LiSSA is used in practice.
 */
final class OneMachineIhvp {

  /** The knobs (see the class comment). */
  record Options(String layers, int sample, double relativeDamping, int probes, int cgIterations, double cgTolerance,
                 int lissaDepth, int batchSize, long seed) {}

  /** A query for the solver: id, tokens and the loss mask over its completion. */
  record Query(String id, int[] tokens, int[] mask) {}

  /** method ("cg", "lissa") → query id → train id → score; plus lines saying how the solves went. */
  record Result(Map<String, Map<String, Map<String, Double>>> scores, List<String> notes) {}

  private OneMachineIhvp() {}

  static Result run(CausalLm model, List<String> trainIds, List<int[]> trainTokens, List<Query> queries, Options o,
                    Consumer<String> log) {
    List<String> layers = layers(model, o.layers());
    List<int[]> sample = new ArrayList<>(trainTokens);
    Collections.shuffle(sample, new Random(o.seed()));
    sample = sample.subList(0, Math.min(o.sample(), sample.size()));
    GaussNewtonOperator g = GaussNewtonOperator.create(model, layers, TrainingSequences.of(sample, o.batchSize()));
    LayerLayout layout = g.layout();
    long t0 = System.nanoTime();
    double trace = hutchinsonTrace(g, o.probes(), o.seed());
    double hvpSeconds = (System.nanoTime() - t0) / 1e9 / o.probes();
    double damping = o.relativeDamping() * trace / g.dim();
    List<String> notes = new ArrayList<>();
    notes.add(String.format(Locale.ROOT, "cg/lissa: one machine (influence-core GaussNewtonOperator + %s), final "
            + "checkpoint, layers %s (%d parameters), G over %d sampled training sequences, λ = %.3g × mean eigenvalue "
            + "(Hutchinson, %d probes) = %.3e; %.2f s per G-vector product",
        o.lissaDepth() > 0 ? "ConjugateGradient, Lissa" : "ConjugateGradient", layers, g.dim(), sample.size(),
        o.relativeDamping(), o.probes(), damping, hvpSeconds));
    log.accept(notes.get(0));

    GradientExtractor extractor = new GradientExtractor(model, Map.of(), o.batchSize());
    List<double[]> b = new ArrayList<>();
    List<ExampleGradient> qg = extractor.extract(queries.stream().map(Query::id).toList(),
        queries.stream().map(Query::tokens).toList(), queries.stream().map(Query::mask).toList());
    for (ExampleGradient e : qg) {
      b.add(layout.toVector(e.id(), only(layers, e.layers())));
    }
    Map<String, List<double[]>> solved = new LinkedHashMap<>();
    solved.put("cg", solveAll(IhvpSolver.conjugateGradient(damping, o.cgTolerance(), o.cgIterations()), g, b, notes, log));
    if (o.lissaDepth() > 0) {
      double lambdaMax = powerIteration(g, 10, o.seed());
      double scale = 1.5 * (lambdaMax + damping);
      solved.put("lissa", solveAll(IhvpSolver.lissa(damping, scale, o.lissaDepth(), 1, 1e-6), g, b, notes, log));
    }

    Map<String, Map<String, Map<String, Double>>> scores = new LinkedHashMap<>();
    solved.keySet().forEach(m -> {
      Map<String, Map<String, Double>> perQuery = new LinkedHashMap<>();
      queries.forEach(q -> perQuery.put(q.id(), new LinkedHashMap<>()));
      scores.put(m, perQuery);
    });
    int chunk = 64;
    for (int start = 0; start < trainIds.size(); start += chunk) {
      int end = Math.min(trainIds.size(), start + chunk);
      List<ExampleGradient> tg = extractor.extract(trainIds.subList(start, end), trainTokens.subList(start, end), null);
      for (ExampleGradient e : tg) {
        double[] v = layout.toVector(e.id(), only(layers, e.layers()));
        for (Map.Entry<String, List<double[]>> m : solved.entrySet()) {
          for (int q = 0; q < queries.size(); q++) {
            scores.get(m.getKey()).get(queries.get(q).id()).put(e.id(), dot(m.getValue().get(q), v));
          }
        }
      }
    }
    return new Result(scores, notes);
  }

  static List<String> layers(CausalLm model, String spec) {
    List<String> all = model.linearLayers();
    return switch (spec) {
      case "all" -> all;
      case "last-block" -> {
        String prefix = "h." + (model.config().numLayers() - 1) + ".";
        yield all.stream().filter(l -> l.startsWith(prefix)).toList();
      }
      default -> {
        List<String> chosen = List.of(spec.split(","));
        for (String l : chosen) {
          if (!all.contains(l)) {
            throw new IllegalArgumentException("bench parameter ihvp.layers names " + l + ", which is not a tracked "
                + "layer; HINT: \"last-block\", \"all\" or a comma list of " + all);
          }
        }
        yield chosen;
      }
    };
  }

  private static List<double[]> solveAll(IhvpSolver solver, GaussNewtonOperator g, List<double[]> b, List<String> notes,
                                         Consumer<String> log) {
    List<double[]> out = new ArrayList<>();
    double worst = 0;
    int iterations = 0;
    int converged = 0;
    for (double[] rhs : b) {
      SolveResult r = solver.solve(g, rhs);
      out.add(r.x());
      worst = Math.max(worst, r.relativeResidual());
      iterations += r.iterations();
      converged += r.converged() ? 1 : 0;
    }
    String line = String.format(Locale.ROOT, "%s: %d solves, %.1f steps each on average, %d converged, worst relative "
        + "residual %.2e (%s)", solver.method(), b.size(), (double) iterations / b.size(), converged, worst, solver);
    notes.add(line);
    log.accept(line);
    return out;
  }

  private static double hutchinsonTrace(GaussNewtonOperator g, int probes, long seed) {
    Random random = new Random(seed ^ 0x5DEECE66DL);
    double[] v = new double[g.dim()];
    double[] gv = new double[g.dim()];
    double sum = 0;
    for (int p = 0; p < probes; p++) {
      for (int i = 0; i < v.length; i++) {
        v[i] = random.nextBoolean() ? 1 : -1;
      }
      g.apply(v, gv);
      sum += dot(v, gv);
    }
    return sum / probes;
  }

  private static double powerIteration(GaussNewtonOperator g, int steps, long seed) {
    Random random = new Random(seed + 17);
    double[] v = new double[g.dim()];
    double[] gv = new double[g.dim()];
    for (int i = 0; i < v.length; i++) {
      v[i] = random.nextGaussian();
    }
    double lambda = 0;
    for (int s = 0; s < steps; s++) {
      double norm = Math.sqrt(dot(v, v));
      for (int i = 0; i < v.length; i++) {
        v[i] /= norm;
      }
      g.apply(v, gv);
      lambda = dot(v, gv);
      double[] t = v;
      v = gv;
      gv = t;
    }
    return lambda;
  }

  private static Map<String, org.nd4j.linalg.api.ndarray.INDArray> only(List<String> layers,
      Map<String, org.nd4j.linalg.api.ndarray.INDArray> gradient) {
    Map<String, org.nd4j.linalg.api.ndarray.INDArray> out = new LinkedHashMap<>();
    layers.forEach(l -> out.put(l, gradient.get(l)));
    return out;
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
