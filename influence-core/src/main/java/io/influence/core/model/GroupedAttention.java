package io.influence.core.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Grouped-query causal softmax attention, optionally with a sliding window, over one right-padded
 * batch shape {@code [B, T]}, for every layer of a pass: forward, backward and the forward-mode
 * tangent. The model family owns the projections, norms and rotations around it.
 *
 * <p>Layout: per layer, queries {@code q [H·d, N]}, keys and values {@code k, v [K·d, N]}, column-major
 * with token {@code n = b·T + t} in column {@code n}; head {@code h} is rows {@code h·d .. (h+1)·d}.
 * Query head {@code h} reads key/value head {@code h / (H/K)} (Hugging Face's {@code repeat_kv}).
 * The output {@code y} has the query layout in its first {@code H·d} rows. Scores of head {@code h}
 * of example {@code b} live in slice {@code b·H + h} of a 'c' {@code [B·H, Tq, Tk]} array whose
 * slices, seen transposed, are column-major {@code [Tk, Tq]} GEMM operands ({@link Blas}); the
 * masked softmax and its backward run row-wise over native memory ({@link Vec}).
 *
 * <p>Math: {@code S = scale · qᵀk}, {@code scale = 1/√d}; query {@code i} sees keys {@code j} with
 * {@code 0 <= i − j < window} ({@code window = ∞} when none), so padding (right of every real
 * position) never reaches a real position; {@code P = softmax(S)} over those keys (others get
 * exactly 0); {@code y = v P}. Backward: {@code dP = vᵀ dY}, {@code dV_g = Σ_{h∈g} dY_h P_hᵀ},
 * {@code dS = P ⊙ (dP − Σ_k dP ⊙ P)}, {@code dQ = scale · k dS}, {@code dK_g = scale · Σ_{h∈g} q_h dS_hᵀ}.
 * Tangent: {@code Ṡ = scale (kᵀq̇ + k̇ᵀq)}, {@code Ṗ = P ⊙ (Ṡ − Σ_k P ⊙ Ṡ)} (the same map as the
 * softmax backward, the Jacobian being symmetric), {@code ẏ = v Ṗ + v̇ P}. Every product is a GEMM.
 *
 * <p>Not thread-safe: one instance per pass.
 */
final class GroupedAttention {

  private final int batch, seqLen, heads, kvHeads, d, window;
  private final double scale;
  private final INDArray[] att;     // per layer, 'c' [B·H, T, T]: the probabilities P
  private final INDArray dAtt;      // 'c' [B·H, T, T], reused by every layer
  private final INDArray[][] vq, vk, vv, vy, vdq, vdk, vdv, vS;   // [layer][b·H + h] (k, v per query head)
  private final INDArray[] vdS, vdy;
  private INDArray[] tq, tk, tv, ty;   // tangent views, made on first use
  private INDArray tBound;

  /**
   * @param q, k, v per layer, the rotated queries and keys and the values (read)
   * @param y       per layer, the output; its first {@code H·d} rows are written
   * @param dq, dk, dv per layer, where backward writes the gradients of q, k, v
   * @param dY      where backward reads {@code dL/dy} ({@code [H·d, N]}, shared by the layers)
   * @param window  the sliding window, or 0 for none
   */
  GroupedAttention(DataType dt, int batch, int seqLen, int heads, int kvHeads, int headDim, int window,
                   INDArray[] q, INDArray[] k, INDArray[] v, INDArray[] y, INDArray[] dq, INDArray[] dk,
                   INDArray[] dv, INDArray dY) {
    this.batch = batch;
    this.seqLen = seqLen;
    this.heads = heads;
    this.kvHeads = kvHeads;
    this.d = headDim;
    this.window = window;
    this.scale = 1.0 / Math.sqrt(headDim);
    int layers = q.length;
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
          int g = group(h);
          vq[l][i] = block(q[l], h, b);
          vk[l][i] = block(k[l], g, b);
          vv[l][i] = block(v[l], g, b);
          vy[l][i] = block(y[l], h, b);
          vdq[l][i] = block(dq[l], h, b);
          vdk[l][i] = block(dk[l], g, b);
          vdv[l][i] = block(dv[l], g, b);
          vS[l][i] = att[l].slice(i).transpose();
          if (l == 0) {
            vdS[i] = dAtt.slice(i).transpose();
            vdy[i] = block(dY, h, b);
          }
        }
      }
    }
  }

  private int group(int h) {
    return h / (heads / kvHeads);
  }

  private boolean firstInGroup(int h) {
    return h % (heads / kvHeads) == 0;
  }

  private INDArray block(INDArray x, int head, int b) {
    return x.get(NDArrayIndex.interval(head * d, (head + 1) * d), NDArrayIndex.interval(b * seqLen, (b + 1) * seqLen));
  }

  /** {@code y = v · softmax(scale · qᵀk)} of layer {@code l}; keeps the probabilities. */
  void forward(int l) {
    int bh = batch * heads;
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vk[l][i], true, vq[l][i], false, vS[l][i], scale, 0);
    }
    maskedSoftmax(att[l], window);
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vv[l][i], false, vS[l][i], false, vy[l][i], 1, 0);
    }
  }

  /** After {@link #forward} of layer {@code l}: reads {@code dY}; writes {@code dq, dk, dv} of layer {@code l}. */
  void backward(int l) {
    int bh = batch * heads;
    for (int i = 0; i < bh; i++) {
      int h = i % heads;
      Blas.gemm(vv[l][i], true, vdy[i], false, vdS[i], 1, 0);                             // dP as [Tk, Tq]
      Blas.gemm(vdy[i], false, vS[l][i], true, vdv[l][i], 1, firstInGroup(h) ? 0 : 1);    // dV += dY Pᵀ
    }
    softmaxBackward(att[l], dAtt, window);
    for (int i = 0; i < bh; i++) {
      int h = i % heads;
      Blas.gemm(vk[l][i], false, vdS[i], false, vdq[l][i], scale, 0);
      Blas.gemm(vq[l][i], false, vdS[i], true, vdk[l][i], scale, firstInGroup(h) ? 0 : 1);
    }
  }

  /**
   * After {@link #forward} of layer {@code l}: the tangent {@code ẏ} (written into the first
   * {@code H·d} rows of {@code dy}) when q, k, v move along {@code dq, dk, dv}. The four arrays must be
   * the same ones on every call (views over them are made once).
   */
  void tangent(int l, INDArray dq, INDArray dk, INDArray dv, INDArray dy) {
    int bh = batch * heads;
    if (tBound != dq) {
      tq = new INDArray[bh];
      tk = new INDArray[bh];
      tv = new INDArray[bh];
      ty = new INDArray[bh];
      for (int b = 0; b < batch; b++) {
        for (int h = 0; h < heads; h++) {
          int i = b * heads + h;
          tq[i] = block(dq, h, b);
          tk[i] = block(dk, group(h), b);
          tv[i] = block(dv, group(h), b);
          ty[i] = block(dy, h, b);
        }
      }
      tBound = dq;
    }
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vk[l][i], true, tq[i], false, vdS[i], scale, 0);
      Blas.gemm(tk[i], true, vq[l][i], false, vdS[i], scale, 1);
    }
    softmaxBackward(att[l], dAtt, window);
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vv[l][i], false, vdS[i], false, ty[i], 1, 0);
      Blas.gemm(tv[i], false, vS[l][i], false, ty[i], 1, 1);
    }
  }

  /** First key query {@code q} sees. */
  private static int first(int q, int window) {
    return window > 0 ? Math.max(0, q - window + 1) : 0;
  }

  /** Masked softmax in place over the last axis of 'c' {@code [rows, Tq, Tk]} scaled scores. */
  private static void maskedSoftmax(INDArray att, int window) {
    int rows = (int) (att.size(0) * att.size(1));
    int t = (int) att.size(2);
    int tq = (int) att.size(1);
    Vec v = Vec.flat(att);
    Elementwise.parallel(rows, (from, to) -> {
      for (int r = from; r < to; r++) {
        int q = r % tq;
        int lo = first(q, window);
        int o = r * t;
        double max = Double.NEGATIVE_INFINITY;
        for (int k = lo; k <= q; k++) {
          max = Math.max(max, v.get(o + k));
        }
        double sum = 0;
        for (int k = lo; k <= q; k++) {
          double e = Math.exp(v.get(o + k) - max);
          v.set(o + k, e);
          sum += e;
        }
        double inv = 1.0 / sum;
        for (int k = 0; k < t; k++) {
          v.set(o + k, k >= lo && k <= q ? v.get(o + k) * inv : 0.0);
        }
      }
    });
  }

  /** {@code dS = P ⊙ (dP − Σ_k dP ⊙ P)} in place per row, zero outside the visible keys. */
  private static void softmaxBackward(INDArray p, INDArray dp, int window) {
    int rows = (int) (p.size(0) * p.size(1));
    int t = (int) p.size(2);
    int tq = (int) p.size(1);
    Vec vp = Vec.flat(p);
    Vec vd = Vec.flat(dp);
    Elementwise.parallel(rows, (from, to) -> {
      for (int r = from; r < to; r++) {
        int q = r % tq;
        int lo = first(q, window);
        int o = r * t;
        double s = 0;
        for (int k = lo; k <= q; k++) {
          s += vd.get(o + k) * vp.get(o + k);
        }
        for (int k = 0; k < t; k++) {
          vd.set(o + k, k >= lo && k <= q ? vp.get(o + k) * (vd.get(o + k) - s) : 0.0);
        }
      }
    });
  }
}
