package io.influence.spark.ihvp;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.model.CausalLm;
import io.influence.core.score.LayerLayout;
import io.influence.spark.config.IhvpSettings.Curvature;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.io.Runs;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/*
 * The curvature of the mean training loss over a corpus held by Spark, as a block operator:
 *
 *     M v_j = (1/N) Σ_n C(z_n) v_j      for every vector v_j of the block,
 *
 * C = the generalised Gauss-Newton matrix J_nᵀ H_out J_n (curvature "ggn", exact) or the Hessian of the
 * sequence loss (curvature "hessian", central differences) w.r.t. the chosen layers of one checkpoint, in
 * the LayerLayout of those layers ([dOut, dIn+1] each, bias last; the layout of full per-example gradients).
 *
 * One block product = one Spark job: the block is broadcast, each partition of the (persisted) token RDD
 * returns Σ over its sequences of C(z) v_j (HvpTask), treeReduce adds the partitions, the driver divides by N.
 * So a solver advancing all queries' systems together costs one job per iteration, not one per query.
 *
 * Precision: float64 throughout (the model is loaded in float64 on the executors; products and sums are
 * float64), so the result equals GaussNewtonOperator over the whole corpus on one machine up to the order of
 * the float64 additions (partition sums, then the tree): about 1e-15 relative. The result does not depend on
 * the number of partitions beyond that rounding.
 *
 * Cost per vector and sequence: as GaussNewtonOperator (2 forward passes, 1 tangent pass, 1 backward pass);
 * network: the block (k · dim float64) to every executor and k · dim per partition back.
 */
public final class CorpusHvp implements BlockLinearOperator {

  private static final int TREE_DEPTH = 2;

  private final JavaRDD<int[]> tokens;
  private final long rows;
  private final RunCheckpoint checkpoint;
  private final List<String> layers;
  private final Curvature curvature;
  private final int batchSize;
  private final LayerLayout layout;
  private int products;
  private long vectors;

  /**
   * @param tokens     the training sequences (checked against the model; persist it: every product reads it)
   * @param rows       their number N (the count the sums are divided by; checked at every product)
   * @param checkpoint the checkpoint whose curvature this is
   * @param layers     the tracked layers, in the order of the vectors' layout
   * @param curvature  the Gauss-Newton matrix or the Hessian
   * @param batchSize  sequences per forward/backward pass in a task
   */
  public CorpusHvp(JavaRDD<int[]> tokens, long rows, RunCheckpoint checkpoint, List<String> layers, Curvature curvature,
      int batchSize) {
    if (rows < 1) {
      throw new IllegalArgumentException("no training sequences for the curvature. HINT: check input.corpus, the "
          + "bad-row report and influence.ihvp.sample-rows");
    }
    java.util.Objects.requireNonNull(curvature, "curvature");
    this.tokens = tokens;
    this.rows = rows;
    this.checkpoint = checkpoint;
    this.layers = List.copyOf(layers);
    this.curvature = curvature;
    this.batchSize = batchSize;
    this.layout = layout(ExecutorModels.model(checkpoint.dir().toString(), checkpoint.sha256()), layers);
  }

  /** The flat layout of the tracked layers' full gradients: {@code [dOut, dIn+1]} each, row-major, bias last. */
  public static LayerLayout layout(CausalLm model, List<String> layers) {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (String l : layers) {
      int[] s = model.linearShape(l);
      shapes.put(l, new long[] {s[0], s[1]});
    }
    return LayerLayout.of(layers, shapes);
  }

  public LayerLayout layout() {
    return layout;
  }

  @Override
  public int dim() {
    return layout.dim();
  }

  /** Training sequences N the curvature averages over. */
  public long rows() {
    return rows;
  }

  /** Block products (= Spark jobs) so far. */
  public int products() {
    return products;
  }

  /** Curvature-vector products so far (vectors over all blocks). */
  public long vectors() {
    return vectors;
  }

  @Override
  public void apply(double[][] vs, double[][] outs) {
    BlockLinearOperator.checkBlock(this, vs, outs);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(tokens.context());
    Broadcast<double[][]> b = jsc.broadcast(vs);
    HvpTask.Sum sum;
    try {
      sum = tokens.mapPartitions(new HvpTask(Runs.location(checkpoint), checkpoint.sha256(), layers, curvature,
          batchSize, b)).treeReduce(HvpTask.Sum::merge, TREE_DEPTH);
    } finally {
      b.destroy();
    }
    if (sum.count() != rows) {
      throw new IllegalStateException("the curvature product saw " + sum.count() + " training sequences but " + rows
          + " were counted. HINT: persist the token RDD so that every product reads the same rows");
    }
    for (int j = 0; j < vs.length; j++) {
      double[] s = sum.sums()[j];
      double[] o = outs[j];
      for (int i = 0; i < o.length; i++) {
        o[i] = s[i] / rows;
      }
    }
    products++;
    vectors += vs.length;
  }
}
