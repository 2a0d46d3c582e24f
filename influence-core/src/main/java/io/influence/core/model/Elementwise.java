package io.influence.core.model;

import java.nio.ByteBuffer;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * How the fused element-wise kernels of the model run ({@link LayerNorm}, {@link Gelu},
 * {@link Embedding}, the softmax of {@link CausalAttention}), plus the few whole-array helpers they
 * share. The kernels work on column-major {@code [features, N]} matrices, one token per column
 * (attention scores: 'c' {@code [heads, Tq, Tk]}). Work is split into contiguous column (or row)
 * ranges over {@code OMP_NUM_THREADS} threads (the caller plus the common fork-join pool) by
 * {@link #parallel}; parameter-gradient sums are per-thread then merged.
 *
 * <p>Why not ND4J ops: each ND4J op is a separate pass over memory with its own OpenMP region
 * and often a temporary array; LayerNorm needs about ten of them and gelu about eight. On two
 * shared cores the OpenMP barriers of many short ops dominated the step time (measured: gelu
 * 3-8x faster here under load). The exception is the vocabulary softmax of the loss, which stays
 * on ND4J: its vectorised exp over V·N entries measured ~1.7x faster than a scalar Java loop. Here each kernel
 * is one or two passes, with no temporaries, reading and writing the arrays' native memory in
 * place through {@link java.nio} views ({@link Vec}).
 *
 * <p>Precision: values are read into {@code double}, computed in {@code double} and rounded
 * once when stored, so the same code serves float32 and float64 arrays (the {@link Vec}
 * accessor is the only type-specific part). Reductions (LayerNorm mean/variance, parameter
 * gradient sums) accumulate in {@code double}. {@code tanh(u) = 1 − 2/(e^{2u}+1)} uses the
 * {@code Math.exp} intrinsic (saturates correctly at ±1; absolute error ~1e-16).
 */
final class Elementwise {

  /** Threads for the kernels: OMP_NUM_THREADS when set (the same budget as BLAS), else the cores. */
  private static final int THREADS = threads();

  private Elementwise() {}

  private static int threads() {
    int cores = Runtime.getRuntime().availableProcessors();
    try {
      String env = System.getenv("OMP_NUM_THREADS");
      return env == null ? cores : Math.max(1, Math.min(cores, Integer.parseInt(env.trim())));
    } catch (NumberFormatException e) {
      return cores;
    }
  }

  interface Range {
    void run(int from, int to);
  }

  /** Splits {@code [0, n)} into contiguous chunks, one per thread (the caller's thread takes one). */
  static void parallel(int n, Range body) {
    int chunks = n >= 64 ? Math.min(THREADS, 8) : 1;
    if (chunks <= 1) {
      body.run(0, n);
      return;
    }
    IntStream.range(0, chunks).parallel()
        .forEach(k -> body.run((int) ((long) n * k / chunks), (int) ((long) n * (k + 1) / chunks)));
  }

  /** Copies a whole contiguous array into another of the same type and length (memcpy). */
  static void copy(INDArray src, INDArray dst) {
    if (src.isView() || dst.isView() || src.length() != dst.length() || src.dataType() != dst.dataType()
        || src.ordering() != dst.ordering()) {
      throw new IllegalArgumentException("copy needs two whole arrays of the same length, type and order");
    }
    ByteBuffer from = src.data().asNio().duplicate();
    ByteBuffer to = dst.data().asNio().duplicate();
    long bytes = src.length() * src.dataType().width();
    from.limit((int) bytes).position(0);
    to.position(0);
    to.put(from);
  }

  /** Whether every entry of {@code x} is finite (one float64 pass: the sum of absolute values). */
  static boolean allFinite(INDArray x) {
    return Double.isFinite(Transforms.abs(x.castTo(DataType.DOUBLE), true).sumNumber().doubleValue());
  }
}
