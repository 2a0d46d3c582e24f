package io.influence.spark.progress;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.spark.SparkContext;
import org.apache.spark.util.LongAccumulator;

/**
 * Console progress of a long Spark stage: tasks add the rows they finish to an accumulator,
 * and a driver thread prints {@code rows done / total, rate, time left} every few seconds and
 * once at the end. Accumulator values from retried tasks may count twice while a stage runs, so
 * the printed count is capped at the total; it is a progress display, not a result.
 */
public final class Progress implements AutoCloseable {

  private final String label;
  private final long total;
  private final LongAccumulator done;
  private final long start = System.nanoTime();
  private final Consumer<String> out;
  private final ScheduledExecutorService timer;

  private Progress(String label, long total, LongAccumulator done, Duration every, Consumer<String> out) {
    this.label = label;
    this.total = total;
    this.done = done;
    this.out = out;
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "progress-" + label);
      t.setDaemon(true);
      return t;
    });
    timer.scheduleAtFixedRate(() -> out.accept(line()), every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Starts reporting {@code label} over {@code total} rows to standard error. */
  public static Progress start(SparkContext sc, String label, long total) {
    return start(sc, label, total, Duration.ofSeconds(10), System.err::println);
  }

  public static Progress start(SparkContext sc, String label, long total, Duration every, Consumer<String> out) {
    return new Progress(label, total, sc.longAccumulator("rows done: " + label), every, out);
  }

  /** The accumulator tasks add finished rows to. */
  public LongAccumulator counter() {
    return done;
  }

  /** The current line, e.g. {@code extract step-6: 1200/4000 rows (30%), 85.1 rows/s, about 33 s left}. */
  public String line() {
    long n = Math.min(total, done.value());
    double seconds = (System.nanoTime() - start) / 1e9;
    double rate = seconds > 0 ? n / seconds : 0;
    String left = rate > 0 && n < total ? String.format(Locale.ROOT, ", about %s left", human((total - n) / rate)) : "";
    return String.format(Locale.ROOT, "%s: %d/%d rows (%.0f%%), %.1f rows/s%s", label, n, total,
        total == 0 ? 100.0 : 100.0 * n / total, rate, left);
  }

  private static String human(double seconds) {
    if (seconds < 90) {
      return String.format(Locale.ROOT, "%.0f s", seconds);
    }
    if (seconds < 5400) {
      return String.format(Locale.ROOT, "%.0f min", seconds / 60);
    }
    return String.format(Locale.ROOT, "%.1f h", seconds / 3600);
  }

  @Override
  public void close() {
    timer.shutdownNow();
    out.accept(line() + String.format(Locale.ROOT, " in %s", human((System.nanoTime() - start) / 1e9)));
  }
}
