package io.influence.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quick version of the compare task through {@link BenchSuite#run}, as CI runs it: every method of the engine
 * gets its row with every figure that applies to it, against the truths the task computes (leave-one-out and
 * random-subset retraining of the same run, the planted statements, the corrupted sequences), with floors measured
 * on the quick run and set with a margin; and the pieces of the table against hand-computed cases.
 */
class CompareBenchTest {

  @Test
  void quickCompare_everyMethodHasItsRow_andClearsTheMeasuredFloors(@TempDir Path dir) throws Exception {
    List<BenchResult> results = BenchSuite.run(BenchSuite.select(List.of("compare")),
        new BenchOptions(true, 1, dir, Map.of()), System.out);
    assertEquals(1, results.size());
    BenchResult r = results.get(0);
    System.out.print(BenchSuite.table(results));
    r.notes().forEach(System.out::println);
    Map<String, Double> m = r.metrics();

    Set<String> cleaning = Set.of("tracin", "ekfac", "representer", "tmc-shapley");
    for (String method : CompareTask.METHODS.keySet()) {
      for (String c : List.of("loo_pearson", "lds_spearman")) {
        double v = m.get(method + "." + c);
        assertTrue(v >= -1 && v <= 1, method + "." + c + " = " + v);
      }
      for (String c : List.of("facts_recall@1", "facts_mrr")) {
        double v = m.get(method + "." + c);
        assertTrue(v >= 0 && v <= 1, method + "." + c + " = " + v);
      }
      assertEquals(cleaning.contains(method), m.containsKey(method + ".clean_auc"), method + " cleaning figure");
      assertEquals(cleaning.contains(method), CompareTask.NO_CLEANING.get(method) == null, method + " '—' reason");
    }
    // floors: about half the quick run's figures (seed 1; see the README's compare section), so that a method
    // whose scores lost their relation to the truth (wrong sign, wrong pairing, noise) fails
    atLeast(m, "cg.loo_pearson", 0.2);
    atLeast(m, "ekfac.loo_pearson", 0.2);
    atLeast(m, "cg.facts_mrr", 0.5);
    atLeast(m, "ekfac.facts_mrr", 0.5);
    atLeast(m, "representer.facts_mrr", 0.5);
    atLeast(m, "bm25.facts_mrr", 0.5);
    assertTrue(r.notes().stream().anyMatch(n -> n.startsWith("method ")), "the table is among the notes");
  }

  @Test
  void topPearson_correlatesOnlyTheLargestAbsoluteScores() {
    double[] score = {5, -4, 0.1, 0.2, 3};
    double[] actual = {2, -3, 100, -100, 1};
    // the three largest |score| (5, -4, 3) against (2, -3, 1): by hand
    double mx = 4 / 3.0;
    double my = 0;
    double sxy = (5 - mx) * 2 + (-4 - mx) * -3 + (3 - mx) * 1;
    double sxx = Math.pow(5 - mx, 2) + Math.pow(-4 - mx, 2) + Math.pow(3 - mx, 2);
    double syy = 4 + 9 + 1 - 3 * my * my;
    assertEquals(sxy / Math.sqrt(sxx * syy), CompareTask.topPearson(score, actual, 3), 1e-12);
    // all five: the two small scores with huge changes pull it far from the top-3 figure
    assertTrue(Math.abs(CompareTask.topPearson(score, actual, 5)) < 0.5);
    assertTrue(Double.isNaN(CompareTask.topPearson(new double[] {1, 1, 1}, actual, 3)), "constant scores");
  }

  @Test
  void table_printsADashWithTheReason_whereAFigureDoesNotApply() {
    Map<String, Map<String, Double>> rows = new LinkedHashMap<>();
    rows.put("tracin", Map.of("loo_pearson", 0.5, "lds_spearman", 0.25, "facts_recall@1", 1.0, "facts_mrr", 1.0,
        "clean_auc", 0.75, "clean_found@top10%", 0.5));
    rows.put("bm25", Map.of("loo_pearson", 0.125, "lds_spearman", 0.0, "facts_recall@1", 0.5, "facts_mrr", 0.75));
    String table = CompareTask.table(rows);
    List<String> lines = table.lines().toList();
    assertTrue(lines.get(0).startsWith("method"), table);
    assertTrue(lines.get(1).startsWith("tracin") && lines.get(1).contains("0.7500") && !lines.get(1).contains("—"),
        table);
    assertTrue(lines.get(2).startsWith("bm25") && lines.get(2).endsWith("—"), table);
    assertEquals("— bm25 cleaning: " + CompareTask.NO_CLEANING.get("bm25"), lines.get(3));
    assertFalse(table.contains("tracin cleaning"), table);
  }

  private static void atLeast(Map<String, Double> m, String key, double bar) {
    assertTrue(m.get(key) >= bar, key + " = " + m.get(key) + " < " + bar);
  }
}
