package io.influence.spark.report;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A method's damping as the report shows it, from one score row ({@code damping_mode}, {@code damping},
 * {@code damping_lambda}), so that each method shows its own damping: EK-FAC's relative factor is not shown as if it
 * were an absolute λ. Rows written before {@code damping_mode} existed show the value alone, named as such.
 */
final class DampingText {

  private DampingText() {}

  /** The words for the damping of {@code row}, or null when the row has none (TracIn). */
  static String of(JsonNode row) {
    if (!row.hasNonNull("damping")) {
      return null;
    }
    double value = row.get("damping").asDouble();
    if (!row.hasNonNull("damping_mode")) {
      return "value " + num(value) + " (mode not recorded)";
    }
    boolean relative = "relative".equals(row.get("damping_mode").asText());
    String setting = relative ? "relative: λ = " + num(value) + " × mean eigenvalue" : "absolute: λ = " + num(value);
    List<Double> lambdas = new ArrayList<>();
    if (row.hasNonNull("damping_lambda")) {
      row.get("damping_lambda").fields().forEachRemaining(f -> lambdas.add(f.getValue().asDouble()));
    }
    if (!relative || lambdas.isEmpty()) {
      return setting;
    }
    double min = lambdas.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    double max = lambdas.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    return setting + " → λ = " + (min == max ? num(min) : num(min) + " to " + num(max)) + " (" + lambdas.size()
        + (lambdas.size() == 1 ? " block" : " blocks") + ")";
  }

  private static String num(double v) {
    return String.format(Locale.ROOT, "%.4g", v);
  }
}
