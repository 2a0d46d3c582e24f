package io.influence.spark.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads a {@link MethodRun} from one score folder's summary rows: the damping as the method used it
 * ({@link DampingText}), raw or unit gradients and the solver's report from the rows' {@code solver} column (one JSON
 * object per query: iterations, relative residual and convergence per checkpoint for CG and LiSSA; the curvature for
 * EK-FAC), the checkpoints and projection from the rows.
 */
final class MethodRuns {

  private static final ObjectMapper JSON = new ObjectMapper();

  private MethodRuns() {}

  /** The run of {@code folder} from its rows, with {@code weights} (checkpoint → weight; empty when unknown). */
  static MethodRun of(String folder, String method, List<JsonNode> rows, Map<String, Double> weights) {
    String damping = null;
    boolean unit = false;
    Set<String> checkpoints = new LinkedHashSet<>();
    String projection = "";
    Map<String, JsonNode> solverByQuery = new LinkedHashMap<>();
    for (JsonNode r : rows) {
      if (damping == null) {
        damping = DampingText.of(r);
      }
      r.path("checkpoints").forEach(c -> checkpoints.add(c.asText()));
      if (r.hasNonNull("projection")) {
        projection = r.get("projection").asText();
      }
      if (r.hasNonNull("solver")) {
        JsonNode solver = parse(r.get("solver").asText(), folder);
        unit |= "unit".equals(solver.path("gradients").asText());
        solverByQuery.putIfAbsent(r.get("query_id").asText(), solver);
      }
    }
    return new MethodRun(folder, method, damping == null ? "none" : damping, unit ? "unit" : "raw",
        solver(solverByQuery.values()), new ArrayList<>(checkpoints), weights, projection);
  }

  /**
   * The solver's report over every query in words: for iterative solves (CG, LiSSA) the range of iterations, the
   * largest relative residual and how many query solves converged; otherwise the report's other fields (EK-FAC's
   * preconditioner and Fisher). Empty when no row has a report beyond the gradients' kind.
   */
  static String solver(java.util.Collection<JsonNode> reports) {
    int minIt = Integer.MAX_VALUE;
    int maxIt = 0;
    double maxResidual = 0;
    int solves = 0;
    int converged = 0;
    Set<String> other = new LinkedHashSet<>();
    for (JsonNode report : reports) {
      for (JsonNode c : report.path("checkpoints")) {
        if (c.isObject() && c.has("iterations")) {
          solves++;
          minIt = Math.min(minIt, c.get("iterations").asInt());
          maxIt = Math.max(maxIt, c.get("iterations").asInt());
          maxResidual = Math.max(maxResidual, c.path("relative_residual").asDouble(0));
          converged += c.path("converged").asBoolean(false) ? 1 : 0;
        }
      }
      report.fields().forEachRemaining(f -> {
        if (!List.of("gradients", "checkpoints", "method", "damping", "damping_mode", "converged",
            "training_sequences").contains(f.getKey())) {
          other.add(f.getKey() + " " + (f.getValue().isValueNode() ? f.getValue().asText() : f.getValue().toString()));
        }
      });
    }
    List<String> words = new ArrayList<>(other);
    if (solves > 0) {
      words.add((minIt == maxIt ? "iterations " + maxIt : "iterations " + minIt + " to " + maxIt)
          + String.format(Locale.ROOT, ", relative residual ≤ %.3g", maxResidual) + ", converged " + converged
          + " of " + solves + (solves == 1 ? " solve" : " solves") + " (query × checkpoint)");
    }
    return String.join("; ", words);
  }

  private static JsonNode parse(String text, String folder) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      throw new IllegalStateException("the solver column of " + folder + "/summary.jsonl is not JSON: " + text
          + ". HINT: score this folder again", e);
    }
  }
}
