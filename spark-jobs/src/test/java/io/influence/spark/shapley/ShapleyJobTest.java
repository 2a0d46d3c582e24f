package io.influence.spark.shapley;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.shapley.Budget;
import io.influence.core.shapley.FineTuneGame;
import io.influence.core.shapley.GShapley;
import io.influence.core.shapley.ShapleyValues;
import io.influence.core.shapley.TmcShapley;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.LongText;
import io.influence.spark.config.Method;
import io.influence.spark.config.Settings;
import io.influence.spark.io.Queries;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.report.Report;
import io.influence.spark.report.ReportBuilder;
import io.influence.spark.report.ShapleyResult;
import io.influence.spark.report.html.ReportWriter;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data Shapley on a real tiny run (TinyRun's GPT-2 and its 40 sequences, players = 5 sources of 8 sequences each,
 * a {@code source} column): the values the Spark job computes with the permutations spread over tasks equal the
 * one-machine core loop's for the same seed, and {@code score.method = tmc-shapley} writes them as score rows and
 * values.
 */
class ShapleyJobTest {

  private static final int GROUPS = 5;
  private static final long SEED = 7;
  private static final double TOLERANCE = 0.01;

  @TempDir
  static Path dir;
  static TinyRun tiny;
  static Path corpus;
  static Path queries;
  private static ShapleyWork work;

  @BeforeAll
  static void run() throws Exception {
    tiny = TinyRun.create(dir);
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < tiny.ids().size(); i++) {
      lines.append("{\"id\": \"").append(tiny.ids().get(i)).append("\", \"text\": \"").append(tiny.texts().get(i))
          .append("\", \"source\": \"src-").append(i % GROUPS).append("\"}\n");
    }
    corpus = dir.resolve("grouped.jsonl");
    Files.writeString(corpus, lines);
    queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q-cat\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n"
        + "{\"id\": \"q-bird\", \"prompt\": \"a bird\", \"completion\": \" sings quietly.\"}\n");
  }

  /** 11 permutations in rounds of 4 (three rounds, the last partial, each split over the local cores). */
  private static InfluenceSettings settings(String method) {
    Map<String, String> m = new HashMap<>(Map.of("input.corpus", corpus.toString(),
        "input.run", tiny.run().checkpoints().get(0).dir().getParent().toString(), "input.queries", queries.toString(),
        "output.dir", dir.resolve("out").toString(), "score.top-k", "2", "score.method", method,
        "shapley.group-column", "source", "shapley.permutations", "11", "shapley.round", "4"));
    m.putAll(Map.of("shapley.convergence.threshold", "0", "shapley.truncation-tolerance", "" + TOLERANCE,
        "shapley.seed", "" + SEED, "shapley.fine-tune.steps", "3"));
    return Settings.load(Optional.empty(), m);
  }

  /** The players and queries of the settings, tokenised once for the tests. */
  private static synchronized ShapleyWork work(SparkSession spark, InfluenceSettings s) {
    if (work == null) {
      RunCheckpoint last = tiny.run().checkpoints().get(tiny.run().checkpoints().size() - 1);
      work = ShapleyJob.prepare(spark, new ShapleySpec(last, new org.apache.hadoop.fs.Path(corpus.toString()),
          BadRows.FAIL, LongText.WINDOWS, Queries.read(spark, queries), Method.TMC_SHAPLEY, s.shapley(), 2, null));
    }
    return work;
  }

  private static List<Row> tmcScores;

  /** The tmc-shapley score stage into out/scores, run once for the tests that read it. */
  private static synchronized List<Row> tmcScores(SparkSession spark) {
    if (tmcScores == null) {
      tmcScores = Stages.score(spark, settings("tmc-shapley")).collectAsList();
    }
    return tmcScores;
  }

  @Test
  void tmcShapleyScoreStage_sparkTasks_equalTheOneMachineLoopAndAreWrittenAsScoresAndValues() {
    SparkSession spark = LocalSpark.get();
    InfluenceSettings s = settings("tmc-shapley");
    List<Row> scores = tmcScores(spark);
    List<Row> values = spark.read().parquet(dir.resolve("out/scores").resolve(ShapleyJob.VALUES_FOLDER).toString())
        .collectAsList();

    FineTuneGame game = work(spark, s).game();
    ShapleyValues local = TmcShapley.run(game, TOLERANCE, SEED, s.shapley().budget());
    List<String> players = work(spark, s).playerIds();
    assertEquals(List.of("src-0", "src-1", "src-2", "src-3", "src-4"), players);
    assertEquals(GROUPS, values.size());
    for (Row r : values) {
      int p = players.indexOf((String) r.getAs("train_id"));
      assertEquals(local.overall()[p], (double) r.getAs("value"), 1e-12);
      assertEquals(local.overallStderr()[p], (double) r.getAs("stderr"), 1e-12);
      List<Double> perQuery = r.getList(r.fieldIndex("query_values"));
      assertArrayEquals(local.values()[p], perQuery.stream().mapToDouble(Double::doubleValue).toArray(), 1e-12);
      assertEquals(8, (int) r.getAs("sequences"));
      assertEquals(11, (int) r.getAs("permutations"));
      assertEquals(local.evaluations(), (long) r.getAs("retrainings"));
      assertEquals(false, r.getAs("converged"));
    }
    // efficiency: Σφ = V(D) − V(∅) within the truncation tolerance (exactly, for an untruncated permutation)
    double[] full = game.value(new int[] {0, 1, 2, 3, 4});
    double[] empty = game.value(new int[0]);
    for (int q = 0; q < 2; q++) {
      double gap = Math.abs(local.total()[q] - (full[q] - empty[q]));
      assertTrue(gap <= TOLERANCE * Math.abs(full[q]) + 1e-9, "efficiency gap " + gap);
      assertTrue(Math.abs(full[q] - empty[q]) > 1e-3, "fine-tuning moves the query loss");
    }
    assertEquals(2 * 2 * 2, scores.size());
    assertEquals(ScoreJob.SCHEMA.fieldNames().length + 2, scores.get(0).schema().fieldNames().length);
    for (Row r : scores) {
      assertEquals("tmc-shapley", r.getAs("method"));
      int p = players.indexOf((String) r.getAs("train_id"));
      int q = r.getAs("query_id").equals("q-cat") ? 0 : 1;
      assertEquals(local.values()[p][q], (double) r.getAs("score"), 1e-12);
      assertTrue(((String) r.getAs("solver")).contains("\"permutations\":11"));
    }
    assertTrue(Files.exists(dir.resolve("out/scores").resolve(ShapleyJob.VALUES_SUMMARY)));
  }

  /**
   * The report shows the Shapley folder: per query the top-2 and bottom-2 players of values.parquet (ranked here from
   * its per-query values), each with its value and standard error (exact in the tooltip), and the run's provenance.
   */
  @Test
  void report_tmcShapleyFolder_showsEachQuerysTopAndBottomPlayersWithValueAndStderrOfValuesParquet() {
    SparkSession spark = LocalSpark.get();
    tmcScores(spark);
    InfluenceSettings s = settings("tmc-shapley");
    List<Row> values = spark.read().parquet(dir.resolve("out/scores").resolve(ShapleyJob.VALUES_FOLDER).toString())
        .collectAsList();
    long t0 = System.nanoTime();
    ReportBuilder.Built built = ReportBuilder.build(spark, s);
    Report report = built.report();
    String html = ReportWriter.render(report);
    System.out.printf("Shapley report built and rendered: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    assertEquals(List.of("tmc-shapley"), built.parts().stream().map(ReportBuilder.Part::method).toList());
    assertEquals(2, report.shapley().size(), "one Shapley section per query");
    List<String> queryIds = values.get(0).getList(values.get(0).fieldIndex("query_ids"));
    for (int q = 0; q < queryIds.size(); q++) {
      final int qi = q;
      List<Row> ranked = new java.util.ArrayList<>(values);
      ranked.sort(java.util.Comparator.<Row>comparingDouble(r -> -valueOf(r, qi))
          .thenComparing(r -> (String) r.getAs("train_id")));
      ShapleyResult shown = report.shapley().stream().filter(r -> r.queryId().equals(queryIds.get(qi)))
          .findFirst().orElseThrow();
      assertEquals(values.size(), shown.allValues().length, "every player in the distribution");
      for (int k = 0; k < 2; k++) {
        Row top = ranked.get(k);
        Row bottom = ranked.get(ranked.size() - 1 - k);
        assertEquals(top.getAs("train_id"), shown.top().get(k).playerId(), "top " + (k + 1) + " of " + queryIds.get(q));
        assertEquals(bottom.getAs("train_id"), shown.bottom().get(k).playerId(), "bottom " + (k + 1));
        for (Row r : List.of(top, bottom)) {
          String tooltip = "title=\"value = " + valueOf(r, q) + "; standard error = "
              + r.getList(r.fieldIndex("query_stderr")).get(q) + "\"";
          assertTrue(html.contains(tooltip), "missing " + tooltip);
          assertTrue(html.contains(">" + r.getAs("train_id") + "</code>"));
        }
      }
    }
    // the run's provenance, from the values' own columns
    Row any = values.get(0);
    assertTrue(html.contains("<th>Permutations</th><td>" + any.getAs("permutations") + " of at most "
        + any.getAs("max_permutations") + "</td>"));
    assertTrue(html.contains("<th>Converged</th><td>" + ((boolean) any.getAs("converged") ? "yes" : "no")));
    assertTrue(html.contains("<th>Fine-tunings</th><td>" + any.getAs("retrainings") + "</td>"));
    assertTrue(html.contains("<th>Truncation tolerance</th><td>0.01000</td>"));
    assertTrue(html.contains("<th>Utility</th><td>V(S) = −(the query&#39;s completion loss) after fine-tuning "
        + any.getAs("checkpoint")));
    assertTrue(html.contains("<span class=\"badge\">tmc-shapley</span>"));
    // the folder's line in the per-method provenance table, from the values' own columns
    int from = html.indexOf("<tr class=\"run shapley\"><td><code>scores</code></td>");
    assertTrue(from >= 0, "no provenance line for the Shapley folder");
    String line = html.substring(from, html.indexOf("</tr>", from));
    assertTrue(line.contains("<td>tmc-shapley</td>"), line);
    assertTrue(line.contains("permutations " + any.getAs("permutations") + " of at most "
        + any.getAs("max_permutations") + ", " + ((boolean) any.getAs("converged") ? "converged" : "not converged")),
        line);
    assertTrue(line.contains("truncation tolerance " + any.getAs("truncation_tolerance") + " ("
        + any.getAs("truncated_permutations") + " permutations truncated)"), line);
    assertTrue(line.contains(any.getAs("retrainings") + " fine-tunings"), line);
    assertTrue(line.contains(values.size() + " players (grouped by source)"), line);
    assertTrue(line.contains("seed " + any.getAs("seed")), line);
    assertTrue(line.contains("<code>" + any.getAs("checkpoint") + "</code> (fine-tuned from)"), line);
    List<Double> stderr = new java.util.ArrayList<>();
    for (Row r : values) {
      stderr.addAll(r.getList(r.fieldIndex("query_stderr")));
    }
    java.util.Collections.sort(stderr);
    int n = stderr.size();
    double median = n % 2 == 1 ? stderr.get(n / 2) : (stderr.get(n / 2 - 1) + stderr.get(n / 2)) / 2;
    assertTrue(line.contains("title=\"standard error of a value, over " + values.size() + " players × "
        + queryIds.size() + " queries: largest " + stderr.get(n - 1) + ", median " + median + "\""), line);
  }

  private static double valueOf(Row r, int q) {
    return (double) r.getList(r.fieldIndex("query_values")).get(q);
  }

  @Test
  void selfInfluenceSettings_shapleyMethod_refusedSayingWhy() {
    for (String method : List.of("tmc-shapley", "g-shapley")) {
      var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> Settings.load(Optional.empty(), Map.of("self-influence.method", method)));
      assertTrue(e.getMessage().contains("one Shapley game per sequence") && e.getMessage().contains("HINT")
          && e.getMessage().contains("score.method"), e.getMessage());
    }
  }

  @Test
  void gShapley_sparkTasks_equalTheOneMachineLoop() {
    SparkSession spark = LocalSpark.get();
    InfluenceSettings s = settings("g-shapley");
    Budget budget = Budget.fixed(6, 4);
    ShapleyValues distributed = ShapleyJob.values(spark, work(spark, s), Method.G_SHAPLEY,
        new io.influence.spark.config.ShapleySettings(6, 1, 0, 4, 0, SEED, Optional.of("source"), Optional.empty(),
            s.shapley().fineTune()));
    ShapleyValues local = GShapley.run(work(spark, s).game(), SEED, budget);
    for (int p = 0; p < GROUPS; p++) {
      assertArrayEquals(local.values()[p], distributed.values()[p], 1e-12);
    }
  }
}
