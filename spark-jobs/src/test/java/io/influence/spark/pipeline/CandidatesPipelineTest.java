package io.influence.spark.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.candidates.CandidatesJob;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The candidates stage in a real run (our trainer's checkpoints, extracted gradients): `score` with
 * {@code score.candidates = true} gives the exhaustive scores restricted to each query's candidates, and an output
 * of one kind is never reused as the other; with {@code candidates.source = scores} the candidates are the top rows of
 * an earlier score output (two-stage retrieval); with {@code candidates.tokens = tokenizer} the terms are the
 * checkpoint tokenizer's ids (against brute-force cosine). (Stale candidates: CandidatesJobTest.)
 */
class CandidatesPipelineTest {

  @TempDir Path dir;

  /** Brute-force TF-IDF cosine over token ids (idf ln((N + 1)/(df + 1)), query terms the corpus lacks left out). */
  private static List<String> cosineTop(TinyRun tiny, String query, int m) {
    int n = tiny.texts().size();
    List<Map<Integer, Double>> docs = new ArrayList<>();
    Map<Integer, Integer> df = new java.util.HashMap<>();
    for (String t : tiny.texts()) {
      Map<Integer, Double> c = new java.util.HashMap<>();
      for (int id : tiny.tokenizer().encode(t)) {
        c.merge(id, 1.0, Double::sum);
      }
      c.keySet().forEach(id -> df.merge(id, 1, Integer::sum));
      docs.add(c);
    }
    java.util.function.Function<Map<Integer, Double>, Map<Integer, Double>> unit = c -> {
      Map<Integer, Double> v = new java.util.HashMap<>();
      c.forEach((id, f) -> {
        if (df.containsKey(id)) {
          v.put(id, f * Math.log((n + 1.0) / (df.get(id) + 1.0)));
        }
      });
      double norm = Math.sqrt(v.values().stream().mapToDouble(x -> x * x).sum());
      v.replaceAll((id, x) -> norm == 0 ? 0 : x / norm);
      return v;
    };
    Map<Integer, Double> q = new java.util.HashMap<>();
    for (int id : tiny.tokenizer().encode(query)) {
      q.merge(id, 1.0, Double::sum);
    }
    Map<Integer, Double> qv = unit.apply(q);
    List<Map.Entry<String, Double>> scored = new ArrayList<>();
    for (int d = 0; d < n; d++) {
      Map<Integer, Double> dv = unit.apply(docs.get(d));
      double dot = qv.entrySet().stream().mapToDouble(e -> e.getValue() * dv.getOrDefault(e.getKey(), 0.0)).sum();
      if (dot > 1e-12) {
        scored.add(Map.entry(tiny.ids().get(d), dot));
      }
    }
    // ties (equal token multisets) by id; near-ties are not expected on 40 generated sentences
    scored.sort(Map.Entry.<String, Double>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
    return scored.stream().limit(m).map(Map.Entry::getKey).toList();
  }

  @Test
  void scoreOnCandidates_isExhaustiveRestricted_andNotReusedAsExhaustive() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n"
        + "{\"id\": \"q2\", \"prompt\": \"a blue\", \"completion\": \" bird sings.\"}\n");
    SparkSession spark = LocalSpark.get();
    InfluenceSettings s = Settings.load(Optional.empty(), Map.of("input.corpus", tiny.corpus().toString(),
        "input.run", dir.resolve("run").toString(), "input.queries", queries.toString(), "output.dir",
        dir.resolve("out").toString(), "score.top-k", "40", "extract.projection.k-in", "6",
        "extract.projection.k-out", "5"));
    Stages.extract(spark, s);
    List<Row> exhaustive = Stages.score(spark, s).collectAsList();   // k = 40: every row ranked
    int k = 3;
    InfluenceSettings c = s.with("score.candidates", true).with("score.folder", "scores-candidates")
        .with("score.top-k", k).with("candidates.top-m", 8).with("score.block-rows", 3);   // several GEMM blocks
    List<Row> got = Stages.score(spark, c).collectAsList();
    Map<String, Set<String>> lists = CandidatesJob.byQuery(Stages.candidates(spark, c));
    assertEquals(Set.of("q1", "q2"), lists.keySet());
    double scale = exhaustive.stream().mapToDouble(r -> Math.abs((double) r.getAs("score"))).max().orElseThrow();
    for (String q : List.of("q1", "q2")) {
      assertEquals(8, lists.get(q).size(), "top-m candidates of " + q);
      List<Row> pool = exhaustive.stream().filter(r -> r.getAs("query_id").equals(q) && r.getAs("direction").equals("top")
          && lists.get(q).contains((String) r.getAs("train_id"))).toList();
      assertEquals(8, pool.size(), "every candidate row of " + q + " was scored exhaustively");
      for (String direction : List.of("top", "bottom")) {
        Comparator<Row> byScore = Comparator.comparingDouble(r -> (double) r.getAs("score"));
        List<Row> expected = new ArrayList<>(pool);
        expected.sort(direction.equals("top") ? byScore.reversed() : byScore);
        List<Row> actual = got.stream().filter(r -> r.getAs("query_id").equals(q) && r.getAs("direction")
            .equals(direction)).toList();
        assertEquals(k, actual.size());
        for (int i = 0; i < k; i++) {
          assertEquals((String) expected.get(i).getAs("train_id"), actual.get(i).getAs("train_id"),
              q + " " + direction + " rank " + (i + 1));
          assertEquals((double) expected.get(i).getAs("score"), (double) actual.get(i).getAs("score"), 1e-5 * scale);
        }
      }
    }

    // two-stage retrieval: candidates read from an earlier score output are its top-M rows
    InfluenceSettings two = c.with("candidates.scores", dir.resolve("out").resolve(Stages.SCORES).toString())
        .with("candidates.source", "scores").with("candidates.top-m", 5)
        .with("output.dir", dir.resolve("two-stage").toString());
    Map<String, Set<String>> recalled = CandidatesJob.byQuery(Stages.candidates(spark, two));
    for (String q : List.of("q1", "q2")) {
      Set<String> expected = new java.util.HashSet<>();
      exhaustive.stream().filter(r -> r.getAs("query_id").equals(q) && r.getAs("direction").equals("top")
          && (int) r.getAs("rank") <= 5).forEach(r -> expected.add(r.getAs("train_id")));
      assertEquals(expected, recalled.get(q), "the recall stage's top 5 of " + q);
    }

    // tokens = tokenizer: the terms are the checkpoint tokenizer's ids; the lists equal brute-force TF-IDF cosine
    InfluenceSettings tok = c.with("candidates.tokens", "tokenizer").with("output.dir", dir.resolve("tok").toString());
    Map<String, List<String>> byTokens = new java.util.HashMap<>();
    for (Row r : Stages.candidates(spark, tok).collectAsList()) {
      byTokens.computeIfAbsent(r.getAs("query_id"), x -> new ArrayList<>()).add(r.getAs("train_id"));
    }
    assertEquals(cosineTop(tiny, "the red cat sleeps.", 8), byTokens.get("q1"));
    assertEquals(cosineTop(tiny, "a blue bird sings.", 8), byTokens.get("q2"));

    // an exhaustive output is not reused as one computed on candidates
    var refused = assertThrows(IllegalStateException.class,
        () -> Stages.score(spark, c.with("score.folder", "scores")));
    assertTrue(refused.getMessage().contains("score.candidates") && refused.getMessage().contains("HINT"),
        refused.getMessage());
  }
}
