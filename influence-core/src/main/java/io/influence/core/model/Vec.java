package io.influence.core.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Element accessor over an ND4J array's native memory, the only type-specific part of the fused
 * kernels (see {@link Elementwise}): values are read into {@code double} and rounded once when
 * stored, so one kernel serves float32 and float64 arrays. Element {@code (row, col)} of a
 * column-major matrix is at index {@code row + col·ld}; a whole array seen through {@link #flat}
 * is indexed by its linear 'c' position. No per-element JNI calls: the accessor reads and writes
 * through a {@link java.nio} view of {@code INDArray.data().asNio()}.
 */
abstract class Vec {

  /** Leading dimension: the distance between the starts of two columns (0 for {@link #flat}). */
  final int ld;

  private Vec(int ld) {
    this.ld = ld;
  }

  abstract double get(int i);

  abstract void set(int i, double v);

  /** Accessor for a column-major matrix (or block of one) or a contiguous vector. */
  static Vec of(INDArray a) {
    int ld;
    if (a.rank() == 1) {
      if (a.length() > 1 && a.stride(0) != 1) {
        throw new IllegalArgumentException("vector must be contiguous, strides " + Arrays.toString(a.stride()));
      }
      ld = (int) a.length();
    } else {
      if (a.rows() > 1 && a.stride(0) != 1) {
        throw new IllegalArgumentException("matrix must be column-major, strides " + Arrays.toString(a.stride()));
      }
      ld = a.columns() == 1 ? (int) a.rows() : (int) a.stride(1);
    }
    return over(a, ld);
  }

  /** Accessor over a whole contiguous array (any rank), indexed by its linear 'c' position. */
  static Vec flat(INDArray a) {
    if (a.isView() || a.ordering() != 'c') {
      throw new IllegalArgumentException("expected a whole 'c'-ordered array, got a view or 'f' order");
    }
    return over(a, 0);
  }

  private static Vec over(INDArray a, int ld) {
    ByteBuffer bb = a.data().asNio().order(ByteOrder.nativeOrder());
    if (a.dataType() == DataType.FLOAT) {
      return new F(bb.asFloatBuffer(), ld);
    } else if (a.dataType() == DataType.DOUBLE) {
      return new D(bb.asDoubleBuffer(), ld);
    }
    throw new IllegalArgumentException("FLOAT or DOUBLE expected, got " + a.dataType());
  }

  /** The first {@code c} entries of vector {@code v}, widened to {@code double}. */
  static double[] toDoubles(INDArray v, int c) {
    Vec a = of(v);
    double[] out = new double[c];
    for (int i = 0; i < c; i++) {
      out[i] = a.get(i);
    }
    return out;
  }

  /** {@code v[i] += add[i]} for every entry of {@code add}. */
  static void addInto(INDArray v, double[] add) {
    Vec a = of(v);
    for (int i = 0; i < add.length; i++) {
      a.set(i, a.get(i) + add[i]);
    }
  }

  private static final class F extends Vec {
    private final FloatBuffer b;

    F(FloatBuffer b, int ld) {
      super(ld);
      this.b = b;
    }

    @Override
    double get(int i) {
      return b.get(i);
    }

    @Override
    void set(int i, double v) {
      b.put(i, (float) v);
    }
  }

  private static final class D extends Vec {
    private final DoubleBuffer b;

    D(DoubleBuffer b, int ld) {
      super(ld);
      this.b = b;
    }

    @Override
    double get(int i) {
      return b.get(i);
    }

    @Override
    void set(int i, double v) {
      b.put(i, v);
    }
  }
}
