package io.influence.core.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The SwiGLU gate of Llama's MLP over column-major {@code [I, N]} matrices:
 * {@code h = silu(gate) ⊙ up}, {@code silu(g) = g σ(g)}, {@code σ(g) = 1/(1 + e^{−g})}. With
 * {@code silu'(g) = σ(g)(1 + g(1 − σ(g)))}: backward {@code dGate = dh ⊙ up ⊙ silu'(gate)},
 * {@code dUp = dh ⊙ silu(gate)}; tangent {@code ḣ = ġ ⊙ up ⊙ silu'(gate) + silu(gate) ⊙ u̇}. Nothing is
 * cached beyond the two inputs. A fused kernel in the sense of {@link Elementwise} (float64 inside).
 */
final class SwiGlu {

  private SwiGlu() {}

  /** {@code out = silu(gate) ⊙ up}; {@code out} may be a row block of a larger matrix. */
  static void forward(INDArray gate, INDArray up, INDArray out) {
    int d = (int) gate.rows();
    Vec vg = Vec.of(gate);
    Vec vu = Vec.of(up);
    Vec vo = Vec.of(out);
    Elementwise.parallel((int) gate.columns(), (from, to) -> {
      for (int j = from; j < to; j++) {
        int og = j * vg.ld;
        int ou = j * vu.ld;
        int oo = j * vo.ld;
        for (int i = 0; i < d; i++) {
          double g = vg.get(og + i);
          vo.set(oo + i, g / (1.0 + Math.exp(-g)) * vu.get(ou + i));
        }
      }
    });
  }

  /** {@code dGate = dh ⊙ up ⊙ silu'(gate)}, {@code dUp = dh ⊙ silu(gate)}. */
  static void backward(INDArray gate, INDArray up, INDArray dh, INDArray dGate, INDArray dUp) {
    int d = (int) gate.rows();
    Vec vg = Vec.of(gate);
    Vec vu = Vec.of(up);
    Vec vd = Vec.of(dh);
    Vec vdg = Vec.of(dGate);
    Vec vdu = Vec.of(dUp);
    Elementwise.parallel((int) gate.columns(), (from, to) -> {
      for (int j = from; j < to; j++) {
        int og = j * vg.ld;
        int ou = j * vu.ld;
        int od = j * vd.ld;
        int o1 = j * vdg.ld;
        int o2 = j * vdu.ld;
        for (int i = 0; i < d; i++) {
          double g = vg.get(og + i);
          double s = 1.0 / (1.0 + Math.exp(-g));
          double dhi = vd.get(od + i);
          vdg.set(o1 + i, dhi * vu.get(ou + i) * s * (1.0 + g * (1.0 - s)));
          vdu.set(o2 + i, dhi * g * s);
        }
      }
    });
  }

  /** {@code out = ġ ⊙ up ⊙ silu'(gate) + silu(gate) ⊙ u̇}. */
  static void tangent(INDArray gate, INDArray up, INDArray dGate, INDArray dUp, INDArray out) {
    int d = (int) gate.rows();
    Vec vg = Vec.of(gate);
    Vec vu = Vec.of(up);
    Vec vdg = Vec.of(dGate);
    Vec vdu = Vec.of(dUp);
    Vec vo = Vec.of(out);
    Elementwise.parallel((int) gate.columns(), (from, to) -> {
      for (int j = from; j < to; j++) {
        int og = j * vg.ld;
        int ou = j * vu.ld;
        int o1 = j * vdg.ld;
        int o2 = j * vdu.ld;
        int oo = j * vo.ld;
        for (int i = 0; i < d; i++) {
          double g = vg.get(og + i);
          double s = 1.0 / (1.0 + Math.exp(-g));
          vo.set(oo + i, vdg.get(o1 + i) * vu.get(ou + i) * s * (1.0 + g * (1.0 - s)) + g * s * vdu.get(o2 + i));
        }
      }
    });
  }
}
