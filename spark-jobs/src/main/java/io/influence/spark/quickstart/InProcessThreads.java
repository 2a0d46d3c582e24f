package io.influence.spark.quickstart;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * BLAS and OpenMP threads of this JVM for the quickstart's small model. Its GEMMs are tiny
 * (width 64), so extra BLAS threads only add synchronisation, and in local Spark every task
 * already runs on its own core: measured on the 2-core machine, 100 training steps took 10.7 s
 * with one thread and 79 s with two. Applied only when {@code OMP_NUM_THREADS} is not set (an
 * explicit setting always wins).
 */
final class InProcessThreads {

  private InProcessThreads() {}

  /** Returns whether the limit was applied. */
  static boolean limitUnlessSet(int threads) {
    if (System.getenv("OMP_NUM_THREADS") != null) {
      return false;
    }
    org.nd4j.linalg.factory.Nd4j.getBackend();  // loads ND4J's native backend before its ops are touched
    openblas_nolapack.blas_set_num_threads(threads);
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(threads);
    return true;
  }
}
