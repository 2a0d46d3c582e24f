package io.influence.spark.bench;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * BLAS and OpenMP threads of this JVM while a corpus task runs: one by default (its models are tiny, width
 * 64, and local Spark already runs one task per core; the quickstart measured 100 training steps at 10.7 s
 * with one thread and 79 s with two on the 2-core machine), or {@code -P threads=N}. The previous counts are
 * restored on close, so later tasks in the same JVM keep theirs.
 */
final class BenchThreads implements AutoCloseable {

  private final int blasBefore;
  private final int ompBefore;

  private BenchThreads(int threads) {
    org.nd4j.linalg.factory.Nd4j.getBackend();  // loads ND4J's native backend before its ops are touched
    var ops = NativeOpsHolder.getInstance().getDeviceNativeOps();
    blasBefore = openblas_nolapack.blas_get_num_threads();
    ompBefore = ops.ompGetMaxThreads();
    openblas_nolapack.blas_set_num_threads(threads);
    ops.setOmpNumThreads(threads);
  }

  static BenchThreads limit(BenchOptions o) {
    int threads = o.intParam("threads", 1, 1);
    if (threads < 1) {
      throw new IllegalArgumentException("bench parameter -P threads=" + threads + " must be >= 1");
    }
    return new BenchThreads(threads);
  }

  @Override
  public void close() {
    openblas_nolapack.blas_set_num_threads(blasBefore);
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(ompBefore);
  }
}
