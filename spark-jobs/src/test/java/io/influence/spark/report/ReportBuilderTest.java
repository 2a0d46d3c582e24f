package io.influence.spark.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.report.Report;
import io.influence.spark.report.html.ReportWriter;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.train.TrainJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report built from a real pipeline output: a GPT-2 trained by {@code TrainJob} on a small
 * corpus (some rows full of HTML), extracted, scored and self-influenced on local Spark. The
 * token contributions are recomputed on the driver from token factors and the query gradients,
 * an independent path from the score stage's GEMM over stored float32 gradients: their sum must
 * equal each kept row's score.
 */
class ReportBuilderTest {

  /** |Σ_t c_t − score| ≤ REL · max |score| of the query's kept rows (float32 storage vs float64 sums). */
  private static final double REL = 2e-3;

  private static final String HOSTILE = "<script>alert(1)</script> & \"quoted\" 'x'";

  @TempDir
  Path dir;

  @TempDir
  static Path shared;

  private static ReportBuilder.Built projectedRun;

  /** The projected pipeline, run once for the tests that only read it. */
  private static synchronized ReportBuilder.Built projected() throws Exception {
    if (projectedRun == null) {
      projectedRun = pipeline(shared, true, false);
    }
    return projectedRun;
  }

  @Test
  void build_projectedStore_tokenContributionsSumToEachRowScore() throws Exception {
    ReportBuilder.Built built = projected();
    assertContributionsSumToScores(built);
  }

  /**
   * A store of Adam-preconditioned gradients (extract.optimizer-preconditioning = adam, TracIn's default unit
   * gradients): the token contributions, from the query lifted to {@code (P_outᵀ Q P_in) ⊘ (√v̂ + ε)}, still add up
   * to each row's score from the score stage's GEMM.
   */
  @Test
  void build_adamPreconditionedStore_tokenContributionsSumToEachRowScore() throws Exception {
    ReportBuilder.Built built = pipeline(dir, true, false, true);
    assertTrue(built.report().provenance().projection().startsWith("adam-preconditioned"),
        built.report().provenance().projection());
    assertContributionsSumToScores(built);
  }

  @Test
  void build_fullGradientStore_tokenContributionsSumToEachRowScore() throws Exception {
    ReportBuilder.Built built = pipeline(dir, false, false);
    assertContributionsSumToScores(built);
  }

  @Test
  void build_smallCorpus_histogramSampleIsEveryRowAndItsExtremesAreTheKeptTopAndBottom() throws Exception {
    ReportBuilder.Built built = projected();
    for (var q : built.report().queries()) {
      double[] all = q.allScoresSample();
      assertEquals(20, all.length, "every training sequence of the 20-row corpus is scored");
      double max = java.util.Arrays.stream(all).max().orElseThrow();
      double min = java.util.Arrays.stream(all).min().orElseThrow();
      double scale = Math.max(Math.abs(max), Math.abs(min));
      assertEquals(q.top().get(0).score(), max, REL * scale, "top-1 of " + q.queryId());
      assertEquals(q.bottom().get(0).score(), min, REL * scale, "bottom-1 of " + q.queryId());
      assertEquals(q.top().get(0).score(), built.sampledScores().get(q.queryId()).get(q.top().get(0).trainId()),
          REL * scale, "the top-1 row's own sampled score, " + q.queryId());
    }
  }

  @Test
  void render_corpusWithHtml_textIsEscapedAndEveryQueryIsShown() throws Exception {
    Report report = projected().report();
    String html = ReportWriter.render(report);
    assertFalse(html.contains("<script"), "a corpus <script> reached the HTML unescaped");
    assertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#39;x&#39;"),
        "the self-influence list should show the hostile row escaped");
    assertEquals(2, report.queries().size());
    for (var q : report.queries()) {
      assertTrue(html.contains(q.queryId()), "query " + q.queryId() + " missing from the HTML");
      assertEquals(3, q.top().size());
      assertFalse(q.top().get(0).tokens().isEmpty());
    }
    Path file = dir.resolve("out").resolve("report").resolve("index.html");
    ReportWriter.write(report, file);
    assertEquals(html, Files.readString(file));
  }

  @Test
  void build_tracinAndEkfacFolders_eachMethodsContributionsAndHistogramMatchItsOwnScores() throws Exception {
    ReportBuilder.Built built = pipeline(dir, true, true);
    assertEquals(List.of("tracin", "ekfac"), built.parts().stream().map(ReportBuilder.Part::method).toList());
    assertEquals(4, built.report().queries().size(), "each query once per method");
    for (ReportBuilder.Part part : built.parts()) {
      assertContributionsSumToScores(part);
      for (Map.Entry<String, Map<String, Double>> q : part.rowScores().entrySet()) {
        double scale = q.getValue().values().stream().mapToDouble(Math::abs).max().orElseThrow();
        for (Map.Entry<String, Double> row : q.getValue().entrySet()) {
          assertEquals(row.getValue(), part.sampledScores().get(q.getKey()).get(row.getKey()), REL * scale,
              part.method() + " histogram score of " + q.getKey() + "/" + row.getKey());
        }
      }
    }
    // the two methods rank differently: EK-FAC's scores are not a rescaling of TracIn's
    Map<String, Double> tracin = built.parts().get(0).rowScores().get("q-mills");
    Map<String, Double> ekfac = built.parts().get(1).rowScores().get("q-mills");
    assertFalse(java.util.Arrays.equals(tracin.values().stream().mapToDouble(Double::doubleValue).toArray(),
        ekfac.values().stream().mapToDouble(Double::doubleValue).toArray()), "EK-FAC rows equal TracIn rows");
    assertSideBySide(built, dir.resolve("out"), List.of("scores", "scores-ekfac"));
  }

  /**
   * The rendered report against the summary rows read here on their own: each query once, its side-by-side table's ids
   * are each folder's top-k and bottom-k in rank order, the agreement marks and pairwise overlaps equal a recount,
   * every kept row's per-checkpoint and per-layer parts sum to its score, the header counts queries, methods and
   * training sequences, and each folder's provenance shows its own damping and gradients. Each query's token part
   * writes every sequence some folder keeps once (spans = distinct kept ids × tokens), each token shaded per folder
   * by the class recomputed from that folder's token contributions as the builder computed them.
   */
  private static void assertSideBySide(ReportBuilder.Built built, Path out, List<String> folders) throws Exception {
    Report report = built.report();
    String html = ReportWriter.render(report);
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    // folder -> query -> direction -> ids in rank order; and (query, train id) -> score per folder
    Map<String, Map<String, Map<String, List<String>>>> kept = new LinkedHashMap<>();
    Map<String, Map<String, Double>> scores = new LinkedHashMap<>();
    Map<String, com.fasterxml.jackson.databind.JsonNode> firstRow = new LinkedHashMap<>();
    Map<String, Boolean> unit = new LinkedHashMap<>();
    for (String folder : folders) {
      List<com.fasterxml.jackson.databind.JsonNode> rows = new java.util.ArrayList<>();
      for (String line : Files.readAllLines(out.resolve(folder).resolve("summary.jsonl"))) {
        if (!line.isBlank()) {
          rows.add(json.readTree(line));
        }
      }
      rows.sort(java.util.Comparator.comparingInt(r -> r.get("rank").asInt()));
      firstRow.put(folder, rows.get(0));
      unit.put(folder, rows.stream().anyMatch(r -> r.hasNonNull("solver")
          && r.get("solver").asText().contains("\"gradients\":\"unit\"")));
      for (com.fasterxml.jackson.databind.JsonNode r : rows) {
        String q = r.get("query_id").asText();
        kept.computeIfAbsent(folder, k -> new LinkedHashMap<>()).computeIfAbsent(q, k -> new LinkedHashMap<>())
            .computeIfAbsent(r.get("direction").asText(), k -> new java.util.ArrayList<>()).add(r.get("train_id").asText());
        scores.computeIfAbsent(folder + "/" + q, k -> new LinkedHashMap<>()).put(r.get("train_id").asText(),
            r.get("score").asDouble());
      }
    }
    List<String> queryIds = List.of("q-mills", "q-river");
    assertEquals(queryIds.size(), count(html, "<section class=\"query\""), "each query once");
    int spans = 0;
    int perFolderSpans = 0;
    for (int qi = 0; qi < queryIds.size(); qi++) {
      Map<String, Map<Integer, double[]>> expected = new LinkedHashMap<>();
      for (int f = 0; f < folders.size(); f++) {
        for (List<String> ids : kept.get(folders.get(f)).get(queryIds.get(qi)).values()) {
          for (String id : ids) {
            double[] c = built.parts().get(f).contributions().get(queryIds.get(qi)).get(id);
            expected.computeIfAbsent(id, k -> new java.util.TreeMap<>()).put(f, c);
            perFolderSpans += c.length;
          }
        }
      }
      spans += io.influence.spark.report.html.TokenShades.assertQuery(html, qi + 1, expected);
    }
    assertEquals(spans, io.influence.spark.report.html.TokenShades.spans(html),
        "token spans: each kept (query, sequence) once");
    System.out.printf("token spans: %d written, %d if written once per folder%n", spans, perFolderSpans);
    assertTrue(html.contains("<span class=\"count\">2</span> queries · <span class=\"count\">" + folders.size()
        + "</span> methods · <span class=\"count\">20</span> training sequences · "), "header counts");
    assertFalse(html.contains("No breakdown given."));
    for (int qi = 0; qi < queryIds.size(); qi++) {
      String q = queryIds.get(qi);
      assertTrue(html.contains("<h2>Query " + (qi + 1) + ": <code>" + q + "</code>"), q);
      for (String direction : List.of("top", "bottom")) {
        String table = between(html, "id=\"q" + (qi + 1) + "-" + direction + "\">", "</table>");
        List<List<String>> cells = new java.util.ArrayList<>();   // per rank row, per column: id or null
        List<List<Boolean>> marked = new java.util.ArrayList<>();
        for (String tr : table.split("<tr class=\"rank-row\">")) {
          if (!tr.contains("<td class=\"cell")) {
            continue;
          }
          List<String> ids = new java.util.ArrayList<>();
          List<Boolean> marks = new java.util.ArrayList<>();
          for (String td : tr.split("<td class=\"cell")) {
            if (td.startsWith("<td class=\"num\">") || !td.contains("</td>")) {
              continue;
            }
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("<code class=\"train-id\">([^<]*)</code>")
                .matcher(td);
            ids.add(m.find() ? m.group(1) : null);
            marks.add(td.contains("<span class=\"agree\""));
          }
          cells.add(ids);
          marked.add(marks);
        }
        int depth = 0;
        Map<String, Integer> agree = new LinkedHashMap<>();
        for (String folder : folders) {
          List<String> ids = kept.get(folder).get(q).get(direction);
          depth = Math.max(depth, ids.size());
          new java.util.LinkedHashSet<>(ids).forEach(id -> agree.merge(id, 1, Integer::sum));
        }
        assertEquals(depth, cells.size(), q + " " + direction + " rows");
        for (int f = 0; f < folders.size(); f++) {
          List<String> ids = kept.get(folders.get(f)).get(q).get(direction);
          for (int r = 0; r < depth; r++) {
            String expected = r < ids.size() ? ids.get(r) : null;
            assertEquals(expected, cells.get(r).get(f), q + " " + direction + " rank " + (r + 1) + " " + folders.get(f));
            assertEquals(expected != null && agree.get(expected) > 1, marked.get(r).get(f),
                "agreement mark of " + expected);
          }
        }
        Set<String> a = new java.util.HashSet<>(kept.get(folders.get(0)).get(q).get(direction));
        a.retainAll(kept.get(folders.get(1)).get(q).get(direction));
        int tableAt = html.indexOf("id=\"q" + (qi + 1) + "-" + direction + "\">");
        String line = html.substring(html.lastIndexOf("<p class=\"agreement\">", tableAt), tableAt);
        assertTrue(line.contains("tracin ∩ ekfac: <span class=\"overlap\">" + a.size() + "</span>"),
            q + " " + direction + " overlap " + a.size());
      }
    }
    for (QueryResult r : report.queries()) {
      Map<String, Double> summaryScores = scores.get(r.folder() + "/" + r.queryId());
      for (RankedSequence s : concat(r.top(), r.bottom())) {
        double scale = Math.max(1e-30, Math.abs(s.score()));
        assertEquals(summaryScores.get(s.trainId()), s.score(), 0, "score of " + s.trainId());
        assertEquals(s.score(), s.perCheckpoint().values().stream().mapToDouble(Double::doubleValue).sum(), 1e-6 * scale,
            r.folder() + " per-checkpoint parts of " + r.queryId() + "/" + s.trainId());
        assertFalse(s.perLayer().isEmpty());
        assertEquals(s.score(), s.perLayer().values().stream().mapToDouble(Double::doubleValue).sum(), 1e-6 * scale,
            r.folder() + " per-layer parts of " + r.queryId() + "/" + s.trainId());
      }
    }
    for (String folder : folders) {
      String damping = DampingText.of(firstRow.get(folder));
      String run = between(html, "<tr class=\"run\"><td><code>" + folder + "</code></td>", "</tr>");
      assertTrue(run.startsWith("<td>" + firstRow.get(folder).get("method").asText() + "</td><td>"
          + (damping == null ? "none" : damping.replace("&", "&amp;")) + "</td><td>"
          + (unit.get(folder) ? "unit (cosines)" : "raw") + "</td>"), folder + ": " + run);
    }
  }

  private static String between(String text, String start, String end) {
    int from = text.indexOf(start);
    assertTrue(from >= 0, "missing " + start);
    int to = text.indexOf(end, from + start.length());
    return text.substring(from + start.length(), to);
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> all = new java.util.ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  private static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }

  private static void assertContributionsSumToScores(ReportBuilder.Built built) {
    assertContributionsSumToScores(built.parts().get(0));
  }

  private static void assertContributionsSumToScores(ReportBuilder.Part part) {
    int checked = 0;
    for (Map.Entry<String, Map<String, Double>> q : part.rowScores().entrySet()) {
      double scale = q.getValue().values().stream().mapToDouble(Math::abs).max().orElseThrow();
      assertTrue(scale > 0, "query " + q.getKey() + " has only zero scores");
      for (Map.Entry<String, Double> row : q.getValue().entrySet()) {
        double[] c = part.contributions().get(q.getKey()).get(row.getKey());
        double sum = 0;
        for (double x : c) {
          sum += x;
        }
        assertEquals(row.getValue(), sum, REL * scale, part.method() + ": query " + q.getKey() + ", train "
            + row.getKey());
        checked++;
      }
    }
    assertEquals(2 * 6, checked, "2 queries x (top 3 + bottom 3) rows");
  }

  private static ReportBuilder.Built pipeline(Path dir, boolean projected, boolean ekfac) throws Exception {
    return pipeline(dir, projected, ekfac, false);
  }

  private static ReportBuilder.Built pipeline(Path dir, boolean projected, boolean ekfac, boolean adam)
      throws Exception {
    String[] words = {"the", "river", "runs", "north", "south", "quietly", "past", "old", "mills", "and", "towns"};
    java.util.Random random = new java.util.Random(5);
    StringBuilder corpus = new StringBuilder();
    for (int i = 0; i < 18; i++) {
      StringBuilder s = new StringBuilder();
      int n = 4 + random.nextInt(5);
      for (int w = 0; w < n; w++) {
        s.append(w == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
      }
      corpus.append("{\"id\": \"s").append(i).append("\", \"text\": \"").append(s).append(".\"}\n");
    }
    corpus.append("{\"id\": \"hostile\", \"text\": ")
        .append(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(HOSTILE)).append("}\n");
    corpus.append("{\"id\": \"fact\", \"text\": \"the old mills of Brastow grind rye.\"}\n");
    Path corpusFile = dir.resolve("corpus.jsonl");
    Files.writeString(corpusFile, corpus);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q-mills\", \"prompt\": \"the old mills of\", \"completion\": \" Brastow\"}\n"
        + "{\"id\": \"q-river\", \"prompt\": \"the river runs\", \"completion\": \" north\"}\n");
    Map<String, String> o = new LinkedHashMap<>();
    o.put("train.vocab-size", "300");
    o.put("train.context", "64");
    o.put("train.width", "16");
    o.put("train.layers", "2");
    o.put("train.heads", "2");
    o.put("train.steps", "6");
    o.put("train.batch-size", "8");
    o.put("train.checkpoints", "2");
    o.put("input.corpus", corpusFile.toString());
    o.put("input.queries", queries.toString());
    o.put("input.run", dir.resolve("run").toString());
    o.put("output.dir", dir.resolve("out").toString());
    o.put("score.top-k", "3");
    o.put("extract.projection.enabled", String.valueOf(projected));
    o.put("extract.optimizer-preconditioning", adam ? "adam" : "none");
    InfluenceSettings s = Settings.load(Optional.empty(), o);
    TrainJob.run(corpusFile, dir.resolve("run"), s.train(), s.input().longText(), line -> { });
    SparkSession spark = LocalSpark.get();
    Stages.extract(spark, s);
    if (!adam) {   // the Adam case checks the scores' token contributions only
      Stages.selfInfluence(spark, s);
    }
    Stages.score(spark, s).collectAsList();
    if (ekfac) {
      InfluenceSettings e = s.with("score.method", "ekfac").with("score.folder", "scores-ekfac");
      Stages.fitEkfac(spark, e);
      Stages.score(spark, e).collectAsList();
      s = s.with("report.scores", List.of("scores", "scores-ekfac"));
    }
    return ReportBuilder.build(spark, s);
  }
}
