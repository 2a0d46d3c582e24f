package io.influence.core.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * LayerNorm over the feature axis of column-major {@code [C, N]} matrices, one token per column,
 * as torch.nn.LayerNorm (biased variance): forward, backward, and the forward-mode tangent. Forward
 * caches {@code x̂} and {@code rstd = 1/√(var + eps)} for the other two. A fused kernel in the sense
 * of {@link Elementwise}; the backward parameter-gradient sums are per thread, then merged.
 */
final class LayerNorm {

  private LayerNorm() {}

  /**
   * {@code hat = (x − mean)·rstd}, {@code out = hat ⊙ g + b} per column; {@code rstd[n] = 1/√(var + eps)}
   * (biased variance, as torch.nn.LayerNorm). {@code out} may be a row block of a larger matrix.
   */
  static void forward(INDArray x, INDArray g, INDArray b, double eps, INDArray hat, INDArray rstd, INDArray out) {
    int c = (int) x.rows();
    int n = (int) x.columns();
    Vec vx = Vec.of(x);
    Vec vh = Vec.of(hat);
    Vec vo = Vec.of(out);
    Vec vr = Vec.of(rstd);
    double[] gg = Vec.toDoubles(g, c);
    double[] bb = Vec.toDoubles(b, c);
    Elementwise.parallel(n, (from, to) -> {
      for (int j = from; j < to; j++) {
        int ox = j * vx.ld;
        double s = 0;
        for (int i = 0; i < c; i++) {
          s += vx.get(ox + i);
        }
        double mean = s / c;
        double ss = 0;
        for (int i = 0; i < c; i++) {
          double d = vx.get(ox + i) - mean;
          ss += d * d;
        }
        double r = 1.0 / Math.sqrt(ss / c + eps);
        vr.set(j, r);
        int oh = j * vh.ld;
        int oo = j * vo.ld;
        for (int i = 0; i < c; i++) {
          double h = (vx.get(ox + i) - mean) * r;
          vh.set(oh + i, h);
          vo.set(oo + i, h * gg[i] + bb[i]);
        }
      }
    });
  }

  /**
   * {@code dxAcc += ∂LN/∂x · dy} per column:
   * {@code dx = rstd · (dĥ − mean(dĥ) − ĥ · mean(dĥ ⊙ ĥ))} with {@code dĥ = dy ⊙ g}; when {@code dg}
   * is not null also {@code dg += Σ_n dy ⊙ ĥ}, {@code db += Σ_n dy}.
   */
  static void backward(INDArray dy, INDArray g, INDArray hat, INDArray rstd, INDArray dg, INDArray db,
                       INDArray dxAcc) {
    backward(dy, g, hat, rstd, dg, db, dxAcc, dxAcc);
  }

  /** As above with {@code dx = base + ∂LN/∂x · dy} ({@code base} may be {@code dx} itself). */
  static void backward(INDArray dy, INDArray g, INDArray hat, INDArray rstd, INDArray dg, INDArray db,
                       INDArray base, INDArray dxAcc) {
    int c = (int) dy.rows();
    int n = (int) dy.columns();
    Vec vdy = Vec.of(dy);
    Vec vh = Vec.of(hat);
    Vec vr = Vec.of(rstd);
    Vec vdx = Vec.of(dxAcc);
    Vec vb = Vec.of(base);
    double[] gg = Vec.toDoubles(g, c);
    double[] sg = dg == null ? null : new double[c];
    double[] sb = dg == null ? null : new double[c];
    Elementwise.parallel(n, (from, to) -> {
      double[] lg = sg == null ? null : new double[c];
      double[] lb = sg == null ? null : new double[c];
      double[] dh = new double[c];
      for (int j = from; j < to; j++) {
        int od = j * vdy.ld;
        int oh = j * vh.ld;
        double m1 = 0;
        double m2 = 0;
        for (int i = 0; i < c; i++) {
          double d = vdy.get(od + i);
          double h = vh.get(oh + i);
          double v = d * gg[i];
          dh[i] = v;
          m1 += v;
          m2 += v * h;
          if (lg != null) {
            lg[i] += d * h;
            lb[i] += d;
          }
        }
        m1 /= c;
        m2 /= c;
        double r = vr.get(j);
        int ox = j * vdx.ld;
        int ob = j * vb.ld;
        for (int i = 0; i < c; i++) {
          vdx.set(ox + i, vb.get(ob + i) + (dh[i] - m1 - vh.get(oh + i) * m2) * r);
        }
      }
      if (lg != null) {
        synchronized (sg) {
          for (int i = 0; i < c; i++) {
            sg[i] += lg[i];
            sb[i] += lb[i];
          }
        }
      }
    });
    if (sg != null) {
      Vec.addInto(dg, sg);
      Vec.addInto(db, sb);
    }
  }

  /**
   * Forward mode, for a fixed {@code γ} and {@code β}: the tangent of the output,
   * {@code out = γ ⊙ rstd · (ẋ − mean(ẋ) − x̂ · mean(x̂ ⊙ ẋ))} per column, from the input tangent
   * {@code dx} and the forward caches {@code hat}, {@code rstd}. Single-threaded.
   */
  static void tangent(INDArray dx, INDArray hat, INDArray rstd, INDArray gamma, INDArray out) {
    int c = (int) dx.rows();
    int n = (int) dx.columns();
    Vec d = Vec.of(dx);
    Vec h = Vec.of(hat);
    Vec r = Vec.of(rstd);
    Vec o = Vec.of(out);
    double[] g = Vec.toDoubles(gamma, c);
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
}
