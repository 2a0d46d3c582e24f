package io.influence.core.score;

import io.influence.core.grad.Preconditioner;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * Self-influence of one training example from its stored gradients, the quadratic form
 *
 *   score = Σ_i w_i ⟨g_i, P_i g_i⟩
 *
 * over checkpoints i with weights w_i (TracInCP, Pruthi et al. 2020: P = I and w_i = η_i, so
 * Σ_i η_i ‖g_i‖²; influence functions: P_i = (H_i + λI)⁻¹, e.g. EK-FAC's, w_i = 1).
 *
 * Layout: the example's wide row as the gradient store keeps it, C checkpoints of D = layout.dim()
 * float32 values each (row-major per layer, LayerLayout order). With P = I the sum of squares runs
 * straight over the row; otherwise each checkpoint's slice is cut into per-layer float32
 * [rows, cols] matrices, P_i is applied, and ⟨g, P g⟩ is summed in float64 against the row. Every
 * per-checkpoint term is checked to be finite; a NaN/Inf names the example and checkpoint.
 */
public final class SelfInfluenceScorer {

  private final LayerLayout layout;
  private final List<String> checkpoints;
  private final double[] weights;
  private final Preconditioner.PerCheckpoint preconditioner;

  /**
   * @param layout         the layers and stored {@code [rows, cols]} shapes of one checkpoint's slice of a row
   * @param checkpoints    checkpoint names, in row order (passed to {@code preconditioner}, named in errors)
   * @param weights        one weight per checkpoint
   * @param preconditioner {@code P_i}, or null for the identity
   */
  public SelfInfluenceScorer(LayerLayout layout, List<String> checkpoints, double[] weights,
      Preconditioner.PerCheckpoint preconditioner) {
    if (checkpoints.isEmpty() || checkpoints.size() != weights.length) {
      throw new IllegalArgumentException("need one weight per checkpoint and at least one checkpoint, got "
          + weights.length + " weights for " + checkpoints);
    }
    this.layout = layout;
    this.checkpoints = List.copyOf(checkpoints);
    this.weights = weights.clone();
    this.preconditioner = preconditioner;
  }

  /** Values per row: checkpoints × {@code layout.dim()}. */
  public int width() {
    return checkpoints.size() * layout.dim();
  }

  /** {@code Σ_i w_i ⟨g_i, P_i g_i⟩} of the example {@code id} whose wide row is {@code row[0, width())}. */
  public double score(String id, float[] row) {
    if (row.length < width()) {
      throw new IllegalArgumentException("training example '" + id + "': row of " + row.length + " values, expected "
          + width());
    }
    int d = layout.dim();
    double s = 0;
    for (int i = 0; i < checkpoints.size(); i++) {
      double c = preconditioner == null ? squaredNorm(row, i * d, d) : preconditioned(id, checkpoints.get(i), row, i * d);
      if (!Double.isFinite(c)) {
        throw new IllegalArgumentException("training example '" + id + "' at checkpoint '" + checkpoints.get(i)
            + "' has self-influence " + c + ". HINT: its stored gradient holds NaN/Inf or the preconditioner"
            + " overflowed; re-extract the example or raise the damping.");
      }
      s += weights[i] * c;
    }
    return s;
  }

  /** {@code Σ_j v[j]²} over {@code v[start, start + length)}, summed in float64. */
  public static double squaredNorm(float[] v, int start, int length) {
    double s = 0;
    for (int j = start; j < start + length; j++) {
      s += (double) v[j] * v[j];
    }
    return s;
  }

  /** {@code ⟨g, P g⟩} of the checkpoint slice {@code row[start, start + D)}. */
  private double preconditioned(String id, String checkpoint, float[] row, int start) {
    Map<String, INDArray> g = new LinkedHashMap<>();
    for (String layer : layout.layers()) {
      int off = start + layout.offset(layer);
      float[] part = Arrays.copyOfRange(row, off, off + layout.size(layer));
      g.put(layer, Nd4j.create(part, layout.shape(layer), 'c'));
    }
    Map<String, INDArray> pg = preconditioner.at(checkpoint).apply(g);
    double s = 0;
    for (String layer : layout.layers()) {
      long[] shape = layout.shape(layer);
      INDArray x = pg == null ? null : pg.get(layer);
      if (x == null || x.rank() != 2 || x.size(0) != shape[0] || x.size(1) != shape[1]) {
        throw new IllegalStateException("preconditioner returned " + (x == null ? "nothing" : Arrays.toString(
            x.shape())) + " for layer '" + layer + "' of example '" + id + "' at checkpoint '" + checkpoint
            + "', expected " + Arrays.toString(shape));
      }
      double[] v = x.castTo(DataType.DOUBLE).dup('c').data().asDouble();
      int off = start + layout.offset(layer);
      for (int j = 0; j < v.length; j++) {
        s += row[off + j] * v[j];
      }
    }
    return s;
  }
}
