package io.influence.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quick version of the projection task through {@link BenchSuite#run}, one rank (16×16, seeded and principal)
 * against full gradients,
 * TracIn with its default (unit-normalised) gradients: floors under the measured figures, and the overlap figure
 * recomputed here from the score outputs the pipeline wrote (the rank's and the full-gradient folder).
 */
class ProjectionBenchTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  @Test
  void quickVersion_meetsFloors_andOverlapMatchesTheWrittenScores() throws Exception {
    BenchOptions options = new BenchOptions(true, 1, dir.resolve("work"), Map.of("ranks", "16", "rerank", "10,20"));
    List<BenchResult> results = BenchSuite.run(BenchSuite.select(List.of("projection")), options,
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    System.out.print(BenchSuite.table(results));   // the quick figures in the CI log
    Map<String, Double> m = results.get(0).metrics();

    // floors under the quick run's figures (overlap 0.79, Spearman 0.87, rerank@20 0.97 when measured)
    assertTrue(m.get("tracin.overlap@10.rank-16") >= 0.6, "overlap " + m.get("tracin.overlap@10.rank-16"));
    assertTrue(m.get("tracin.spearman.rank-16") >= 0.7, "Spearman " + m.get("tracin.spearman.rank-16"));
    assertTrue(m.get("tracin.rerank@20.rank-16") >= 0.85, "rerank@20 " + m.get("tracin.rerank@20.rank-16"));
    // reranking the top 10 changes no membership: its overlap is the plain overlap
    assertEquals(m.get("tracin.overlap@10.rank-16"), m.get("tracin.rerank@10.rank-16"), 1e-12);
    assertTrue(m.get("bytes.store.full") > m.get("bytes.store.rank-16"), "full gradients take more room");
    // the principal basis at the same rank (extract.projection.basis = principal; queries projected by the stored
    // matrices in the score stage): measured overlap 1.0 and Spearman 1.0000 at width 16, where 16 directions per
    // side hold nearly all of each gradient; a query projected another way than its rows would rank at random
    assertTrue(m.get("tracin.overlap@10.principal-16") >= 0.9, "principal overlap "
        + m.get("tracin.overlap@10.principal-16"));
    assertTrue(m.get("tracin.spearman.principal-16") >= 0.95, "principal Spearman "
        + m.get("tracin.spearman.principal-16"));

    // the overlap recomputed from the two score folders the pipeline wrote (rows ranked by the stage itself)
    Path work = dir.resolve("work/projection");
    Map<String, List<String>> full = ranked(work.resolve("full/scores-tracin/summary.jsonl"));
    Map<String, List<String>> projected = ranked(work.resolve("rank-16/scores-tracin/summary.jsonl"));
    assertEquals(full.keySet(), projected.keySet());
    double overlap = 0;
    for (Map.Entry<String, List<String>> q : full.entrySet()) {
      Set<String> top = new HashSet<>(projected.get(q.getKey()).subList(0, 10));
      overlap += q.getValue().subList(0, 10).stream().filter(top::contains).count() / 10.0;
    }
    assertEquals(overlap / full.size(), m.get("tracin.overlap@10.rank-16"), 1e-12);
  }

  /** Query id → training ids by rank, from a score output's {@code top} rows; the rows must say unit gradients. */
  private static Map<String, List<String>> ranked(Path summary) throws Exception {
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (String line : Files.readAllLines(summary)) {
      JsonNode row = JSON.readTree(line);
      if (!row.get("direction").asText().equals("top")) {
        continue;
      }
      assertEquals("tracin", row.get("method").asText());
      assertEquals("unit", JSON.readTree(row.get("solver").asText()).get("gradients").asText(), "TracIn's default");
      List<String> r = out.computeIfAbsent(row.get("query_id").asText(), k -> new ArrayList<>());
      while (r.size() < row.get("rank").asInt()) {
        r.add(null);
      }
      r.set(row.get("rank").asInt() - 1, row.get("train_id").asText());
    }
    return out;
  }
}
