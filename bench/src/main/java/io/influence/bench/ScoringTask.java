package io.influence.bench;

import io.influence.spark.config.BlasThreads;
import java.util.Locale;
import org.apache.spark.sql.SparkSession;

/**
 * Scoring from stored projected gradients ({@link ScoreBench}) against the float32 GEMM peak measured in
 * the same task with as many concurrent GEMM threads as Spark has task slots: the whole score job
 * (Parquet read, block GEMMs, top-k, float64 contributions of the kept pairs), its GEMM pass alone, and the in-memory kernel.
 * Runs on {@code local[cores]} with {@code cores / slots} BLAS threads per task.
 *
 * <p>Keys: {@code -P train=N}, {@code queries}, {@code grad-layers}, {@code grad-rows}, {@code grad-cols} (layer gradient
 * shape; D = layers × rows × cols), {@code topk}, {@code block}, {@code slots} (quick: 2048, 256, 2, 32, 16, 10, 1024;
 * full: 16384, 2048, 4, 64, 16, 10, 2048; slots = cores).
 */
final class ScoringTask implements BenchTask {

  @Override
  public String name() {
    return "scoring";
  }

  @Override
  public String kind() {
    return "speed";
  }

  @Override
  public String description() {
    return "score job from stored projected gradients vs the float32 GEMM peak (whole job, GEMM pass, kernel)";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    ScoreBench.Sizes sizes = new ScoreBench.Sizes(o.intParam("train", 2048, 16384), o.intParam("queries", 256, 2048),
        o.intParam("grad-layers", 2, 4), o.intParam("grad-rows", 32, 64), o.intParam("grad-cols", 16, 16),
        o.intParam("topk", 10, 10), o.intParam("block", 1024, 2048));
    int slots = o.intParam("slots", BlasThreads.cores(), BlasThreads.cores());
    int threads = Math.max(1, BlasThreads.cores() / slots);
    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    b.note(String.format(Locale.ROOT, "%d train x %d queries, D = %d (%d layers of %dx%d), k = %d, blocks of %d rows;"
        + " local[%d], %d BLAS thread(s) per task; peak = %d concurrent 1024^3 GEMMs", sizes.train(), sizes.queries(),
        sizes.dim(), sizes.layers(), sizes.rows(), sizes.cols(), sizes.k(), sizes.block(), slots, threads, slots));
    ScoreBench.Result r;
    SparkSession spark = BenchSpark.session("local[" + slots + "]");
    try (BlasThreads t = BlasThreads.set(threads)) {
      r = ScoreBench.measure(spark, sizes, o.workDir());
    } finally {
      spark.stop();
    }
    double peak = r.gemmPeakGflops();
    b.metric("gemm_peak_gflops", peak);
    b.metric("job_seconds", r.jobSeconds());
    b.metric("job_gflops", r.jobGflops());
    b.metric("scores_per_s", r.scoresPerS());
    b.atLeast("job_fraction_of_peak", r.jobGflops() / peak, 0.70);
    b.metric("gemm_pass_fraction_of_peak", r.gemmPassGflops() / peak);
    b.metric("kernel_fraction_of_peak", r.kernelGflops() / peak);
    b.metric("read_only_seconds", r.readOnlySeconds());
    b.metric("rows_out", r.rowsOut());
    b.note("job = ScoreJob.run end to end (checks, one pass: Parquet read, GEMMs, top-k, float64 parts of kept pairs);"
        + " gemm pass = Parquet read + block GEMMs + heaps; kernel = BlockScorer.rank in memory; best of 2 after a warm-up");
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }
}
