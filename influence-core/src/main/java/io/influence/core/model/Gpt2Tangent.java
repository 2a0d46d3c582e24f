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
 * Linear parts go to {@link Blas}; the element-wise parts and attention are float64 Java loops over
 * copies (this serves the float64 curvature operators; it is not a hot training path).
 */
final class Gpt2Tangent {

  private static final double GELU_K = Math.sqrt(2.0 / Math.PI);
  private static final double GELU_C = 0.044715;

  private Gpt2Tangent() {}

  /**
   * {@code dAttn[l]} etc. are the tangents of block {@code l}'s four Conv1Ds ('f' {@code [dOut, dIn+1]}
   * in the model's type), {@code null} for zero. Returns {@code ż} as 'f' {@code [V, N]}.
   */
  static INDArray logits(Gpt2Config cfg, Gpt2Pass pass, Gpt2Params p, INDArray[] dAttn, INDArray[] dProj,
                         INDArray[] dFc, INDArray[] dMp) {
    DataType dt = p.dataType;
    int c = cfg.nEmbd();
    int n = pass.n;
    INDArray dx = Nd4j.create(dt, new long[] {c, n}, 'f');
    for (int l = 0; l < cfg.nLayer(); l++) {
      INDArray da1 = layerNorm(dx, pass.ln1Hat[l], pass.ln1Rstd[l], p.ln1g[l], dt);
      INDArray dqkv = Nd4j.create(dt, new long[] {3L * c, n}, 'f');
      Blas.gemm(Gpt2Pass.cols(p.attn[l], 0, c), false, da1, false, dqkv, 1, 0);
      if (dAttn[l] != null) {
        Blas.gemm(dAttn[l], false, pass.a1[l], false, dqkv, 1, 1);
      }
      INDArray dy = attention(cfg, pass, l, dqkv, dt);
      INDArray dx2 = dx.dup('f');
      Blas.gemm(Gpt2Pass.cols(p.proj[l], 0, c), false, dy, false, dx2, 1, 1);
      if (dProj[l] != null) {
        Blas.gemm(dProj[l], false, pass.y[l], false, dx2, 1, 1);
      }
      INDArray da3 = layerNorm(dx2, pass.ln2Hat[l], pass.ln2Rstd[l], p.ln2g[l], dt);
      INDArray dm = Nd4j.create(dt, new long[] {4L * c, n}, 'f');
      Blas.gemm(Gpt2Pass.cols(p.fc[l], 0, c), false, da3, false, dm, 1, 0);
      if (dFc[l] != null) {
        Blas.gemm(dFc[l], false, pass.a3[l], false, dm, 1, 1);
      }
      INDArray da4 = gelu(pass.m[l], pass.tanh[l], dm, dt);
      INDArray dx3 = dx2.dup('f');
      Blas.gemm(Gpt2Pass.cols(p.mproj[l], 0, 4 * c), false, da4, false, dx3, 1, 1);
      if (dMp[l] != null) {
        Blas.gemm(dMp[l], false, pass.a4[l], false, dx3, 1, 1);
      }
      dx = dx3;
    }
    INDArray dxf = layerNorm(dx, pass.lnfHat, pass.lnfRstd, p.lnfg, dt);
    INDArray dz = Nd4j.create(dt, new long[] {cfg.vocabSize(), n}, 'f');
    Blas.gemm(p.wte.transpose(), true, dxf, false, dz, 1, 0);
    return dz;
  }

  /** Column-major values of a whole 'f' matrix, or of a row block view, as float64. */
  private static double[] values(INDArray a) {
    return a.dup('f').castTo(DataType.DOUBLE).data().asDouble();
  }

  private static INDArray matrix(double[] v, int rows, int cols, DataType dt) {
    return Nd4j.create(v, new long[] {cols, rows}, 'c').transpose().dup('f').castTo(dt);
  }

  private static INDArray layerNorm(INDArray dx, INDArray hat, INDArray rstd, INDArray gamma, DataType dt) {
    int c = (int) dx.rows();
    int n = (int) dx.columns();
    double[] d = values(dx);
    double[] h = values(hat);
    double[] r = rstd.castTo(DataType.DOUBLE).toDoubleVector();
    double[] g = gamma.castTo(DataType.DOUBLE).toDoubleVector();
    double[] out = new double[c * n];
    for (int j = 0; j < n; j++) {
      int o = j * c;
      double md = 0;
      double mhd = 0;
      for (int i = 0; i < c; i++) {
        md += d[o + i];
        mhd += h[o + i] * d[o + i];
      }
      md /= c;
      mhd /= c;
      for (int i = 0; i < c; i++) {
        out[o + i] = g[i] * r[j] * (d[o + i] - md - h[o + i] * mhd);
      }
    }
    return matrix(out, c, n, dt);
  }

  private static INDArray gelu(INDArray m, INDArray t, INDArray dm, DataType dt) {
    int rows = (int) m.rows();
    int n = (int) m.columns();
    double[] mv = values(m);
    double[] tv = values(t);
    double[] d = values(dm);
    double[] out = new double[rows * n];
    for (int k = 0; k < out.length; k++) {
      double x = mv[k];
      double th = tv[k];
      out[k] = d[k] * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_K * (1 + 3 * GELU_C * x * x));
    }
    return matrix(out, rows, n, dt);
  }

  private static INDArray attention(Gpt2Config cfg, Gpt2Pass pass, int l, INDArray dqkv, DataType dt) {
    int c = cfg.nEmbd();
    int heads = cfg.nHead();
    int hd = c / heads;
    int len = pass.seqLen;
    int c3 = 3 * c;
    double scale = 1.0 / Math.sqrt(hd);
    double[] qkv = values(pass.qkv[l]);
    double[] dq = values(dqkv);
    double[] att = pass.att[l].dup('c').castTo(DataType.DOUBLE).data().asDouble();
    double[] out = new double[c * pass.n];
    double[] ds = new double[len];
    for (int b = 0; b < pass.batch; b++) {
      for (int h = 0; h < heads; h++) {
        int slice = (b * heads + h) * len * len;
        for (int t = 0; t < len; t++) {
          int qt = (b * len + t) * c3 + h * hd;
          double mean = 0;
          for (int s = 0; s <= t; s++) {
            int ks = (b * len + s) * c3 + c + h * hd;
            double sum = 0;
            for (int e = 0; e < hd; e++) {
              sum += dq[qt + e] * qkv[ks + e] + qkv[qt + e] * dq[ks + e];
            }
            ds[s] = scale * sum;
            mean += att[slice + t * len + s] * ds[s];
          }
          int yt = (b * len + t) * c + h * hd;
          for (int s = 0; s <= t; s++) {
            double pr = att[slice + t * len + s];
            double dp = pr * (ds[s] - mean);
            int vs = (b * len + s) * c3 + 2 * c + h * hd;
            for (int e = 0; e < hd; e++) {
              out[yt + e] += dp * qkv[vs + e] + pr * dq[vs + e];
            }
          }
        }
      }
    }
    return matrix(out, c, pass.n, dt);
  }
}
