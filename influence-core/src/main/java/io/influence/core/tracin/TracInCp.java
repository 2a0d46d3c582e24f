package io.influence.core.tracin;

import io.influence.core.score.LayerLayout;
import io.influence.core.score.PairwiseScores;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/*
 * TracInCP (Pruthi et al. 2020, "Estimating Training Data Influence by Tracing Gradient
 * Descent"): I(z, z') = Σ_i η_i ⟨∇L(z; θ_i), ∇L(z'; θ_i)⟩ over saved checkpoints θ_i, and
 * self-influence Σ_i η_i ‖∇L(z; θ_i)‖².
 *
 * Per checkpoint, the query and training gradients are flattened with one LayerLayout into
 * [nQuery, D] and [nTrain, D] matrices (in the gradients' dtype: float32 on the hot path) and
 * multiplied with one GEMM (PairwiseScores); the η_i-scaled products are accumulated in
 * float64 and kept per checkpoint. Self-influence squares and sums each row in float64.
 * Every gradient is checked for NaN/Inf before use; the error names example, layer and
 * checkpoint. Checkpoints must list the same ids in the same order.
 */
public final class TracInCp {

  private TracInCp() {}

  /** Scores every (query, train) pair over all checkpoints of {@code source}. */
  public static TracInScores scores(LayerLayout layout, CheckpointSource source) {
    requireCheckpoints(source);
    List<String> queryIds = null;
    List<String> trainIds = null;
    List<String> names = new ArrayList<>();
    double[][][] per = new double[source.size()][][];
    double[][] total = null;
    for (int i = 0; i < source.size(); i++) {
      CheckpointGradients c = source.load(i);
      String where = "checkpoint '" + c.checkpoint() + "'";
      List<String> qIds = ids(c.queries());
      List<String> tIds = ids(c.train());
      if (i == 0) {
        queryIds = qIds;
        trainIds = tIds;
        total = new double[qIds.size()][tIds.size()];
      } else {
        requireSameIds(queryIds, qIds, where, "query");
        requireSameIds(trainIds, tIds, where, "training");
      }
      names.add(c.checkpoint());
      DataType dt = dtype(c);
      INDArray q = layout.toMatrix(qIds, maps(c.queries()), dt, where);
      INDArray t = layout.toMatrix(tIds, maps(c.train()), dt, where);
      double[][] s = qIds.isEmpty() || tIds.isEmpty() ? new double[qIds.size()][tIds.size()]
          : PairwiseScores.score(q, t).toDoubleMatrix();
      for (int a = 0; a < s.length; a++) {
        for (int b = 0; b < s[a].length; b++) {
          s[a][b] *= c.learningRate();
          total[a][b] += s[a][b];
        }
      }
      per[i] = s;
    }
    return new TracInScores(queryIds, trainIds, List.copyOf(names), total, per);
  }

  /** Self-influence of every training example of {@code source} (the {@code train} lists; queries are ignored). */
  public static SelfInfluence selfInfluence(LayerLayout layout, CheckpointSource source) {
    requireCheckpoints(source);
    List<String> ids = null;
    List<String> names = new ArrayList<>();
    double[][] per = new double[source.size()][];
    double[] total = null;
    for (int i = 0; i < source.size(); i++) {
      CheckpointGradients c = source.load(i);
      String where = "checkpoint '" + c.checkpoint() + "'";
      List<String> tIds = ids(c.train());
      if (i == 0) {
        ids = tIds;
        total = new double[tIds.size()];
      } else {
        requireSameIds(ids, tIds, where, "training");
      }
      names.add(c.checkpoint());
      double[] s = new double[tIds.size()];
      for (int t = 0; t < s.length; t++) {
        ExampleGradient e = c.train().get(t);
        double sq = 0;
        for (double x : layout.toVector(where, e.id(), e.layers())) {
          sq += x * x;
        }
        s[t] = c.learningRate() * sq;
        total[t] += s[t];
      }
      per[i] = s;
    }
    return new SelfInfluence(ids, List.copyOf(names), total, per);
  }

  private static void requireCheckpoints(CheckpointSource source) {
    if (source.size() < 1) {
      throw new IllegalArgumentException("TracInCP needs at least one checkpoint, got none."
          + " HINT: list the run's checkpoints with their learning rates in influence-run.json.");
    }
  }

  private static DataType dtype(CheckpointGradients c) {
    for (List<ExampleGradient> side : List.of(c.queries(), c.train())) {
      for (ExampleGradient e : side) {
        for (INDArray a : e.layers().values()) {
          return a.dataType() == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
        }
      }
    }
    return DataType.DOUBLE;
  }

  private static List<String> ids(List<ExampleGradient> examples) {
    List<String> out = new ArrayList<>(examples.size());
    for (ExampleGradient e : examples) {
      out.add(e.id());
    }
    return List.copyOf(out);
  }

  private static List<Map<String, INDArray>> maps(List<ExampleGradient> examples) {
    List<Map<String, INDArray>> out = new ArrayList<>(examples.size());
    for (ExampleGradient e : examples) {
      out.add(e.layers());
    }
    return out;
  }

  private static void requireSameIds(List<String> expected, List<String> got, String where, String side) {
    if (!expected.equals(got)) {
      throw new IllegalArgumentException(where + " lists " + got.size() + " " + side + " examples " + preview(got)
          + " but the first checkpoint listed " + expected.size() + " " + preview(expected)
          + ". HINT: extract every checkpoint over the same examples in the same order.");
    }
  }

  private static String preview(List<String> ids) {
    return ids.size() <= 5 ? ids.toString() : ids.subList(0, 5) + "...";
  }
}
