package io.influence.spark.progress;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.spark.SparkContext;
import org.apache.spark.util.LongAccumulator;

/**
 * Progress of one long task of a stage (a pass over the corpus, or a solver's iterations), on the console and in
 * the stage's {@link ProgressLog} when one is open.
 *
 * <p><b>Rows</b> ({@link #start}): tasks {@link ProgressCounter#add add} the rows of each finished batch. The
 * driver sees them at once in local mode, and on a cluster with every executor heartbeat ({@link RunningTasks})
 * and when a task ends. A console line {@code rows done / total, rate, time left} every few seconds; a log line
 * whenever the count passes another whole percent, or changed and 5 s passed; {@link #finish} writes the final
 * line with {@code done == total}. Accumulator values of retried tasks may count twice while a stage runs, so the
 * count is capped at the total and never goes back; it is a progress display, not a result.
 *
 * <p><b>Iterations</b> ({@link #iterations}): the driver reports each finished iteration with {@link #step}, one
 * log line each; {@link #finish} writes a last line whose total is the iterations taken (a solver may stop before
 * its maximum, which stays in {@code max}).
 */
public final class Progress implements AutoCloseable {

  private static final Map<String, Progress> LIVE = new ConcurrentHashMap<>();
  private static final Duration DEFAULT_EVERY = Duration.ofSeconds(10);
  private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(5);

  private final String key = UUID.randomUUID().toString();
  private final String label;
  private final long total;
  private final String unit;
  private final LongAccumulator done;
  private final RunningTasks running;
  private final SparkContext sc;
  private final AtomicLong local = new AtomicLong();
  private final long start = System.nanoTime();
  private final Consumer<String> out;
  private final ProgressLog log = ProgressLog.active();
  private final ScheduledExecutorService timer;
  private Map<String, Object> extra = Map.of();
  private long shown;
  private long loggedPercent = -1;
  private long logged = -1;
  private long loggedAt;
  private boolean finished;

  private Progress(SparkContext sc, String label, long total, String unit, Duration every, Consumer<String> out) {
    this.sc = sc;
    this.label = label;
    this.total = total;
    this.unit = unit;
    this.done = sc == null ? null : sc.longAccumulator("rows done: " + label);
    this.running = sc == null ? null : new RunningTasks(done.id());
    this.out = out;
    if (running != null) {
      sc.addSparkListener(running);
      LIVE.put(key, this);
    }
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "progress-" + label);
      t.setDaemon(true);
      return t;
    });
    timer.scheduleAtFixedRate(this::tick, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Starts reporting {@code label} over {@code total} rows to standard error (and the active log). */
  public static Progress start(SparkContext sc, String label, long total) {
    return start(sc, label, total, DEFAULT_EVERY, System.err::println);
  }

  public static Progress start(SparkContext sc, String label, long total, Duration every, Consumer<String> out) {
    return new Progress(sc, label, total, "rows", every, out);
  }

  /** Starts reporting {@code label} over at most {@code max} iterations to standard error (and the active log). */
  public static Progress iterations(String label, long max) {
    return iterations(label, max, DEFAULT_EVERY, System.err::println);
  }

  public static Progress iterations(String label, long max, Duration every, Consumer<String> out) {
    return new Progress(null, label, max, "iterations", every, out);
  }

  static Progress live(String key) {
    return LIVE.get(key);
  }

  /** What tasks add finished rows to. */
  public ProgressCounter counter() {
    if (done == null) {
      throw new IllegalStateException(label + " counts iterations, reported by the driver with step()");
    }
    return new ProgressCounter(key, done);
  }

  void addLocal(long n) {
    local.addAndGet(n);
    update(false);
  }

  /** Iteration {@code k} finished; {@code fields} (e.g. the residual) go into its log line. */
  public synchronized void step(long k, Map<String, Object> fields) {
    shown = Math.max(shown, k);   // max is nominal: a solver may take more
    extra = Map.copyOf(fields);
    writeLog(shown, total, null);
  }

  /** The work is complete: the last log line, with {@code done == total}. */
  public synchronized void finish() {
    finished = true;
    if (done != null) {
      shown = total;   // the job has returned: every row is done, whatever the accumulator shows of retries
    }
  }

  /** The current line, e.g. {@code extract step-6: 1200/4000 rows (30%), 85.1 rows/s, about 33 s left}. */
  public synchronized String line() {
    long n = current();
    double seconds = (System.nanoTime() - start) / 1e9;
    double rate = seconds > 0 ? n / seconds : 0;
    String left = rate > 0 && n < total ? String.format(Locale.ROOT, ", about %s left", human((total - n) / rate)) : "";
    String residual = extra.containsKey("residual") ? String.format(Locale.ROOT, ", residual %.3g",
        ((Number) extra.get("residual")).doubleValue()) : "";
    return String.format(Locale.ROOT, "%s: %d/%d %s (%.0f%%), %.1f %s/s%s%s", label, n, total, unit,
        total == 0 ? 100.0 : 100.0 * n / total, rate, unit, residual, left);
  }

  private long current() {
    long n = Math.max(shown, local.get());
    if (done != null) {
      n = Math.max(n, done.value() + running.sum());
    }
    shown = done == null ? n : Math.min(total, n);
    return shown;
  }

  private void tick() {
    out.accept(line());
    update(true);
  }

  private synchronized void update(boolean timed) {
    if (done == null) {
      return;
    }
    long n = current();
    long percent = total == 0 ? 100 : 100 * n / total;
    if (percent > loggedPercent || (timed && n != logged && System.nanoTime() - loggedAt >= LOG_EVERY_NANOS)) {
      writeLog(n, total, null);
    }
  }

  private void writeLog(long n, long of, Boolean last) {
    loggedPercent = of == 0 ? 100 : 100 * n / of;
    logged = n;
    loggedAt = System.nanoTime();
    if (log == null) {
      return;
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("task", label);
    m.put("done", n);
    m.put("total", of);
    m.put("unit", unit);
    m.put("elapsed_s", Math.round((System.nanoTime() - start) / 1e6) / 1e3);
    if (done == null) {
      m.put("max", total);
    }
    m.putAll(extra);
    if (last != null) {
      m.put("finished", last);
    }
    log.write(m);
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
    LIVE.remove(key);
    if (running != null) {
      sc.removeSparkListener(running);
    }
    synchronized (this) {
      long n = current();
      writeLog(n, finished && done == null ? n : total, finished);
      out.accept(line() + String.format(Locale.ROOT, " in %s", human((System.nanoTime() - start) / 1e9)));
    }
  }
}
