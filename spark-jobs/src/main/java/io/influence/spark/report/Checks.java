package io.influence.spark.report;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Argument checks shared by the report records: one clear message with a HINT each. */
final class Checks {

  private Checks() {}

  static <T> T notNull(T value, String what) {
    if (value == null) {
      throw new IllegalArgumentException(
          what + " is null. HINT: pass an empty string/list/map instead of null.");
    }
    return value;
  }

  static double finite(double value, String what) {
    if (!Double.isFinite(value)) {
      throw new IllegalArgumentException(
          what + " is " + value + ", not a finite number. HINT: NaN/Inf scores mean the "
              + "influence computation diverged; fix the damping or drop the row before reporting.");
    }
    return value;
  }

  static Double finiteOrNull(Double value, String what) {
    return value == null ? null : finite(value, what);
  }

  static double[] finiteCopy(double[] values, String what) {
    notNull(values, what);
    double[] copy = values.clone();
    for (int i = 0; i < copy.length; i++) {
      finite(copy[i], what + "[" + i + "]");
    }
    return copy;
  }

  static <T> List<T> list(List<T> values, String what) {
    notNull(values, what);
    for (int i = 0; i < values.size(); i++) {
      notNull(values.get(i), what + "[" + i + "]");
    }
    return List.copyOf(values);
  }

  /** Copies a map keeping its iteration order (layer and checkpoint order is meaningful). */
  static Map<String, Double> finiteMap(Map<String, Double> values, String what) {
    notNull(values, what);
    Map<String, Double> copy = new LinkedHashMap<>();
    for (Map.Entry<String, Double> e : values.entrySet()) {
      String key = notNull(e.getKey(), what + " key");
      Double v = notNull(e.getValue(), what + "[" + key + "]");
      copy.put(key, finite(v, what + "[" + key + "]"));
    }
    return Collections.unmodifiableMap(copy);
  }
}
