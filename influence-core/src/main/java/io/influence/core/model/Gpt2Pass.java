package io.influence.core.model;

import io.influence.checkpoints.Gpt2Config;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Forward and backward kernels of GPT-2 over one right-padded batch shape {@code [B, T]}, with
 * every activation buffer allocated once and reused across calls of that shape.
 *
 * <p>Layout: activations are column-major {@code [features, N]} with {@code N = B·T} and token
 * {@code n = b·T + t} in column {@code n}, so one example's tokens are a contiguous column block
 * (a BLAS operand with no copy, see {@link Blas}). Each Conv1D input is kept augmented with a
 * trailing row of ones ({@code [dIn + 1, N]}), so {@code s = W̃ ã} carries the bias and the
 * per-example gradient is {@code G_b = g_b ã_bᵀ} over the example's columns: exactly the token
 * factors {@code (a, g)} of {@link io.influence.core.grad.TokenFactors}, transposed.
 *
 * <p>Math (the reference is {@code torch_gpt2.py}): pre-LayerNorm blocks
 * {@code x₂ = x + c_proj(attn(ln_1 x))}, {@code x₃ = x₂ + mlp.c_proj(gelu_new(c_fc(ln_2 x₂)))};
 * LayerNorm with biased variance; {@code gelu_new(m) = ½m(1 + tanh(√(2/π)(m + 0.044715m³)))};
 * causal softmax attention with scale {@code 1/√(C/H)} (future keys are skipped by the softmax,
 * so their probability is exactly 0); logits {@code = wte · ln_f(x)} (tied head).
 * Attention scores of head {@code h} of example {@code b} live in slice {@code b·H+h} of a 'c'
 * {@code [B·H, Tq, Tk]} array, whose slices seen transposed are column-major {@code [Tk, Tq]}
 * GEMM outputs; the softmax and its backward run row-wise in {@link Elementwise}. The
 * element-wise parts (LayerNorm, gelu, softmax) are fused kernels there; GEMMs go to {@link Blas}.
 *
 * <p>Loss and padding: column {@code n = b·T + t} predicts token {@code t+1} of example b with
 * weight {@code w_n ∈ {0,1}} (mask, and 0 past the example's end). {@code dlogits = w ⊙ (softmax − onehot)},
 * so padded columns get exactly zero gradient; right padding cannot influence real positions
 * because attention is causal. Hence batch weight gradients may use all {@code N} columns, while
 * per-example quantities use only the example's {@code len_b} columns.
 *
 * <p>Not thread-safe: one pass per thread.
 */
final class Gpt2Pass {


  final int batch, seqLen, n;
  private final Gpt2Config cfg;
  private final DataType dt;
  private final int c, heads, hd, vocab, layers;
  private final double scale;
  private final double eps;

  // forward caches
  final INDArray[] xIn;         // [L+1] residual stream, [C, N]
  final INDArray[] ln1Hat, ln1Rstd, ln2Hat, ln2Rstd;
  final INDArray[] a1, y, a3, a4;  // augmented inputs of c_attn, c_proj, c_fc, mlp.c_proj
  final INDArray[] qkv, att, x2, m, tanh;
  final INDArray lnfHat, lnfRstd, xf, logits;
  private final int[] targets;      // [N], -1 for none
  private final INDArray weights;   // [N], 1 where a target counts
  private final int[] ids, pos;
  // backward buffers: output gradients of the four Conv1Ds
  final INDArray[] gAttn, gProj, gFc, gMp;
  private final INDArray dAtt;      // 'c' [B·H, T, T]
  private final INDArray tmpC, tmpC2, tmp4C, dxf;
  // cached views: [layer][b·H + h]
  private final INDArray[][] vq, vk, vv, vy, vdq, vdk, vdv, vS, vdS;
  private final INDArray[] vdy;

  /** Forward-mode buffers for {@link Gpt2Model#logitTangents}, created on first use. */
  Gpt2Tangent tangent;

  /** Seconds spent per phase since the last {@link #resetTimes()} (cheap wall-clock timers). */
  final java.util.Map<String, Double> times = new java.util.LinkedHashMap<>();
  private long mark;

  private void tick() {
    mark = System.nanoTime();
  }

  private void tock(String phase) {
    long now = System.nanoTime();
    times.merge(phase, (now - mark) / 1e9, Double::sum);
    mark = now;
  }

  void resetTimes() {
    times.clear();
  }

  Gpt2Pass(Gpt2Config cfg, DataType dt, int batch, int seqLen) {
    this.cfg = cfg;
    this.dt = dt;
    this.batch = batch;
    this.seqLen = seqLen;
    this.n = batch * seqLen;
    this.c = cfg.nEmbd();
    this.heads = cfg.nHead();
    this.hd = c / heads;
    this.vocab = cfg.vocabSize();
    this.layers = cfg.nLayer();
    this.scale = 1.0 / Math.sqrt(hd);
    this.eps = cfg.layerNormEpsilon();
    int bh = batch * heads;
    xIn = new INDArray[layers + 1];
    for (int l = 0; l <= layers; l++) {
      xIn[l] = mat(c, n);
    }
    ln1Hat = new INDArray[layers];
    ln1Rstd = new INDArray[layers];
    ln2Hat = new INDArray[layers];
    ln2Rstd = new INDArray[layers];
    a1 = new INDArray[layers];
    y = new INDArray[layers];
    a3 = new INDArray[layers];
    a4 = new INDArray[layers];
    qkv = new INDArray[layers];
    att = new INDArray[layers];
    x2 = new INDArray[layers];
    m = new INDArray[layers];
    tanh = new INDArray[layers];
    gAttn = new INDArray[layers];
    gProj = new INDArray[layers];
    gFc = new INDArray[layers];
    gMp = new INDArray[layers];
    vq = new INDArray[layers][bh];
    vk = new INDArray[layers][bh];
    vv = new INDArray[layers][bh];
    vy = new INDArray[layers][bh];
    vdq = new INDArray[layers][bh];
    vdk = new INDArray[layers][bh];
    vdv = new INDArray[layers][bh];
    vS = new INDArray[layers][bh];
    vdS = new INDArray[1][bh];
    dAtt = Nd4j.create(dt, new long[] {bh, seqLen, seqLen}, 'c');
    tmpC = mat(c, n);
    tmpC2 = mat(c, n);
    tmp4C = mat(4 * c, n);
    dxf = mat(c, n);
    vdy = new INDArray[bh];
    for (int l = 0; l < layers; l++) {
      ln1Hat[l] = mat(c, n);
      ln1Rstd[l] = Nd4j.create(dt, n);
      ln2Hat[l] = mat(c, n);
      ln2Rstd[l] = Nd4j.create(dt, n);
      a1[l] = aug(c);
      y[l] = aug(c);
      a3[l] = aug(c);
      a4[l] = aug(4 * c);
      qkv[l] = mat(3 * c, n);
      att[l] = Nd4j.create(dt, new long[] {bh, seqLen, seqLen}, 'c');
      x2[l] = mat(c, n);
      m[l] = mat(4 * c, n);
      tanh[l] = mat(4 * c, n);
      gAttn[l] = mat(3 * c, n);
      gProj[l] = mat(c, n);
      gFc[l] = mat(4 * c, n);
      gMp[l] = mat(c, n);
      for (int b = 0; b < batch; b++) {
        for (int h = 0; h < heads; h++) {
          int i = b * heads + h;
          vq[l][i] = block(qkv[l], h * hd, b);
          vk[l][i] = block(qkv[l], c + h * hd, b);
          vv[l][i] = block(qkv[l], 2 * c + h * hd, b);
          vy[l][i] = block(y[l], h * hd, b);
          vdq[l][i] = block(gAttn[l], h * hd, b);
          vdk[l][i] = block(gAttn[l], c + h * hd, b);
          vdv[l][i] = block(gAttn[l], 2 * c + h * hd, b);
          vS[l][i] = att[l].slice(i).transpose();
          if (l == 0) {
            vdS[0][i] = dAtt.slice(i).transpose();
            vdy[i] = block(tmpC, h * hd, b);
          }
        }
      }
    }
    lnfHat = mat(c, n);
    lnfRstd = Nd4j.create(dt, n);
    xf = mat(c, n);
    logits = mat(vocab, n);
    targets = new int[n];
    weights = Nd4j.create(dt, n);
    ids = new int[n];
    pos = new int[n];
  }

  private INDArray mat(long rows, long cols) {
    return Nd4j.create(dt, new long[] {rows, cols}, 'f');
  }

  /** {@code [d + 1, N]} with the last row set to ones (never overwritten). */
  private INDArray aug(int d) {
    INDArray a = mat(d + 1, n);
    a.get(NDArrayIndex.point(d), NDArrayIndex.all()).assign(1);
    return a;
  }

  private INDArray block(INDArray x, int row, int b) {
    return x.get(NDArrayIndex.interval(row, row + hd), NDArrayIndex.interval(b * seqLen, (b + 1) * seqLen));
  }

  private static INDArray col(INDArray v) {
    return v.reshape(v.length(), 1);
  }

  static INDArray rows(INDArray x, int count) {
    return x.get(NDArrayIndex.interval(0, count), NDArrayIndex.all());
  }

  static INDArray cols(INDArray x, int from, int to) {
    return x.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to));
  }

  /** Forward pass; returns per-example losses (float64 sums). */
  double[] forward(Gpt2Params p, TokenBatch tb) {
    forwardLogits(p, tb);
    tick();
    double[] losses = lossAndLogitGradient(tb);
    tock("fwd.softmax_loss");
    return losses;
  }

  /**
   * After {@link #forwardLogits}: puts {@code dLogits} ({@code [B, T, V]}, any float type) in place of
   * the logits as {@code dL/dlogits} for {@link #backward}, with the columns past each example's end
   * set to zero (causal attention would otherwise carry them back into real positions).
   */
  void setLogitGradient(INDArray dLogits, TokenBatch tb) {
    logits.transpose().assign(dLogits.reshape('c', n, vocab).castTo(dt));
    for (int b = 0; b < batch; b++) {
      int len = tb.length(b);
      if (len < seqLen) {
        cols(logits, b * seqLen + len, (b + 1) * seqLen).assign(0);
      }
    }
  }

  /** Forward pass up to the logits ({@link #logits}, {@code [V, N]}); sets targets and weights. */
  void forwardLogits(Gpt2Params p, TokenBatch tb) {
    double[] w = new double[n];
    for (int b = 0; b < batch; b++) {
      int len = tb.length(b);
      for (int t = 0; t < seqLen; t++) {
        int k = b * seqLen + t;
        ids[k] = t < len ? tb.tokens()[b][t] : 0;
        pos[k] = t;
        targets[k] = tb.counts(b, t + 1) ? tb.tokens()[b][t + 1] : -1;
        w[k] = targets[k] >= 0 ? 1 : 0;
      }
    }
    tick();
    weights.assign(Nd4j.create(w).castTo(dt));
    // embeddings: x0[:, n] = wte[id_n] + wpe[t_n]
    INDArray x0 = xIn[0];
    Elementwise.embed(p.wte, p.wpe, ids, pos, x0);
    tock("fwd.embed");
    for (int l = 0; l < layers; l++) {
      INDArray x = xIn[l];
      Elementwise.layerNorm(x, p.ln1g[l], p.ln1b[l], eps, ln1Hat[l], ln1Rstd[l], rows(a1[l], c));
      tock("fwd.layernorm");
      Blas.gemm(p.attn[l], false, a1[l], false, qkv[l], 1, 0);
      tock("fwd.linear");
      attentionForward(l);
      tock("fwd.attention");
      Elementwise.copy(x, x2[l]);
      Blas.gemm(p.proj[l], false, y[l], false, x2[l], 1, 1);
      tock("fwd.linear");
      Elementwise.layerNorm(x2[l], p.ln2g[l], p.ln2b[l], eps, ln2Hat[l], ln2Rstd[l], rows(a3[l], c));
      tock("fwd.layernorm");
      Blas.gemm(p.fc[l], false, a3[l], false, m[l], 1, 0);
      tock("fwd.linear");
      Elementwise.gelu(m[l], tanh[l], rows(a4[l], 4 * c));
      tock("fwd.gelu");
      Elementwise.copy(x2[l], xIn[l + 1]);
      Blas.gemm(p.mproj[l], false, a4[l], false, xIn[l + 1], 1, 1);
      tock("fwd.linear");
    }
    Elementwise.layerNorm(xIn[layers], p.lnfg, p.lnfb, eps, lnfHat, lnfRstd, xf);
    tock("fwd.layernorm");
    Blas.gemm(p.wte.transpose(), true, xf, false, logits, 1, 0);
    tock("fwd.lm_head");
  }

  /** Turns {@link #logits} into {@code dL/dlogits} in place and returns the per-example losses. */
  private double[] lossAndLogitGradient(TokenBatch tb) {
    // ND4J's vectorised exp beats a scalar Java loop here (V·N exponentials); rows of the
    // transposed view ('c' [N, V]) are contiguous, so reductions and broadcasts run row-wise.
    INDArray lt = logits.transpose();
    INDArray max = lt.max(1);
    lt.subiColumnVector(col(max));
    Elementwise.Vec vl = Elementwise.of(logits);   // (v, k) at v + k·ld: no per-element JNI calls
    double[] shifted = new double[n];
    for (int k = 0; k < n; k++) {
      if (targets[k] >= 0) {
        shifted[k] = vl.get(targets[k] + k * vl.ld);
      }
    }
    Transforms.exp(logits, false);
    INDArray sum = lt.sum(1);
    double[] sums = sum.castTo(DataType.DOUBLE).toDoubleVector();
    lt.diviColumnVector(col(sum));
    double[] losses = new double[batch];
    for (int k = 0; k < n; k++) {
      if (targets[k] >= 0) {
        losses[k / seqLen] += Math.log(sums[k]) - shifted[k];
        int at = targets[k] + k * vl.ld;
        vl.set(at, vl.get(at) - 1.0);
      }
    }
    lt.muliColumnVector(col(weights));
    for (int b = 0; b < batch; b++) {
      if (!Double.isFinite(losses[b])) {
        throw new IllegalStateException("example " + b + ": loss is " + losses[b]
            + "; HINT: the parameters contain NaN/Inf or overflow (check the checkpoint or the learning rate)");
      }
    }
    return losses;
  }

  /**
   * Backward pass after {@link #forward}: fills the output gradients {@code gAttn, gProj, gFc, gMp}
   * of every layer; accumulates all parameter gradients into {@code grads} when not null.
   */
  void backward(Gpt2Params p, Gpt2Params grads) {
    tick();
    Blas.gemm(p.wte.transpose(), false, logits, false, dxf, 1, 0);
    if (grads != null) {
      Blas.gemm(xf, false, logits, true, grads.wte.transpose(), 1, 1);
    }
    tock("bwd.lm_head");
    INDArray dx = gMp[layers - 1];
    dx.assign(0);
    Elementwise.layerNormBackward(dxf, p.lnfg, lnfHat, lnfRstd, grads == null ? null : grads.lnfg,
        grads == null ? null : grads.lnfb, dx);
    tock("bwd.layernorm");
    for (int l = layers - 1; l >= 0; l--) {
      // gMp[l] is the gradient at this block's output = the mlp.c_proj output gradient
      INDArray da4 = tmp4C;
      Blas.gemm(cols(p.mproj[l], 0, 4 * c), true, gMp[l], false, da4, 1, 0);
      tock("bwd.linear");
      Elementwise.geluBackward(m[l], tanh[l], da4, gFc[l]);
      tock("bwd.gelu");
      Blas.gemm(cols(p.fc[l], 0, c), true, gFc[l], false, tmpC2, 1, 0);
      tock("bwd.linear");
      Elementwise.layerNormBackward(tmpC2, p.ln2g[l], ln2Hat[l], ln2Rstd[l], grads == null ? null : grads.ln2g[l],
          grads == null ? null : grads.ln2b[l], gMp[l], gProj[l]);
      tock("bwd.layernorm");
      Blas.gemm(cols(p.proj[l], 0, c), true, gProj[l], false, tmpC, 1, 0);
      tock("bwd.linear");
      attentionBackward(l);
      tock("bwd.attention");
      boolean needDx = l > 0 || grads != null;   // below layer 0 only the embeddings need dL/dx
      if (needDx) {
        Blas.gemm(cols(p.attn[l], 0, c), true, gAttn[l], false, tmpC2, 1, 0);
        tock("bwd.linear");
        INDArray next = l > 0 ? gMp[l - 1] : dxf;
        Elementwise.layerNormBackward(tmpC2, p.ln1g[l], ln1Hat[l], ln1Rstd[l], grads == null ? null : grads.ln1g[l],
            grads == null ? null : grads.ln1b[l], gProj[l], next);
      }
      tock("bwd.layernorm");
      if (grads != null) {
        Blas.gemm(gAttn[l], false, a1[l], true, grads.attn[l], 1, 1);
        Blas.gemm(gProj[l], false, y[l], true, grads.proj[l], 1, 1);
        Blas.gemm(gFc[l], false, a3[l], true, grads.fc[l], 1, 1);
        Blas.gemm(gMp[l], false, a4[l], true, grads.mproj[l], 1, 1);
        tock("bwd.weight_grads");
      }
    }
    if (grads != null) {
      // dxf now holds dL/dx0; scatter-add into the embedding rows
      Elementwise.embedBackward(dxf, ids, pos, grads.wte, grads.wpe);
      tock("bwd.embed");
    }
  }

  private final java.util.Map<String, INDArray> perExample = new java.util.HashMap<>();

  /**
   * Example {@code b}'s {@code [dOut, dIn]} block of the per-example gradient buffer of
   * {@code layer} ('f' {@code [dOut, dIn·B]}): one allocation per layer and call rather than one
   * per example. The buffers are handed to the caller, so {@link #releasePerExampleBuffers()} runs
   * before each call that fills them again, unless the caller opted into reuse.
   */
  void releasePerExampleBuffers() {
    perExample.clear();
  }

  INDArray perExampleOut(String layer, int dOut, int dIn, int b) {
    INDArray buf = perExample.computeIfAbsent(layer, k -> mat(dOut, (long) dIn * batch));
    return cols(buf, b * dIn, (b + 1) * dIn);
  }

  /** Weight-gradient factors of a tracked layer: {@code {a, g}} as [dIn+1, N] and [dOut, N]. */
  INDArray[] factors(String kind, int l) {
    switch (kind) {
      case "attn.c_attn": return new INDArray[] {a1[l], gAttn[l]};
      case "attn.c_proj": return new INDArray[] {y[l], gProj[l]};
      case "mlp.c_fc": return new INDArray[] {a3[l], gFc[l]};
      case "mlp.c_proj": return new INDArray[] {a4[l], gMp[l]};
      default: throw new IllegalArgumentException("unknown layer kind " + kind);
    }
  }

  // ------------------------------------------------------------------ kernels

  private void attentionForward(int l) {
    int bh = batch * heads;
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vk[l][i], true, vq[l][i], false, vS[l][i], scale, 0);
    }
    Elementwise.causalSoftmax(att[l]);
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vv[l][i], false, vS[l][i], false, vy[l][i], 1, 0);
    }
  }

  /** Reads dY from {@link #tmpC}; writes dQ, dK, dV into {@code gAttn[l]}. */
  private void attentionBackward(int l) {
    int bh = batch * heads;
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vv[l][i], true, vdy[i], false, vdS[0][i], 1, 0);      // dP (as [Tk, Tq])
      Blas.gemm(vdy[i], false, vS[l][i], true, vdv[l][i], 1, 0);     // dV = dY Pᵀ
    }
    Elementwise.softmaxBackward(att[l], dAtt);
    for (int i = 0; i < bh; i++) {
      Blas.gemm(vk[l][i], false, vdS[0][i], false, vdq[l][i], scale, 0);
      Blas.gemm(vq[l][i], false, vdS[0][i], true, vdk[l][i], scale, 0);
    }
  }
}
