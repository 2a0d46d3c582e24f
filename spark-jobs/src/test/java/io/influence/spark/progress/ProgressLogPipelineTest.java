package io.influence.spark.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every long stage on {@code local[2]} writes {@code output.dir/_progress/<stage>.jsonl}: per task, updates per batch
 * (more distinct counts than the two partitions each pass runs over), never going back, ending at
 * {@code done == total}; CG writes one line per iteration. 40 corpus rows in batches of 4.
 */
class ProgressLogPipelineTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  private static TinyRun tiny;
  private static Path queries;
  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void tinyRun() throws Exception {
    tiny = TinyRun.create(dir);
    queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n");
  }

  private InfluenceSettings settings(String out, Map<String, String> extra) {
    Map<String, String> m = new HashMap<>(Map.of("input.corpus", tiny.corpus().toString(),
        "input.run", dir.resolve("run").toString(), "input.queries", queries.toString(),
        "output.dir", dir.resolve(out).toString(), "extract.batch-size", "4", "extract.projection.k-in", "4",
        "extract.projection.k-out", "4", "ekfac.batch-size", "4", "ekfac.partitions", "2", "score.block-rows", "4"));
    m.putAll(extra);
    return Settings.load(Optional.empty(), m);
  }

  @Test
  void extractFitEkfacSelfInfluence_logPerBatchUpdates_endingAtTotal() throws Exception {
    InfluenceSettings s = settings("rows", Map.of());
    Stages.extract(spark, s);
    Stages.fitEkfac(spark, s);
    Stages.selfInfluence(spark, s);
    Path logs = dir.resolve("rows").resolve(ProgressLog.FOLDER);

    Map<String, List<JsonNode>> extract = byTask(logs.resolve("extract.jsonl"), "extract");
    assertEquals(tiny.run().checkpoints().size(), extract.size(), extract.keySet().toString());
    extract.values().forEach(lines -> requirePerBatchRows(lines, 40));
    Map<String, List<JsonNode>> fit = byTask(logs.resolve("fit-ekfac.jsonl"), "fit-ekfac");
    assertEquals(2, fit.size(), fit.keySet().toString());   // covariance and eigenvalue correction of the last
    assertTrue(fit.keySet().stream().anyMatch(t -> t.startsWith("covariance step-")), fit.keySet().toString());
    assertTrue(fit.keySet().stream().anyMatch(t -> t.startsWith("eigenvalue correction step-")), fit.keySet().toString());
    fit.values().forEach(lines -> requirePerBatchRows(lines, 40));
    Map<String, List<JsonNode>> self = byTask(logs.resolve("self-influence.jsonl"), "self-influence");
    requirePerBatchRows(self.get("self-influence"), 40);
    // the published folders hold nothing of it
    try (var files = Files.list(dir.resolve("rows").resolve(Stages.SELF_INFLUENCE))) {
      assertFalse(files.anyMatch(f -> f.getFileName().toString().contains("progress")));
    }
  }

  @Test
  void scoreWithCg_logsEachIteration_andPerBatchScoring() throws Exception {
    InfluenceSettings s = settings("cg", Map.of("score.method", "cg", "ihvp.cg.max-iterations", "4",
        "ihvp.cg.tolerance", "1e-12", "ihvp.damping", "0.01", "extract.projection.enabled", "false",
        "extract.layers", "[\"h.0.mlp.c_fc\"]"));
    Stages.extract(spark, s);
    Stages.score(spark, s);
    Map<String, List<JsonNode>> score = byTask(dir.resolve("cg").resolve(ProgressLog.FOLDER).resolve("score.jsonl"),
        "score");
    requirePerBatchRows(score.get("score"), 40);
    // one pass over the store: the kept pairs' parts are computed while their rows are read, no second pass
    assertFalse(score.containsKey("contributions"), score.keySet().toString());
    List<JsonNode> cg = score.entrySet().stream().filter(e -> e.getKey().startsWith("cg step-")).findFirst()
        .orElseThrow(() -> new AssertionError(score.keySet().toString())).getValue();
    JsonNode last = cg.get(cg.size() - 1);
    assertTrue(last.get("finished").asBoolean(), last.toString());
    assertEquals(last.get("done").asLong(), last.get("total").asLong(), last.toString());
    List<JsonNode> iterations = cg.subList(0, cg.size() - 1);
    assertEquals(last.get("done").asLong(), iterations.size(), cg.toString());
    for (int i = 0; i < iterations.size(); i++) {
      JsonNode line = iterations.get(i);
      assertEquals(i + 1, line.get("done").asLong(), line.toString());
      assertEquals("iterations", line.get("unit").asText(), line.toString());
      assertEquals(6, line.get("max").asLong(), line.toString());   // 4 CG updates, a residual check, the final residuals
    }
  }

  /** The lines of {@code file}, checked for the common fields, by task in order of appearance. */
  private static Map<String, List<JsonNode>> byTask(Path file, String stage) throws Exception {
    Map<String, List<JsonNode>> out = new LinkedHashMap<>();
    for (String text : Files.readAllLines(file)) {
      JsonNode line = JSON.readTree(text);
      assertEquals(stage, line.get("stage").asText(), text);
      for (String field : List.of("task", "done", "total", "unit", "elapsed_s", "time")) {
        assertTrue(line.has(field), field + " missing in " + text);
      }
      java.time.Instant.parse(line.get("time").asText());
      out.computeIfAbsent(line.get("task").asText(), t -> new ArrayList<>()).add(line);
    }
    return out;
  }

  /** Monotone row counts over one task, more distinct ones than its two partitions, the last line complete. */
  private static void requirePerBatchRows(List<JsonNode> lines, long total) {
    long previous = -1;
    List<Long> distinct = new ArrayList<>();
    for (JsonNode line : lines) {
      assertEquals("rows", line.get("unit").asText(), line.toString());
      assertEquals(total, line.get("total").asLong(), line.toString());
      long done = line.get("done").asLong();
      assertTrue(done >= previous, "count went back: " + lines);
      if (done != previous && done < total) {
        distinct.add(done);
      }
      previous = done;
    }
    assertTrue(distinct.size() >= 3, "expected per-batch updates, got " + lines);
    JsonNode last = lines.get(lines.size() - 1);
    assertEquals(total, last.get("done").asLong(), last.toString());
    assertTrue(last.get("finished").asBoolean(), last.toString());
  }
}
