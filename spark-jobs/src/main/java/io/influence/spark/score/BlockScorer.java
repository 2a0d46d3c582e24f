package io.influence.spark.score;

import io.influence.core.score.TopK;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * The scoring kernel of one partition: training rows are gathered B at a time into a heap
 * float[B·W] block (row-major [B, W], W = checkpoints × D), copied into one preallocated
 * off-heap array viewed as 'f'-ordered [W, B] (the same bytes), and scored against the weighted
 * query matrix Q ['f', nQ × W] with one GEMM into a preallocated 'f' [nQ, B] output:
 *
 *   S = Q · T,   S[q, b] = Σ_i w_i ⟨q_i, g_i(b)⟩      (float32, OpenBLAS sgemm, no transposes)
 *
 * All three arrays are allocated once per partition (plus one set for the last, shorter block);
 * see DESIGN.md for why allocation and layout decide a 2-20x factor. Scores are read back with one
 * bulk copy and offered to a top-k and a bottom-k heap per query (io.influence.core.score.TopK:
 * ties by id, mergeable across partitions). A per-query threshold (the worst kept score at the
 * start of the block, which only tightens) skips offers that cannot enter a full heap; while a
 * heap is not yet full, the block's own k-th best score (quickselect) bounds what can enter instead.
 * A score equal to the threshold is still offered so ties resolve by id. Every score is checked to be
 * finite; a NaN/Inf names the training example (a NaN/Inf gradient upstream).
 */
final class BlockScorer {

  private final String[] queryIds;
  private final int nq;
  private final int width;
  private final int blockRows;
  private final INDArray query;
  private final TopK[] top;
  private final TopK[] bottom;
  private final double[] topThreshold;
  private final double[] bottomThreshold;
  private final float[] block;
  private final String[] blockIds;
  private final float[] column;
  private int filled;
  private INDArray fullTrain;
  private INDArray fullOut;
  private float[] scores;
  private long rowsScored;

  /** {@code queryRowMajor} is {@code [nQ, width]} row-major (weights already folded in). */
  BlockScorer(String[] queryIds, float[] queryRowMajor, int width, int k, int blockRows) {
    if (blockRows < 1 || k < 1) {
      throw new IllegalArgumentException("blockRows and k must be >= 1, got " + blockRows + " and " + k);
    }
    this.queryIds = queryIds.clone();
    this.nq = queryIds.length;
    this.width = width;
    this.blockRows = blockRows;
    if (queryRowMajor.length != (long) nq * width) {
      throw new IllegalArgumentException("query matrix has " + queryRowMajor.length + " values, expected " + nq + " x "
          + width);
    }
    this.query = Nd4j.create(queryRowMajor, new long[] {nq, width}, 'c').dup('f');
    this.top = new TopK[nq];
    this.bottom = new TopK[nq];
    this.topThreshold = new double[nq];
    this.bottomThreshold = new double[nq];
    for (int q = 0; q < nq; q++) {
      top[q] = TopK.largest(k);
      bottom[q] = TopK.smallest(k);
      topThreshold[q] = Double.NEGATIVE_INFINITY;
      bottomThreshold[q] = Double.POSITIVE_INFINITY;
    }
    this.block = new float[Math.multiplyExact(blockRows, width)];
    this.blockIds = new String[blockRows];
    this.column = new float[blockRows];
  }

  /** The heap buffer rows are written into; row {@code r} of the current block starts at {@code r · width}. */
  float[] buffer() {
    return block;
  }

  /** Reserves the next row of the block for {@code id}; returns its start offset in {@link #buffer()}. */
  int beginRow(String id) {
    if (filled == blockRows) {
      flush();
    }
    blockIds[filled] = id;
    return filled++ * width;
  }

  /** Scores what is left and returns the heaps (this scorer must not be used afterwards). */
  Heaps finish() {
    flush();
    return new Heaps(top, bottom, rowsScored);
  }

  private IllegalArgumentException notFinite(int r, int q, float s) {
    return new IllegalArgumentException("training example '" + blockIds[r] + "' scores " + s + " against query '"
        + queryIds[q] + "'. HINT: its stored gradient holds NaN/Inf, or the query gradient overflowed;"
        + " re-extract that example.");
  }

  /** The value of rank {@code index} (0-based, ascending) among {@code a[0, n)}; reorders {@code a} (quickselect). */
  static float select(float[] a, int n, int index) {
    int lo = 0;
    int hi = n - 1;
    while (lo < hi) {
      float pivot = a[(lo + hi) >>> 1];
      int i = lo;
      int j = hi;
      while (i <= j) {
        while (a[i] < pivot) {
          i++;
        }
        while (a[j] > pivot) {
          j--;
        }
        if (i <= j) {
          float t = a[i];
          a[i] = a[j];
          a[j] = t;
          i++;
          j--;
        }
      }
      if (index <= j) {
        hi = j;
      } else if (index >= i) {
        lo = i;
      } else {
        return a[index];
      }
    }
    return a[lo];
  }

  private void flush() {
    int b = filled;
    if (b == 0) {
      return;
    }
    INDArray train;
    INDArray out;
    if (b == blockRows) {
      if (fullTrain == null) {
        fullTrain = Nd4j.create(DataType.FLOAT, new long[] {width, blockRows}, 'f');
        fullOut = Nd4j.create(DataType.FLOAT, new long[] {nq, blockRows}, 'f');
        scores = new float[nq * blockRows];
      }
      train = fullTrain;
      out = fullOut;
      train.data().asNioFloat().put(block, 0, b * width);
    } else {
      float[] part = new float[b * width];
      System.arraycopy(block, 0, part, 0, part.length);
      train = Nd4j.create(part, new long[] {width, b}, 'f');
      out = Nd4j.create(DataType.FLOAT, new long[] {nq, b}, 'f');
      if (scores == null || scores.length < nq * b) {
        scores = new float[nq * b];
      }
    }
    Nd4j.gemm(query, train, out, false, false, 1.0, 0.0);
    out.data().asNioFloat().get(scores, 0, nq * b);
    // a heap that is not yet full would take every score of this block; only the block's own k best (worst)
    // can enter, so its k-th best (worst) score is a valid threshold for this block (ties still offered)
    double[] tt = topThreshold.clone();
    double[] bt = bottomThreshold.clone();
    int k = top[0].k();
    if (b > k) {
      for (int q = 0; q < nq; q++) {
        if (top[q].size() < k || bottom[q].size() < k) {
          for (int r = 0; r < b; r++) {
            column[r] = scores[r * nq + q];
            if (!Float.isFinite(column[r])) {
              throw notFinite(r, q, column[r]);
            }
          }
          float kthLargest = select(column, b, b - k);
          float kthSmallest = select(column, b, k - 1);
          tt[q] = Math.max(tt[q], kthLargest);
          bt[q] = Math.min(bt[q], kthSmallest);
        }
      }
    }
    // row by row over the column-major [nQ, b] output: contiguous reads; thresholds stay fixed for the block
    for (int r = 0; r < b; r++) {
      int base = r * nq;
      for (int q = 0; q < nq; q++) {
        float s = scores[base + q];
        if (!Float.isFinite(s)) {
          throw notFinite(r, q, s);
        }
        if (s >= tt[q]) {
          top[q].offer(blockIds[r], s);
        }
        if (s <= bt[q]) {
          bottom[q].offer(blockIds[r], s);
        }
      }
    }
    for (int q = 0; q < nq; q++) {
      if (top[q].size() == top[q].k()) {
        topThreshold[q] = top[q].result().get(top[q].k() - 1).score();
      }
      if (bottom[q].size() == bottom[q].k()) {
        bottomThreshold[q] = bottom[q].result().get(bottom[q].k() - 1).score();
      }
    }
    rowsScored += b;
    filled = 0;
  }
}
