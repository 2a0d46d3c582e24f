package io.influence.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.lexical.Bm25;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quick versions of the planted-facts and cleaning tasks through {@link BenchSuite#run}, as CI runs them:
 * figures against bars slightly under the targets where the quick version can meet them, figures
 * recomputed here from the files the pipeline wrote (the EK-FAC scores and self-influence, the corpus), and
 * the JSON output. Plus the small pieces against hand-computed or brute-force truths.
 */
class CorpusBenchTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  @Test
  void quickVersions_meetBarsAndMatchTheWrittenOutputs_andJsonHasEveryFigure() throws Exception {
    BenchOptions options = new BenchOptions(true, 1, dir.resolve("work"), Map.of());
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    List<BenchResult> results = BenchSuite.run(BenchSuite.select(List.of("planted-facts", "cleaning")), options,
        new PrintStream(log, true, StandardCharsets.UTF_8));
    assertEquals(2, results.size());
    System.out.print(BenchSuite.table(results));   // the quick figures in the CI log
    BenchResult planted = results.get(0);
    BenchResult cleaning = results.get(1);

    // planted facts: bars from the measured quick run (see the report), slightly under the targets
    Map<String, Double> p = planted.metrics();
    assertTrue(p.get("ekfac.verbatim.recall@10") >= 0.85, "EK-FAC verbatim recall@10 " + p.get("ekfac.verbatim.recall@10"));
    assertTrue(p.get("ekfac.paraphrased.recall@10") >= 0.85, "EK-FAC paraphrased recall@10 "
        + p.get("ekfac.paraphrased.recall@10"));
    assertTrue(p.get("cg.verbatim.recall@10") >= 0.85, "CG verbatim recall@10 " + p.get("cg.verbatim.recall@10"));
    assertTrue(p.get("bm25.verbatim.recall@10") >= 0.85, "BM25 verbatim recall@10 " + p.get("bm25.verbatim.recall@10"));
    assertEquals(0.9, planted.targets().get("ekfac.verbatim.recall@10").bar());
    for (String m : List.of("tracin", "ekfac", "cg", "bm25")) {
      for (String w : List.of("verbatim", "paraphrased")) {
        for (String f : List.of("recall@1", "recall@10", "mrr")) {
          double v = p.get(m + "." + w + "." + f);
          assertTrue(v >= 0 && v <= 1, m + "." + w + "." + f + " = " + v);
        }
      }
    }
    // the EK-FAC figures recomputed from the pipeline's last score output (score.method = ekfac)
    Path pOut = dir.resolve("work/planted-facts");
    Map<String, List<String>> ranking = new HashMap<>();
    for (JsonNode row : lines(pOut.resolve("out/scores/summary.jsonl"))) {
      if (row.get("direction").asText().equals("top")) {
        assertEquals("ekfac", row.get("method").asText());
        List<String> r = ranking.computeIfAbsent(row.get("query_id").asText(), k -> new ArrayList<>());
        while (r.size() < row.get("rank").asInt()) {
          r.add(null);
        }
        r.set(row.get("rank").asInt() - 1, row.get("train_id").asText());
      }
    }
    int corpusSize = lines(pOut.resolve("data/corpus.jsonl")).size();
    double recall10 = 0;
    double mrr = 0;
    int queries = 0;
    for (Map.Entry<String, List<String>> e : ranking.entrySet()) {
      assertEquals(corpusSize, e.getValue().size(), "full ranking of " + e.getKey());
      if (!e.getKey().endsWith("-v")) {
        continue;
      }
      String fact = "planted-" + e.getKey().substring(1, 3) + "-";   // qNN-v is answered by planted-NN-x
      long stated = lines(pOut.resolve("data/corpus.jsonl")).stream()
          .filter(r -> r.get("id").asText().startsWith(fact)).count();
      recall10 += e.getValue().subList(0, 10).stream().filter(id -> id.startsWith(fact)).count() / (double) stated;
      for (int i = 0; i < e.getValue().size(); i++) {
        if (e.getValue().get(i).startsWith(fact)) {
          mrr += 1.0 / (i + 1);
          break;
        }
      }
      queries++;
    }
    assertEquals(BenchFacts.ALL.size(), queries);
    assertEquals(recall10 / queries, p.get("ekfac.verbatim.recall@10"), 1e-12);
    assertEquals(mrr / queries, p.get("ekfac.verbatim.mrr"), 1e-12);

    // cleaning: the EK-FAC figures recomputed from the pipeline's last self-influence output, AUC by brute force
    Path cOut = dir.resolve("work/cleaning");
    Map<String, Double> self = new HashMap<>();
    for (JsonNode row : lines(cOut.resolve("out/self-influence/summary.jsonl"))) {
      self.put(row.get("train_id").asText(), row.get("score").asDouble());
    }
    Set<String> bad = new HashSet<>();
    for (JsonNode row : lines(cOut.resolve("data/corpus.jsonl"))) {
      String id = row.get("id").asText();
      if (id.startsWith("shuffled-") || id.startsWith("contradiction-")) {
        bad.add(id);
      }
    }
    assertEquals(lines(cOut.resolve("data/corpus.jsonl")).size(), self.size());
    assertEquals(Math.round(0.05 * self.size()), bad.size());
    double pairs = 0;
    double wins = 0;
    for (String b : bad) {
      for (Map.Entry<String, Double> c : self.entrySet()) {
        if (!bad.contains(c.getKey())) {
          pairs++;
          wins += self.get(b) > c.getValue() ? 1 : self.get(b).equals(c.getValue()) ? 0.5 : 0;
        }
      }
    }
    Map<String, Double> c = cleaning.metrics();
    assertEquals(wins / pairs, c.get("ekfac.all.auc"), 1e-12);
    List<String> byScore = self.entrySet().stream()
        .sorted(Map.Entry.<String, Double>comparingByValue().reversed()).map(Map.Entry::getKey).toList();
    int cut = (int) Math.ceil(0.1 * byScore.size());
    assertEquals(byScore.subList(0, cut).stream().filter(bad::contains).count() / (double) bad.size(),
        c.get("ekfac.all.found@top10%"), 1e-12);
    assertEquals(0.8, cleaning.targets().get("ekfac.all.found@top10%").bar());

    // the JSON output: every figure with its target and whether it is met
    Path json = dir.resolve("bench.json");
    BenchSuite.writeJson(results, json);
    JsonNode root = JSON.readTree(json.toFile());
    assertEquals(2, root.size());
    for (int i = 0; i < 2; i++) {
      JsonNode task = root.get(i);
      BenchResult r = results.get(i);
      assertEquals(r.task(), task.get("task").asText());
      assertEquals(r.metrics().size(), task.get("metrics").size());
      r.metrics().forEach((k, v) -> assertEquals(v, task.get("metrics").get(k).asDouble(), 1e-12, k));
      r.targets().forEach((k, t) -> {
        JsonNode target = task.get("targets").get(k);
        assertEquals(t.bar(), target.get("at_least").asDouble(), k);
        assertEquals(t.met(r.metrics().get(k)), target.get("met").asBoolean(), k);
      });
      assertTrue(task.get("notes").size() >= 3, "notes of " + r.task());
    }
    String table = BenchSuite.table(results);
    assertTrue(table.contains("ekfac.verbatim.recall@10") && table.contains("ekfac.all.found@top10%"), table);
  }

  @Test
  void bm25_twoDocuments_equalsHandComputedScore() {
    // docs "a b" and "a"; query "b": idf = ln(1 + (2 - 1 + 0.5) / (1 + 0.5)) = ln 2; avgdl = 1.5;
    // doc 0: 1 · 2.2 / (1 + 1.2 · (0.25 + 0.75 · 2 / 1.5)) = 2.2 / 2.5 = 0.88
    Bm25 bm25 = new Bm25(List.of("A b!", "a"));
    double[] s = bm25.scores("B?");
    assertEquals(0.88 * Math.log(2), s[0], 1e-12);
    assertEquals(0, s[1]);
    assertEquals(List.of("zorbia", "s", "capital", "is", "quellhaven"), Bm25.terms("Zorbia's capital is Quellhaven."));
  }

  @Test
  void rankingMetrics_smallCases_equalCountsByHand() {
    Map<String, Double> scores = Map.of("a", 3.0, "b", 2.0, "c", 2.0, "d", 1.0, "e", 0.0);
    List<String> ranking = RankingMetrics.ranking(scores);
    assertEquals(List.of("a", "b", "c", "d", "e"), ranking);
    assertEquals(0, RankingMetrics.hitAt1(ranking, Set.of("c", "e")));
    assertEquals(0.5, RankingMetrics.recallAt(ranking, Set.of("c", "e"), 3));
    assertEquals(1 / 3.0, RankingMetrics.reciprocalRank(ranking, Set.of("c", "e")));
    assertEquals(0.5, RankingMetrics.foundInTop(ranking, List.of("a", "e"), 0.2));
    // positives c (2.0), e (0.0) against a, b, d: c beats d, ties b (1/2); e beats none -> 1.5 / 6
    assertEquals(1.5 / 6, RankingMetrics.auc(scores, List.of("c", "e"), List.of("a", "b", "d")), 1e-15);
    // ranking a b c d e: c at 3 (precision 1/3), e at 5 (2/5); ids in neither set are left out of the ranking
    assertEquals((1 / 3.0 + 2 / 5.0) / 2, RankingMetrics.averagePrecision(scores, List.of("c", "e"),
        List.of("a", "b", "d")), 1e-15);
    assertEquals((1 / 2.0 + 2 / 4.0) / 2, RankingMetrics.averagePrecision(scores, List.of("c", "e"),
        List.of("b", "d")), 1e-15);
    assertEquals(1.0, RankingMetrics.averagePrecision(scores, List.of("a", "b"), List.of("c", "d", "e")), 1e-15);
  }

  @Test
  void corpus_seeded_isReproducibleAndCorruptsTheAskedFraction() throws Exception {
    BenchCorpus.Written a = BenchCorpus.write(dir.resolve("a"), 100, 160, 24, 0.05, 300, 5);
    BenchCorpus.Written b = BenchCorpus.write(dir.resolve("b"), 100, 160, 24, 0.05, 300, 5);
    assertEquals(Files.readString(a.corpus()), Files.readString(b.corpus()));
    assertEquals(100 + 84, a.texts().size());
    assertEquals(Math.round(0.05 * 184), a.corrupted().size());
    assertEquals(48, a.queryList().size());
    for (BenchFacts.Fact f : BenchFacts.ALL) {
      assertTrue(a.texts().containsValue(f.prompt() + f.completion() + "."), f.key());
    }
    for (Map.Entry<String, String> e : a.corrupted().entrySet()) {
      String text = a.texts().get(e.getKey());
      if (e.getValue().equals(BenchCorpus.CONTRADICTION)) {
        assertTrue(BenchFacts.ALL.stream().anyMatch(f -> text.endsWith(f.wrongAnswer() + ".")), text);
      } else {
        String fortune = BenchCorpus.fortunes().get(Integer.parseInt(e.getKey().substring(e.getKey().length() - 3)));
        assertEquals(sorted(fortune.replace(" ", "")), sorted(text.replace(" ", "")), "same characters, reordered");
        assertTrue(!text.equals(fortune), text);
      }
    }
  }

  private static String sorted(String s) {
    char[] c = s.toCharArray();
    java.util.Arrays.sort(c);
    return new String(c);
  }

  private static List<JsonNode> lines(Path file) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (!line.isBlank()) {
        out.add(JSON.readTree(line));
      }
    }
    return out;
  }
}
