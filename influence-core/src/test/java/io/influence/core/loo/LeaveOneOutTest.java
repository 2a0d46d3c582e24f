package io.influence.core.loo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.LinearOperator;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.PairwiseScores;
import io.influence.core.score.Stats;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.InverseHvpPreconditioner;
import io.influence.core.truth.DenseMath;
import io.influence.core.truth.Digits;
import io.influence.core.truth.LogisticRegression;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Influence functions against leave-one-out retraining (Koh and Liang 2017, Fig. 2) on real data:
 * L2-regularised logistic regression, handwritten digits 1 vs 7 (influence-core main resources/digits, UCI via scikit-learn; {@link Digits}).
 *
 * <p>Convention. The model minimises {@code R(w) = (1/N) Σ_i ℓ_i(w) + (α/2)‖w‖²}. Removing training point j
 * while keeping N and α fixed is the upweighting {@code R + ε ℓ_j} at {@code ε = −1/N}; to first order
 * {@code Δw ≈ (1/N) H⁻¹ ∇ℓ_j} with {@code H = ∇²R}, so the test loss changes by
 * {@code ΔL_test ≈ (1/N) ∇L_testᵀ H⁻¹ ∇ℓ_j = score(z_j, z_test) / N}, where score is the engine's sign
 * convention (positive = upweighting z_j lowers the test loss, so removing it raises it). Here
 * {@code H = dataHessian + αI}: the engine's operator is the data Hessian, the damping is α. Retraining uses
 * the same fixed-N objective with point j masked out, by Newton's method warm-started at ŵ, to
 * ‖∇R‖ < 1e-10.
 */
class LeaveOneOutTest {

  // one place for the bars and settings of this class
  private static final double MIN_PEARSON = 0.95;
  private static final double ALPHA = 1e-2;
  private static final int TRAIN = 300;
  private static final int REMOVED = 40;
  private static final double NEWTON_TOLERANCE = 1e-10;

  @Test
  void influenceFunction_digitsLogisticRegression_predictsLeaveOneOutRetraining() {
    Digits all = Digits.oneVsSeven();
    assertEquals(361, all.x().length);
    double[][] trainX = java.util.Arrays.copyOfRange(all.x(), 0, TRAIN);
    double[] trainY = java.util.Arrays.copyOfRange(all.y(), 0, TRAIN);
    LogisticRegression model = new LogisticRegression(trainX, trainY, ALPHA);
    boolean[] keep = LogisticRegression.all(TRAIN);
    double[] w = model.fit(new double[65], keep, NEWTON_TOLERANCE);

    // the held-out point with the highest loss is the query
    int query = IntStream.range(TRAIN, all.x().length).boxed()
        .max(Comparator.comparingDouble(i -> LogisticRegression.loss(w, all.x()[i], all.y()[i]))).orElseThrow();
    double[] qx = all.x()[query];
    double qy = all.y()[query];
    double baseLoss = LogisticRegression.loss(w, qx, qy);

    // engine path: CG preconditioner on the exact Hessian, GEMM scores against all training gradients
    LinearOperator h = model.dataHessian(w, keep);
    LayerLayout layout = LayerLayout.of(List.of(LogisticRegression.LAYER),
        Map.of(LogisticRegression.LAYER, new long[] {1, 65}));
    InverseHvpPreconditioner pre = InverseHvpPreconditioner.of(IhvpSolver.conjugateGradient(ALPHA, 1e-12, 500), h,
        layout, true);
    Map<String, INDArray> preconditioned = pre.apply(LogisticRegression.asLayers(LogisticRegression.gradient(w, qx, qy)));
    List<String> ids = new ArrayList<>();
    List<Map<String, INDArray>> grads = new ArrayList<>();
    for (int i = 0; i < TRAIN; i++) {
      ids.add("train-" + i);
      grads.add(LogisticRegression.asLayers(LogisticRegression.gradient(w, trainX[i], trainY[i])));
    }
    double[] scores = PairwiseScores.score(layout, List.of("query-" + query), List.of(preconditioned), ids, grads)[0];

    // the 40 training points with the largest |predicted change|
    int[] chosen = IntStream.range(0, TRAIN).boxed()
        .sorted(Comparator.comparingDouble((Integer i) -> -Math.abs(scores[i]))).limit(REMOVED)
        .mapToInt(Integer::intValue).toArray();
    double[] predicted = new double[REMOVED];
    double[] actual = new double[REMOVED];
    for (int k = 0; k < REMOVED; k++) {
      int j = chosen[k];
      predicted[k] = scores[j] / TRAIN;
      boolean[] without = keep.clone();
      without[j] = false;
      double[] wj = model.fit(w, without, NEWTON_TOLERANCE);
      actual[k] = LogisticRegression.loss(wj, qx, qy) - baseLoss;
    }
    // the same prediction with LiSSA on the same operator (scale from a Gershgorin bound on H + αI)
    double scale = 1.05 * (DenseMath.maxEigenvalueBound(DenseMath.matrix(h)) + ALPHA);
    InverseHvpPreconditioner lissa = InverseHvpPreconditioner.of(IhvpSolver.lissa(ALPHA, scale, 20_000, 1, 1e-10), h,
        layout, true);
    Map<String, INDArray> lissaQuery = lissa.apply(LogisticRegression.asLayers(LogisticRegression.gradient(w, qx, qy)));
    double[] lissaScores = PairwiseScores.score(layout, List.of("query-" + query), List.of(lissaQuery), ids, grads)[0];
    double[] lissaPredicted = new double[REMOVED];
    for (int k = 0; k < REMOVED; k++) {
      lissaPredicted[k] = lissaScores[chosen[k]] / TRAIN;
    }
    double lissaPearson = Stats.pearson(actual, lissaPredicted);
    System.out.printf("LOO digits 1-vs-7 with LiSSA: Pearson %.6f%n", lissaPearson);
    assertTrue(lissaPearson >= MIN_PEARSON, "LiSSA Pearson(actual, predicted) = " + lissaPearson);

    double pearson = Stats.pearson(actual, predicted);
    double slope = DenseMath.dot(actual, predicted) / DenseMath.dot(predicted, predicted);
    System.out.printf("LOO digits 1-vs-7 (N=%d, alpha=%g, query row %d, loss %.4f): Pearson %.6f, Spearman %.6f,"
            + " slope actual/predicted %.4f, predicted range [%.3e, %.3e]%n", TRAIN, ALPHA, query, baseLoss, pearson,
        Stats.spearman(actual, predicted), slope, min(predicted), max(predicted));
    assertTrue(pearson >= MIN_PEARSON, "Pearson(actual, predicted) = " + pearson);
    // the sign and 1/N convention: a first-order estimate, so the least-squares slope is near 1
    assertTrue(slope > 0.8 && slope < 1.25, "slope actual/predicted = " + slope);
  }

  private static double min(double[] a) {
    return java.util.Arrays.stream(a).min().orElseThrow();
  }

  private static double max(double[] a) {
    return java.util.Arrays.stream(a).max().orElseThrow();
  }
}
