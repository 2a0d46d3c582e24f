package io.influence.spark.representer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.core.model.CausalLm;
import io.influence.core.representer.HeadFit;
import io.influence.core.representer.RepresenterHead;
import io.influence.core.representer.TokenFeatures;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.ihvp.SharedTinyRun;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * {@code score.method = representer} through {@link Stages#score} on {@code local[2]} with a real tiny run
 * ({@link TinyRun}), against a brute force on one machine: the last checkpoint in float64, the corpus tokenised
 * with its tokenizer, the head fitted again here, and the score formula summed by plain loops.
 */
class RepresenterPipelineTest {

  private static final double LAMBDA = 1e-2;
  private static final int DOCS = 40;
  private static final List<String[]> QUERIES = List.of(new String[] {"q1", "the red", " cat sleeps."},
      new String[] {"q2", "a blue bird", " sings quietly."});

  @TempDir static Path dir;
  private static TinyRun tiny;
  private static Path queries;
  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void trainTinyModel() throws Exception {
    tiny = SharedTinyRun.get();
    queries = dir.resolve("queries.jsonl");
    StringBuilder b = new StringBuilder();
    for (String[] q : QUERIES) {
      b.append("{\"id\": \"").append(q[0]).append("\", \"prompt\": \"").append(q[1]).append("\", \"completion\": \"")
          .append(q[2]).append("\"}\n");
    }
    Files.writeString(queries, b);
  }

  private static Path runDir() {
    try {
      return SharedTinyRun.dir().resolve("run");
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private InfluenceSettings settings(String folder, double lambda) {
    Map<String, String> m = new HashMap<>(Map.of("input.corpus", tiny.corpus().toString(),
        "input.run", runDir().toString(), "input.queries", queries.toString(),
        "output.dir", dir.resolve("out").toString(), "score.method", "representer", "score.top-k", "" + DOCS,
        "score.block-rows", "7", "score.folder", folder, "representer.lambda", "" + lambda,
        "representer.tolerance", "1e-11"));
    return Settings.load(Optional.empty(), m);
  }

  @Test
  void score_representer_equalsBruteForceFormula_andReusesTheFit() throws Exception {
    List<Row> rows = Stages.score(spark, settings("scores-representer", LAMBDA)).collectAsList();

    RunCheckpoint last = tiny.run().checkpoints().get(tiny.run().checkpoints().size() - 1);
    CausalLm model = CausalLm.load(last.dir(), DataType.DOUBLE);
    List<int[]> docs = tiny.texts().stream().map(tiny.tokenizer()::encodeDocument).toList();
    TokenFeatures train = TokenFeatures.of(model, docs, null, 8);
    RepresenterHead head = HeadFit.fit(train, model.headWeight(), LAMBDA, 1e-11, 50).head();
    Path saved = dir.resolve("out/representer/head.safetensors");
    try (SafetensorsFile f = SafetensorsFile.open(saved)) {
      double[] w = f.readDoubles("weight");
      double diff = 0;
      double norm = 0;
      for (int i = 0; i < w.length; i++) {
        diff += (w[i] - head.weight()[i]) * (w[i] - head.weight()[i]);
        norm += w[i] * w[i];
      }
      assertTrue(Math.sqrt(diff / norm) < 1e-9, "Spark's fitted head differs from one fitted here by "
          + Math.sqrt(diff / norm));
    }

    for (int q = 0; q < QUERIES.size(); q++) {
      String[] query = QUERIES.get(q);
      PromptCompletion pc = PromptCompletion.encode(tiny.tokenizer(), query[0], query[1], query[2], 16);
      TokenFeatures qf = TokenFeatures.of(model, List.of(pc.tokens()), List.of(pc.lossMask()), 1);
      double[] expected = new double[DOCS];
      double logits = 0;
      for (int t = 0; t < qf.size(); t++) {
        logits += head.logits(qf.row(t))[qf.targets()[t]];
      }
      for (int s = 0; s < train.size(); s++) {
        double[] z = head.logits(train.row(s));
        double max = Double.NEGATIVE_INFINITY;
        for (double x : z) {
          max = Math.max(max, x);
        }
        double sum = 0;
        for (double x : z) {
          sum += Math.exp(x - max);
        }
        for (int t = 0; t < qf.size(); t++) {
          int y = qf.targets()[t];
          double alpha = -(Math.exp(z[y] - max) / sum - (train.targets()[s] == y ? 1 : 0))
              / (2 * LAMBDA * train.size());
          double dot = 0;
          for (int c = 0; c < train.dim(); c++) {
            dot += train.features()[s * train.dim() + c] * qf.features()[t * train.dim() + c];
          }
          expected[train.sequence()[s]] += alpha * dot;
        }
      }
      double scale = 0;
      for (double e : expected) {
        scale = Math.max(scale, Math.abs(e));
      }
      List<Row> top = rows.stream().filter(r -> r.getAs("query_id").equals(query[0])
          && r.getAs("direction").equals("top")).toList();
      assertEquals(DOCS, top.size());
      double total = 0;
      double previous = Double.POSITIVE_INFINITY;
      for (Row r : top) {
        int doc = Integer.parseInt(((String) r.getAs("train_id")).substring("doc-".length()));
        double score = r.getAs("score");
        assertEquals(expected[doc], score, 1e-9 * scale, "query " + query[0] + ", " + r.getAs("train_id"));
        assertTrue(score <= previous, "top rows are not in descending order");
        previous = score;
        total += score;
        assertEquals("representer", r.getAs("method"));
        assertEquals(tiny.texts().get(doc), r.getAs("text"));
      }
      // the representer theorem through the whole pipeline: the scores add up to the fitted target logits
      assertEquals(logits, total, 1e-8 * Math.abs(logits), "query " + query[0]);
    }

    // same checkpoint, corpus and settings: the fit is reused by another score folder
    long before = Files.getLastModifiedTime(saved).toMillis();
    Thread.sleep(20);
    Stages.score(spark, settings("scores-representer-2", LAMBDA)).count();
    assertEquals(before, Files.getLastModifiedTime(saved).toMillis(), "the fit was not reused");
    // another λ, checkpoint or corpus is another fingerprint, which the saved head does not match
    RepresenterSpec spec = new RepresenterSpec(new org.apache.hadoop.fs.Path(tiny.corpus().toUri()), last,
        List.of(new io.influence.spark.io.Queries.Query("q", "a", "b")), settings("x", LAMBDA).representer(), 1, 1,
        io.influence.spark.config.BadRows.FAIL, io.influence.spark.config.LongText.ERROR,
        new org.apache.hadoop.fs.Path(dir.resolve("out/representer").toUri()), null);
    String fingerprint;
    try (SafetensorsFile f = SafetensorsFile.open(saved)) {
      fingerprint = f.metadata().get(SavedHead.FINGERPRINT);
    }
    var conf = spark.sparkContext().hadoopConfiguration();
    assertTrue(SavedHead.read(conf, spec.fitDir(), fingerprint).isPresent());
    RepresenterSpec otherLambda = new RepresenterSpec(spec.corpus(), last, spec.queries(),
        settings("x", 2 * LAMBDA).representer(), 1, 1, spec.badRows(), spec.longText(), spec.fitDir(), null);
    assertTrue(SavedHead.read(conf, spec.fitDir(), RepresenterJob.fingerprint(otherLambda, "c")).isEmpty());
    assertNotEquals(RepresenterJob.fingerprint(spec, "c"), RepresenterJob.fingerprint(otherLambda, "c"));
    assertNotEquals(RepresenterJob.fingerprint(spec, "c"), RepresenterJob.fingerprint(spec, "d"));
  }

  /** The head fitted here on the corpus tokenised by hand, as the brute-force checks' truth. */
  private static synchronized Brute brute() throws Exception {
    if (brute == null) {
      RunCheckpoint last = tiny.run().checkpoints().get(tiny.run().checkpoints().size() - 1);
      CausalLm model = CausalLm.load(last.dir(), DataType.DOUBLE);
      List<int[]> docs = tiny.texts().stream().map(tiny.tokenizer()::encodeDocument).toList();
      TokenFeatures train = TokenFeatures.of(model, docs, null, 8);
      brute = new Brute(model, train, HeadFit.fit(train, model.headWeight(), LAMBDA, 1e-11, 50).head());
    }
    return brute;
  }

  private record Brute(CausalLm model, TokenFeatures train, RepresenterHead head) {
    /** softmax(W* f_s)[y] by plain loops. */
    double probability(int s, int y) {
      double[] z = head.logits(train.row(s));
      double max = Double.NEGATIVE_INFINITY;
      for (double x : z) {
        max = Math.max(max, x);
      }
      double sum = 0;
      for (double x : z) {
        sum += Math.exp(x - max);
      }
      return Math.exp(z[y] - max) / sum;
    }

    double dot(double[] a, int i, double[] b, int j) {
      double d = 0;
      for (int c = 0; c < train.dim(); c++) {
        d += a[i * train.dim() + c] * b[j * train.dim() + c];
      }
      return d;
    }
  }

  private static Brute brute;

  /**
   * Representer self-influence through {@link Stages#selfInfluence} equals, for every sequence, the brute force
   * {@code Σ_{s ∈ z} α_s[y_s] ‖f_s‖²} with {@code α_s[y_s] = (1 − p_s[y_s])/(2λn)} from the head fitted here, summed
   * (and, with normalize = per-token, divided by the predicted tokens); quantiles and flags as the stage defines them.
   */
  @Test
  void selfInfluence_representer_equalsBruteForceFromTheFittedHead() throws Exception {
    InfluenceSettings s = settings("scores-x", LAMBDA).with("self-influence.method", "representer")
        .with("self-influence.flag-fraction", "0.1");
    long t0 = System.nanoTime();
    List<Row> rows = Stages.selfInfluence(spark, s).collectAsList();
    System.out.printf("representer self-influence stage: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    Brute b = brute();
    double[] expected = new double[DOCS];
    int[] tokens = new int[DOCS];
    for (int t = 0; t < b.train().size(); t++) {
      double alpha = (1 - b.probability(t, b.train().targets()[t])) / (2 * LAMBDA * b.train().size());
      expected[b.train().sequence()[t]] += alpha * b.dot(b.train().features(), t, b.train().features(), t);
      tokens[b.train().sequence()[t]]++;
    }
    double scale = java.util.Arrays.stream(expected).max().orElseThrow();
    assertEquals(DOCS, rows.size());
    assertEquals(4, rows.stream().filter(r -> (boolean) r.getAs("flagged")).count(), "ceil(0.1 · 40) flagged");
    double previous = Double.POSITIVE_INFINITY;
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      int doc = Integer.parseInt(((String) r.getAs("train_id")).substring("doc-".length()));
      double score = r.getAs("score");
      assertEquals(expected[doc], score, 1e-9 * scale, "self-influence of doc-" + doc);
      assertTrue(score > 0 && score <= previous, "positive, in descending order");
      previous = score;
      assertEquals((DOCS - i) / (double) DOCS, (double) r.getAs("quantile"), 1e-12);
      assertEquals(i < 4, r.getAs("flagged"));
    }
    // per token: each divided by its predicted tokens (another setting: written again over the old output)
    List<Row> perToken = Stages.selfInfluence(spark, s.with("self-influence.normalize", "per-token")
        .with("output.overwrite", "true")).collectAsList();
    for (Row r : perToken) {
      int doc = Integer.parseInt(((String) r.getAs("train_id")).substring("doc-".length()));
      assertEquals(expected[doc] / tokens[doc], (double) r.getAs("score"), 1e-9 * scale, "per token, doc-" + doc);
    }
  }

  /**
   * {@code influence flag} with representer points: for every sequence the mean and max over the examples of the
   * representer score divided by the norm of the example's target matrix, and the strongest example, equal a brute
   * force from the head fitted here; ranks follow the mean.
   */
  @Test
  void flag_representer_equalsBruteForceMeanAndMaxOfNormalisedScores() throws Exception {
    InfluenceSettings s = settings("scores-x", LAMBDA).with("flag.method", "representer")
        .with("flag.examples", queries.toString()).with("flag.top-k", "3").with("flag.folder", "flag-representer")
        .with("flag.aggregate", "mean");
    long t0 = System.nanoTime();
    List<Row> rows = Stages.flag(spark, s).collectAsList();
    System.out.printf("representer flag stage: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    Brute b = brute();
    TokenFeatures train = b.train();
    double[][] normalised = new double[DOCS][QUERIES.size()];
    for (int q = 0; q < QUERIES.size(); q++) {
      String[] query = QUERIES.get(q);
      PromptCompletion pc = PromptCompletion.encode(tiny.tokenizer(), query[0], query[1], query[2], 16);
      TokenFeatures qf = TokenFeatures.of(b.model(), List.of(pc.tokens()), List.of(pc.lossMask()), 1);
      double norm2 = 0;
      for (int t = 0; t < qf.size(); t++) {
        for (int u = 0; u < qf.size(); u++) {
          if (qf.targets()[t] == qf.targets()[u]) {
            norm2 += b.dot(qf.features(), t, qf.features(), u);
          }
        }
      }
      for (int sIdx = 0; sIdx < train.size(); sIdx++) {
        for (int t = 0; t < qf.size(); t++) {
          int y = qf.targets()[t];
          double alpha = -(b.probability(sIdx, y) - (train.targets()[sIdx] == y ? 1 : 0)) / (2 * LAMBDA * train.size());
          normalised[train.sequence()[sIdx]][q] += alpha * b.dot(train.features(), sIdx, qf.features(), t)
              / Math.sqrt(norm2);
        }
      }
    }
    double scale = 0;
    for (double[] row : normalised) {
      for (double x : row) {
        scale = Math.max(scale, Math.abs(x));
      }
    }
    assertEquals(DOCS, rows.size());
    double previous = Double.POSITIVE_INFINITY;
    for (Row r : rows) {
      int doc = Integer.parseInt(((String) r.getAs("train_id")).substring("doc-".length()));
      double[] e = normalised[doc];
      assertEquals((e[0] + e[1]) / 2, (double) r.getAs("mean"), 1e-9 * scale, "mean of doc-" + doc);
      assertEquals(Math.max(e[0], e[1]), (double) r.getAs("max"), 1e-9 * scale, "max of doc-" + doc);
      if (Math.abs(e[0] - e[1]) > 1e-6 * scale) {
        assertEquals(e[0] >= e[1] ? "q1" : "q2", r.getAs("strongest_example"), "strongest of doc-" + doc);
      }
      assertEquals((double) r.getAs("mean"), (double) r.getAs("score"));
      assertTrue((double) r.getAs("score") <= previous, "rows in rank order");
      previous = r.getAs("score");
      assertEquals((long) r.getAs("rank") <= 3, r.getAs("flagged"));
    }
    String provenance = Files.readString(dir.resolve("out/flag-representer/_flag.json"));
    assertTrue(provenance.contains("\"method\" : \"representer\""), provenance);
  }
}
