package io.influence.core.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * GPT-2's {@code gelu_new}, the tanh approximation {@code gelu(m) = ½m(1 + tanh(√(2/π)(m + 0.044715m³)))},
 * over column-major {@code [d, N]} matrices: forward keeps the tanh for backward, and backward
 * multiplies by the derivative, which is also the forward-mode rule ({@code ȯ = ṁ ⊙ gelu'(m)}).
 * A fused kernel in the sense of {@link Elementwise}.
 */
final class Gelu {

  private static final double K = Math.sqrt(2.0 / Math.PI);
  private static final double C = 0.044715;

  private Gelu() {}

  /** {@code t = tanh(√(2/π)(m + 0.044715m³))} (kept for backward), {@code out = ½m(1 + t)}. */
  static void forward(INDArray m, INDArray t, INDArray out) {
    int d = (int) m.rows();
    int n = (int) m.columns();
    Vec vm = Vec.of(m);
    Vec vt = Vec.of(t);
    Vec vo = Vec.of(out);
    Elementwise.parallel(n, (from, to) -> {
      for (int j = from; j < to; j++) {
        int om = j * vm.ld;
        int ot = j * vt.ld;
        int oo = j * vo.ld;
        for (int i = 0; i < d; i++) {
          double x = vm.get(om + i);
          double u = K * (x + C * x * x * x);
          double th = 1.0 - 2.0 / (Math.exp(2.0 * u) + 1.0);
          vt.set(ot + i, th);
          vo.set(oo + i, 0.5 * x * (1.0 + th));
        }
      }
    });
  }

  /**
   * {@code dm = dOut ⊙ (½(1+t) + ½m(1−t²)·√(2/π)(1 + 3·0.044715m²))}: the backward pass with
   * {@code dOut = dL/dout}, or the tangent of the output with {@code dOut = ṁ}.
   */
  static void backward(INDArray m, INDArray t, INDArray dOut, INDArray dm) {
    int d = (int) m.rows();
    int n = (int) m.columns();
    Vec vm = Vec.of(m);
    Vec vt = Vec.of(t);
    Vec vd = Vec.of(dOut);
    Vec vo = Vec.of(dm);
    Elementwise.parallel(n, (from, to) -> {
      for (int j = from; j < to; j++) {
        int om = j * vm.ld;
        int ot = j * vt.ld;
        int od = j * vd.ld;
        int oo = j * vo.ld;
        for (int i = 0; i < d; i++) {
          double x = vm.get(om + i);
          double th = vt.get(ot + i);
          double deriv = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * K * (1.0 + 3.0 * C * x * x);
          vo.set(oo + i, vd.get(od + i) * deriv);
        }
      }
    });
  }
}
