package io.influence.spark.report;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How the scores were made. {@code damping} may be null (TracIn has none); {@code settings} is
 * shown sorted by key.
 */
public record Provenance(
    String engineVersion,
    String methods,
    Double damping,
    String projection,
    List<CheckpointInfo> checkpoints,
    String createdAt,
    Map<String, String> settings) {
  public Provenance {
    Checks.notNull(engineVersion, "provenance engineVersion");
    Checks.notNull(methods, "provenance methods");
    Checks.finiteOrNull(damping, "provenance damping");
    Checks.notNull(projection, "provenance projection");
    checkpoints = Checks.list(checkpoints, "provenance checkpoints");
    Checks.notNull(createdAt, "provenance createdAt");
    Checks.notNull(settings, "provenance settings");
    TreeMap<String, String> sorted = new TreeMap<>();
    settings.forEach(
        (k, v) ->
            sorted.put(Checks.notNull(k, "settings key"), Checks.notNull(v, "settings[" + k + "]")));
    settings = Collections.unmodifiableMap(sorted);
  }
}
