package io.influence.core.score;

import java.util.Arrays;
import java.util.List;
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
 *
 * Use: one scorer per partition (not thread-safe): beginRow(id) reserves a row of buffer(), the caller
 * writes the row's width floats there, and finish() scores the rest and returns the heaps (QueryHeaps,
 * merged across partitions). rank(...) does the same over rows already in memory.
 */
public final class BlockScorer {

  private final String[] queryIds;
  private final int nq;
  private final int width;
  private final int blockRows;
  private final INDArray query;
  private final TopK[] top;
  private final TopK[] bottom;
  // float: every threshold is a float score (or an infinity), so comparisons with float scores are exact
  private final float[] topThreshold;
  private final float[] bottomThreshold;
  private final float[] block;
  private final String[] blockIds;
  private final float[] column;
  private int filled;
  private INDArray fullTrain;
  private INDArray fullOut;
  private float[] scores;
  private long rowsScored;
  private java.util.function.BiPredicate<String, Integer> allowed;
  private OfferListener listener;

  /**
   * Told of every (query, training row) pair offered to a heap, while the row's floats are still in the block
   * buffer: a caller that needs more than the score of the kept pairs (the score stage's float64 per-checkpoint and
   * per-layer parts) computes it here instead of reading every row again. Offers are a superset of the kept pairs and,
   * once the heaps are full, rare (a row must beat the worst kept score): about {@code k · (1 + ln(rows / blockRows))}
   * per query and direction.
   */
  @FunctionalInterface
  public interface OfferListener {
    /** Pair ({@code query}, {@code id}) is offered; the row is {@code block[rowStart, rowStart + width)}. */
    void offered(int query, String id, float[] block, int rowStart);
  }

  /**
   * @param queryIds      one id per query (error messages name them)
   * @param queryRowMajor the query matrix {@code [nQ, width]} row-major (checkpoint weights already folded in)
   * @param k             how many examples the top-k and the bottom-k heap of each query keep
   * @param blockRows     training rows per GEMM
   */
  public BlockScorer(String[] queryIds, float[] queryRowMajor, int width, int k, int blockRows) {
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
    QueryHeaps empty = QueryHeaps.empty(nq, k);
    this.top = empty.top();
    this.bottom = empty.bottom();
    this.topThreshold = new float[nq];
    this.bottomThreshold = new float[nq];
    Arrays.fill(topThreshold, Float.NEGATIVE_INFINITY);
    Arrays.fill(bottomThreshold, Float.POSITIVE_INFINITY);
    this.block = new float[Math.multiplyExact(blockRows, width)];
    this.blockIds = new String[blockRows];
    this.column = new float[blockRows];
  }

  /**
   * Restricts the heaps to the pairs {@code allowed.test(trainId, queryIndex)} accepts (a candidate prefilter: each
   * query ranks only its own candidate rows); the other pairs are still computed by the block GEMM but never offered.
   * Call before the first row. Returns this scorer.
   */
  public BlockScorer onlyPairs(java.util.function.BiPredicate<String, Integer> allowed) {
    if (filled > 0 || rowsScored > 0) {
      throw new IllegalStateException("onlyPairs must be set before the first row");
    }
    this.allowed = java.util.Objects.requireNonNull(allowed, "allowed");
    return this;
  }

  /** Calls {@code listener} for every pair offered to a heap (see {@link OfferListener}). Returns this scorer. */
  public BlockScorer onOffer(OfferListener listener) {
    this.listener = java.util.Objects.requireNonNull(listener, "listener");
    return this;
  }

  /** The current top-k and bottom-k heaps (live: they change as rows are scored). */
  public QueryHeaps heaps() {
    return new QueryHeaps(top, bottom, rowsScored);
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

  /** Scores what is left and returns the heaps (this scorer must not be used afterwards). */
  public QueryHeaps finish() {
    flush();
    return new QueryHeaps(top, bottom, rowsScored);
  }

  /**
   * The same kernel over rows already in memory: {@code queries[q]} and {@code train[t]} are flat rows of one width
   * (weights already folded into the queries); returns the top-k and bottom-k per query (ties by id), scoring
   * {@code blockRows} training rows per GEMM.
   */
  public static Ranking rank(List<String> queryIds, float[][] queries, List<String> trainIds, float[][] train, int k,
      int blockRows) {
    if (queryIds.size() != queries.length || trainIds.size() != train.length || queries.length == 0) {
      throw new IllegalArgumentException("need one id per row and at least one query, got " + queryIds.size() + " ids for "
          + queries.length + " queries and " + trainIds.size() + " ids for " + train.length + " training rows");
    }
    int width = queries[0].length;
    float[] q = new float[queries.length * width];
    for (int i = 0; i < queries.length; i++) {
      if (queries[i].length != width) {
        throw new IllegalArgumentException("query '" + queryIds.get(i) + "' has " + queries[i].length + " values, expected "
            + width);
      }
      System.arraycopy(queries[i], 0, q, i * width, width);
    }
    BlockScorer scorer = new BlockScorer(queryIds.toArray(new String[0]), q, width, k, blockRows);
    for (int t = 0; t < train.length; t++) {
      if (train[t].length != width) {
        throw new IllegalArgumentException("training row '" + trainIds.get(t) + "' has " + train[t].length
            + " values, expected " + width);
      }
      int off = scorer.beginRow(trainIds.get(t));
      System.arraycopy(train[t], 0, scorer.buffer(), off, width);
    }
    return scorer.finish().ranking(queryIds);
  }

  private IllegalArgumentException notFinite(int r, int q, float s) {
    return new IllegalArgumentException("training example '" + blockIds[r] + "' scores " + s + " against query '"
        + queryIds[q] + "'. HINT: its stored gradient holds NaN/Inf, or the query gradient overflowed;"
        + " re-extract that example.");
  }

  /**
   * The query matrix with checkpoint weights folded in: {@code queries} is {@code [nQ, C·dim]} row-major (C = {@code
   * weights.length} checkpoints of {@code dim} values each); returns a copy whose checkpoint-{@code i} block of every
   * query is multiplied by {@code (float) weights[i]}, so that one GEMM gives {@code Σ_i w_i ⟨q_i, g_i⟩}.
   */
  public static float[] foldWeights(float[] queries, int dim, double[] weights) {
    long width = (long) weights.length * dim;
    if (width == 0 || queries.length % width != 0) {
      throw new IllegalArgumentException("a query matrix of " + queries.length + " values does not split into rows of "
          + weights.length + " checkpoints x " + dim + " values");
    }
    float[] out = queries.clone();
    for (int start = 0, i = 0; start < out.length; start += dim, i = (i + 1) % weights.length) {
      float w = (float) weights[i];
      for (int j = start; j < start + dim; j++) {
        out[j] *= w;
      }
    }
    return out;
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

  /**
   * Whether row {@code scores[base, base + nq)} needs the per-score pass: false only when every score is finite and
   * strictly between its query's thresholds ({@code bottom < s < top}), so no pair of the row is offered and none is
   * NaN or infinite. One branch-free max-reduction over the row, which the JIT turns into vector code, instead of
   * four tests per score: once the heaps are full almost no row has an offer (measured: 12 ms → 4–6 ms per block
   * of 2,048 × 2,048 scores). A NaN score makes the maximum NaN and an infinite one makes it infinite, so both go to
   * the per-score pass, which refuses them; {@code s - t >= 0} exactly when {@code s >= t} in IEEE arithmetic.
   */
  private static boolean mayOffer(float[] scores, int base, float[] top, float[] bottom) {
    float m = Float.NEGATIVE_INFINITY;
    for (int q = 0; q < top.length; q++) {
      float s = scores[base + q];
      m = Math.max(m, Math.max(s - top[q], bottom[q] - s));
    }
    return !(m < 0);
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
    PairwiseScores.scoreColumns(query, train, out);
    out.data().asNioFloat().get(scores, 0, nq * b);
    // a heap that is not yet full would take every score of this block; only the block's own k best (worst)
    // can enter, so its k-th best (worst) score is a valid threshold for this block (ties still offered)
    float[] tt = topThreshold.clone();
    float[] bt = bottomThreshold.clone();
    int k = top[0].k();
    if (b > k && allowed == null) {   // with a pair filter the block's k-th score may belong to an excluded pair
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
      if (!mayOffer(scores, base, tt, bt)) {
        continue;
      }
      for (int q = 0; q < nq; q++) {
        float s = scores[base + q];
        if (!Float.isFinite(s)) {
          throw notFinite(r, q, s);
        }
        if (allowed != null && !allowed.test(blockIds[r], q)) {
          continue;
        }
        boolean toTop = s >= tt[q];
        boolean toBottom = s <= bt[q];
        if (listener != null && (toTop || toBottom)) {
          listener.offered(q, blockIds[r], block, r * width);
        }
        if (toTop) {
          top[q].offer(blockIds[r], s);
        }
        if (toBottom) {
          bottom[q].offer(blockIds[r], s);
        }
      }
    }
    for (int q = 0; q < nq; q++) {
      if (top[q].size() == top[q].k()) {
        topThreshold[q] = (float) top[q].worst();   // a float score widened: exact
      }
      if (bottom[q].size() == bottom[q].k()) {
        bottomThreshold[q] = (float) bottom[q].worst();
      }
    }
    rowsScored += b;
    filled = 0;
  }
}
