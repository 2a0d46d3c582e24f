package io.influence.spark.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.candidates.CandidatesJob;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.io.Corpus;
import io.influence.spark.store.CandidateCoverage;
import io.influence.spark.store.GradientStore;
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
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The candidates stage in a real run (our trainer's checkpoints, extracted gradients): `score` with
 * {@code score.candidates = true} gives the exhaustive scores restricted to each query's candidates, and an output
 * of one kind is never reused as the other; with {@code candidates.source = scores} the candidates are the top rows of
 * an earlier score output (two-stage retrieval); with {@code candidates.tokens = tokenizer} the terms are the
 * checkpoint tokenizer's ids (against brute-force cosine). With {@code extract.candidates = true} the partial store
 * holds exactly the union of the candidate rows, each equal to the same row of the exhaustive store; its candidate
 * scores equal the exhaustive ones restricted; what would read it as the whole corpus is refused; a killed increment
 * is invisible; new queries add only their new candidate rows, as a new part. (Stale candidates: CandidatesJobTest.)
 */
class CandidatesPipelineTest {

  @TempDir static Path dir;
  /** Shared by both tests: the run, its queries, its exhaustive store and exhaustive scores (k = 40: every row). */
  static TinyRun tiny;
  static Path queries;
  static InfluenceSettings s;
  static List<Row> exhaustive;

  @BeforeAll
  static void exhaustiveRun() throws Exception {
    tiny = TinyRun.create(dir);
    queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n"
        + "{\"id\": \"q2\", \"prompt\": \"a blue\", \"completion\": \" bird sings.\"}\n");
    SparkSession spark = LocalSpark.get();
    s = Settings.load(Optional.empty(), Map.of("input.corpus", tiny.corpus().toString(),
        "input.run", dir.resolve("run").toString(), "input.queries", queries.toString(), "output.dir",
        dir.resolve("out").toString(), "score.top-k", "40", "extract.projection.k-in", "6",
        "extract.projection.k-out", "5"));
    Stages.extract(spark, s);
    exhaustive = Stages.score(spark, s).collectAsList();   // k = 40: every row ranked
  }

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
    SparkSession spark = LocalSpark.get();
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

  /** Per checkpoint, per id, the stored floats (every layer, in metadata order). */
  private static Map<String, Map<String, float[]>> rows(SparkSession spark, Path store) {
    Map<String, Map<String, float[]>> out = new TreeMap<>();
    for (String name : GradientStore.checkpoints(store)) {
      Map<String, float[]> byId = new TreeMap<>();
      io.influence.spark.store.StoreMetadata meta = GradientStore.metadata(spark, store, name);
      for (Row r : GradientStore.read(spark, store, name).collectAsList()) {
        float[] v = io.influence.spark.store.StoredRow.values(r, meta);
        assertTrue(byId.put(r.getString(0), v) == null, "id " + r.getString(0) + " stored once in " + name);
      }
      out.put(name, byId);
    }
    return out;
  }

  /** Largest |partial - exhaustive| over every stored float, relative to the largest |exhaustive| of that row. */
  private static double maxRelativeDifference(Map<String, Map<String, float[]>> partial,
      Map<String, Map<String, float[]>> exhaustive) {
    double worst = 0;
    for (var c : partial.entrySet()) {
      for (var r : c.getValue().entrySet()) {
        float[] want = exhaustive.get(c.getKey()).get(r.getKey());
        float[] got = r.getValue();
        assertEquals(want.length, got.length);
        double scale = 0;
        for (float x : want) {
          scale = Math.max(scale, Math.abs(x));
        }
        for (int i = 0; i < got.length; i++) {
          worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
        }
      }
    }
    return worst;
  }

  /** The candidate-restricted score rows equal the exhaustive rows of the candidates, re-ranked, for every query. */
  private static void assertExhaustiveRestricted(List<Row> exhaustive, List<Row> got, Map<String, Set<String>> lists,
      int k) {
    double scale = exhaustive.stream().mapToDouble(r -> Math.abs((double) r.getAs("score"))).max().orElseThrow();
    for (String q : lists.keySet()) {
      List<Row> pool = exhaustive.stream().filter(r -> r.getAs("query_id").equals(q)
          && r.getAs("direction").equals("top") && lists.get(q).contains((String) r.getAs("train_id"))).toList();
      assertEquals(lists.get(q).size(), pool.size(), "every candidate of " + q + " was scored exhaustively");
      for (String direction : List.of("top", "bottom")) {
        Comparator<Row> byScore = Comparator.comparingDouble(r -> (double) r.getAs("score"));
        List<Row> expected = new ArrayList<>(pool);
        expected.sort(direction.equals("top") ? byScore.reversed() : byScore);
        List<Row> actual = got.stream().filter(r -> r.getAs("query_id").equals(q)
            && r.getAs("direction").equals(direction)).toList();
        assertEquals(Math.min(k, pool.size()), actual.size(), q + " " + direction);
        for (int i = 0; i < actual.size(); i++) {
          assertEquals((String) expected.get(i).getAs("train_id"), actual.get(i).getAs("train_id"),
              q + " " + direction + " rank " + (i + 1));
          assertEquals((double) expected.get(i).getAs("score"), (double) actual.get(i).getAs("score"), 1e-5 * scale);
        }
      }
    }
  }

  private static Set<String> union(Map<String, Set<String>> lists) {
    return lists.values().stream().flatMap(Set::stream).collect(Collectors.toCollection(TreeSet::new));
  }

  private static Map<String, Long> dataFiles(Path store) throws Exception {
    Map<String, Long> out = new TreeMap<>();
    try (Stream<Path> files = Files.walk(store)) {
      for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".parquet")).toList()) {
        out.put(store.relativize(f).toString(), Files.getLastModifiedTime(f).toMillis());
      }
    }
    return out;
  }

  @Test
  void candidateOnlyStore_equalsExhaustiveRows_scoresLikeIt_refusesMisuse_andGrowsByNewCandidatesOnly()
      throws Exception {
    Path one = dir.resolve("q1.jsonl");
    Files.writeString(one, Files.readAllLines(queries).get(0) + "\n");
    Path two = queries;
    SparkSession spark = LocalSpark.get();
    InfluenceSettings all = s;
    Path allStore = dir.resolve("out").resolve(Stages.GRADIENTS);
    Map<String, Map<String, float[]>> allRows = rows(spark, allStore);

    // 1. the first query's candidates only
    int k = 3;
    InfluenceSettings c1 = all.with("input.queries", one.toString()).with("output.dir", dir.resolve("cand").toString())
        .with("extract.candidates", true).with("candidates.top-m", 6).with("score.candidates", true)
        .with("score.top-k", k).with("score.block-rows", 4);
    ExtractJob.Result first = Stages.extract(spark, c1);
    Map<String, Set<String>> lists1 = CandidatesJob.byQuery(Stages.candidates(spark, c1));
    Set<String> union1 = union(lists1);
    assertEquals(6, union1.size());
    assertEquals(2L * union1.size(), first.rowsExtracted(), "only the candidates were extracted");
    Path store = dir.resolve("cand").resolve(Stages.GRADIENTS);
    Map<String, Map<String, float[]>> partial = rows(spark, store);
    for (var c : partial.values()) {
      assertEquals(union1, c.keySet(), "the store holds exactly the candidate rows");
    }
    double diff = maxRelativeDifference(partial, allRows);
    assertTrue(diff <= 1e-6, "candidate rows equal the exhaustive store's rows, max relative difference " + diff);
    var hstore = io.influence.spark.io.Locations.local(store);
    CandidateCoverage cov1 = CandidateCoverage.read(hstore).orElseThrow();
    assertEquals(CandidateCoverage.fingerprintOf(union1), cov1.fingerprint());
    assertExhaustiveRestricted(exhaustive, Stages.score(spark, c1).collectAsList(), lists1, k);

    // 2. refusals: the partial store is never read as the whole corpus, nor scored for candidates it lacks
    var notCandidates = assertThrows(IllegalStateException.class,
        () -> Stages.score(spark, c1.with("score.candidates", false).with("score.folder", "scores-all")));
    assertTrue(notCandidates.getMessage().contains("partial") && notCandidates.getMessage().contains("6 candidate rows")
        && notCandidates.getMessage().contains("HINT: score with score.candidates = true"), notCandidates.getMessage());
    InfluenceSettings c2 = c1.with("input.queries", two.toString()).with("score.folder", "scores-12");
    Map<String, Set<String>> lists2 = CandidatesJob.byQuery(Stages.candidates(spark, c2));
    Set<String> union2 = union(lists2);
    Set<String> added = new TreeSet<>(union2);
    added.removeAll(union1);
    assertFalse(added.isEmpty(), "the second query brings new candidates");
    var lacking = assertThrows(IllegalStateException.class, () -> Stages.score(spark, c2));
    assertTrue(lacking.getMessage().startsWith(added.size() + " of the " + union2.size() + " candidate rows")
        && lacking.getMessage().contains("extract.candidates = true again"), lacking.getMessage());
    var mixed = assertThrows(IllegalStateException.class, () -> ExtractJob.run(spark, new ExtractSpec(
        Corpus.read(spark, tiny.corpus()), tiny.run(), store, null, null, 8, c1.input().badRows(),
        c1.input().longText())));
    assertTrue(mixed.getMessage().contains("is partial"), mixed.getMessage());
    var factors = assertThrows(IllegalStateException.class, () -> Stages.fitEkfac(spark, c1));
    assertTrue(factors.getMessage().contains("ekfac.fisher = true"), factors.getMessage());

    // 3. a killed increment: its part was written but never listed, so readers do not see it
    Path killed = Files.createDirectories(GradientStore.folder(store, "step-3").resolve(cov1.nextPart()));
    try (Stream<Path> files = Files.list(GradientStore.folder(allStore, "step-3"))) {   // a complete part of 40 rows
      for (Path f : files.filter(f -> f.getFileName().toString().matches("part-.*|_SUCCESS")).toList()) {
        Files.copy(f, killed.resolve(f.getFileName()));
      }
    }
    assertEquals(union1, rows(spark, store).get("step-3").keySet(), "an unlisted part is not read");
    Map<String, Long> filesBefore = dataFiles(store);

    // 4. the re-run adds only the new candidates, as a new part; the old files are untouched
    ExtractJob.Result second = Stages.extract(spark, c2);
    assertEquals(2L * added.size(), second.rowsExtracted(), "only the new candidates were extracted");
    Map<String, Long> filesAfter = dataFiles(store);
    filesBefore.entrySet().removeIf(e -> e.getKey().contains(cov1.nextPart()));   // the killed run's part: replaced
    for (var e : filesBefore.entrySet()) {
      assertEquals(e.getValue(), filesAfter.get(e.getKey()), e.getKey() + " is not rewritten");
    }
    CandidateCoverage cov2 = CandidateCoverage.read(hstore).orElseThrow();
    assertEquals(CandidateCoverage.fingerprintOf(union2), cov2.fingerprint());
    assertEquals(Map.of("step-3", List.of("_added-2"), "step-6", List.of("_added-2")), cov2.parts());
    Map<String, Map<String, float[]>> grown = rows(spark, store);
    for (var c : grown.values()) {
      assertEquals(union2, c.keySet(), "the store holds exactly the union of both queries' candidates");
    }
    diff = maxRelativeDifference(grown, allRows);
    assertTrue(diff <= 1e-6, "added rows equal the exhaustive store's rows, max relative difference " + diff);
    assertExhaustiveRestricted(exhaustive, Stages.score(spark, c2).collectAsList(), lists2, k);
    assertEquals(0, Stages.extract(spark, c2).rowsExtracted(), "nothing left to add");
    System.out.println("candidate extraction: exhaustive " + 2 * tiny.ids().size() + " rows, candidates "
        + first.rowsExtracted() + " + " + second.rowsExtracted() + " rows, max relative difference " + diff);
  }
}
