package io.influence.spark.ihvp;

import io.influence.core.hvp.GaussNewtonOperator;
import io.influence.core.hvp.HessianOperator;
import io.influence.core.hvp.TrainingSequences;
import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.model.CausalLm;
import io.influence.spark.config.IhvpSettings.Curvature;
import io.influence.spark.extract.ExecutorModels;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.buffer.DataType;

/*
 * One task of a distributed curvature-vector product: the partition's sequences, the checkpoint's float64
 * model (loaded once per task thread by ExecutorModels), a GaussNewtonOperator (or HessianOperator) over those
 * sequences only, applied to the broadcast block (the Gauss-Newton operator runs one forward pass per batch for
 * all vectors; central differences of the Hessian need two gradient passes per vector). The operators give the MEAN over their sequences, so
 * each product is multiplied by the partition's count n_p: the task returns Σ_{z in partition} G(z) v_j and
 * n_p, and the driver divides the treeReduce'd sums by N = Σ n_p. An empty partition returns count 0 and no
 * arrays (so it costs nothing to merge).
 */
final class HvpTask implements FlatMapFunction<Iterator<int[]>, HvpTask.Sum> {

  private static final long serialVersionUID = 1L;

  /** Σ over some sequences of the products of each vector of the block, and how many sequences. */
  record Sum(long count, double[][] sums) implements Serializable {

    /** Adds {@code other} into this (or returns whichever is non-empty). */
    Sum merge(Sum other) {
      if (other.count == 0) {
        return this;
      }
      if (count == 0) {
        return other;
      }
      if (sums.length != other.sums.length) {
        throw new IllegalStateException("cannot merge products of " + sums.length + " and " + other.sums.length
            + " vectors");
      }
      for (int j = 0; j < sums.length; j++) {
        double[] a = sums[j];
        double[] b = other.sums[j];
        for (int i = 0; i < a.length; i++) {
          a[i] += b[i];
        }
      }
      return new Sum(count + other.count, sums);
    }
  }

  private final String dir;
  private final String sha256;
  private final List<String> layers;
  private final Curvature curvature;
  private final int batchSize;
  private final Broadcast<double[][]> vectors;

  HvpTask(String dir, String sha256, List<String> layers, Curvature curvature, int batchSize,
      Broadcast<double[][]> vectors) {
    this.dir = dir;
    this.sha256 = sha256;
    this.layers = List.copyOf(layers);
    this.curvature = curvature;
    this.batchSize = batchSize;
    this.vectors = vectors;
  }

  @Override
  public Iterator<Sum> call(Iterator<int[]> rows) {
    List<int[]> tokens = new ArrayList<>();
    rows.forEachRemaining(tokens::add);
    if (tokens.isEmpty()) {
      return List.of(new Sum(0, null)).iterator();
    }
    CausalLm model = ExecutorModels.model(dir, sha256, DataType.DOUBLE);
    TrainingSequences data = TrainingSequences.of(tokens, batchSize);
    // the Gauss-Newton operator serves the whole block with one forward pass per batch
    BlockLinearOperator op = curvature == Curvature.HESSIAN
        ? BlockLinearOperator.oneAtATime(HessianOperator.create(model, layers, data))
        : GaussNewtonOperator.create(model, layers, data);
    double[][] vs = vectors.value();
    double[][] out = new double[vs.length][op.dim()];
    op.apply(vs, out);
    double n = tokens.size();
    for (double[] o : out) {
      for (int i = 0; i < o.length; i++) {
        o[i] *= n;
      }
    }
    return List.of(new Sum(tokens.size(), out)).iterator();
  }
}
