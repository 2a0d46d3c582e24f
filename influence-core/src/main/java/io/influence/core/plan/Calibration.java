package io.influence.core.plan;

import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.CausalLm;
import io.influence.core.model.KroneckerProjection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Rates measured on this machine in a few seconds, which turn {@link CostModel} FLOPs into seconds: the model's own
 * per-example gradient pass on real sequences (everything a pass does, not only its GEMMs: the rate is its counted
 * GEMM FLOPs over its wall time), and plain GEMM rates for the kernels outside the model (scoring, covariances).
 * Each measurement warms up once, then repeats until {@code seconds} have passed; runs on the calling thread with
 * whatever BLAS thread count is set (set it as a Spark task would: one per task slot).
 */
public final class Calibration {

  private Calibration() {}

  /** One measured pass rate. */
  public record PassRate(int batch, int seqLen, long tokens, long flopsPerPass, double secondsPerPass) {
    /** Counted GEMM FLOPs per wall second of a whole pass. */
    public double flopsPerSecond() {
      return flopsPerPass / secondsPerPass;
    }
  }

  /**
   * Times {@link GradientExtractor} on {@code sequences} (the first {@code batchSize} of them as one batch) with the
   * run's projections (empty for full gradients).
   */
  public static PassRate pass(CausalLm model, CostModel cost, Map<String, KroneckerProjection> projections,
                              GradientSpace space, List<int[]> sequences, int batchSize, double seconds) {
    if (sequences.isEmpty()) {
      throw new IllegalArgumentException("calibration needs at least one sequence");
    }
    List<int[]> batch = sequences.subList(0, Math.min(batchSize, sequences.size()));
    List<String> ids = new ArrayList<>();
    int seqLen = 0;
    long tokens = 0;
    for (int i = 0; i < batch.size(); i++) {
      ids.add("calibration-" + i);
      seqLen = Math.max(seqLen, batch.get(i).length);
      tokens += batch.get(i).length;
    }
    GradientExtractor extractor = new GradientExtractor(model, projections, batch.size());
    extractor.extract(ids, batch, null);   // warm-up: buffers, JIT
    int reps = 0;
    long start = System.nanoTime();
    long elapsed;
    do {
      extractor.extract(ids, batch, null);
      reps++;
      elapsed = System.nanoTime() - start;
    } while (elapsed < seconds * 1e9 && reps < 1000);
    return new PassRate(batch.size(), seqLen, tokens, cost.passFlops(batch.size(), seqLen, tokens, space),
        elapsed / 1e9 / reps);
  }

  /**
   * FLOPs per second of {@code Nd4j.gemm} into a preallocated 'f' output, {@code [m, k]·[k, n]} in {@code dataType}
   * (sizes capped at 4096 so that the measurement stays short and small).
   */
  public static double gemm(int m, int n, int k, DataType dataType, double seconds) {
    int mm = clamp(m);
    int nn = clamp(n);
    int kk = clamp(k);
    INDArray a = Nd4j.rand(dataType, mm, kk).dup('f');
    INDArray b = Nd4j.rand(dataType, kk, nn).dup('f');
    INDArray c = Nd4j.create(dataType, new long[] {mm, nn}, 'f');
    Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
    int reps = 0;
    long start = System.nanoTime();
    long elapsed;
    do {
      Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
      reps++;
      elapsed = System.nanoTime() - start;
    } while (elapsed < seconds * 1e9 && reps < 100_000);
    return 2.0 * mm * nn * kk * reps / (elapsed / 1e9);
  }

  private static int clamp(int x) {
    return Math.max(1, Math.min(4096, x));
  }
}
