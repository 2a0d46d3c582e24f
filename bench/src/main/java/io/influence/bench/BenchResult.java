package io.influence.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The figures of one bench task, in insertion order: metric name → number, plus the targets that the
 * issue or the README names (metric name → threshold, with whether higher is better) and free-form notes
 * (sizes used, what a figure means).
 */
public record BenchResult(String task, Map<String, Double> metrics, Map<String, Target> targets, List<String> notes) {

  /** A bar a metric should clear: {@code value >= bar} when {@code higherIsBetter}, else {@code value <= bar}. */
  public record Target(double bar, boolean higherIsBetter) {
    public boolean met(double value) {
      return higherIsBetter ? value >= bar : value <= bar;
    }
  }

  public BenchResult {
    metrics = new LinkedHashMap<>(metrics);
    targets = new LinkedHashMap<>(targets);
    notes = List.copyOf(notes);
  }

  /** A builder that keeps metrics in the order they are put. */
  public static Builder of(String task) {
    return new Builder(task);
  }

  public static final class Builder {
    private final String task;
    private final Map<String, Double> metrics = new LinkedHashMap<>();
    private final Map<String, Target> targets = new LinkedHashMap<>();
    private final List<String> notes = new java.util.ArrayList<>();

    private Builder(String task) {
      this.task = task;
    }

    public Builder metric(String name, double value) {
      metrics.put(name, value);
      return this;
    }

    /** A metric with the bar it should reach (at least {@code bar}). */
    public Builder atLeast(String name, double value, double bar) {
      metrics.put(name, value);
      targets.put(name, new Target(bar, true));
      return this;
    }

    /** A metric with the bar it should stay under (at most {@code bar}). */
    public Builder atMost(String name, double value, double bar) {
      metrics.put(name, value);
      targets.put(name, new Target(bar, false));
      return this;
    }

    public Builder note(String note) {
      notes.add(note);
      return this;
    }

    public BenchResult build() {
      return new BenchResult(task, metrics, targets, notes);
    }
  }
}
