package io.influence.core.score;

import java.util.function.Consumer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * The flagging kernel of one partition: the aggregate influence of every training row on a set of
 * examples of unwanted behaviour. Each row's nE scores are reduced to a few numbers as soon as its
 * block is scored (streaming: nothing of size nTrain × nE is kept).
 *
 * Layout: as BlockScorer. Training rows are gathered B at a time into a heap float[B·W]
 * (row-major [B, W], W = checkpoints × D), widened into one preallocated off-heap float64 array
 * viewed as 'f' [W, B] (the same element order), and multiplied by the example matrix
 * E ['f', nE × W] with one GEMM into a preallocated 'f' [nE, B] output (PairwiseScores.scoreColumns).
 *
 * Normalisation: row e of E is the example's scoring vector q_e (checkpoint weights folded in,
 * preconditioner applied) divided by its own Euclidean norm, so
 *
 *   ŝ_e(z) = ⟨q_e, g(z)⟩ / ‖q_e‖        (the training gradient's component along q_e's direction)
 *
 * and an example whose gradient is large (a long or surprising completion) weighs as much as any
 * other. The norm is known before the pass, so one pass suffices, and a row's aggregate does not
 * depend on the other rows of the corpus (dividing by each example's standard deviation over the
 * corpus would need a second pass or nE scores kept per row). Per row: mean_e ŝ_e, max_e ŝ_e and
 * the example that attains the max (the first on ties).
 *
 * Float64, unlike the score stage's float32 GEMM: examples are few, so the GEMM is thin and bound
 * by reading the rows, and the aggregates are ranked across the whole corpus and compared with a
 * float64 brute force (float32 would agree to about 1e-6 only). Every score must be finite; a
 * NaN/Inf names the training row.
 *
 * Use: one scorer per partition (not thread-safe): beginRow(id) reserves a row of buffer(), the
 * caller writes the row's W floats there; finish() scores the rest. Aggregates go to the sink in
 * row order.
 */
public final class AggregateScorer {

  /**
   * One training row's aggregates over the examples.
   *
   * @param id        the training row
   * @param mean      mean over the examples of the normalised scores
   * @param max       the largest normalised score
   * @param strongest index of the example with the largest normalised score
   */
  public record Aggregate(String id, double mean, double max, int strongest) {}

  private final String[] exampleIds;
  private final int ne;
  private final int width;
  private final int blockRows;
  private final INDArray examples;
  private final Consumer<Aggregate> sink;
  private final float[] block;
  private final String[] blockIds;
  private final double[] scores;
  private INDArray train;
  private INDArray out;
  private int filled;

  /**
   * @param exampleIds one id per example (error messages name them)
   * @param unitRows   the example matrix {@code [nE, width]} row-major, each row of norm 1 (see {@link #unitRows})
   * @param blockRows  training rows per GEMM
   * @param sink       receives each row's aggregates
   */
  public AggregateScorer(String[] exampleIds, double[] unitRows, int width, int blockRows, Consumer<Aggregate> sink) {
    if (blockRows < 1 || width < 1 || exampleIds.length == 0) {
      throw new IllegalArgumentException("need blockRows >= 1, width >= 1 and at least one example, got " + blockRows
          + ", " + width + " and " + exampleIds.length);
    }
    if (unitRows.length != (long) exampleIds.length * width) {
      throw new IllegalArgumentException("example matrix has " + unitRows.length + " values, expected "
          + exampleIds.length + " x " + width);
    }
    this.exampleIds = exampleIds.clone();
    this.ne = exampleIds.length;
    this.width = width;
    this.blockRows = blockRows;
    this.examples = Nd4j.create(unitRows, new long[] {ne, width}, 'c').dup('f');
    this.sink = sink;
    this.block = new float[Math.multiplyExact(blockRows, width)];
    this.blockIds = new String[blockRows];
    this.scores = new double[Math.multiplyExact(ne, blockRows)];
  }

  /**
   * The example matrix to score with: {@code rowMajor} is {@code [nE, C·dim]} (C = {@code weights.length}
   * checkpoints of {@code dim} values each); returns it in float64 with checkpoint {@code i}'s block of every row
   * multiplied by {@code weights[i]}, then each row divided by its norm. A row that is zero (or not finite) is
   * refused, naming its example.
   */
  public static double[] unitRows(String[] exampleIds, float[] rowMajor, int dim, double[] weights) {
    int width = Math.multiplyExact(weights.length, dim);
    if (width == 0 || rowMajor.length != (long) exampleIds.length * width) {
      throw new IllegalArgumentException("an example matrix of " + rowMajor.length + " values does not hold "
          + exampleIds.length + " rows of " + weights.length + " checkpoints x " + dim + " values");
    }
    double[] out = new double[rowMajor.length];
    for (int e = 0; e < exampleIds.length; e++) {
      double sq = 0;
      for (int j = 0; j < width; j++) {
        double v = weights[j / dim] * rowMajor[e * width + j];
        out[e * width + j] = v;
        sq += v * v;
      }
      double norm = Math.sqrt(sq);
      if (!(norm > 0) || !Double.isFinite(norm)) {
        throw new IllegalArgumentException("example '" + exampleIds[e] + "' has a scoring vector of norm " + norm
            + ". HINT: its completion must have tokens the model can be wrong about; check the examples file.");
      }
      for (int j = 0; j < width; j++) {
        out[e * width + j] /= norm;
      }
    }
    return out;
  }

  /** The heap buffer rows are written into; row {@code r} of the current block starts at {@code r · width}. */
  public float[] buffer() {
    return block;
  }

  /** Reserves the next row of the block for {@code id}; returns its start offset in {@link #buffer()}. */
  public int beginRow(String id) {
    if (filled == blockRows) {
      flush();
    }
    blockIds[filled] = id;
    return filled++ * width;
  }

  /** Scores what is left (this scorer must not be used afterwards). */
  public void finish() {
    flush();
  }

  private void flush() {
    int b = filled;
    if (b == 0) {
      return;
    }
    if (b == blockRows) {
      if (train == null) {
        train = Nd4j.create(DataType.DOUBLE, new long[] {width, blockRows}, 'f');
        out = Nd4j.create(DataType.DOUBLE, new long[] {ne, blockRows}, 'f');
      }
      widen(train, b);
      PairwiseScores.scoreColumns(examples, train, out);
      out.data().asNioDouble().get(scores, 0, ne * b);
    } else {
      INDArray t = Nd4j.create(DataType.DOUBLE, new long[] {width, b}, 'f');
      INDArray o = Nd4j.create(DataType.DOUBLE, new long[] {ne, b}, 'f');
      widen(t, b);
      PairwiseScores.scoreColumns(examples, t, o);
      o.data().asNioDouble().get(scores, 0, ne * b);
    }
    for (int r = 0; r < b; r++) {   // column r of the 'f' [nE, b] output: scores[r·nE, (r+1)·nE)
      double sum = 0;
      double max = Double.NEGATIVE_INFINITY;
      int strongest = 0;
      for (int e = 0; e < ne; e++) {
        double s = scores[r * ne + e];
        if (!Double.isFinite(s)) {
          throw new IllegalArgumentException("training example '" + blockIds[r] + "' scores " + s + " against example '"
              + exampleIds[e] + "'. HINT: its stored gradient holds NaN/Inf; re-extract that example.");
        }
        sum += s;
        if (s > max) {
          max = s;
          strongest = e;
        }
      }
      sink.accept(new Aggregate(blockIds[r], sum / ne, max, strongest));
    }
    filled = 0;
  }

  /** Copies the first {@code b} rows of the heap block, widened to float64, into {@code dst} ('f' [width, ≥b]). */
  private void widen(INDArray dst, int b) {
    java.nio.DoubleBuffer d = dst.data().asNioDouble();
    int n = b * width;
    for (int j = 0; j < n; j++) {
      d.put(j, block[j]);
    }
  }
}
