package io.influence.core.sgdinfluence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.TrainingLog;
import io.influence.core.score.Stats;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * SGD-influence on L2-regularised binary logistic regression (convex), checked against real
 * counterfactual retraining: the same seeded run with one point removed from the batches it was
 * drawn into (divisors unchanged), for every one of the 60 training points.
 */
class SgdInfluenceLogisticTest {

  private static final int N = 60;
  private static final int D = 6;          // 5 features + bias
  private static final double ALPHA = 0.01;

  /** ℓ_i(w) = log(1 + e^{x_i·w}) − y_i x_i·w + (α/2)‖w‖², exact gradients and Hessians. */
  static final class Logistic implements ReplayModel {
    final double[][] x;
    final double[] y;
    double[] w = new double[D];

    Logistic(double[][] x, double[] y) {
      this.x = x;
      this.y = y;
    }

    @Override
    public int dim() {
      return D;
    }

    @Override
    public void setParameters(double[] theta) {
      w = theta.clone();
    }

    double p(double[] xi) {
      return 1 / (1 + Math.exp(-SgdInfluence.dot(xi, w)));
    }

    double[] gradient(double[] xi, double yi) {
      double r = p(xi) - yi;
      double[] g = new double[D];
      for (int k = 0; k < D; k++) {
        g[k] = r * xi[k] + ALPHA * w[k];
      }
      return g;
    }

    double loss(double[] xi, double yi) {
      double z = SgdInfluence.dot(xi, w);
      return Math.log1p(Math.exp(z)) - yi * z + 0.5 * ALPHA * SgdInfluence.dot(w, w);
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
      double[][] out = new double[vectors.length][D];
      for (int i : examples) {
        double pi = p(x[i]);
        double s = pi * (1 - pi);
        for (int v = 0; v < vectors.length; v++) {
          double xv = SgdInfluence.dot(x[i], vectors[v]);
          for (int k = 0; k < D; k++) {
            out[v][k] += s * xv * x[i][k] + ALPHA * vectors[v][k];
          }
        }
      }
      return out;
    }

    /** Plain minibatch SGD along {@code steps}, {@code leftOut} (or -1) dropped from its batches. */
    List<double[]> train(List<TrainingLog.Step> steps, int leftOut) {
      return train(steps, leftOut, 0);
    }

    /** As {@link #train(List, int)} with {@code leftOut}'s terms weighted {@code keep} (0 = removed). */
    List<double[]> train(List<TrainingLog.Step> steps, int leftOut, double keep) {
      w = new double[D];
      List<double[]> trajectory = new ArrayList<>();
      for (TrainingLog.Step s : steps) {
        trajectory.add(w.clone());
        double[] sum = new double[D];
        for (int i : s.examples()) {
          SgdInfluence.axpy(i == leftOut ? keep : 1, gradient(x[i], y[i]), sum);
        }
        SgdInfluence.axpy(-s.learningRate() / s.lossDivisor(), sum, w);
      }
      return trajectory;
    }
  }

  /** 10 epochs of seeded permutations in batches of 6: 100 steps, decaying rate. */
  static List<TrainingLog.Step> schedule(long seed) {
    Random random = new Random(seed);
    List<TrainingLog.Step> steps = new ArrayList<>();
    for (int epoch = 0; epoch < 10; epoch++) {
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < N; i++) {
        order.add(i);
      }
      java.util.Collections.shuffle(order, random);
      for (int b = 0; b < N; b += 6) {
        int[] batch = order.subList(b, b + 6).stream().mapToInt(Integer::intValue).toArray();
        int t = steps.size() + 1;
        steps.add(new TrainingLog.Step(t, 1.0 / (1 + 0.02 * t), batch, batch.length, 1));
      }
    }
    return steps;
  }

  static Logistic data(long seed) {
    Random r = new Random(seed);
    double[] truth = {1.5, -2, 0.7, 0, 1, 0.3};
    double[][] x = new double[N + 1][D];
    double[] y = new double[N + 1];
    for (int i = 0; i <= N; i++) {
      for (int k = 0; k < D - 1; k++) {
        x[i][k] = r.nextGaussian();
      }
      x[i][D - 1] = 1;
      double p = 1 / (1 + Math.exp(-SgdInfluence.dot(x[i], truth)));
      y[i] = r.nextDouble() < p ? 1 : 0;
    }
    return new Logistic(x, y);   // row N is the query
  }

  @Test
  void queryScores_matchCounterfactualRetrainingWithoutEachPoint_pearsonNearOne() {
    Logistic model = data(3);
    List<TrainingLog.Step> steps = schedule(5);
    List<double[]> trajectory = model.train(steps, -1);
    double[] finalW = model.w.clone();
    double queryLoss = model.loss(model.x[N], model.y[N]);
    double[] queryGradient = model.gradient(model.x[N], model.y[N]);

    double[] predicted = SgdInfluence.queryScores(model, trajectory, steps, new double[][] {queryGradient}, N)[0];

    double[] actual = new double[N];
    double[] infinitesimal = new double[N];
    double worstTheta = 0;
    double scaleTheta = 0;
    for (int j = 0; j < N; j++) {
      model.train(steps, j);
      double[] dTheta = new double[D];
      for (int k = 0; k < D; k++) {
        dTheta[k] = model.w[k] - finalW[k];
      }
      actual[j] = model.loss(model.x[N], model.y[N]) - queryLoss;
      model.train(steps, j, 1 + 1e-4);
      double up = model.loss(model.x[N], model.y[N]);
      model.train(steps, j, 1 - 1e-4);
      infinitesimal[j] = -(up - model.loss(model.x[N], model.y[N])) / 2e-4;
      if (j < 10) {
        double[] est = SgdInfluence.parameterEffect(model, trajectory, steps, j);
        for (int k = 0; k < D; k++) {
          worstTheta = Math.max(worstTheta, Math.abs(est[k] - dTheta[k]));
          scaleTheta = Math.max(scaleTheta, Math.abs(dTheta[k]));
        }
      }
    }
    double pearson = Stats.pearson(predicted, actual);
    double firstOrderError = 0;
    for (int j = 0; j < N; j++) {
      firstOrderError = Math.max(firstOrderError, Math.abs(predicted[j] - infinitesimal[j]));
    }
    double worst = 0;
    double scale = 0;
    for (int j = 0; j < N; j++) {
      worst = Math.max(worst, Math.abs(predicted[j] - actual[j]));
      scale = Math.max(scale, Math.abs(actual[j]));
    }
    System.out.printf("SGD-influence logistic regression (%d points, %d steps): Pearson %.6f, max |pred-actual| %.3g"
        + " of max |actual| %.3g; Δθ max error %.3g of %.3g%n", N, steps.size(), pearson, worst, scale, worstTheta,
        scaleTheta);
    // the estimate is exactly the first-order term (the derivative of retraining in the example's weight) ...
    assertTrue(firstOrderError < 1e-6 * scale, "estimate vs derivative of retraining: " + firstOrderError);
    // ... and removal is close to first order on this convex problem (measured: Pearson 0.985)
    assertTrue(pearson > 0.97, "Pearson of predicted vs retrained change of the query loss: " + pearson);
    assertTrue(worst < 0.4 * scale, "largest error " + worst + " vs largest change " + scale);
    assertTrue(worstTheta < 0.25 * scaleTheta, "Δθ error " + worstTheta + " vs " + scaleTheta);
  }

  @Test
  void queryScores_leastSquares_equalDerivativeOfRetrainingInTheExampleWeight() {
    // The recursion (indices, rates, multiplicities, order of the Jacobian products) checked against
    // brute-force retraining with example j's weight nudged, on least squares.
    double[][] x = data(7).x;
    double[] y = data(7).y;
    ReplayModel lsq = new ReplayModel() {
      double[] w = new double[D];

      @Override
      public int dim() {
        return D;
      }

      @Override
      public void setParameters(double[] theta) {
        w = theta.clone();
      }

      @Override
      public double[][] exampleGradients(int[] examples) {
        double[][] out = new double[examples.length][];
        for (int b = 0; b < examples.length; b++) {
          double r = SgdInfluence.dot(x[examples[b]], w) - y[examples[b]];
          out[b] = new double[D];
          SgdInfluence.axpy(r, x[examples[b]], out[b]);
        }
        return out;
      }

      @Override
      public double[][] hessianSums(int[] examples, double[][] vectors) {
        double[][] out = new double[vectors.length][D];
        for (int i : examples) {
          for (int v = 0; v < vectors.length; v++) {
            SgdInfluence.axpy(SgdInfluence.dot(x[i], vectors[v]), x[i], out[v]);
          }
        }
        return out;
      }
    };
    // batches that repeat an index, to check multiplicities
    List<TrainingLog.Step> steps = new ArrayList<>(schedule(11).subList(0, 30));
    steps.set(4, new TrainingLog.Step(5, 0.3, new int[] {2, 2, 9, 2, 14, 1}, 6, 1));
    List<double[]> trajectory = new ArrayList<>();
    // θ_T as a function of example j's weight w_j in every batch (1 = the run, 0 = removed)
    java.util.function.BiFunction<Integer, Double, double[]> train = (leftOut, keep) -> {
      double[] w = new double[D];
      for (TrainingLog.Step s : steps) {
        if (leftOut < 0) {
          trajectory.add(w.clone());
        }
        double[] sum = new double[D];
        for (int i : s.examples()) {
          SgdInfluence.axpy(i == leftOut ? keep : 1, scaled(x[i], SgdInfluence.dot(x[i], w) - y[i]), sum);
        }
        SgdInfluence.axpy(-s.learningRate() / s.lossDivisor(), sum, w);
      }
      return w;
    };
    train.apply(-1, 1.0);
    double[] q = x[N];
    double[] predicted = SgdInfluence.queryScores(lsq, trajectory, steps, new double[][] {q}, N)[0];
    double h = 1e-3;
    for (int j = 0; j < N; j++) {
      // The estimate is the first-order term of removal: −dθ_T/dw_j at w_j = 1. θ_T is a polynomial in
      // w_j here, so a central difference gives that derivative to O(h²) without any linearisation of ours.
      double[] up = train.apply(j, 1 + h);
      double[] down = train.apply(j, 1 - h);
      double[] derivative = new double[D];
      for (int k = 0; k < D; k++) {
        derivative[k] = -(up[k] - down[k]) / (2 * h);
      }
      double expected = SgdInfluence.dot(q, derivative);
      assertEquals(expected, predicted[j], 1e-7 * (1 + Math.abs(expected)), "example " + j);
      double[] effect = SgdInfluence.parameterEffect(lsq, trajectory, steps, j);
      for (int k = 0; k < D; k++) {
        assertEquals(derivative[k], effect[k], 1e-7 * (1 + Math.abs(derivative[k])), "Δθ of example " + j + " coordinate " + k);
      }
    }
  }

  private static double[] scaled(double[] x, double a) {
    double[] out = new double[x.length];
    SgdInfluence.axpy(a, x, out);
    return out;
  }

  /**
   * Self-influence (each point's replayed effect on its own loss) against real retraining without the point, for all
   * 60 points: the estimate equals {@link SgdInfluence#queryScores} with the point's own final gradient as the query,
   * and correlates with the retrained change of its own loss.
   */
  @Test
  void selfScores_matchCounterfactualRetrainingOfEachPointsOwnLoss() {
    Logistic model = data(3);
    List<TrainingLog.Step> steps = schedule(5);
    List<double[]> trajectory = model.train(steps, -1);
    double[] finalW = model.w.clone();
    int[] all = new int[N];
    for (int j = 0; j < N; j++) {
      all[j] = j;
    }
    double[] predicted = SgdInfluence.selfScores(model, trajectory, steps, finalW, all, N, 7);
    double[] actual = new double[N];
    for (int j = 0; j < N; j++) {
      model.setParameters(finalW);
      double before = model.loss(model.x[j], model.y[j]);
      model.train(steps, j);
      actual[j] = model.loss(model.x[j], model.y[j]) - before;
    }
    // one replay per point: the same as scoring the point's own final gradient as a query
    model.setParameters(finalW);
    double[] g3 = model.gradient(model.x[3], model.y[3]);
    double viaQuery = SgdInfluence.queryScores(model, trajectory, steps, new double[][] {g3}, N)[0][3];
    assertEquals(viaQuery, predicted[3], 1e-12 * Math.abs(viaQuery));
    double pearson = Stats.pearson(predicted, actual);
    int positive = 0;
    for (int j = 0; j < N; j++) {
      positive += actual[j] > 0 ? 1 : 0;
    }
    System.out.printf("SGD-influence self-influence, logistic regression (%d points, %d steps): Pearson %.6f vs"
        + " retraining; %d of %d points' own loss rises without them%n", N, steps.size(), pearson, positive, N);
    assertTrue(pearson > 0.95, "Pearson of predicted vs retrained change of each point's own loss: " + pearson);
  }

  @Test
  void requirePlainSgd_adamOrClippingOrWeightDecay_refusedNamingFileAndFix() {
    Path file = Path.of("run", "training-log.jsonl");
    List<TrainingLog.Step> steps = List.of(new TrainingLog.Step(1, 0.1, new int[] {0}, 1, 1));
    var adam = assertThrows(IllegalArgumentException.class, () -> SgdInfluence.requirePlainSgd(
        new TrainingLog("adamw", Map.of("beta1", 0.9), 0, 1, 2, steps), file));
    assertTrue(adam.getMessage().contains("training-log.jsonl") && adam.getMessage().contains("HINT")
        && adam.getMessage().contains("adamw"), adam.getMessage());
    var decay = assertThrows(IllegalArgumentException.class, () -> SgdInfluence.requirePlainSgd(
        new TrainingLog("sgd", Map.of("weight_decay", 0.01), 0, 1, 2, steps), file));
    assertTrue(decay.getMessage().contains("weight decay"), decay.getMessage());
    var clipped = assertThrows(IllegalArgumentException.class, () -> SgdInfluence.requirePlainSgd(
        new TrainingLog("sgd", Map.of("weight_decay", 0.0), 1, 1, 2,
            List.of(new TrainingLog.Step(1, 0.1, new int[] {0}, 1, 0.5))), file));
    assertTrue(clipped.getMessage().contains("step 1"), clipped.getMessage());
    SgdInfluence.requirePlainSgd(new TrainingLog("sgd", Map.of("weight_decay", 0.0), 0, 1, 2, steps), file);
  }
}
