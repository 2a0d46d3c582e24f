package io.influence.spark.report;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How the scores were made. {@code damping} holds each method's own damping in words (method → words; TracIn has
 * none, null reads as empty); {@code settings} is shown sorted by key; {@code runs} says how each score folder was
 * computed, in that method's own terms (one per column of the report; may be empty).
 */
public record Provenance(
    String engineVersion,
    String methods,
    Map<String, String> damping,
    String projection,
    List<CheckpointInfo> checkpoints,
    String createdAt,
    Map<String, String> settings,
    List<MethodRun> runs) {
  public Provenance {
    Checks.notNull(engineVersion, "provenance engineVersion");
    Checks.notNull(methods, "provenance methods");
    damping = damping == null ? Map.of() : Collections.unmodifiableMap(new java.util.LinkedHashMap<>(damping));
    Checks.notNull(projection, "provenance projection");
    checkpoints = Checks.list(checkpoints, "provenance checkpoints");
    Checks.notNull(createdAt, "provenance createdAt");
    Checks.notNull(settings, "provenance settings");
    TreeMap<String, String> sorted = new TreeMap<>();
    settings.forEach(
        (k, v) ->
            sorted.put(Checks.notNull(k, "settings key"), Checks.notNull(v, "settings[" + k + "]")));
    settings = Collections.unmodifiableMap(sorted);
    runs = Checks.list(runs, "provenance method runs");
  }

  /** Provenance without per-folder runs. */
  public Provenance(String engineVersion, String methods, Map<String, String> damping, String projection,
                    List<CheckpointInfo> checkpoints, String createdAt, Map<String, String> settings) {
    this(engineVersion, methods, damping, projection, checkpoints, createdAt, settings, List.of());
  }
}
