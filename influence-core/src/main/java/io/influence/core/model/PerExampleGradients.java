package io.influence.core.model;

import io.influence.core.grad.TokenFactors;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-example gradients of tracked linear layers, from the factors a backward pass leaves behind:
 * for a layer {@code s = W̃ [a; 1]}, its augmented input {@code a [dIn+1, N]} and output gradient
 * {@code g [dOut, N]}, column-major with token {@code n = b·T + t} in column {@code n}. Example
 * {@code b}'s tokens are the column block {@code [b·T, b·T + len_b)}, so per example, with no copy:
 * <ul>
 *   <li>token factors {@code (aᵀ, gᵀ)}, {@code [len_b, dIn+1]} and {@code [len_b, dOut]} (copies);
 *   <li>the full gradient {@code G_b = g_b a_bᵀ}, {@code [dOut, dIn+1]}, one GEMM;
 *   <li>the projected gradient {@code (P_out g_b)(P_in a_b)ᵀ}, {@code [kOut, kIn]}, after two skinny
 *       GEMMs over the whole batch ({@link KroneckerProjection}).
 * </ul>
 * Nothing here depends on the model family; the model says which layers exist and hands over their
 * factors. Full gradients of one layer are blocks of one {@code [dOut, (dIn+1)·B]} buffer, allocated
 * once per layer and call (see {@link #releaseBuffers()}). One instance per batch shape; not
 * thread-safe.
 */
final class PerExampleGradients {

  /** Per example (list index), per layer (map key); a part that was not requested is {@code null}. */
  record Parts(List<Map<String, TokenFactors>> tokenFactors, List<Map<String, INDArray>> full,
               List<Map<String, INDArray>> projected) {}

  private final DataType dt;
  private final int batch, seqLen;
  private final Map<String, INDArray> fullBuffers = new HashMap<>();

  PerExampleGradients(DataType dt, int batch, int seqLen) {
    this.dt = dt;
    this.batch = batch;
    this.seqLen = seqLen;
  }

  /**
   * Checks that every tracked layer exists ({@code shapeOf} throws otherwise) and, when projections
   * are given, has one that fits its {@code {dOut, dIn+1}} shape and the data type.
   */
  static void checkLayers(List<String> layers, Map<String, KroneckerProjection> projections,
                          Function<String, int[]> shapeOf, DataType dataType) {
    for (String l : layers) {
      int[] s = shapeOf.apply(l);
      KroneckerProjection pr = projections.get(l);
      if (!projections.isEmpty() && pr == null) {
        throw new IllegalArgumentException("layer " + l + " is tracked but has no projection; HINT: give a projection "
            + "for every tracked layer, or track only the projected ones");
      }
      if (pr != null && (pr.dIn() != s[1] || pr.dOut() != s[0] || pr.dataType() != dataType)) {
        throw new IllegalArgumentException("projection for layer " + l + " is for dIn=" + pr.dIn() + ", dOut="
            + pr.dOut() + ", " + pr.dataType() + " but the layer has dIn=" + s[1] + ", dOut=" + s[0] + ", "
            + dataType + "; HINT: use Gpt2Model.projections(...)");
      }
    }
  }

  /**
   * The full gradients returned so far are handed to the caller; this drops the buffers behind them
   * so the next {@link #compute} allocates new ones. Without it (a caller that consumes each batch
   * before the next call) the next call overwrites them.
   */
  void releaseBuffers() {
    fullBuffers.clear();
  }

  /**
   * What {@code request} asks for, per example of {@code tb}, for each of {@code layers};
   * {@code factors} gives a layer's {@code {a [dIn+1, N], g [dOut, N]}} after the backward pass.
   */
  Parts compute(TokenBatch tb, GradientRequest request, List<String> layers, Function<String, INDArray[]> factors) {
    int bsz = tb.size();
    List<Map<String, TokenFactors>> tf = request.tokenFactors() ? newList(bsz) : null;
    List<Map<String, INDArray>> full = request.fullPerExample() ? newList(bsz) : null;
    List<Map<String, INDArray>> proj = request.projections().isEmpty() ? null : newList(bsz);
    if (!request.needsPerExample()) {
      return new Parts(tf, full, proj);
    }
    int n = batch * seqLen;
    for (String l : layers) {
      INDArray[] f = factors.apply(l);
      INDArray a = f[0];
      INDArray g = f[1];
      KroneckerProjection pr = request.projections().get(l);
      INDArray pa = null;
      INDArray pg = null;
      if (pr != null) {
        pa = Nd4j.create(dt, new long[] {pr.kIn(), n}, 'f');
        pg = Nd4j.create(dt, new long[] {pr.kOut(), n}, 'f');
        Blas.gemm(pr.pInView(), false, a, false, pa, 1, 0);
        Blas.gemm(pr.pOutView(), false, g, false, pg, 1, 0);
      }
      for (int b = 0; b < bsz; b++) {
        int from = b * seqLen;
        int to = from + tb.length(b);
        INDArray ab = Blas.cols(a, from, to);
        INDArray gb = Blas.cols(g, from, to);
        if (full != null) {
          INDArray gr = fullOut(l, (int) g.rows(), (int) a.rows(), b);
          Blas.gemm(gb, false, ab, true, gr, 1, 0);
          full.get(b).put(l, gr);
        }
        if (pr != null) {
          INDArray out = Nd4j.create(dt, new long[] {pr.kOut(), pr.kIn()}, 'f');
          Blas.gemm(Blas.cols(pg, from, to), false, Blas.cols(pa, from, to), true, out, 1, 0);
          proj.get(b).put(l, out);
        }
        if (tf != null) {
          tf.get(b).put(l, new TokenFactors(l, ab.transpose().dup('c'), gb.transpose().dup('c')));
        }
      }
    }
    return new Parts(tf, full, proj);
  }

  /** Example {@code b}'s {@code [dOut, dIn]} block of the full-gradient buffer of {@code layer} ('f' {@code [dOut, dIn·B]}). */
  private INDArray fullOut(String layer, int dOut, int dIn, int b) {
    INDArray buf = fullBuffers.computeIfAbsent(layer, k -> Nd4j.create(dt, new long[] {dOut, (long) dIn * batch}, 'f'));
    return Blas.cols(buf, b * dIn, (b + 1) * dIn);
  }

  private static <T> List<Map<String, T>> newList(int n) {
    List<Map<String, T>> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(new LinkedHashMap<>());
    }
    return out;
  }
}
