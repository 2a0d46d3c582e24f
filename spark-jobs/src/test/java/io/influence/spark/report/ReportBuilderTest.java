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
