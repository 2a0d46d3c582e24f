package io.influence.spark.candidates;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.lexical.Bm25;
import io.influence.spark.config.CandidatesSettings;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Queries;
import io.influence.spark.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The MLlib prefilter against brute force in plain Java on a small generated corpus: TF-IDF cosine (MLlib's smoothed
 * idf, computed here from scratch; through the candidates stage, which must also recompute stale candidates) and
 * BM25 on hashed terms (influence-core's map-based Bm25, the bench's baseline), each the same top-M rows in the same
 * order with the same scores.
 */
class CandidatesJobTest {

  private static final double TOL = 1e-9;
  private static final int N = 80;

  private static final List<String> ids = new ArrayList<>();
  private static final List<String> texts = new ArrayList<>();

  @TempDir static Path dir;
  private static final List<Queries.Query> queries = new ArrayList<>();
  private static Dataset<Row> corpus;

  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void corpus() {
    Random r = new Random(11);
    String[] words = {"Red", "green", "blue", "cat", "dog", "bird", "runs", "sleeps", "sings", "the", "a", "quietly",
        "river", "stone", "Ünïcode", "x2", "over", "under", "moon", "sun", "tree", "leaf", "wind", "fast"};
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      StringBuilder s = new StringBuilder();
      int n = 3 + r.nextInt(12);
      for (int w = 0; w < n; w++) {
        // Zipf-like: early words are common, so idf and lengths vary
        int k = Math.min(words.length - 1, (int) Math.floor(Math.pow(r.nextDouble(), 2.2) * words.length));
        s.append(w == 0 ? "" : r.nextBoolean() ? " " : ", ").append(words[k]);
      }
      ids.add("doc-" + Integer.toString(i * 7 + 3, 36));
      texts.add(s.append(r.nextBoolean() ? "." : "!").toString());
      rows.add(RowFactory.create(ids.get(i), texts.get(i), null));
    }
    corpus = LocalSpark.get().createDataFrame(rows, Corpus.SCHEMA).repartition(3);
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < N; i++) {
      lines.append("{\"id\": \"").append(ids.get(i)).append("\", \"text\": \"").append(texts.get(i)).append("\"}\n");
    }
    try {
      Files.writeString(dir.resolve("corpus.jsonl"), lines);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    queries.add(new Queries.Query("q-moon", "the moon over", " the river."));
    queries.add(new Queries.Query("q-cat", "A red CAT", " sleeps quietly"));
    queries.add(new Queries.Query("q-rare", "ünïcode x2", " leaf"));
    queries.add(new Queries.Query("q-none", "zebra", " yak"));
  }

  private Map<String, List<Row>> run(LexicalScorer scorer, int m, double fraction, int numFeatures) {
    Dataset<Row> out = CandidatesJob.run(spark, new CandidatesSpec(corpus, queries,
        new CandidatesSettings(scorer, CandidateTokens.WORDS, m, fraction, numFeatures), null, null));
    return byQuery(out);
  }

  /** Words of a text, written independently of MLlib's RegexTokenizer. */
  private static List<String> words(String text) {
    List<String> out = new ArrayList<>();
    for (String t : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{Nd}]+")) {
      if (!t.isEmpty()) {
        out.add(t);
      }
    }
    return out;
  }

  private static Map<String, Double> counts(String text) {
    Map<String, Double> c = new HashMap<>();
    words(text).forEach(w -> c.merge(w, 1.0, Double::sum));
    return c;
  }

  /**
   * TF-IDF cosine of every document, brute force: tf · ln((N + 1) / (df + 1)), both vectors L2-normalised, the query's
   * over the terms the corpus has.
   */
  private static double[] cosine(List<String> texts, String query) {
    Map<String, Integer> df = new HashMap<>();
    List<Map<String, Double>> docs = new ArrayList<>();
    for (String t : texts) {
      Map<String, Double> c = counts(t);
      docs.add(c);
      c.keySet().forEach(w -> df.merge(w, 1, Integer::sum));
    }
    Map<String, Double> q = counts(query);
    q.keySet().retainAll(df.keySet());   // a term no document has is not part of the corpus's vector space
    q.replaceAll((w, f) -> f * Math.log((N + 1.0) / (df.getOrDefault(w, 0) + 1.0)));
    double qn = Math.sqrt(q.values().stream().mapToDouble(v -> v * v).sum());
    double[] out = new double[N];
    for (int d = 0; d < N; d++) {
      Map<String, Double> v = new HashMap<>(docs.get(d));
      v.replaceAll((w, f) -> f * Math.log((N + 1.0) / (df.get(w) + 1.0)));
      double dn = Math.sqrt(v.values().stream().mapToDouble(x -> x * x).sum());
      double dot = 0;
      for (var e : q.entrySet()) {
        dot += e.getValue() * v.getOrDefault(e.getKey(), 0.0);
      }
      out[d] = qn == 0 || dn == 0 ? 0 : dot / (qn * dn);
    }
    return out;
  }

  /** The top {@code m} documents with a positive score, by score then id. */
  private static List<Map.Entry<String, Double>> top(double[] scores, int m) {
    List<Map.Entry<String, Double>> all = new ArrayList<>();
    for (int d = 0; d < N; d++) {
      if (scores[d] > 1e-12) {
        all.add(Map.entry(ids.get(d), scores[d]));
      }
    }
    all.sort(Comparator.<Map.Entry<String, Double>>comparingDouble(Map.Entry::getValue).reversed()
        .thenComparing(Map.Entry::getKey));
    return all.subList(0, Math.min(m, all.size()));
  }

  private static void assertSame(List<Map.Entry<String, Double>> expected, List<Row> actual, String what) {
    List<Row> got = actual == null ? List.of() : actual;
    assertEquals(expected.size(), got.size(), what + ": candidate count");
    for (int i = 0; i < expected.size(); i++) {
      Row r = got.get(i);
      assertEquals(i + 1, r.getInt(2), what + ": rank");
      assertEquals(expected.get(i).getKey(), r.getString(1), what + ": row at rank " + (i + 1));
      assertEquals(expected.get(i).getValue(), r.getDouble(3), TOL, what + ": score at rank " + (i + 1));
    }
  }

  private static void writeQueries(Path file, List<Queries.Query> qs) throws Exception {
    StringBuilder b = new StringBuilder();
    for (Queries.Query q : qs) {
      b.append("{\"id\": \"").append(q.id()).append("\", \"prompt\": \"").append(q.prompt())
          .append("\", \"completion\": \"").append(q.completion()).append("\"}\n");
    }
    Files.writeString(file, b);
  }

  private static Map<String, List<Row>> byQuery(Dataset<Row> out) {
    Map<String, List<Row>> byQuery = new HashMap<>();
    for (Row row : out.collectAsList()) {
      byQuery.computeIfAbsent(row.getString(0), x -> new ArrayList<>()).add(row);
    }
    return byQuery;
  }

  /**
   * The candidates stage (settings, saved model and lists) equals brute-force cosine; when the queries change, and
   * when a corpus row changes, its output is computed again and equals brute force on the new inputs; other
   * settings into the same folder are refused.
   */
  @Test
  void tfidfStage_topM_equalsBruteForceCosine_andStaleCandidatesAreRecomputed() throws Exception {
    int m = 9;
    Path queriesFile = dir.resolve("queries.jsonl");
    writeQueries(queriesFile, queries);
    InfluenceSettings s = Settings.load(Optional.empty(), Map.of("input.corpus", dir.resolve("corpus.jsonl").toString(),
        "input.queries", queriesFile.toString(), "output.dir", dir.resolve("out").toString(),
        "candidates.top-m", String.valueOf(m)));
    Map<String, List<Row>> got = byQuery(Stages.candidates(spark, s));
    for (Queries.Query q : queries) {
      assertSame(top(cosine(texts, q.prompt() + q.completion()), m), got.get(q.id()), "tfidf " + q.id());
    }
    assertTrue(!got.containsKey("q-none"), "a query sharing no word with the corpus has no candidates");
    assertEquals(m, got.get("q-cat").size());

    // changed queries: the lists are computed again from the saved model
    List<Queries.Query> changed = List.of(queries.get(0), new Queries.Query("q-cat", "green leaf", " in the wind"));
    writeQueries(queriesFile, changed);
    got = byQuery(Stages.candidates(spark, s));
    assertEquals(java.util.Set.of("q-moon", "q-cat"), got.keySet());
    for (Queries.Query q : changed) {
      assertSame(top(cosine(texts, q.prompt() + q.completion()), m), got.get(q.id()), "new queries " + q.id());
    }

    // a changed corpus row: the model is fitted again
    List<String> edited = new ArrayList<>(texts);
    edited.set(5, "green leaf, green leaf in the wind");
    Files.writeString(dir.resolve("corpus.jsonl"), Files.readString(dir.resolve("corpus.jsonl"))
        .replace("\"" + texts.get(5) + "\"", "\"" + edited.get(5) + "\""));
    got = byQuery(Stages.candidates(spark, s));
    for (Queries.Query q : changed) {
      assertSame(top(cosine(edited, q.prompt() + q.completion()), m), got.get(q.id()), "new corpus " + q.id());
    }
    assertEquals(ids.get(5), got.get("q-cat").get(0).getString(1), "the edited row now ranks first");

    // other candidates settings are refused, not mixed
    var other = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
        () -> Stages.candidates(spark, s.with("candidates.top-m", 5)));
    assertTrue(other.getMessage().contains("candidates.top-m") && other.getMessage().contains("HINT"),
        other.getMessage());
  }

  @Test
  void bm25_topFractionHashedTerms_equalsBruteForceBm25() {
    double fraction = 0.1;   // ceil(0.1 × 80) = 8 candidates per query; 2^18 buckets: no two of the 24 words collide
    Map<String, List<Row>> got = run(LexicalScorer.BM25, 1000, fraction, 1 << 18);
    Bm25 truth = new Bm25(texts);
    for (Queries.Query q : queries) {
      assertSame(top(truth.scores(q.prompt() + q.completion()), 8), got.get(q.id()), "bm25 " + q.id());
    }
    assertEquals(8, got.get("q-moon").size());
  }
}
