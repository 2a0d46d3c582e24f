package io.influence.core.model;

import java.util.Objects;

/**
 * Counts the floating-point operations of the GEMMs this thread runs through the model's kernel ({@code 2·m·n·k}
 * per call of {@link Blas#gemm}), while a piece of work runs: the brute-force truth a cost model's FLOP formulas
 * are checked against ({@link io.influence.core.plan.CostModel}), and a profiling aid. Off (one thread-local read
 * per GEMM) unless a count is running on the calling thread.
 */
public final class GemmFlops {

  private static final ThreadLocal<long[]> COUNTER = new ThreadLocal<>();

  private GemmFlops() {}

  /** The GEMM FLOPs {@code work} runs on this thread through the model's kernel (nested counts add to both). */
  public static long count(Runnable work) {
    Objects.requireNonNull(work, "work");
    long[] outer = COUNTER.get();
    long[] mine = new long[1];
    COUNTER.set(mine);
    try {
      work.run();
    } finally {
      COUNTER.set(outer);
      if (outer != null) {
        outer[0] += mine[0];
      }
    }
    return mine[0];
  }

  /** Called by {@link Blas#gemm} for an {@code m × k} by {@code k × n} product. */
  static void add(int m, int n, int k) {
    long[] c = COUNTER.get();
    if (c != null) {
      c[0] += 2L * m * n * k;
    }
  }
}
