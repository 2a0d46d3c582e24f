package io.influence.core.model;

import io.influence.checkpoints.Gpt2Config;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Forward-mode differentiation of the logits (a Jacobian-vector product {@code J v}): the exact
 * directional derivative of the logits when the augmented Conv1D matrices {@code W̃} of some layers
 * move along tangents {@code dW̃} ({@code [dOut, dIn+1]}, bias last column), every other parameter
 * fixed. Runs after {@link Gpt2Pass#forwardLogits} and reads its caches; tangents are
 * {@code [features, N]} column-major like the pass's activations.
 *
 * <p>Rules (a dot marks a tangent; embeddings are fixed, so {@code ẋ₀ = 0}):
 * <ul>
 *   <li>Conv1D {@code s = W̃ [a; 1]}: {@code ṡ = W ȧ + dW̃ [a; 1]};
 *   <li>LayerNorm {@code o = γ ⊙ x̂ + β}, {@code x̂ = (x − μ) r}: {@code ȯ = γ ⊙ r (ẋ − mean(ẋ) − x̂ · mean(x̂ ⊙ ẋ))};
 *   <li>gelu_new: {@code ȯ = ṁ ⊙ (½(1+t) + ½m(1−t²)·√(2/π)(1 + 3·0.044715m²))}, {@code t} the cached tanh;
 *   <li>attention per head, query {@code t}, keys {@code s ≤ t}: {@code Ṡ = scale(q̇·k + q·k̇)},
 *       {@code Ṗ = P ⊙ (Ṡ − Σ_s P Ṡ)}, {@code ẏ = Σ_s Ṗ v + P v̇};
 *   <li>tied head: {@code ż = wte ẋ_f}.
 * </ul>
 * Linear parts go to {@link Blas}; the element-wise rules are {@link LayerNorm#tangent},
 * {@link Gelu#backward} (the gelu rule above is its backward rule) and
 * {@link CausalAttention#tangent}, computing in float64 over the arrays' native memory. The tangent
 * buffers are allocated once per pass shape (like the pass's own), so repeated products allocate
 * no activation-sized arrays; the returned {@code ż} is a view of one of them, valid until the next call.
 */
final class Gpt2Tangent {

  private final Gpt2Config cfg;
  private final Gpt2Pass pass;
  private final INDArray dx, dx2, da, dqkv, dy, dm, da4, dz;   // 'f' [features, N]

  Gpt2Tangent(Gpt2Config cfg, Gpt2Pass pass, DataType dt) {
    this.cfg = cfg;
    this.pass = pass;
    int c = cfg.nEmbd();
    long n = pass.n;
    dx = Nd4j.create(dt, new long[] {c, n}, 'f');
    dx2 = Nd4j.create(dt, new long[] {c, n}, 'f');
    da = Nd4j.create(dt, new long[] {c, n}, 'f');
    dqkv = Nd4j.create(dt, new long[] {3L * c, n}, 'f');
    dy = Nd4j.create(dt, new long[] {c, n}, 'f');
    dm = Nd4j.create(dt, new long[] {4L * c, n}, 'f');
    da4 = Nd4j.create(dt, new long[] {4L * c, n}, 'f');
    dz = Nd4j.create(dt, new long[] {cfg.vocabSize(), n}, 'f');
  }

  /**
   * After {@link Gpt2Pass#forwardLogits} of the same pass: {@code dAttn[l]} etc. are the tangents of
   * block {@code l}'s four Conv1Ds ('f' {@code [dOut, dIn+1]} in the model's type), {@code null} for
   * zero. Returns {@code ż} as 'f' {@code [V, N]} (an internal buffer).
   */
  INDArray logits(Gpt2Params p, INDArray[] dAttn, INDArray[] dProj, INDArray[] dFc, INDArray[] dMp) {
    int c = cfg.nEmbd();
    dx.assign(0);   // embeddings are fixed
    for (int l = 0; l < cfg.nLayer(); l++) {
      LayerNorm.tangent(dx, pass.ln1Hat[l], pass.ln1Rstd[l], p.ln1g[l], da);
      Blas.gemm(Blas.cols(p.attn[l], 0, c), false, da, false, dqkv, 1, 0);
      if (dAttn[l] != null) {
        Blas.gemm(dAttn[l], false, pass.a1[l], false, dqkv, 1, 1);
      }
      pass.attention.tangent(l, dqkv, dy);
      Elementwise.copy(dx, dx2);
      Blas.gemm(Blas.cols(p.proj[l], 0, c), false, dy, false, dx2, 1, 1);
      if (dProj[l] != null) {
        Blas.gemm(dProj[l], false, pass.y[l], false, dx2, 1, 1);
      }
      LayerNorm.tangent(dx2, pass.ln2Hat[l], pass.ln2Rstd[l], p.ln2g[l], da);
      Blas.gemm(Blas.cols(p.fc[l], 0, c), false, da, false, dm, 1, 0);
      if (dFc[l] != null) {
        Blas.gemm(dFc[l], false, pass.a3[l], false, dm, 1, 1);
      }
      Gelu.backward(pass.m[l], pass.tanh[l], dm, da4);   // the tangent rule is the backward rule
      Elementwise.copy(dx2, dx);
      Blas.gemm(Blas.cols(p.mproj[l], 0, 4 * c), false, da4, false, dx, 1, 1);
      if (dMp[l] != null) {
        Blas.gemm(dMp[l], false, pass.a4[l], false, dx, 1, 1);
      }
    }
    LayerNorm.tangent(dx, pass.lnfHat, pass.lnfRstd, p.lnfg, da);
    Blas.gemm(p.wte.transpose(), true, da, false, dz, 1, 0);
    return dz;
  }
}
