package io.influence.spark.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.spark.config.Choices;
import io.influence.spark.config.Method;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.shapley.ShapleyJob;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Reads a Data Shapley score folder ({@code score.method = tmc-shapley | g-shapley}, written by
 * {@link ShapleyJob}) for the report: per query the kept top-k and bottom-k players of {@code summary.jsonl}, each
 * with its standard error for that query from {@code values.jsonl}, every player's value for the distribution chart,
 * and the run's provenance (the values' columns and the rows' {@code solver} JSON).
 */
final class ShapleyFolders {

  private static final ObjectMapper JSON = new ObjectMapper();

  private ShapleyFolders() {}

  /** True when {@code rows} (a folder's summary) are all Data Shapley rows. */
  static boolean holds(List<JsonNode> rows) {
    return !rows.isEmpty() && rows.stream().allMatch(r -> r.hasNonNull("method")
        && (Method.TMC_SHAPLEY.word().equals(r.get("method").asText())
        || Method.G_SHAPLEY.word().equals(r.get("method").asText())));
  }

  /** One {@link ShapleyResult} per query of {@code queries}, in their order. */
  static List<ShapleyResult> read(Configuration conf, String folder, Path dir, List<JsonNode> rows,
                                  List<Queries.Query> queries) {
    Path valuesFile = new Path(dir, ShapleyJob.VALUES_SUMMARY);
    if (!Locations.isFile(conf, valuesFile)) {
      throw new IllegalStateException(dir + " holds Data Shapley scores but no " + ShapleyJob.VALUES_SUMMARY
          + " (the values with their standard errors). HINT: score into this folder again (--overwrite)");
    }
    List<JsonNode> values = ReportBuilder.readJsonLines(conf, valuesFile);
    if (values.isEmpty()) {
      throw new IllegalStateException(valuesFile + " is empty. HINT: score into " + dir + " again (--overwrite)");
    }
    JsonNode first = values.get(0);
    List<String> queryIds = new ArrayList<>();
    first.get("query_ids").forEach(q -> queryIds.add(q.asText()));
    Map<String, JsonNode> byPlayer = new HashMap<>();
    values.forEach(v -> byPlayer.put(v.get("train_id").asText(), v));
    double[] stderr = values.stream().flatMapToDouble(v -> java.util.stream.StreamSupport
        .stream(v.get("query_stderr").spliterator(), false).mapToDouble(JsonNode::asDouble)).toArray();
    ShapleyRun run = run(folder, first, solver(dir, rows.get(0)), ShapleyRun.StandardErrors.of(queryIds.size(), stderr));
    List<ShapleyResult> out = new ArrayList<>();
    for (Queries.Query query : queries) {
      int q = queryIds.indexOf(query.id());
      if (q < 0) {
        throw new IllegalStateException(valuesFile + " holds no values for query " + query.id() + " (it has "
            + queryIds + "). HINT: build the report with the queries that were scored, or score again");
      }
      double[] all = values.stream().mapToDouble(v -> v.get("query_values").get(q).asDouble()).toArray();
      List<PlayerValue> top = new ArrayList<>();
      List<PlayerValue> bottom = new ArrayList<>();
      for (JsonNode r : rows) {
        if (!r.get("query_id").asText().equals(query.id())) {
          continue;
        }
        String id = r.get("train_id").asText();
        JsonNode v = byPlayer.get(id);
        if (v == null) {
          throw new IllegalStateException(dir + " ranks player " + id + " for query " + query.id() + " but "
              + valuesFile + " has no value for it. HINT: score into this folder again (--overwrite)");
        }
        JsonNode text = r.get("text");
        PlayerValue p = new PlayerValue(r.get("rank").asInt(), id, r.get("score").asDouble(),
            v.get("query_stderr").get(q).asDouble(), v.get("sequences").asInt(),
            text == null || text.isNull() ? "" : text.asText());
        ("top".equals(r.get("direction").asText()) ? top : bottom).add(p);
      }
      top.sort(java.util.Comparator.comparingInt(PlayerValue::rank));
      bottom.sort(java.util.Comparator.comparingInt(PlayerValue::rank));
      out.add(new ShapleyResult(query.id(), query.prompt(), query.completion(), run, top, bottom, all));
    }
    return out;
  }

  private static JsonNode solver(Path dir, JsonNode row) {
    try {
      return JSON.readTree(row.get("solver").asText());
    } catch (IOException e) {
      throw new IllegalStateException("the solver column of " + dir + " is not JSON: " + e.getMessage()
          + ". HINT: score into this folder again (--overwrite)", e);
    }
  }

  private static ShapleyRun run(String folder, JsonNode v, JsonNode solver, ShapleyRun.StandardErrors stderr) {
    Method method = Choices.parse(Method.class, "method", v.get("method").asText());
    JsonNode error = v.get("convergence_error");
    JsonNode group = solver.get("group_column");
    return new ShapleyRun(folder, method.word(), utility(method, v.get("checkpoint").asText(), solver.get("fine_tune")),
        v.get("permutations").asInt(), v.get("max_permutations").asInt(), v.get("retrainings").asLong(),
        v.get("truncated_permutations").asInt(), v.get("truncation_tolerance").asDouble(), v.get("converged").asBoolean(),
        error == null || error.isNull() ? OptionalDouble.empty() : OptionalDouble.of(error.asDouble()),
        v.get("seed").asLong(), solver.get("players").asInt(),
        group == null || group.isNull() ? "" : group.asText(), v.get("checkpoint").asText(), stderr);
  }

  /** {@code V(S)} in words, from the fine-tune settings the run recorded. */
  static String utility(Method method, String checkpoint, JsonNode f) {
    String learner = String.format(Locale.ROOT, "%s at learning rate %s", f.get("optimizer").asText(),
        f.get("learning_rate").asText());
    if (method == Method.G_SHAPLEY) {
      return "−(the query's completion loss) along one epoch from " + checkpoint + ", one " + learner + " step per"
          + " player in the permutation's order; a player's marginal is the change its step makes";
    }
    return String.format(Locale.ROOT, "V(S) = −(the query's completion loss) after fine-tuning %s on S: %s, %d steps"
        + " of %d sequences, seed %d; V(∅) = %s as trained", checkpoint, learner, f.get("steps").asInt(),
        f.get("batch_size").asInt(), f.get("seed").asLong(), checkpoint);
  }
}
