package io.influence.core.score;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/*
 * Dense pairwise scores score[q, t] = Σ_l ⟨Q_l(q), G_l(t)⟩_F between (already preconditioned)
 * query gradients and training gradients.
 *
 * Layout: both sides are flattened with one LayerLayout into matrices Q [nQuery, D] and
 * G [nTrain, D]; then score = Q Gᵀ is a single GEMM, Nd4j.gemm(Q, G, out, false, true, 1, 0),
 * into a preallocated 'f'-ordered [nQuery, nTrain] output (see DESIGN.md: allocation and
 * layout decide a 2-20x factor). Scores are computed in the inputs' dtype (float32 on the hot
 * path, float64 in tests); the per-layer breakdown uses the same GEMM on column ranges.
 * scoreColumns is the same product with the training gradients as columns ('f' [D, nTrain], the
 * bytes of row-major [nTrain, D]): no transpose, the form BlockScorer runs on each block.
 */
public final class PairwiseScores {

  private PairwiseScores() {}

  /**
   * Writes {@code query · trainᵀ} into {@code out} and returns it. {@code query} is {@code [nQuery, D]},
   * {@code train} {@code [nTrain, D]}, {@code out} a preallocated {@code [nQuery, nTrain]} array, ideally 'f'
   * ordered; all three of one dtype.
   */
  public static INDArray score(INDArray query, INDArray train, INDArray out) {
    check(query, train, false, out);
    if (query.rows() == 0 || train.rows() == 0) {
      return out;
    }
    return Nd4j.gemm(query, train, out, false, true, 1.0, 0.0);
  }

  /**
   * Writes {@code query · trainColumns} into {@code out} and returns it: the same scores as
   * {@link #score(INDArray, INDArray, INDArray)} with the training gradients as the columns of a {@code [D, nTrain]}
   * array. An 'f'-ordered {@code [D, nTrain]} array holds the same bytes as row-major {@code [nTrain, D]} rows, so a
   * block of rows copied in as they are is multiplied without a transpose (the blocked scorer's layout). Same dtype
   * and output rules as {@code score}.
   */
  public static INDArray scoreColumns(INDArray query, INDArray trainColumns, INDArray out) {
    check(query, trainColumns, true, out);
    if (query.rows() == 0 || trainColumns.columns() == 0) {
      return out;
    }
    return Nd4j.gemm(query, trainColumns, out, false, false, 1.0, 0.0);
  }

  /** Shapes and dtypes of a score GEMM; {@code columns}: the training gradients are the columns of {@code train}. */
  private static void check(INDArray query, INDArray train, boolean columns, INDArray out) {
    long d = columns ? train.rows() : train.columns();
    long nTrain = columns ? train.columns() : train.rows();
    if (query.rank() != 2 || train.rank() != 2 || query.columns() != d) {
      throw new IllegalArgumentException("query must be [nQuery, D] and train " + (columns ? "[D, nTrain]" : "[nTrain, D]")
          + " with the same D, got " + Arrays.toString(query.shape()) + " and " + Arrays.toString(train.shape())
          + ". HINT: flatten both with the same LayerLayout.");
    }
    if (out.rank() != 2 || out.rows() != query.rows() || out.columns() != nTrain) {
      throw new IllegalArgumentException("out must be [" + query.rows() + ", " + nTrain + "], got "
          + Arrays.toString(out.shape()));
    }
    if (query.dataType() != train.dataType() || out.dataType() != query.dataType()) {
      throw new IllegalArgumentException("query, train and out must share one dtype, got " + query.dataType() + ", "
          + train.dataType() + ", " + out.dataType());
    }
  }

  /** {@link #score(INDArray, INDArray, INDArray)} into a new 'f'-ordered output. */
  public static INDArray score(INDArray query, INDArray train) {
    return score(query, train, Nd4j.create(query.dataType(), new long[] {query.rows(), train.rows()}, 'f'));
  }

  /**
   * Scores training rows block by block ({@code blockRows} at a time, one reused preallocated output
   * per block, each block as the columns of a {@code [D, rows]} view: the GEMM {@link BlockScorer} runs per block);
   * returns {@code [nQuery][nTrain]} in float64.
   */
  public static double[][] scoreInBlocks(INDArray query, INDArray train, int blockRows) {
    if (blockRows < 1) {
      throw new IllegalArgumentException("blockRows must be >= 1, got " + blockRows);
    }
    int nq = (int) query.rows();
    int nt = (int) train.rows();
    double[][] result = new double[nq][nt];
    INDArray block = Nd4j.create(query.dataType(), new long[] {nq, Math.min(blockRows, Math.max(nt, 1))}, 'f');
    for (int start = 0; start < nt; start += blockRows) {
      int end = Math.min(nt, start + blockRows);
      INDArray rows = train.get(NDArrayIndex.interval(start, end), NDArrayIndex.all());
      INDArray out = end - start == block.columns() ? block
          : Nd4j.create(query.dataType(), new long[] {nq, end - start}, 'f');
      scoreColumns(query, rows.transpose(), out);
      for (int q = 0; q < nq; q++) {
        for (int t = start; t < end; t++) {
          result[q][t] = out.getDouble(q, t - start);
        }
      }
    }
    return result;
  }

  /**
   * The per-layer breakdown: for each layer, {@code [nQuery, nTrain]} scores ⟨Q_l, G_l⟩ (same dtype as the
   * inputs); summed over layers they give {@link #score}. Inputs are the flattened matrices of {@code layout}.
   */
  public static Map<String, INDArray> perLayer(LayerLayout layout, INDArray query, INDArray train) {
    if (query.columns() != layout.dim() || train.columns() != layout.dim()) {
      throw new IllegalArgumentException("matrices have " + query.columns() + " and " + train.columns()
          + " columns but the layout has dimension " + layout.dim());
    }
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (String layer : layout.layers()) {
      int off = layout.offset(layer);
      int end = off + layout.size(layer);
      INDArray q = query.get(NDArrayIndex.all(), NDArrayIndex.interval(off, end)).dup('c');
      INDArray t = train.get(NDArrayIndex.all(), NDArrayIndex.interval(off, end)).dup('c');
      out.put(layer, score(q, t));
    }
    return out;
  }

  /** Flattens both sides with {@code layout} (float64) and returns {@code [nQuery][nTrain]} scores. */
  public static double[][] score(LayerLayout layout, List<String> queryIds, List<Map<String, INDArray>> queries,
      List<String> trainIds, List<Map<String, INDArray>> train) {
    INDArray q = layout.toMatrix(queryIds, queries, DataType.DOUBLE, "query gradients");
    INDArray t = layout.toMatrix(trainIds, train, DataType.DOUBLE, "training gradients");
    return score(q, t).toDoubleMatrix();
  }
}
