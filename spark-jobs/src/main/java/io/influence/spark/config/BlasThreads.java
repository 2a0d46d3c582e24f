package io.influence.spark.config;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The BLAS (OpenBLAS) and OpenMP thread counts of this JVM, set for a piece of in-process work and
 * restored on {@link #close()} so that other work in the same JVM keeps its counts. Used where the
 * driver JVM itself computes: the quickstart's and the quality benchmarks' tiny models (width 16-64:
 * their GEMMs are so small that a second thread only adds synchronisation; measured on the shared
 * 2-core machine, 100 training steps took 10.7 s with one thread and 79 s with two), and the speed
 * benchmarks, which state the threads they measured with (a one-process kernel gets all cores, a
 * Spark job in local mode {@code cores / task slots} per task, as {@code spark.blas-threads = auto}
 * does on executors). Thread counts change speed, never results.
 */
public final class BlasThreads implements AutoCloseable {

  private final int blasBefore;
  private final int ompBefore;
  private final int threads;
  private final boolean applied;

  private BlasThreads(int blasBefore, int ompBefore, int threads, boolean applied) {
    this.blasBefore = blasBefore;
    this.ompBefore = ompBefore;
    this.threads = threads;
    this.applied = applied;
  }

  /** Sets both thread counts to {@code threads} (>= 1) until {@link #close()}. */
  public static BlasThreads set(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("BLAS threads must be >= 1, got " + threads
          + ". HINT: -P threads=N with N >= 1");
    }
    Nd4j.getBackend(); // loads ND4J's native backend before its ops are touched
    var ops = NativeOpsHolder.getInstance().getDeviceNativeOps();
    BlasThreads t = new BlasThreads(openblas_nolapack.blas_get_num_threads(), ops.ompGetMaxThreads(), threads, true);
    openblas_nolapack.blas_set_num_threads(threads);
    ops.setOmpNumThreads(threads);
    return t;
  }

  /**
   * {@link #set} unless the environment names a count ({@code OMP_NUM_THREADS}): an explicit setting
   * always wins, and then nothing changes ({@link #applied()} is false).
   */
  public static BlasThreads setUnlessEnvironmentSays(int threads) {
    if (System.getenv("OMP_NUM_THREADS") != null) {
      return new BlasThreads(0, 0, threads, false);
    }
    return set(threads);
  }

  /** Whether this changed the thread counts (and {@link #close()} restores them). */
  public boolean applied() {
    return applied;
  }

  public int threads() {
    return threads;
  }

  public static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }

  @Override
  public void close() {
    if (!applied) {
      return;
    }
    openblas_nolapack.blas_set_num_threads(blasBefore);
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(ompBefore);
  }
}
