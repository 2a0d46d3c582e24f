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
 * Linear parts go to {@link Blas}; the element-wise parts and attention are Java loops computing in
 * float64 over the arrays' native memory ({@link Elementwise.Vec}), single-threaded. The tangent
 * buffers are allocated once per pass shape (like the pass's own), so repeated products allocate
 * no activation-sized arrays; the returned {@code ż} is a view of one of them, valid until the next call.
 */
final class Gpt2Tangent {

  private static final double GELU_K = Math.sqrt(2.0 / Math.PI);
  private static final double GELU_C = 0.044715;

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
      layerNorm(dx, pass.ln1Hat[l], pass.ln1Rstd[l], p.ln1g[l], da);
      Blas.gemm(Gpt2Pass.cols(p.attn[l], 0, c), false, da, false, dqkv, 1, 0);
      if (dAttn[l] != null) {
        Blas.gemm(dAttn[l], false, pass.a1[l], false, dqkv, 1, 1);
      }
      attention(l);
      Elementwise.copy(dx, dx2);
      Blas.gemm(Gpt2Pass.cols(p.proj[l], 0, c), false, dy, false, dx2, 1, 1);
      if (dProj[l] != null) {
        Blas.gemm(dProj[l], false, pass.y[l], false, dx2, 1, 1);
      }
      layerNorm(dx2, pass.ln2Hat[l], pass.ln2Rstd[l], p.ln2g[l], da);
      Blas.gemm(Gpt2Pass.cols(p.fc[l], 0, c), false, da, false, dm, 1, 0);
      if (dFc[l] != null) {
        Blas.gemm(dFc[l], false, pass.a3[l], false, dm, 1, 1);
      }
      gelu(pass.m[l], pass.tanh[l], dm, da4);
      Elementwise.copy(dx2, dx);
      Blas.gemm(Gpt2Pass.cols(p.mproj[l], 0, 4 * c), false, da4, false, dx, 1, 1);
      if (dMp[l] != null) {
        Blas.gemm(dMp[l], false, pass.a4[l], false, dx, 1, 1);
      }
    }
    layerNorm(dx, pass.lnfHat, pass.lnfRstd, p.lnfg, da);
    Blas.gemm(p.wte.transpose(), true, da, false, dz, 1, 0);
    return dz;
  }

  private static void layerNorm(INDArray dx, INDArray hat, INDArray rstd, INDArray gamma, INDArray out) {
    int c = (int) dx.rows();
    int n = (int) dx.columns();
    Elementwise.Vec d = Elementwise.of(dx);
    Elementwise.Vec h = Elementwise.of(hat);
    Elementwise.Vec r = Elementwise.of(rstd);
    Elementwise.Vec o = Elementwise.of(out);
    double[] g = gamma.castTo(DataType.DOUBLE).toDoubleVector();
    for (int j = 0; j < n; j++) {
      int od = j * d.ld;
      int oh = j * h.ld;
      int oo = j * o.ld;
      double md = 0;
      double mhd = 0;
      for (int i = 0; i < c; i++) {
        double x = d.get(od + i);
        md += x;
        mhd += h.get(oh + i) * x;
      }
      md /= c;
      mhd /= c;
      double rj = r.get(j);
      for (int i = 0; i < c; i++) {
        o.set(oo + i, g[i] * rj * (d.get(od + i) - md - h.get(oh + i) * mhd));
      }
    }
  }

  private static void gelu(INDArray m, INDArray t, INDArray dm, INDArray out) {
    int rows = (int) m.rows();
    int n = (int) m.columns();
    Elementwise.Vec vm = Elementwise.of(m);
    Elementwise.Vec vt = Elementwise.of(t);
    Elementwise.Vec vd = Elementwise.of(dm);
    Elementwise.Vec vo = Elementwise.of(out);
    for (int j = 0; j < n; j++) {
      for (int i = 0; i < rows; i++) {
        double x = vm.get(j * vm.ld + i);
        double th = vt.get(j * vt.ld + i);
        double g = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_K * (1 + 3 * GELU_C * x * x);
        vo.set(j * vo.ld + i, vd.get(j * vd.ld + i) * g);
      }
    }
  }

  /** {@code dy} from {@code dqkv}, the cached q, k, v ({@code qkv[l]}) and probabilities ({@code att[l]}). */
  private void attention(int l) {
    int c = cfg.nEmbd();
    int heads = cfg.nHead();
    int hd = c / heads;
    int len = pass.seqLen;
    double scale = 1.0 / Math.sqrt(hd);
    Elementwise.Vec qkv = Elementwise.of(pass.qkv[l]);
    Elementwise.Vec dq = Elementwise.of(dqkv);
    Elementwise.Vec att = Elementwise.flat(pass.att[l]);
    Elementwise.Vec out = Elementwise.of(dy);
    double[] ds = new double[len];
    double[] acc = new double[hd];
    for (int b = 0; b < pass.batch; b++) {
      for (int h = 0; h < heads; h++) {
        int slice = (b * heads + h) * len * len;
        for (int t = 0; t < len; t++) {
          int colT = b * len + t;
          int qa = colT * qkv.ld + h * hd;
          int qd = colT * dq.ld + h * hd;
          double mean = 0;
          for (int s = 0; s <= t; s++) {
            int colS = b * len + s;
            int ka = colS * qkv.ld + c + h * hd;
            int kd = colS * dq.ld + c + h * hd;
            double sum = 0;
            for (int e = 0; e < hd; e++) {
              sum += dq.get(qd + e) * qkv.get(ka + e) + qkv.get(qa + e) * dq.get(kd + e);
            }
            ds[s] = scale * sum;
            mean += att.get(slice + t * len + s) * ds[s];
          }
          java.util.Arrays.fill(acc, 0);
          for (int s = 0; s <= t; s++) {
            int colS = b * len + s;
            double pr = att.get(slice + t * len + s);
            double dp = pr * (ds[s] - mean);
            int va = colS * qkv.ld + 2 * c + h * hd;
            int vd = colS * dq.ld + 2 * c + h * hd;
            for (int e = 0; e < hd; e++) {
              acc[e] += dp * qkv.get(va + e) + pr * dq.get(vd + e);
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
}
