package io.influence.spark.bench;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The BLAS (OpenBLAS) and OpenMP thread counts of this JVM, set for one measurement and restored on
 * {@link #close()}. A speed task states the threads it measured with: a one-process kernel gets all
 * cores, a Spark job in local mode gets {@code cores / task slots} per task (so tasks × threads =
 * cores, as {@code influence.spark.blas-threads = auto} does on executors).
 */
final class BlasThreads implements AutoCloseable {

  private final int blasBefore;
  private final int ompBefore;
  private final int threads;

  private BlasThreads(int blasBefore, int ompBefore, int threads) {
    this.blasBefore = blasBefore;
    this.ompBefore = ompBefore;
    this.threads = threads;
  }

  /** Sets both thread counts to {@code threads} (>= 1) until {@link #close()}. */
  static BlasThreads set(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("BLAS threads must be >= 1, got " + threads
          + ". HINT: -P threads=N with N >= 1");
    }
    Nd4j.getBackend(); // loads ND4J's native backend before its ops are touched
    var ops = NativeOpsHolder.getInstance().getDeviceNativeOps();
    BlasThreads t = new BlasThreads(openblas_nolapack.blas_get_num_threads(), ops.ompGetMaxThreads(), threads);
    openblas_nolapack.blas_set_num_threads(threads);
    ops.setOmpNumThreads(threads);
    return t;
  }

  int threads() {
    return threads;
  }

  static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }

  @Override
  public void close() {
    openblas_nolapack.blas_set_num_threads(blasBefore);
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(ompBefore);
  }
}
