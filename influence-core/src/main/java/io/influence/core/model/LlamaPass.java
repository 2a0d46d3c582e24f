package io.influence.core.model;

import io.influence.checkpoints.LlamaConfig;
import io.influence.core.model.LlamaParams.Proj;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Forward and backward wiring of a Llama-family model over one right-padded batch shape
 * {@code [B, T]}, every buffer allocated once and reused across calls of that shape.
 *
 * <p>Layout as {@link Gpt2Pass}: activations column-major {@code [features, N]}, {@code N = B·T},
 * token {@code n = b·T + t} in column {@code n}. The input of a projection with a bias carries a
 * trailing row of ones, so {@code s = W̃ ã} and the per-example gradient is {@code g_b ã_bᵀ}.
 * {@code in[k][l]}, {@code out[k][l]}, {@code gOut[k][l]} are projection {@code k}'s input, output
 * and output gradient in block {@code l} ({@link Proj} order).
 *
 * <p>Math (the reference is {@code torch_llama.py}), per block:
 * {@code a₁ = rms₁(x)}; {@code q, k, v = W_q a₁, W_k a₁, W_v a₁}; qwen3: {@code q, k = q_norm(q), k_norm(k)}
 * per head; {@code q, k = RoPE(q), RoPE(k)}; {@code y = attn(q, k, v)} ({@link GroupedAttention});
 * {@code x₂ = x + W_o y}; {@code a₃ = rms₂(x₂)}; {@code a₄ = silu(W_gate a₃) ⊙ W_up a₃} ({@link SwiGlu});
 * {@code x' = x₂ + W_down a₄}. Then {@code logits = head · rms_f(x)} (the head is {@code embed_tokens}
 * when tied). With a LoRA adapter every adapted projection adds {@code s·B(A a)}: its forward keeps
 * {@code u = A a}, its backward adds {@code Aᵀ(s Bᵀ g)} to the input gradient ({@link LoraWeights}).
 *
 * <p>Padding: padded columns get zero logits gradient ({@link NextTokenLoss}) and attention only
 * looks left, so batch weight gradients may sum over all {@code N} columns.
 *
 * <p>Not thread-safe: one pass per thread.
 */
final class LlamaPass implements HeldPass.Forwards {

  final int batch, seqLen, n;
  private final LlamaConfig cfg;
  private final int c, layers, d, hd, kvd;
  private final double eps;

  final INDArray[] xIn, r1, r2, q, k, qr, kr, rq, rk, x2, gate, up;
  final INDArray[][] in, out, gOut;
  final INDArray[][] loraU, loraGA, loraGB;   // [Proj][layer] when an adapter is on
  final INDArray rf, xf, logits;
  private final INDArray dqr, dkr, dy, tmpC, tmpI, dx0;
  private final int[] ids;

  final Rotary rotary;
  final GroupedAttention attention;
  final NextTokenLoss loss;
  final PerExampleGradients perExample;
  final PhaseTimer timer = new PhaseTimer();
  private final LoraWeights lora;

  private long forwards;

  /** Forward-mode buffers for {@link LlamaModel#logitTangents}, created on first use. */
  LlamaTangent tangent;

  LlamaPass(LlamaConfig cfg, LoraWeights lora, DataType dt, int batch, int seqLen) {
    this.cfg = cfg;
    this.lora = lora;
    this.batch = batch;
    this.seqLen = seqLen;
    this.n = batch * seqLen;
    this.c = cfg.hiddenSize();
    this.layers = cfg.numHiddenLayers();
    this.d = cfg.headDim();
    this.hd = cfg.numAttentionHeads() * d;
    this.kvd = cfg.numKeyValueHeads() * d;
    this.eps = cfg.rmsNormEps();
    int inter = cfg.intermediateSize();
    int np = Proj.values().length;
    xIn = new INDArray[layers + 1];
    r1 = new INDArray[layers];
    r2 = new INDArray[layers];
    q = new INDArray[layers];
    k = new INDArray[layers];
    qr = new INDArray[layers];
    kr = new INDArray[layers];
    rq = new INDArray[layers];
    rk = new INDArray[layers];
    x2 = new INDArray[layers];
    gate = new INDArray[layers];
    up = new INDArray[layers];
    in = new INDArray[np][layers];
    out = new INDArray[np][layers];
    gOut = new INDArray[np][layers];
    loraU = new INDArray[np][layers];
    loraGA = new INDArray[np][layers];
    loraGB = new INDArray[np][layers];
    xIn[0] = mat(dt, c, n);
    for (int l = 0; l < layers; l++) {
      r1[l] = Nd4j.create(dt, n);
      r2[l] = Nd4j.create(dt, n);
      INDArray a1 = aug(dt, c, cfg.qkvBias());
      in[Proj.Q.ordinal()][l] = a1;
      in[Proj.K.ordinal()][l] = a1;
      in[Proj.V.ordinal()][l] = a1;
      in[Proj.O.ordinal()][l] = aug(dt, hd, cfg.outputBias());
      INDArray a3 = aug(dt, c, cfg.mlpBias());
      in[Proj.GATE.ordinal()][l] = a3;
      in[Proj.UP.ordinal()][l] = a3;
      in[Proj.DOWN.ordinal()][l] = aug(dt, inter, cfg.mlpBias());
      q[l] = mat(dt, hd, n);
      k[l] = mat(dt, kvd, n);
      qr[l] = cfg.qkNorm() ? mat(dt, hd, n) : q[l];   // RoPE in place unless q_norm needs the raw q
      kr[l] = cfg.qkNorm() ? mat(dt, kvd, n) : k[l];
      if (cfg.qkNorm()) {
        rq[l] = Nd4j.create(dt, (long) n * cfg.numAttentionHeads());
        rk[l] = Nd4j.create(dt, (long) n * cfg.numKeyValueHeads());
      }
      x2[l] = mat(dt, c, n);
      gate[l] = mat(dt, inter, n);
      up[l] = mat(dt, inter, n);
      xIn[l + 1] = mat(dt, c, n);
      out[Proj.Q.ordinal()][l] = q[l];
      out[Proj.K.ordinal()][l] = k[l];
      out[Proj.V.ordinal()][l] = mat(dt, kvd, n);
      out[Proj.O.ordinal()][l] = x2[l];
      out[Proj.GATE.ordinal()][l] = gate[l];
      out[Proj.UP.ordinal()][l] = up[l];
      out[Proj.DOWN.ordinal()][l] = xIn[l + 1];
      for (Proj p : Proj.values()) {
        gOut[p.ordinal()][l] = mat(dt, LlamaParams.dOut(cfg, p), n);
        if (lora != null && lora.adapted[p.ordinal()][l]) {
          loraU[p.ordinal()][l] = mat(dt, lora.rank, n);
          loraGA[p.ordinal()][l] = mat(dt, lora.rank, n);
        }
      }
    }
    dqr = mat(dt, hd, n);
    dkr = mat(dt, kvd, n);
    dy = mat(dt, hd, n);
    tmpC = mat(dt, c, n);
    tmpI = mat(dt, inter, n);
    dx0 = mat(dt, c, n);
    INDArray[] dqs = new INDArray[layers];
    INDArray[] dks = new INDArray[layers];
    INDArray[] ys = new INDArray[layers];
    INDArray[] vs = new INDArray[layers];
    Arrays.fill(dqs, dqr);
    Arrays.fill(dks, dkr);
    for (int l = 0; l < layers; l++) {
      ys[l] = in[Proj.O.ordinal()][l];
      vs[l] = out[Proj.V.ordinal()][l];
    }
    rotary = new Rotary(cfg.rope(), d, seqLen);
    attention = new GroupedAttention(dt, batch, seqLen, cfg.numAttentionHeads(), cfg.numKeyValueHeads(), d,
        cfg.slidingWindow(), qr, kr, vs, ys, dqs, dks, gOut[Proj.V.ordinal()], dy);
    loss = new NextTokenLoss(dt, batch, seqLen);
    perExample = new PerExampleGradients(dt, batch, seqLen);
    rf = Nd4j.create(dt, n);
    xf = mat(dt, c, n);
    logits = mat(dt, cfg.vocabSize(), n);
    ids = new int[n];
  }

  static INDArray mat(DataType dt, long rows, long cols) {
    return Nd4j.create(dt, new long[] {rows, cols}, 'f');
  }

  /** {@code [d (+1), N]}; with a bias the last row is ones (never overwritten). */
  private INDArray aug(DataType dt, int rows, boolean bias) {
    INDArray a = mat(dt, rows + (bias ? 1 : 0), n);
    if (bias) {
      a.get(NDArrayIndex.point(rows), NDArrayIndex.all()).assign(1);
    }
    return a;
  }

  /** Forward pass; returns per-example losses and leaves {@code dL/dlogits} in {@link #logits}. */
  double[] forward(LlamaParams p, TokenBatch tb) {
    forwardLogits(p, tb);
    timer.tick();
    double[] losses = loss.lossAndGradient(logits);
    timer.tock("fwd.softmax_loss");
    return losses;
  }

  /** After {@link #forwardLogits}: {@code dLogits} ({@code [B, T, V]}) becomes {@code dL/dlogits}, padding zeroed. */
  void setLogitGradient(INDArray dLogits, TokenBatch tb) {
    loss.setGradient(logits, dLogits, tb);
  }

  /** A {@code [V, N]} matrix as {@code [B, T, V]} 'c' (a copy). */
  INDArray batchMajor(INDArray byColumn) {
    return byColumn.transpose().dup('c').reshape('c', batch, seqLen, byColumn.rows());
  }

  /** The weight part {@code W̃[:, :dIn]} of projection {@code k} of block {@code l}. */
  INDArray weight(LlamaParams p, Proj kind, int l) {
    return Blas.cols(p.lin[kind.ordinal()][l], 0, LlamaParams.dIn(cfg, kind));
  }

  /** {@code out = beta·out + W̃ ã (+ s·B(A a))} for projection {@code kind} of block {@code l}. */
  private void project(LlamaParams p, Proj kind, int l, double beta) {
    int ki = kind.ordinal();
    Blas.gemm(p.lin[ki][l], false, in[ki][l], false, out[ki][l], 1, beta);
    if (loraU[ki][l] != null) {
      Blas.gemm(lora.a[ki][l], false, Blas.rows(in[ki][l], LlamaParams.dIn(cfg, kind)), false, loraU[ki][l], 1, 0);
      Blas.gemm(lora.b[ki][l], false, loraU[ki][l], false, out[ki][l], lora.scale, 1);
    }
  }

  /** {@code din = beta·din + ∂out/∂a ᵀ g}, {@code g = gOut[kind][l]}; with LoRA also keeps {@code s Bᵀ g}. */
  private void projectBack(LlamaParams p, Proj kind, int l, INDArray din, double beta) {
    int ki = kind.ordinal();
    INDArray g = gOut[ki][l];
    Blas.gemm(weight(p, kind, l), true, g, false, din, 1, beta);
    if (loraBack(kind, l)) {
      Blas.gemm(lora.a[ki][l], true, loraGA[ki][l], false, din, 1, 1);
    }
  }

  /** With LoRA on projection {@code kind} of block {@code l}: {@code gA = s Bᵀ g}; returns whether it is adapted. */
  private boolean loraBack(Proj kind, int l) {
    int ki = kind.ordinal();
    if (loraGA[ki][l] == null) {
      return false;
    }
    Blas.gemm(lora.b[ki][l], true, gOut[ki][l], false, loraGA[ki][l], lora.scale, 0);
    return true;
  }

  /** Forward pass up to the logits ({@link #logits}, {@code [V, N]}); sets the loss targets. */
  @Override
  public long forwards() {
    return forwards;
  }

  void forwardLogits(LlamaParams p, TokenBatch tb) {
    forwards++;
    for (int b = 0; b < batch; b++) {
      int len = tb.length(b);
      for (int t = 0; t < seqLen; t++) {
        ids[b * seqLen + t] = t < len ? tb.tokens()[b][t] : 0;
      }
    }
    timer.tick();
    loss.setTargets(tb);
    Embedding.forward(p.embed, ids, xIn[0]);
    timer.tock("fwd.embed");
    for (int l = 0; l < layers; l++) {
      INDArray a1 = in[Proj.Q.ordinal()][l];
      RmsNorm.forward(xIn[l], p.ln1[l], eps, c, r1[l], Blas.rows(a1, c));
      timer.tock("fwd.rmsnorm");
      project(p, Proj.Q, l, 0);
      project(p, Proj.K, l, 0);
      project(p, Proj.V, l, 0);
      timer.tock("fwd.linear");
      if (cfg.qkNorm()) {
        RmsNorm.forward(q[l], p.qNorm[l], eps, d, rq[l], qr[l]);
        RmsNorm.forward(k[l], p.kNorm[l], eps, d, rk[l], kr[l]);
        timer.tock("fwd.rmsnorm");
      }
      rotary.rotate(qr[l], qr[l]);
      rotary.rotate(kr[l], kr[l]);
      timer.tock("fwd.rope");
      attention.forward(l);
      timer.tock("fwd.attention");
      Elementwise.copy(xIn[l], x2[l]);
      project(p, Proj.O, l, 1);
      timer.tock("fwd.linear");
      INDArray a3 = in[Proj.GATE.ordinal()][l];
      RmsNorm.forward(x2[l], p.ln2[l], eps, c, r2[l], Blas.rows(a3, c));
      timer.tock("fwd.rmsnorm");
      project(p, Proj.GATE, l, 0);
      project(p, Proj.UP, l, 0);
      timer.tock("fwd.linear");
      SwiGlu.forward(gate[l], up[l], Blas.rows(in[Proj.DOWN.ordinal()][l], cfg.intermediateSize()));
      timer.tock("fwd.swiglu");
      Elementwise.copy(x2[l], xIn[l + 1]);
      project(p, Proj.DOWN, l, 1);
      timer.tock("fwd.linear");
    }
    RmsNorm.forward(xIn[layers], p.norm, eps, c, rf, xf);
    timer.tock("fwd.rmsnorm");
    Blas.gemm(p.head.transpose(), true, xf, false, logits, 1, 0);
    timer.tock("fwd.lm_head");
  }

  /**
   * Backward pass after {@link #forward} (or {@link #setLogitGradient}): fills the output gradients
   * {@code gOut} of every projection; accumulates all parameter gradients into {@code grads} and the
   * adapter's into {@code loraGrads} when not null.
   */
  void backward(LlamaParams p, LlamaParams grads, LoraWeights loraGrads) {
    timer.tick();
    INDArray dxf = dx0;
    Blas.gemm(p.head.transpose(), false, logits, false, dxf, 1, 0);
    if (grads != null) {
      Blas.gemm(xf, false, logits, true, grads.head.transpose(), 1, 1);
    }
    timer.tock("bwd.lm_head");
    int down = Proj.DOWN.ordinal();
    RmsNorm.backward(dxf, xIn[layers], p.norm, rf, c, grads == null ? null : grads.norm, null, gOut[down][layers - 1]);
    timer.tock("bwd.rmsnorm");
    for (int l = layers - 1; l >= 0; l--) {
      INDArray gBlock = gOut[down][l];   // gradient at the block output = down_proj's output gradient
      projectBack(p, Proj.DOWN, l, tmpI, 0);
      timer.tock("bwd.linear");
      SwiGlu.backward(gate[l], up[l], tmpI, gOut[Proj.GATE.ordinal()][l], gOut[Proj.UP.ordinal()][l]);
      timer.tock("bwd.swiglu");
      projectBack(p, Proj.GATE, l, tmpC, 0);
      projectBack(p, Proj.UP, l, tmpC, 1);
      timer.tock("bwd.linear");
      INDArray gO = gOut[Proj.O.ordinal()][l];   // gradient at x₂
      RmsNorm.backward(tmpC, x2[l], p.ln2[l], r2[l], c, grads == null ? null : grads.ln2[l], gBlock, gO);
      timer.tock("bwd.rmsnorm");
      projectBack(p, Proj.O, l, dy, 0);
      timer.tock("bwd.linear");
      attention.backward(l);
      timer.tock("bwd.attention");
      INDArray gQ = gOut[Proj.Q.ordinal()][l];
      INDArray gK = gOut[Proj.K.ordinal()][l];
      rotary.rotateBack(dqr, cfg.qkNorm() ? dqr : gQ);
      rotary.rotateBack(dkr, cfg.qkNorm() ? dkr : gK);
      timer.tock("bwd.rope");
      if (cfg.qkNorm()) {
        RmsNorm.backward(dqr, q[l], p.qNorm[l], rq[l], d, grads == null ? null : grads.qNorm[l], null, gQ);
        RmsNorm.backward(dkr, k[l], p.kNorm[l], rk[l], d, grads == null ? null : grads.kNorm[l], null, gK);
        timer.tock("bwd.rmsnorm");
      }
      if (l > 0 || grads != null) {   // below block 0 only the embeddings need dL/dx
        projectBack(p, Proj.Q, l, tmpC, 0);
        projectBack(p, Proj.K, l, tmpC, 1);
        projectBack(p, Proj.V, l, tmpC, 1);
        timer.tock("bwd.linear");
        INDArray next = l > 0 ? gOut[down][l - 1] : dx0;
        RmsNorm.backward(tmpC, xIn[l], p.ln1[l], r1[l], c, grads == null ? null : grads.ln1[l], gO, next);
        timer.tock("bwd.rmsnorm");
      } else {
        loraBack(Proj.Q, l);
        loraBack(Proj.K, l);
        loraBack(Proj.V, l);
      }
      if (grads != null) {
        for (Proj kind : Proj.values()) {
          int ki = kind.ordinal();
          Blas.gemm(gOut[ki][l], false, in[ki][l], true, grads.lin[ki][l], 1, 1);
        }
        timer.tock("bwd.weight_grads");
      }
      if (loraGrads != null) {
        for (Proj kind : Proj.values()) {
          int ki = kind.ordinal();
          if (loraU[ki][l] != null) {
            INDArray a = Blas.rows(in[ki][l], LlamaParams.dIn(cfg, kind));
            Blas.gemm(loraGA[ki][l], false, a, true, loraGrads.a[ki][l], 1, 1);
            Blas.gemm(gOut[ki][l], false, loraU[ki][l], true, loraGrads.b[ki][l], lora.scale, 1);
          }
        }
        timer.tock("bwd.weight_grads");
      }
    }
    if (grads != null) {
      Embedding.backward(dx0, ids, grads.embed);
      timer.tock("bwd.embed");
    }
  }

  /**
   * After {@link #backward}: the factors {@code {a [cols, N], g [dOut, N]}} of projection {@code kind}
   * of block {@code l}, or of its LoRA factor {@code which} ("A" or "B") when not null.
   */
  INDArray[] factors(Proj kind, int l, String which) {
    int ki = kind.ordinal();
    if (which == null) {
      return new INDArray[] {in[ki][l], gOut[ki][l]};
    }
    if (which.equals("A")) {
      return new INDArray[] {Blas.rows(in[ki][l], LlamaParams.dIn(cfg, kind)), loraGA[ki][l]};
    }
    if (loraGB[ki][l] == null) {
      loraGB[ki][l] = mat(gOut[ki][l].dataType(), gOut[ki][l].rows(), n);
    }
    loraGB[ki][l].assign(gOut[ki][l]).muli(lora.scale);
    return new INDArray[] {loraU[ki][l], loraGB[ki][l]};
  }
}
