package io.influence.core.model;

import java.util.Arrays;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * GEMM on column-major ND4J matrices, including strided views, straight through OpenBLAS.
 *
 * <p>Layout: every operand is a rank-2 array whose rows are contiguous in memory ({@code
 * stride(0) == 1}), i.e. an {@code 'f'}-ordered matrix or a block of one (a column range, a row
 * range with leading dimension {@code stride(1)}), or the {@code transpose()} view of a
 * {@code 'c'}-ordered matrix. Such a block is a valid BLAS operand as it stands (pointer to its
 * first element plus a leading dimension), so nothing is copied.
 *
 * <p>Why not {@code Nd4j.gemm}: it refuses a view as output ("C array should NOT be a view"), and
 * the model writes attention heads and per-example gradients straight into blocks of larger
 * preallocated workspaces. Measured on the development machine (1024², float32) this call reaches
 * the same ~230 GFLOP/s as {@code Nd4j.gemm} into a preallocated 'f' array, and ~160 GFLOP/s at
 * 256² where {@code Nd4j.gemm} gave ~100. One entry point serves float32 and float64 (cblas_sgemm
 * or cblas_dgemm by the operands' data type); the thread count is OpenBLAS's (OMP_NUM_THREADS).
 *
 * <p>{@code INDArray.data().addressPointer()} already points at a view's first element (the
 * view's offset is applied), so no offset is added here.
 */
final class Blas {

  private Blas() {}

  /**
   * {@code c = alpha · op(a) · op(b) + beta · c}, where {@code op(x)} is {@code xᵀ} when the flag
   * is set. Modifies only {@code c}; {@code c} must not overlap {@code a} or {@code b}.
   */
  static void gemm(INDArray a, boolean transA, INDArray b, boolean transB, INDArray c, double alpha, double beta) {
    int m = (int) c.rows();
    int n = (int) c.columns();
    int k = (int) (transA ? a.rows() : a.columns());
    int am = (int) (transA ? a.columns() : a.rows());
    int bk = (int) (transB ? b.columns() : b.rows());
    int bn = (int) (transB ? b.rows() : b.columns());
    if (am != m || bk != k || bn != n) {
      throw new IllegalArgumentException("gemm shapes disagree: op(a) " + am + "x" + k + ", op(b) " + bk + "x" + bn
          + ", c " + Arrays.toString(c.shape()));
    }
    DataType dt = c.dataType();
    if (a.dataType() != dt || b.dataType() != dt) {
      throw new IllegalArgumentException("gemm data types disagree: " + a.dataType() + ", " + b.dataType() + ", " + dt);
    }
    if (m == 0 || n == 0) {
      return;
    }
    GemmFlops.add(m, n, k);
    int lda = ld(a, "a");
    int ldb = ld(b, "b");
    int ldc = ld(c, "c");
    int ta = transA ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
    int tb = transB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
    if (k == 0) {
      c.muli(beta);
      return;
    }
    if (dt == DataType.FLOAT) {
      openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasColMajor, ta, tb, m, n, k, (float) alpha,
          new FloatPointer(a.data().addressPointer()), lda, new FloatPointer(b.data().addressPointer()), ldb,
          (float) beta, new FloatPointer(c.data().addressPointer()), ldc);
    } else if (dt == DataType.DOUBLE) {
      openblas_nolapack.cblas_dgemm(openblas_nolapack.CblasColMajor, ta, tb, m, n, k, alpha,
          new DoublePointer(a.data().addressPointer()), lda, new DoublePointer(b.data().addressPointer()), ldb,
          beta, new DoublePointer(c.data().addressPointer()), ldc);
    } else {
      throw new IllegalArgumentException("gemm supports FLOAT and DOUBLE, got " + dt);
    }
  }

  /** The first {@code count} rows of {@code x}: a block with the same leading dimension, no copy. */
  static INDArray rows(INDArray x, int count) {
    return x.get(NDArrayIndex.interval(0, count), NDArrayIndex.all());
  }

  /** Columns {@code [from, to)} of {@code x}: a block with the same leading dimension, no copy. */
  static INDArray cols(INDArray x, int from, int to) {
    return x.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to));
  }

  /** Leading dimension of a column-major block; rejects layouts BLAS cannot take without a copy. */
  private static int ld(INDArray x, String name) {
    if (x.rank() != 2) {
      throw new IllegalArgumentException("gemm operand " + name + " must be rank 2, got " + Arrays.toString(x.shape()));
    }
    long rows = x.rows();
    if (x.columns() == 1) {
      return (int) Math.max(1, rows);
    }
    if (rows > 1 && x.stride(0) != 1) {
      throw new IllegalArgumentException("gemm operand " + name + " " + Arrays.toString(x.shape()) + " has strides "
          + Arrays.toString(x.stride()) + "; HINT: pass an 'f'-ordered array (or the transpose() of a 'c' one)");
    }
    long ld = x.stride(1);
    if (ld < Math.max(1, rows)) {
      throw new IllegalArgumentException("gemm operand " + name + " has leading dimension " + ld + " < rows " + rows);
    }
    return (int) ld;
  }
}
