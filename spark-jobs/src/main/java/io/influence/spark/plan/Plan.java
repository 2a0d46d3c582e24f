package io.influence.spark.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What a run will cost, stage by stage, before it computes anything heavy ({@link Planner#plan}).
 *
 * @param facts      the inputs the estimate is made of (model, corpus, settings, measured rates), as words
 * @param stages     the stages the run would execute, in order
 * @param storeBytes the gradient store on disk (every extracted checkpoint)
 * @param floatsPerRow stored float32 values per row and checkpoint (exact)
 * @param memory     bytes one executor task needs, per stage that computes on executors (see {@code CostModel})
 * @param candidates what a candidate prefilter of top-M rows per query would save, when asked
 */
public record Plan(Map<String, String> facts, List<Stage> stages, long storeBytes, long floatsPerRow,
                   Map<String, Long> memory, Optional<Candidates> candidates) {

  /**
   * One stage's estimate.
   *
   * @param passes   sequence forward/backward passes (a sequence at a checkpoint counts once; an HVP per vector once)
   * @param flops    GEMM floating-point operations
   * @param seconds  estimated wall seconds on this session's task slots
   * @param bytes    bytes the stage writes (extract) or reads (the others) from the store
   * @param parts    the seconds by what they are spent on (compute, Parquet, Spark jobs, ...); they add up to
   *                 {@code seconds}
   */
  public record Stage(String name, long passes, double flops, double seconds, long bytes, Map<String, Double> parts) {
    public Stage {
      parts = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parts));
    }

    /** A stage whose seconds are the sum of {@code parts}. */
    static Stage of(String name, long passes, double flops, long bytes, Map<String, Double> parts) {
      return new Stage(name, passes, flops, parts.values().stream().mapToDouble(Double::doubleValue).sum(), bytes,
          parts);
    }
  }

  /**
   * The candidate prefilter's effect: scoring and extraction restricted to the union of every query's top-M
   * candidates, at most {@code min(rows, M·queries)} rows.
   */
  public record Candidates(int perQuery, long rows, double savedSeconds, long savedBytes, double savedFlops) {}

  /** Total estimated seconds. */
  public double seconds() {
    return stages.stream().mapToDouble(Stage::seconds).sum();
  }

  /** A readable table. */
  public String table() {
    StringBuilder sb = new StringBuilder();
    facts.forEach((k, v) -> sb.append(String.format(Locale.ROOT, "%-22s %s%n", k, v)));
    sb.append(String.format(Locale.ROOT, "%n%-16s %14s %12s %12s %12s%n", "stage", "passes", "GFLOP", "seconds",
        "store bytes"));
    for (Stage s : stages) {
      sb.append(String.format(Locale.ROOT, "%-16s %14d %12.2f %12.1f %12s%n", s.name(), s.passes(), s.flops() / 1e9,
          s.seconds(), bytes(s.bytes())));
      StringBuilder parts = new StringBuilder();
      s.parts().forEach((k, v) -> parts.append(parts.length() == 0 ? "" : ", ").append(
          String.format(Locale.ROOT, "%s %.1f s", k, v)));
      sb.append("    ").append(parts).append('\n');
    }
    sb.append(String.format(Locale.ROOT, "%-16s %14s %12s %12.1f%n", "total", "", "", seconds()));
    sb.append(String.format(Locale.ROOT, "%nstore on disk: %s (%d float32 per row and checkpoint)%n", bytes(storeBytes),
        floatsPerRow));
    memory.forEach((k, v) -> sb.append(String.format(Locale.ROOT, "executor memory per task, %s: %s%n", k, bytes(v))));
    candidates.ifPresent(c -> sb.append(String.format(Locale.ROOT, "candidates (top %d per query, <= %d rows): saves "
        + "%.1f s, %s of store, %.2f GFLOP%n", c.perQuery(), c.rows(), c.savedSeconds(), bytes(c.savedBytes()),
        c.savedFlops() / 1e9)));
    return sb.toString();
  }

  /** The same as one JSON object on one line. */
  public String json() {
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("facts", facts);
    o.put("stages", stages);
    o.put("store_bytes", storeBytes);
    o.put("floats_per_row", floatsPerRow);
    o.put("memory_per_task_bytes", memory);
    o.put("total_seconds", seconds());
    candidates.ifPresent(c -> o.put("candidates", c));
    try {
      return new ObjectMapper().writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the plan as JSON: " + e.getMessage(), e);
    }
  }

  /** The stage called {@code name}. */
  public Optional<Stage> stage(String name) {
    return stages.stream().filter(s -> s.name().equals(name)).findFirst();
  }

  static String bytes(long b) {
    if (b < 1024) {
      return b + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = b;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }
}
