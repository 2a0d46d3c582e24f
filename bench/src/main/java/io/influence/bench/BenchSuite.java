package io.influence.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The tasks of {@code influence bench}, run in order, printed as one table and written as JSON. */
public final class BenchSuite {

  private BenchSuite() {}

  /** Every task, quality first, in the order the table shows them. */
  public static List<BenchTask> all() {
    List<BenchTask> tasks = new ArrayList<>();
    tasks.addAll(QualityTasks.all());
    tasks.addAll(SpeedTasks.all());
    return tasks;
  }

  /** The tasks named (all when {@code names} is empty); an unknown name is an error listing the known ones. */
  public static List<BenchTask> select(List<String> names) {
    List<BenchTask> all = all();
    if (names.isEmpty()) {
      return all;
    }
    Map<String, BenchTask> byName = new LinkedHashMap<>();
    all.forEach(t -> byName.put(t.name(), t));
    List<BenchTask> chosen = new ArrayList<>();
    for (String n : names) {
      BenchTask t = byName.get(n);
      if (t == null) {
        throw new IllegalArgumentException("unknown bench task '" + n + "'; known: " + String.join(", ", byName.keySet()));
      }
      chosen.add(t);
    }
    return chosen;
  }

  /** Runs the tasks in order; each gets its own scratch folder under {@code options.workDir()}. */
  public static List<BenchResult> run(List<BenchTask> tasks, BenchOptions options, PrintStream log) throws Exception {
    List<BenchResult> results = new ArrayList<>();
    for (BenchTask t : tasks) {
      log.printf(Locale.ROOT, "[bench] %s: %s%n", t.name(), t.description());
      long start = System.nanoTime();
      BenchOptions own = options.forTask(t.name());
      Files.createDirectories(own.workDir());
      BenchResult r = t.run(own);
      double seconds = (System.nanoTime() - start) / 1e9;
      BenchResult.Builder b = BenchResult.of(r.task());
      r.metrics().forEach((k, v) -> {
        BenchResult.Target target = r.targets().get(k);
        if (target == null) {
          b.metric(k, v);
        } else if (target.higherIsBetter()) {
          b.atLeast(k, v, target.bar());
        } else {
          b.atMost(k, v, target.bar());
        }
      });
      b.metric("seconds", seconds);
      r.notes().forEach(b::note);
      results.add(b.build());
      log.printf(Locale.ROOT, "[bench] %s done in %.1f s%n", t.name(), seconds);
    }
    return results;
  }

  /** The table: one row per (task, metric) with its value, target and whether it is met. */
  public static String table(List<BenchResult> results) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-22s %-34s %14s %12s %s%n", "task", "metric", "value", "target", "met"));
    for (BenchResult r : results) {
      for (Map.Entry<String, Double> m : r.metrics().entrySet()) {
        BenchResult.Target t = r.targets().get(m.getKey());
        String target = t == null ? "" : (t.higherIsBetter() ? ">= " : "<= ") + number(t.bar());
        String met = t == null ? "" : (t.met(m.getValue()) ? "yes" : "NO");
        sb.append(String.format(Locale.ROOT, "%-22s %-34s %14s %12s %s%n", r.task(), m.getKey(),
            number(m.getValue()), target, met));
      }
    }
    return sb.toString();
  }

  /** The same figures as JSON: an array with one object per task (task, metrics, targets, notes). */
  public static void writeJson(List<BenchResult> results, Path file) throws IOException {
    List<Map<String, Object>> out = new ArrayList<>();
    for (BenchResult r : results) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("task", r.task());
      o.put("metrics", r.metrics());
      Map<String, Object> targets = new LinkedHashMap<>();
      r.targets().forEach((k, t) -> targets.put(k, Map.of(t.higherIsBetter() ? "at_least" : "at_most", t.bar(),
          "met", t.met(r.metrics().get(k)))));
      o.put("targets", targets);
      o.put("notes", r.notes());
      out.add(o);
    }
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), out);
  }

  static String number(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    double a = Math.abs(v);
    if (a != 0 && (a < 1e-3 || a >= 1e6)) {
      return String.format(Locale.ROOT, "%.3e", v);
    }
    return String.format(Locale.ROOT, a >= 100 ? "%.1f" : "%.4f", v);
  }
}
