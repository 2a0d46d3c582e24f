package io.influence.spark.bench;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * One BLAS and one OpenMP thread for the duration of a task that runs tiny models in this JVM (the quality tasks'
 * logistic regressions and width-16 GPT-2s): their GEMMs are a few thousand flops, so a second thread only adds
 * synchronisation, which on the shared 2-core machine made the exactness task about 3x slower under the test
 * runner's {@code OMP_NUM_THREADS=2}. Thread counts change speed, never results. {@link #close()} restores the
 * previous counts so that other work in the same JVM keeps its threads.
 */
final class OneThread implements AutoCloseable {

  private final int blasBefore;
  private final int ompBefore;

  OneThread() {
    Nd4j.getBackend();  // loads ND4J's native backend before its ops are touched
    var ops = NativeOpsHolder.getInstance().getDeviceNativeOps();
    blasBefore = openblas_nolapack.blas_get_num_threads();
    ompBefore = ops.ompGetMaxThreads();
    openblas_nolapack.blas_set_num_threads(1);
    ops.setOmpNumThreads(1);
  }

  @Override
  public void close() {
    openblas_nolapack.blas_set_num_threads(blasBefore);
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(ompBefore);
  }
}
