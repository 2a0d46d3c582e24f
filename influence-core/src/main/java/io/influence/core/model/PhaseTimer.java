package io.influence.core.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Cheap wall-clock timers for the phases of a pass (forward and backward kernels, per-example
 * GEMMs): seconds per phase, summed until {@link #reset()}. {@link #tick()} marks a start and each
 * {@link #tock(String)} charges the time since the last mark to a phase and moves the mark.
 */
final class PhaseTimer {

  private final Map<String, Double> seconds = new LinkedHashMap<>();
  private long mark;

  void tick() {
    mark = System.nanoTime();
  }

  void tock(String phase) {
    long now = System.nanoTime();
    seconds.merge(phase, (now - mark) / 1e9, Double::sum);
    mark = now;
  }

  /** Charges the time since {@code startNanos} ({@link System#nanoTime()}) to {@code phase}. */
  void since(String phase, long startNanos) {
    seconds.merge(phase, (System.nanoTime() - startNanos) / 1e9, Double::sum);
  }

  void reset() {
    seconds.clear();
  }

  /** An unmodifiable copy of the seconds per phase. */
  Map<String, Double> snapshot() {
    return Map.copyOf(seconds);
  }
}
