package io.influence.spark.quickstart;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * BLAS and OpenMP threads of this JVM for the quickstart's small model. Its GEMMs are tiny
 * (width 64), so extra BLAS threads only add synchronisation, and in local Spark every task
 * already runs on its own core: measured on the shared 2-core machine, 100 training steps took
 * 10.7 s with one thread and 79 s with two. Applied only when {@code OMP_NUM_THREADS} is not set
 * (an explicit setting always wins), and undone by {@link Limit#close()} so that other work in
 * the same JVM keeps its threads.
 */
final class InProcessThreads {

  /** The previous thread counts, restored on close; {@code applied} says whether anything changed. */
  record Limit(boolean applied, int blasBefore, int ompBefore) implements AutoCloseable {
    @Override
    public void close() {
      if (applied) {
        openblas_nolapack.blas_set_num_threads(blasBefore);
        NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(ompBefore);
      }
    }
  }

  private InProcessThreads() {}

  static Limit limitUnlessSet(int threads) {
    if (System.getenv("OMP_NUM_THREADS") != null) {
      return new Limit(false, 0, 0);
    }
    org.nd4j.linalg.factory.Nd4j.getBackend();  // loads ND4J's native backend before its ops are touched
    var ops = NativeOpsHolder.getInstance().getDeviceNativeOps();
    Limit limit = new Limit(true, openblas_nolapack.blas_get_num_threads(), ops.ompGetMaxThreads());
    openblas_nolapack.blas_set_num_threads(threads);
    ops.setOmpNumThreads(threads);
    return limit;
  }
}
