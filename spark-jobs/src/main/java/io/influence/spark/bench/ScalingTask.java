package io.influence.spark.bench;

import io.influence.checkpoints.TrainingRun;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.spark.sql.SparkSession;

/**
 * Extraction on {@code local[2]} against {@code local[1]}: the same corpus and checkpoint, one BLAS thread
 * per task in both (so local[2] uses twice the cores), each master in its own session with a warm-up
 * extraction first (JIT, model load per task thread), then the best of {@code rounds} timed runs. Also
 * reports how busy the task slots were (summed task time over wall time × slots), which separates
 * serial driver work and idle slots from slower tasks.
 *
 * <p>Keys: {@code -P rows=N} (quick 192, full 3000), {@code rounds} (quick 1, full 2), {@code proj} (projection
 * per side, 16), and the model sizes of {@link ExtractBench.ModelSize}.
 */
final class ScalingTask implements BenchTask {

  @Override
  public String name() {
    return "scaling";
  }

  @Override
  public String kind() {
    return "speed";
  }

  @Override
  public String description() {
    return "extraction rows/s on local[2] vs local[1] (one BLAS thread per task), with slot occupancy";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    ExtractBench.ModelSize m = ExtractBench.ModelSize.of(o);
    int rows = o.intParam("rows", 192, 3000);
    int rounds = o.intParam("rounds", 1, 2);
    int k = o.intParam("proj", 16, 16);
    TrainingRun run = ExtractBench.randomRun(o.workDir(), m, o.seed());
    Path corpus = ExtractBench.corpus(o.workDir(), rows, m, o.seed());
    Path warm = ExtractBench.corpus(o.workDir(), 64, m, o.seed() + 1);
    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    b.note(String.format(Locale.ROOT, "%s; %d rows, projection %dx%d, batches of 16; best of %d round(s) after a"
        + " warm-up; 1 BLAS/OpenMP thread per task", m.describe(), rows, k, k, rounds));
    ExtractBench.Timing one = measure("local[1]", 1, o, run, corpus, warm, k, rows, rounds);
    ExtractBench.Timing two = measure("local[2]", 2, o, run, corpus, warm, k, rows, rounds);
    b.metric("local1_rows_per_s", one.rowsPerS());
    b.metric("local2_rows_per_s", two.rowsPerS());
    b.atLeast("speedup_local2_vs_local1", two.rowsPerS() / one.rowsPerS(), 1.7);
    b.metric("local1_busy_fraction", one.busyFraction(1));
    b.metric("local2_busy_fraction", two.busyFraction(2));
    b.metric("task_seconds_local2_over_local1", two.taskSeconds() / one.taskSeconds());
    b.note(String.format(Locale.ROOT, "local[1]: %.2f s wall, %.2f s in %d tasks; local[2]: %.2f s wall, %.2f s in %d"
        + " tasks", one.seconds(), one.taskSeconds(), one.tasks(), two.seconds(), two.taskSeconds(), two.tasks()));
    b.note("busy fraction = summed task time / (wall time x slots); task_seconds ratio > 1 means each task ran"
        + " slower on local[2] (two tasks share memory bandwidth and the machine's other load)");
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }

  private static ExtractBench.Timing measure(String master, int slots, BenchOptions o, TrainingRun run, Path corpus,
                                             Path warm, int k, int rows, int rounds) {
    SparkSession spark = BenchSpark.session(master);
    try (BlasThreads t = BlasThreads.set(1)) {
      String tag = master.replaceAll("\\W", "");
      ExtractBench.extract(spark, warm, run, o.workDir().resolve("warm-" + tag), k, 64);
      ExtractBench.Timing best = null;
      for (int r = 0; r < rounds; r++) {
        ExtractBench.Timing x = ExtractBench.extract(spark, corpus, run, o.workDir().resolve("store-" + tag + "-" + r),
            k, rows);
        if (best == null || x.seconds() < best.seconds()) {
          best = x;
        }
      }
      return best;
    } finally {
      spark.stop();
    }
  }
}
