package io.influence.spark.quickstart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.spark.config.Settings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quickstart end to end in a tiny variant (40 fortunes, a 1-layer width-16 model, 12 steps),
 * then every notebook executed headlessly on its output with {@code jupyter nbconvert}. The
 * printed top 3 and the planted-fact recall are checked against the written
 * {@code scores/summary.jsonl} and {@code example/corpus.jsonl}, read here independently.
 */
class QuickstartTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  @Test
  void run_tinyVariant_writesOutputsReportAndConsistentRecall_andNotebooksExecute() throws Exception {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("output.dir", dir.resolve("qs").toString());
    o.put("quickstart.fortunes", "40");
    o.put("train.vocab-size", "300");
    o.put("train.width", "16");
    o.put("train.layers", "1");
    o.put("train.heads", "2");
    o.put("train.steps", "12");
    o.put("train.checkpoints", "2");
    o.put("extract.projection.k-in", "8");
    o.put("extract.projection.k-out", "8");
    o.put("spark.master", "local[2]");
    List<String> printed = new ArrayList<>();
    Quickstart.Result r = Quickstart.run(Settings.load(Optional.empty(), o), printed::add);

    Path out = r.out();
    for (String f : List.of("example/corpus.jsonl", "example/queries.jsonl", "run/influence-run.json",
        "run/checkpoint-6/tokenizer.json", "run/checkpoint-12/model.safetensors", "scores/summary.jsonl",
        "scores-ekfac/summary.jsonl", "factors", "self-influence/summary.jsonl", "report/index.html")) {
      assertTrue(Files.exists(out.resolve(f)), f + " missing");
    }
    String html = Files.readString(r.report());
    assertTrue(html.contains("q01-zorbia-capital") && html.contains("Quellhaven"), "the report lacks the first query");

    // the corpus: 40 fortunes + 3 planted sequences per fact, every planted id present
    List<JsonNode> corpus = lines(out.resolve("example/corpus.jsonl"));
    assertEquals(40 + 3 * Example.FACTS.size(), corpus.size());
    assertEquals(Example.FACTS.size(), r.planted().size());

    // per method (TracIn into scores/, EK-FAC into scores-ekfac/): top 3 and recall recomputed from its summary file
    assertEquals(List.of("tracin", "ekfac"), List.copyOf(r.methods().keySet()));
    for (Quickstart.MethodResult m : r.methods().values()) {
      Map<String, List<String>> top3 = new TreeMap<>();
      for (JsonNode row : lines(out.resolve(m.folder()).resolve("summary.jsonl"))) {
        assertEquals(m.method(), row.get("method").asText(), m.folder() + " holds another method's rows");
        if (row.get("direction").asText().equals("top") && row.get("rank").asInt() <= 3) {
          top3.computeIfAbsent(row.get("query_id").asText(), k -> new ArrayList<>(List.of("", "", "")))
              .set(row.get("rank").asInt() - 1, row.get("train_id").asText());
        }
      }
      assertEquals(top3, new TreeMap<>(m.top3()), m.method());
      int hits = 0;
      int found = 0;
      for (Map.Entry<String, List<String>> e : top3.entrySet()) {
        String fact = e.getKey().substring(1, 3);  // qNN-... states fact NN, planted as planted-NN-x
        hits += e.getValue().get(0).startsWith("planted-" + fact + "-") ? 1 : 0;
        found += (int) e.getValue().stream().filter(id -> id.startsWith("planted-" + fact + "-")).count();
      }
      assertEquals(hits / (double) top3.size(), m.hitAt1(), 1e-12, m.method());
      assertEquals(found / (3.0 * top3.size()), m.recallAt3(), 1e-12, m.method());
      assertTrue(printed.stream().anyMatch(l -> l.startsWith("planted facts, " + m.method() + ":")), m.method());
    }
    assertTrue(Files.isRegularFile(out.resolve("scores-ekfac/query-gradients.safetensors")), "EK-FAC scores missing");
    assertTrue(html.contains("ekfac") && html.contains("tracin"), "the report does not show both methods");
    assertTrue(printed.stream().anyMatch(l -> l.startsWith("report:  ") && l.endsWith("index.html")), "no report path");
    assertTrue(printed.stream().anyMatch(l -> l.contains("#1 ")), "no top-3 lines printed");

    // a second run into the same folder is refused without overwrite
    IllegalStateException again = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
        () -> Quickstart.run(Settings.load(Optional.empty(), o), line -> { }));
    assertTrue(again.getMessage().contains("--overwrite"), again.getMessage());

    executeNotebooks(out);
  }

  private void executeNotebooks(Path out) throws Exception {
    Path notebooks = Path.of("..", "notebooks").toAbsolutePath().normalize();
    List<Path> all;
    try (var s = Files.list(notebooks)) {
      all = s.filter(p -> p.toString().endsWith(".ipynb")).sorted().toList();
    }
    assertTrue(all.size() >= 2, "expected the notebooks in " + notebooks);
    for (Path nb : all) {
      Path executed = dir.resolve("nb");
      ProcessBuilder pb;
      try {
        pb = new ProcessBuilder("jupyter", "nbconvert", "--to", "notebook", "--execute",
            "--ExecutePreprocessor.timeout=120", "--output-dir", executed.toString(), nb.toString());
        pb.environment().put("INFLUENCE_OUT", out.toString());
        pb.environment().put("MPLBACKEND", "Agg");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "nbconvert did not finish on " + nb);
        if (p.exitValue() != 0) {
          fail("notebook " + nb.getFileName() + " failed under nbconvert:\n" + log);
        }
      } catch (IOException e) {
        fail("cannot run `jupyter nbconvert` (" + e.getMessage() + "). HINT: apt-get install jupyter-nbconvert "
            + "python3-ipykernel python3-matplotlib python3-pandas (as .ci/run does)");
      }
      assertTrue(Files.isRegularFile(executed.resolve(nb.getFileName())), "no executed copy of " + nb);
    }
    assertTrue(Files.isRegularFile(out.resolve("self-influence/histogram.png")), "the histogram was not drawn");
    assertTrue(Files.isRegularFile(out.resolve("scores/scores-by-query.png")), "the score plot was not drawn");
  }

  private static List<JsonNode> lines(Path file) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    for (String l : Files.readAllLines(file)) {
      if (!l.isBlank()) {
        out.add(JSON.readTree(l));
      }
    }
    return out;
  }
}
