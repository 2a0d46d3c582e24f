package io.influence.core.model;

import io.influence.checkpoints.Gpt2Config;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Forward and backward wiring of GPT-2 over one right-padded batch shape {@code [B, T]}, with
 * every activation buffer allocated once and reused across calls of that shape.
 *
 * <p>Layout: activations are column-major {@code [features, N]} with {@code N = B·T} and token
 * {@code n = b·T + t} in column {@code n}, so one example's tokens are a contiguous column block
 * (a BLAS operand with no copy, see {@link Blas}). Each Conv1D input is kept augmented with a
 * trailing row of ones ({@code [dIn + 1, N]}), so {@code s = W̃ ã} carries the bias and the
 * per-example gradient is {@code G_b = g_b ã_bᵀ} over the example's columns: exactly the token
 * factors {@code (a, g)} of {@link io.influence.core.grad.TokenFactors}, transposed, which
 * {@link #factors} hands to {@link PerExampleGradients}.
 *
 * <p>Math (the reference is {@code torch_gpt2.py}): pre-LayerNorm blocks
 * {@code x₂ = x + c_proj(attn(ln_1 x))}, {@code x₃ = x₂ + mlp.c_proj(gelu_new(c_fc(ln_2 x₂)))};
 * LayerNorm with biased variance; {@code gelu_new(m) = ½m(1 + tanh(√(2/π)(m + 0.044715m³)))};
 * causal softmax attention with scale {@code 1/√(C/H)}; logits {@code = wte · ln_f(x)} (tied head).
 * The parts live apart: the element-wise kernels in {@link LayerNorm}, {@link Gelu} and
 * {@link Embedding}, attention in {@link CausalAttention}, the loss in {@link NextTokenLoss}, GEMMs
 * in {@link Blas}; this class owns the buffers and the order of the calls.
 *
 * <p>Padding: padded columns get exactly zero logits gradient ({@link NextTokenLoss}), and right
 * padding cannot influence real positions because attention is causal. Hence batch weight
 * gradients may use all {@code N} columns, while per-example quantities use only the example's
 * {@code len_b} columns.
 *
 * <p>Not thread-safe: one pass per thread.
 */
final class Gpt2Pass implements HeldPass.Forwards {

  final int batch, seqLen, n;
  private final int c, vocab, layers;
  private final double eps;

  // forward caches
  final INDArray[] xIn;         // [L+1] residual stream, [C, N]
  final INDArray[] ln1Hat, ln1Rstd, ln2Hat, ln2Rstd;
  final INDArray[] a1, y, a3, a4;  // augmented inputs of c_attn, c_proj, c_fc, mlp.c_proj
  final INDArray[] qkv, x2, m, tanh;
  final INDArray lnfHat, lnfRstd, xf, logits;
  private final int[] ids, pos;
  // backward buffers: output gradients of the four Conv1Ds
  final INDArray[] gAttn, gProj, gFc, gMp;
  private final INDArray tmpC, tmpC2, tmp4C, dxf;

  final CausalAttention attention;
  final NextTokenLoss loss;
  final PerExampleGradients perExample;
  final PhaseTimer timer = new PhaseTimer();

  /** Forward-mode buffers for {@link Gpt2Model#logitTangents}, created on first use. */
  Gpt2Tangent tangent;

  private long forwards;

  Gpt2Pass(Gpt2Config cfg, DataType dt, int batch, int seqLen) {
    this.batch = batch;
    this.seqLen = seqLen;
    this.n = batch * seqLen;
    this.c = cfg.nEmbd();
    this.vocab = cfg.vocabSize();
    this.layers = cfg.nLayer();
    this.eps = cfg.layerNormEpsilon();
    xIn = new INDArray[layers + 1];
    for (int l = 0; l <= layers; l++) {
      xIn[l] = mat(dt, c, n);
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
    x2 = new INDArray[layers];
    m = new INDArray[layers];
    tanh = new INDArray[layers];
    gAttn = new INDArray[layers];
    gProj = new INDArray[layers];
    gFc = new INDArray[layers];
    gMp = new INDArray[layers];
    tmpC = mat(dt, c, n);
    tmpC2 = mat(dt, c, n);
    tmp4C = mat(dt, 4 * c, n);
    dxf = mat(dt, c, n);
    for (int l = 0; l < layers; l++) {
      ln1Hat[l] = mat(dt, c, n);
      ln1Rstd[l] = Nd4j.create(dt, n);
      ln2Hat[l] = mat(dt, c, n);
      ln2Rstd[l] = Nd4j.create(dt, n);
      a1[l] = aug(dt, c);
      y[l] = aug(dt, c);
      a3[l] = aug(dt, c);
      a4[l] = aug(dt, 4 * c);
      qkv[l] = mat(dt, 3 * c, n);
      x2[l] = mat(dt, c, n);
      m[l] = mat(dt, 4 * c, n);
      tanh[l] = mat(dt, 4 * c, n);
      gAttn[l] = mat(dt, 3 * c, n);
      gProj[l] = mat(dt, c, n);
      gFc[l] = mat(dt, 4 * c, n);
      gMp[l] = mat(dt, c, n);
    }
    // backward reads dL/dy of every layer from tmpC
    attention = new CausalAttention(dt, batch, seqLen, cfg.nHead(), c, qkv, y, gAttn, tmpC);
    loss = new NextTokenLoss(dt, batch, seqLen);
    perExample = new PerExampleGradients(dt, batch, seqLen);
    lnfHat = mat(dt, c, n);
    lnfRstd = Nd4j.create(dt, n);
    xf = mat(dt, c, n);
    logits = mat(dt, vocab, n);
    ids = new int[n];
    pos = new int[n];
  }

  private static INDArray mat(DataType dt, long rows, long cols) {
    return Nd4j.create(dt, new long[] {rows, cols}, 'f');
  }

  /** {@code [d + 1, N]} with the last row set to ones (never overwritten). */
  private INDArray aug(DataType dt, int d) {
    INDArray a = mat(dt, d + 1, n);
    a.get(NDArrayIndex.point(d), NDArrayIndex.all()).assign(1);
    return a;
  }

  /** Forward pass; returns per-example losses (float64 sums) and leaves {@code dL/dlogits} in {@link #logits}. */
  double[] forward(Gpt2Params p, TokenBatch tb) {
    forwardLogits(p, tb);
    timer.tick();
    double[] losses = loss.lossAndGradient(logits);
    timer.tock("fwd.softmax_loss");
    return losses;
  }

  /**
   * After {@link #forwardLogits}: puts {@code dLogits} ({@code [B, T, V]}, any float type) in place of
   * the logits as {@code dL/dlogits} for {@link #backward}, the padding columns zeroed.
   */
  void setLogitGradient(INDArray dLogits, TokenBatch tb) {
    loss.setGradient(logits, dLogits, tb);
  }

  /** A {@code [V, N]} matrix such as {@link #logits} as {@code [B, T, V]} 'c' (a copy). */
  INDArray batchMajor(INDArray byColumn) {
    return byColumn.transpose().dup('c').reshape('c', batch, seqLen, vocab);
  }

  /** Forward pass up to the logits ({@link #logits}, {@code [V, N]}); sets the loss targets. */
  void forwardLogits(Gpt2Params p, TokenBatch tb) {
    forwards++;
    for (int b = 0; b < batch; b++) {
      int len = tb.length(b);
      for (int t = 0; t < seqLen; t++) {
        int k = b * seqLen + t;
        ids[k] = t < len ? tb.tokens()[b][t] : 0;
        pos[k] = t;
      }
    }
    timer.tick();
    loss.setTargets(tb);
    // embeddings: x0[:, n] = wte[id_n] + wpe[t_n]
    Embedding.forward(p.wte, p.wpe, ids, pos, xIn[0]);
    timer.tock("fwd.embed");
    for (int l = 0; l < layers; l++) {
      INDArray x = xIn[l];
      LayerNorm.forward(x, p.ln1g[l], p.ln1b[l], eps, ln1Hat[l], ln1Rstd[l], Blas.rows(a1[l], c));
      timer.tock("fwd.layernorm");
      Blas.gemm(p.attn[l], false, a1[l], false, qkv[l], 1, 0);
      timer.tock("fwd.linear");
      attention.forward(l);
      timer.tock("fwd.attention");
      Elementwise.copy(x, x2[l]);
      Blas.gemm(p.proj[l], false, y[l], false, x2[l], 1, 1);
      timer.tock("fwd.linear");
      LayerNorm.forward(x2[l], p.ln2g[l], p.ln2b[l], eps, ln2Hat[l], ln2Rstd[l], Blas.rows(a3[l], c));
      timer.tock("fwd.layernorm");
      Blas.gemm(p.fc[l], false, a3[l], false, m[l], 1, 0);
      timer.tock("fwd.linear");
      Gelu.forward(m[l], tanh[l], Blas.rows(a4[l], 4 * c));
      timer.tock("fwd.gelu");
      Elementwise.copy(x2[l], xIn[l + 1]);
      Blas.gemm(p.mproj[l], false, a4[l], false, xIn[l + 1], 1, 1);
      timer.tock("fwd.linear");
    }
    LayerNorm.forward(xIn[layers], p.lnfg, p.lnfb, eps, lnfHat, lnfRstd, xf);
    timer.tock("fwd.layernorm");
    Blas.gemm(p.wte.transpose(), true, xf, false, logits, 1, 0);
    timer.tock("fwd.lm_head");
  }

  @Override
  public long forwards() {
    return forwards;
  }

  /**
   * Backward pass after {@link #forward} (or {@link #setLogitGradient}): fills the output gradients
   * {@code gAttn, gProj, gFc, gMp} of every layer; accumulates all parameter gradients into
   * {@code grads} when not null.
   */
  void backward(Gpt2Params p, Gpt2Params grads) {
    timer.tick();
    Blas.gemm(p.wte.transpose(), false, logits, false, dxf, 1, 0);
    if (grads != null) {
      Blas.gemm(xf, false, logits, true, grads.wte.transpose(), 1, 1);
    }
    timer.tock("bwd.lm_head");
    INDArray dx = gMp[layers - 1];
    dx.assign(0);
    LayerNorm.backward(dxf, p.lnfg, lnfHat, lnfRstd, grads == null ? null : grads.lnfg,
        grads == null ? null : grads.lnfb, dx);
    timer.tock("bwd.layernorm");
    for (int l = layers - 1; l >= 0; l--) {
      // gMp[l] is the gradient at this block's output = the mlp.c_proj output gradient
      INDArray da4 = tmp4C;
      Blas.gemm(Blas.cols(p.mproj[l], 0, 4 * c), true, gMp[l], false, da4, 1, 0);
      timer.tock("bwd.linear");
      Gelu.backward(m[l], tanh[l], da4, gFc[l]);
      timer.tock("bwd.gelu");
      Blas.gemm(Blas.cols(p.fc[l], 0, c), true, gFc[l], false, tmpC2, 1, 0);
      timer.tock("bwd.linear");
      LayerNorm.backward(tmpC2, p.ln2g[l], ln2Hat[l], ln2Rstd[l], grads == null ? null : grads.ln2g[l],
          grads == null ? null : grads.ln2b[l], gMp[l], gProj[l]);
      timer.tock("bwd.layernorm");
      Blas.gemm(Blas.cols(p.proj[l], 0, c), true, gProj[l], false, tmpC, 1, 0);
      timer.tock("bwd.linear");
      attention.backward(l);
      timer.tock("bwd.attention");
      boolean needDx = l > 0 || grads != null;   // below layer 0 only the embeddings need dL/dx
      if (needDx) {
        Blas.gemm(Blas.cols(p.attn[l], 0, c), true, gAttn[l], false, tmpC2, 1, 0);
        timer.tock("bwd.linear");
        INDArray next = l > 0 ? gMp[l - 1] : dxf;
        LayerNorm.backward(tmpC2, p.ln1g[l], ln1Hat[l], ln1Rstd[l], grads == null ? null : grads.ln1g[l],
            grads == null ? null : grads.ln1b[l], gProj[l], next);
      }
      timer.tock("bwd.layernorm");
      if (grads != null) {
        Blas.gemm(gAttn[l], false, a1[l], true, grads.attn[l], 1, 1);
        Blas.gemm(gProj[l], false, y[l], true, grads.proj[l], 1, 1);
        Blas.gemm(gFc[l], false, a3[l], true, grads.fc[l], 1, 1);
        Blas.gemm(gMp[l], false, a4[l], true, grads.mproj[l], 1, 1);
        timer.tock("bwd.weight_grads");
      }
    }
    if (grads != null) {
      // dxf now holds dL/dx0; scatter-add into the embedding rows
      Embedding.backward(dxf, ids, pos, grads.wte, grads.wpe);
      timer.tock("bwd.embed");
    }
  }

  /**
   * After {@link #backward}: the weight-gradient factors of a tracked layer ({@code h.3.mlp.c_fc}),
   * {@code {a, g}} as {@code [dIn+1, N]} and {@code [dOut, N]}.
   */
  INDArray[] factors(String layer) {
    int l = Gpt2Params.blockOf(layer);
    String kind = Gpt2Params.kindOf(layer);
    switch (kind) {
      case "attn.c_attn": return new INDArray[] {a1[l], gAttn[l]};
      case "attn.c_proj": return new INDArray[] {y[l], gProj[l]};
      case "mlp.c_fc": return new INDArray[] {a3[l], gFc[l]};
      case "mlp.c_proj": return new INDArray[] {a4[l], gMp[l]};
      default: throw new IllegalArgumentException("unknown layer kind " + kind);
    }
  }
}
