package io.influence.core.model;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Multi-head causal softmax attention over one right-padded batch shape {@code [B, T]}, for every
 * layer of a pass: forward, backward and the forward-mode tangent. Nothing here depends on the model
 * family; the caller owns the projections around it.
 *
 * <p>Layout: per layer, queries, keys and values are the row blocks {@code [0, C)}, {@code [C, 2C)},
 * {@code [2C, 3C)} of a column-major {@code qkv [3C, N]} (token {@code n = b·T + t} in column
 * {@code n}); head {@code h} uses rows {@code h·d .. (h+1)·d} of each block, {@code d = C/H}. The
 * output {@code y} has the same head layout in its first {@code C} rows. Scores of head {@code h}
 * of example {@code b} live in slice {@code b·H+h} of a 'c' {@code [B·H, Tq, Tk]} array, whose
 * slices seen transposed are column-major {@code [Tk, Tq]} GEMM outputs ({@link Blas}); the softmax
 * and its backward run row-wise here over native memory ({@link Vec}). All views are made once.
 *
 * <p>Math: {@code S = scale · qᵀk} with {@code scale = 1/√d}; {@code P = softmax(S)} over keys
 * {@code k <= q} (future keys get probability exactly 0, so right padding never reaches a real
 * position); {@code y = v P}. Backward: {@code dP = vᵀ dY}, {@code dV = dY Pᵀ},
 * {@code dS = P ⊙ (dP − Σ_k dP ⊙ P)}, {@code dQ = scale · k dS}, {@code dK = scale · q dSᵀ}.
 * Tangent, per query {@code t} and keys {@code s <= t}: {@code Ṡ = scale(q̇·k + q·k̇)},
 * {@code Ṗ = P ⊙ (Ṡ − Σ_s P Ṡ)}, {@code ẏ = Σ_s Ṗ v + P v̇}.
 *
 * <p>Not thread-safe: one instance per pass.
 */
final class CausalAttention {

  private final int batch, seqLen, heads, hd, c;
  private final double scale;
  private final INDArray[] qkv;     // per layer, the caller's [3C, N]
  private final INDArray[] att;     // per layer, 'c' [B·H, T, T]: the probabilities P
  private final INDArray dAtt;      // 'c' [B·H, T, T], reused by every layer
  // cached views: [layer][b·H + h]
  private final INDArray[][] vq, vk, vv, vy, vdq, vdk, vdv, vS;
  private final INDArray[] vdS, vdy;

  /**
   * @param qkv   per layer, queries/keys/values {@code [3C, N]} (read)
   * @param y     per layer, the output; its first {@code C} rows are written
   * @param dQkv  per layer, where backward writes {@code dQ, dK, dV} ({@code [3C, N]})
   * @param dY    where backward reads {@code dL/dy} ({@code [C, N]}, shared by the layers)
   */
  CausalAttention(DataType dt, int batch, int seqLen, int heads, int c, INDArray[] qkv, INDArray[] y,
                  INDArray[] dQkv, INDArray dY) {
    this.batch = batch;
    this.seqLen = seqLen;
    this.heads = heads;
    this.c = c;
    this.hd = c / heads;
    this.scale = 1.0 / Math.sqrt(hd);
    this.qkv = qkv;
    int layers = qkv.length;
    int bh = batch * heads;
    att = new INDArray[layers];
    dAtt = Nd4j.create(dt, new long[] {bh, seqLen, seqLen}, 'c');
    vq = new INDArray[layers][bh];
    vk = new INDArray[layers][bh];
    vv = new INDArray[layers][bh];
    vy = new INDArray[layers][bh];
    vdq = new INDArray[layers][bh];
    vdk = new INDArray[layers][bh];
    vdv = new INDArray[layers][bh];
    vS = new INDArray[layers][bh];
    vdS = new INDArray[bh];
    vdy = new INDArray[bh];
    for (int l = 0; l < layers; l++) {
      att[l] = Nd4j.create(dt, new long[] {bh, seqLen, seqLen}, 'c');
      for (int b = 0; b < batch; b++) {
        for (int h = 0; h < heads; h++) {
          int i = b * heads + h;
          vq[l][i] = block(qkv[l], h * hd, b);
          vk[l][i] = block(qkv[l], c + h * hd, b);
          vv[l][i] = block(qkv[l], 2 * c + h * hd, b);
          vy[l][i] = block(y[l], h * hd, b);
          vdq[l][i] = block(dQkv[l], h * hd, b);
          vdk[l][i] = block(dQkv[l], c + h * hd, b);
          vdv[l][i] = block(dQkv[l], 2 * c + h * hd, b);
          vS[l][i] = att[l].slice(i).transpose();
          if (l == 0) {
            vdS[i] = dAtt.slice(i).transpose();
            vdy[i] = block(dY, h * hd, b);
          }
        }
      }
    }
  }

  private INDArray block(INDArray x, int row, int b) {
    return x.get(NDArrayIndex.interval(row, row + hd), NDArrayIndex.interval(b * seqLen, (b + 1) * seqLen));
  }

  /** {@code y = v · softmax(scale · qᵀk)} of layer {@code l}; keeps the probabilities for backward and tangent. */
  void forward(int l) {
    int bh = batch * heads;
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vk[l][i], true, vq[l][i], false, vS[l][i], scale, 0);
    }
    causalSoftmax(att[l]);
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vv[l][i], false, vS[l][i], false, vy[l][i], 1, 0);
    }
  }

  /** After {@link #forward} of layer {@code l}: reads {@code dY}; writes {@code dQ, dK, dV} of layer {@code l}. */
  void backward(int l) {
    int bh = batch * heads;
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vv[l][i], true, vdy[i], false, vdS[i], 1, 0);      // dP (as [Tk, Tq])
      Blas.gemm(vdy[i], false, vS[l][i], true, vdv[l][i], 1, 0);   // dV = dY Pᵀ
    }
    softmaxBackward(att[l], dAtt);
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vk[l][i], false, vdS[i], false, vdq[l][i], scale, 0);
      Blas.gemm(vq[l][i], false, vdS[i], true, vdk[l][i], scale, 0);
    }
  }

  /**
   * After {@link #forward} of layer {@code l}: the tangent {@code ẏ} ({@code [C, N]}, written into
   * {@code dy}) of the output when queries, keys and values move along {@code dqkv} ({@code [3C, N]}).
   * Single-threaded, float64 accumulation.
   */
  void tangent(int l, INDArray dqkv, INDArray dy) {
    Vec q = Vec.of(qkv[l]);
    Vec dq = Vec.of(dqkv);
    Vec p = Vec.flat(att[l]);
    Vec out = Vec.of(dy);
    int len = seqLen;
    double[] ds = new double[len];
    double[] acc = new double[hd];
    for (int b = 0; b < batch; b++) {
      for (int h = 0; h < heads; h++) {
        int slice = (b * heads + h) * len * len;
        for (int t = 0; t < len; t++) {
          int colT = b * len + t;
          int qa = colT * q.ld + h * hd;
          int qd = colT * dq.ld + h * hd;
          double mean = 0;
          for (int s = 0; s <= t; s++) {
            int colS = b * len + s;
            int ka = colS * q.ld + c + h * hd;
            int kd = colS * dq.ld + c + h * hd;
            double sum = 0;
            for (int e = 0; e < hd; e++) {
              sum += dq.get(qd + e) * q.get(ka + e) + q.get(qa + e) * dq.get(kd + e);
            }
            ds[s] = scale * sum;
            mean += p.get(slice + t * len + s) * ds[s];
          }
          Arrays.fill(acc, 0);
          for (int s = 0; s <= t; s++) {
            int colS = b * len + s;
            double pr = p.get(slice + t * len + s);
            double dp = pr * (ds[s] - mean);
            int va = colS * q.ld + 2 * c + h * hd;
            int vd = colS * dq.ld + 2 * c + h * hd;
            for (int e = 0; e < hd; e++) {
              acc[e] += dp * q.get(va + e) + pr * dq.get(vd + e);
            }
          }
          int yo = colT * out.ld + h * hd;
          for (int e = 0; e < hd; e++) {
            out.set(yo + e, acc[e]);
          }
        }
      }
    }
  }

  /**
   * Causal softmax in place over the last axis of 'c' {@code [heads, Tq, Tk]} scores (already
   * scaled): row {@code q} keeps keys {@code k <= q}; future keys get probability exactly 0.
   */
  private static void causalSoftmax(INDArray att) {
    int rows = (int) (att.size(0) * att.size(1));
    int t = (int) att.size(2);
    int tq = (int) att.size(1);
    Vec v = Vec.flat(att);
    Elementwise.parallel(rows, (from, to) -> {
      for (int r = from; r < to; r++) {
        int q = r % tq;
        int o = r * t;
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k <= q; k++) {
          max = Math.max(max, v.get(o + k));
        }
        double sum = 0;
        for (int k = 0; k <= q; k++) {
          double e = Math.exp(v.get(o + k) - max);
          v.set(o + k, e);
          sum += e;
        }
        double inv = 1.0 / sum;
        for (int k = 0; k <= q; k++) {
          v.set(o + k, v.get(o + k) * inv);
        }
        for (int k = q + 1; k < t; k++) {
          v.set(o + k, 0.0);
        }
      }
    });
  }

  /** Softmax backward in place: {@code dS = P ⊙ (dP − Σ_k dP ⊙ P)} per row (same layout as {@link #causalSoftmax}). */
  private static void softmaxBackward(INDArray p, INDArray dp) {
    int rows = (int) (p.size(0) * p.size(1));
    int t = (int) p.size(2);
    int tq = (int) p.size(1);
    Vec vp = Vec.flat(p);
    Vec vd = Vec.flat(dp);
    Elementwise.parallel(rows, (from, to) -> {
      for (int r = from; r < to; r++) {
        int q = r % tq;
        int o = r * t;
        double s = 0;
        for (int k = 0; k <= q; k++) {
          s += vd.get(o + k) * vp.get(o + k);
        }
        for (int k = 0; k <= q; k++) {
          vd.set(o + k, vp.get(o + k) * (vd.get(o + k) - s));
        }
        for (int k = q + 1; k < t; k++) {
          vd.set(o + k, 0.0);
        }
      }
    });
  }
}
