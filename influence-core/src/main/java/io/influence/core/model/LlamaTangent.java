package io.influence.core.model;

import io.influence.checkpoints.LlamaConfig;
import io.influence.core.model.LlamaParams.Proj;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Forward-mode differentiation of a Llama-family model's logits (a Jacobian-vector product
 * {@code J v}): the exact directional derivative when tracked layers move along tangents, every
 * other parameter fixed. Runs after {@link LlamaPass#forwardLogits} and reads its caches; tangent
 * buffers are column-major {@code [features, N]} like the pass's activations, allocated once.
 *
 * <p>Rules (a dot marks a tangent; the embeddings are fixed, so {@code ẋ₀ = 0}):
 * <ul>
 *   <li>projection {@code s = W̃ [a; 1]}: {@code ṡ = W ȧ + dW̃ [a; 1]}; with LoRA
 *       {@code s += s_l·B u}, {@code u = A a}: {@code u̇ = A ȧ + dA a}, {@code ṡ += s_l (B u̇ + dB u)};
 *   <li>RMSNorm (and qwen3's per-head q/k norms): {@code ȯ = γ ⊙ r (ẋ − ĥ · mean(ĥ ⊙ ẋ))} ({@link RmsNorm#tangent});
 *   <li>RoPE is linear: {@code ṙ = R ẋ}; attention: {@link GroupedAttention#tangent};
 *   <li>SwiGLU: {@code ḣ = ġ ⊙ up ⊙ silu'(gate) + silu(gate) ⊙ u̇}; head: {@code ż = head · ẋ_f}.
 * </ul>
 * The returned {@code ż} is a buffer, valid until the next call.
 */
final class LlamaTangent {

  private final LlamaConfig cfg;
  private final LlamaPass pass;
  private final LoraWeights lora;
  private final INDArray dx, dx2, da, dq, dk, dv, dqn, dkn, dy, dg, du, dh, dz, dLora;
  private INDArray[][] dW, dA, dB;

  LlamaTangent(LlamaConfig cfg, LlamaPass pass, LoraWeights lora, DataType dt) {
    this.cfg = cfg;
    this.pass = pass;
    this.lora = lora;
    long n = pass.n;
    int c = cfg.hiddenSize();
    int hd = cfg.numAttentionHeads() * cfg.headDim();
    int kvd = cfg.numKeyValueHeads() * cfg.headDim();
    int inter = cfg.intermediateSize();
    dx = LlamaPass.mat(dt, c, n);
    dx2 = LlamaPass.mat(dt, c, n);
    da = LlamaPass.mat(dt, c, n);
    dq = LlamaPass.mat(dt, hd, n);
    dk = LlamaPass.mat(dt, kvd, n);
    dv = LlamaPass.mat(dt, kvd, n);
    dqn = cfg.qkNorm() ? LlamaPass.mat(dt, hd, n) : dq;
    dkn = cfg.qkNorm() ? LlamaPass.mat(dt, kvd, n) : dk;
    dy = LlamaPass.mat(dt, hd, n);
    dg = LlamaPass.mat(dt, inter, n);
    du = LlamaPass.mat(dt, inter, n);
    dh = LlamaPass.mat(dt, inter, n);
    dz = LlamaPass.mat(dt, cfg.vocabSize(), n);
    dLora = lora == null ? null : LlamaPass.mat(dt, lora.rank, n);
  }

  /**
   * After {@link LlamaPass#forwardLogits} of the same pass: {@code dW[proj][block]} are tangents of base
   * projections ('f' {@code [dOut, cols]}), {@code dA}, {@code dB} of LoRA factors; {@code null} for zero.
   * Returns {@code ż} as 'f' {@code [V, N]} (an internal buffer).
   */
  INDArray logits(LlamaParams p, INDArray[][] dW, INDArray[][] dA, INDArray[][] dB) {
    this.dW = dW;
    this.dA = dA;
    this.dB = dB;
    int c = cfg.hiddenSize();
    int d = cfg.headDim();
    dx.assign(0);
    for (int l = 0; l < cfg.numHiddenLayers(); l++) {
      RmsNorm.tangent(dx, pass.xIn[l], p.ln1[l], pass.r1[l], c, da);
      linear(p, Proj.Q, l, da, dq, 0);
      linear(p, Proj.K, l, da, dk, 0);
      linear(p, Proj.V, l, da, dv, 0);
      if (cfg.qkNorm()) {
        RmsNorm.tangent(dq, pass.q[l], p.qNorm[l], pass.rq[l], d, dqn);
        RmsNorm.tangent(dk, pass.k[l], p.kNorm[l], pass.rk[l], d, dkn);
      }
      pass.rotary.rotate(dqn, dqn);
      pass.rotary.rotate(dkn, dkn);
      pass.attention.tangent(l, dqn, dkn, dv, dy);
      Elementwise.copy(dx, dx2);
      linear(p, Proj.O, l, dy, dx2, 1);
      RmsNorm.tangent(dx2, pass.x2[l], p.ln2[l], pass.r2[l], c, da);
      linear(p, Proj.GATE, l, da, dg, 0);
      linear(p, Proj.UP, l, da, du, 0);
      SwiGlu.tangent(pass.gate[l], pass.up[l], dg, du, dh);
      Elementwise.copy(dx2, dx);
      linear(p, Proj.DOWN, l, dh, dx, 1);
    }
    RmsNorm.tangent(dx, pass.xIn[cfg.numHiddenLayers()], p.norm, pass.rf, c, da);
    Blas.gemm(p.head.transpose(), true, da, false, dz, 1, 0);
    return dz;
  }

  /** {@code out = beta·out + W ȧ + dW̃ ã} plus the LoRA terms, for projection {@code kind} of block {@code l}. */
  private void linear(LlamaParams p, Proj kind, int l, INDArray aDot, INDArray out, double beta) {
    int k = kind.ordinal();
    Blas.gemm(pass.weight(p, kind, l), false, aDot, false, out, 1, beta);
    if (dW[k][l] != null) {
      Blas.gemm(dW[k][l], false, pass.in[k][l], false, out, 1, 1);
    }
    if (lora != null && lora.adapted[k][l]) {
      Blas.gemm(lora.a[k][l], false, aDot, false, dLora, 1, 0);
      if (dA[k][l] != null) {
        Blas.gemm(dA[k][l], false, Blas.rows(pass.in[k][l], LlamaParams.dIn(cfg, kind)), false, dLora, 1, 1);
      }
      Blas.gemm(lora.b[k][l], false, dLora, false, out, lora.scale, 1);
      if (dB[k][l] != null) {
        Blas.gemm(dB[k][l], false, pass.loraU[k][l], false, out, lora.scale, 1);
      }
    }
  }
}
