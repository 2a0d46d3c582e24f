package io.influence.bench;

import io.influence.checkpoints.TrainingRun;
import io.influence.spark.config.BlasThreads;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.spark.sql.SparkSession;

/**
 * Heap as the corpus grows 1×, 4×, 16×: the extract stage on {@code local[2]} (a fresh session per size)
 * with a {@link HeapSampler} forcing a collection every {@code period} ms and recording the heap used right
 * after it (the live set), plus the plain peak of heap used for comparison. In local mode the driver and the executor's
 * tasks share this JVM, so the live figure bounds the driver's from above: flat here means the driver
 * holds nothing per row (the rows stream from the corpus through the tasks into Parquet).
 *
 * <p>Keys: {@code -P rows=N} rows at 1× (quick 48, full 1000), {@code period} ms between samples (500),
 * {@code proj} (projection per side, 16), and the model sizes of {@link ExtractBench.ModelSize}.
 */
final class MemoryTask implements BenchTask {

  private static final int[] SCALES = {1, 4, 16};

  @Override
  public String name() {
    return "memory";
  }

  @Override
  public String kind() {
    return "speed";
  }

  @Override
  public String description() {
    return "live heap (after forced GC, sampled during the job) of extract at 1x, 4x, 16x corpus on local[2]";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    ExtractBench.ModelSize m = ExtractBench.ModelSize.of(o);
    int rows = o.intParam("rows", 48, 1000);
    int period = o.intParam("period", 500, 500);
    int k = o.intParam("proj", 16, 16);
    TrainingRun run = ExtractBench.randomRun(o.workDir(), m, o.seed());
    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    b.note(String.format(Locale.ROOT, "%s; %d rows at 1x, projection %dx%d; heap sampled after a forced GC every %d"
        + " ms; -Xmx %.0f MiB; driver and executor share the JVM in local mode", m.describe(), rows, k, k, period,
        HeapSampler.maxHeapMiB()));
    double[] live = new double[SCALES.length];
    Path warm = ExtractBench.corpus(o.workDir(), 32, m, o.seed() + 99);
    for (int i = 0; i < SCALES.length; i++) {
      int n = rows * SCALES[i];
      Path corpus = ExtractBench.corpus(o.workDir(), n, m, o.seed() + SCALES[i]);
      // a fresh session per size, as a separate run of the job would have; warmed up before the first sample
      SparkSession spark = BenchSpark.session("local[2]");
      try (BlasThreads t = BlasThreads.set(1)) {
        ExtractBench.extract(spark, warm, run, o.workDir().resolve("warm-" + SCALES[i] + "x"), k, 32);
        ExtractBench.Timing timing;
        double peak;
        int samples;
        try (HeapSampler heap = HeapSampler.start(period)) {
          timing = ExtractBench.extract(spark, corpus, run, o.workDir().resolve("store-" + SCALES[i] + "x"), k, n);
          peak = HeapSampler.peakUsedMiB();
          samples = heap.samples();
          live[i] = heap.maxLiveMiB();
        }
        b.metric("live_heap_mib_" + SCALES[i] + "x", live[i]);
        b.metric("peak_used_heap_mib_" + SCALES[i] + "x", peak);
        b.note(String.format(Locale.ROOT, "%dx: %d rows in %.1f s, %d heap samples", SCALES[i], n, timing.seconds(),
            samples));
      } finally {
        spark.stop();
      }
    }
    b.atMost("live_heap_16x_over_1x", live[SCALES.length - 1] / live[0], 1.25);
    b.note("target: flat live heap (16x corpus within 25% of 1x); the plain peak of heap used is shown for"
        + " comparison only, it grows with how long the collector could stay lazy");
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }
}
