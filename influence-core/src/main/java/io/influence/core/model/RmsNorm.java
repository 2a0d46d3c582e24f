package io.influence.core.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * RMSNorm over groups of features of column-major {@code [C, N]} matrices, as Llama's
 * {@code weight * x * rsqrt(mean(x²) + eps)}: forward, backward and the forward-mode tangent.
 *
 * <p>Each column is split into {@code C / d} consecutive groups of {@code d} rows, each normalised
 * on its own with the same weight {@code γ [d]}: {@code d = C} is the usual per-token norm; qwen3's
 * per-head {@code q_norm}/{@code k_norm} use {@code d = head_dim} over the {@code [heads·d, N]}
 * projection output. Group {@code k} of column {@code n} has {@code r = rstd[n·(C/d) + k]}.
 *
 * <p>Math, per group, {@code ĥ = x r}, {@code r = (mean(x²) + eps)^(−1/2)}, {@code o = γ ⊙ ĥ}:
 * backward {@code dx = r (dĥ − ĥ · mean(dĥ ⊙ ĥ))} with {@code dĥ = dy ⊙ γ}, {@code dγ += Σ dy ⊙ ĥ};
 * tangent {@code ȯ = γ ⊙ r (ẋ − ĥ · mean(ĥ ⊙ ẋ))}. Only {@code rstd} is cached; {@code ĥ} is
 * recomputed from the input. A fused kernel in the sense of {@link Elementwise} (float64 inside).
 */
final class RmsNorm {

  private RmsNorm() {}

  /** {@code out = γ ⊙ x r} per group; writes {@code rstd}. {@code out} may be a row block of a larger matrix. */
  static void forward(INDArray x, INDArray gamma, double eps, int d, INDArray rstd, INDArray out) {
    int c = (int) x.rows();
    int n = (int) x.columns();
    int groups = c / d;
    Vec vx = Vec.of(x);
    Vec vo = Vec.of(out);
    Vec vr = Vec.of(rstd);
    double[] g = Vec.toDoubles(gamma, d);
    Elementwise.parallel(n, (from, to) -> {
      for (int j = from; j < to; j++) {
        for (int k = 0; k < groups; k++) {
          int ox = j * vx.ld + k * d;
          double ss = 0;
          for (int i = 0; i < d; i++) {
            double v = vx.get(ox + i);
            ss += v * v;
          }
          double r = 1.0 / Math.sqrt(ss / d + eps);
          vr.set(j * groups + k, r);
          int oo = j * vo.ld + k * d;
          for (int i = 0; i < d; i++) {
            vo.set(oo + i, g[i] * (vx.get(ox + i) * r));
          }
        }
      }
    });
  }

  /**
   * {@code dx = base + ∂o/∂x · dy} per group ({@code base} may be {@code dx} itself, or null for 0);
   * when {@code dGamma} is not null also {@code dGamma += Σ dy ⊙ ĥ}.
   */
  static void backward(INDArray dy, INDArray x, INDArray gamma, INDArray rstd, int d, INDArray dGamma,
                       INDArray base, INDArray dx) {
    int c = (int) x.rows();
    int n = (int) x.columns();
    int groups = c / d;
    Vec vdy = Vec.of(dy);
    Vec vx = Vec.of(x);
    Vec vr = Vec.of(rstd);
    Vec vb = base == null ? null : Vec.of(base);
    Vec vdx = Vec.of(dx);
    double[] g = Vec.toDoubles(gamma, d);
    double[] sum = dGamma == null ? null : new double[d];
    Elementwise.parallel(n, (from, to) -> {
      double[] local = sum == null ? null : new double[d];
      double[] dh = new double[d];
      for (int j = from; j < to; j++) {
        for (int k = 0; k < groups; k++) {
          int od = j * vdy.ld + k * d;
          int ox = j * vx.ld + k * d;
          double r = vr.get(j * groups + k);
          double m = 0;
          for (int i = 0; i < d; i++) {
            double dyi = vdy.get(od + i);
            double h = vx.get(ox + i) * r;
            dh[i] = dyi * g[i];
            m += dh[i] * h;
            if (local != null) {
              local[i] += dyi * h;
            }
          }
          m /= d;
          int oo = j * vdx.ld + k * d;
          int ob = vb == null ? 0 : j * vb.ld + k * d;
          for (int i = 0; i < d; i++) {
            double v = r * (dh[i] - vx.get(ox + i) * r * m);
            vdx.set(oo + i, vb == null ? v : vb.get(ob + i) + v);
          }
        }
      }
      if (local != null) {
        synchronized (sum) {
          for (int i = 0; i < d; i++) {
            sum[i] += local[i];
          }
        }
      }
    });
    if (sum != null) {
      Vec.addInto(dGamma, sum);
    }
  }

  /** Forward mode for a fixed {@code γ}: {@code out = γ ⊙ r (ẋ − ĥ · mean(ĥ ⊙ ẋ))} per group. */
  static void tangent(INDArray dxIn, INDArray x, INDArray gamma, INDArray rstd, int d, INDArray out) {
    int c = (int) x.rows();
    int n = (int) x.columns();
    int groups = c / d;
    Vec vt = Vec.of(dxIn);
    Vec vx = Vec.of(x);
    Vec vr = Vec.of(rstd);
    Vec vo = Vec.of(out);
    double[] g = Vec.toDoubles(gamma, d);
    Elementwise.parallel(n, (from, to) -> {
      for (int j = from; j < to; j++) {
        for (int k = 0; k < groups; k++) {
          int ot = j * vt.ld + k * d;
          int ox = j * vx.ld + k * d;
          double r = vr.get(j * groups + k);
          double m = 0;
          for (int i = 0; i < d; i++) {
            m += vx.get(ox + i) * r * vt.get(ot + i);
          }
          m /= d;
          int oo = j * vo.ld + k * d;
          for (int i = 0; i < d; i++) {
            vo.set(oo + i, g[i] * r * (vt.get(ot + i) - vx.get(ox + i) * r * m));
          }
        }
      }
    });
  }
}
