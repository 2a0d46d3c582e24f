package io.influence.core.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Token plus learned-position embedding, forward (a gather) and backward (a scatter-add), for
 * column-major activations {@code [C, N]} and 'c' tables {@code [rows, C]} (GPT-2's {@code wte},
 * {@code wpe}; Llama's {@code embed_tokens} alone). A fused kernel in the sense of {@link Elementwise}.
 */
final class Embedding {

  private Embedding() {}

  /** {@code x[:, n] = wte[ids[n], :] + wpe[pos[n], :]} for {@code x} 'f' {@code [C, N]}, tables 'c' {@code [rows, C]}. */
  static void forward(INDArray wte, INDArray wpe, int[] ids, int[] pos, INDArray x) {
    int c = (int) x.rows();
    Vec ve = Vec.flat(wte);
    Vec vp = Vec.flat(wpe);
    Vec vx = Vec.of(x);
    Elementwise.parallel((int) x.columns(), (from, to) -> {
      for (int j = from; j < to; j++) {
        int oe = ids[j] * c;
        int op = pos[j] * c;
        int ox = j * vx.ld;
        for (int i = 0; i < c; i++) {
          vx.set(ox + i, ve.get(oe + i) + vp.get(op + i));
        }
      }
    });
  }

  /**
   * {@code dwte[ids[j]] += dx[:, j]}, {@code dwpe[pos[j]] += dx[:, j]} for every column {@code j} of
   * {@code dx} ({@code [C, N]} column-major), in column order on one thread (rows repeat, so the
   * scatter is sequential); {@code dwte}, {@code dwpe} are whole 'c' arrays.
   */
  static void backward(INDArray dx, int[] ids, int[] pos, INDArray dwte, INDArray dwpe) {
    int c = (int) dx.rows();
    Vec vd = Vec.of(dx);
    Vec ve = Vec.flat(dwte);
    Vec vp = Vec.flat(dwpe);
    int n = (int) dx.columns();
    for (int j = 0; j < n; j++) {
      int od = j * vd.ld;
      int oe = ids[j] * c;
      int op = pos[j] * c;
      for (int i = 0; i < c; i++) {
        double r = vd.get(od + i);
        ve.set(oe + i, ve.get(oe + i) + r);
        vp.set(op + i, vp.get(op + i) + r);
      }
    }
  }

  /** {@code x[:, n] = table[ids[n], :]} for {@code x} 'f' {@code [C, N]} and a 'c' table {@code [rows, C]} (no positions). */
  static void forward(INDArray table, int[] ids, INDArray x) {
    int c = (int) x.rows();
    Vec ve = Vec.flat(table);
    Vec vx = Vec.of(x);
    Elementwise.parallel((int) x.columns(), (from, to) -> {
      for (int j = from; j < to; j++) {
        int oe = ids[j] * c;
        int ox = j * vx.ld;
        for (int i = 0; i < c; i++) {
          vx.set(ox + i, ve.get(oe + i));
        }
      }
    });
  }

  /** {@code dtable[ids[j]] += dx[:, j]} for every column {@code j}, in column order on one thread. */
  static void backward(INDArray dx, int[] ids, INDArray dtable) {
    int c = (int) dx.rows();
    Vec vd = Vec.of(dx);
    Vec ve = Vec.flat(dtable);
    int n = (int) dx.columns();
    for (int j = 0; j < n; j++) {
      int od = j * vd.ld;
      int oe = ids[j] * c;
      for (int i = 0; i < c; i++) {
        ve.set(oe + i, ve.get(oe + i) + vd.get(od + i));
      }
    }
  }
}
