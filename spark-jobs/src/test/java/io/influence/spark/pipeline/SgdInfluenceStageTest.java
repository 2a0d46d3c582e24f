package io.influence.spark.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.TrainingExamples;
import io.influence.checkpoints.TrainingLogs;
import io.influence.core.model.TokenBatch;
import io.influence.core.sgdinfluence.LmReplay;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.LongText;
import io.influence.spark.config.Settings;
import io.influence.spark.report.RankedSequence;
import io.influence.spark.report.ReportBuilder;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.train.TrainJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code score.method = sgd-influence} through the normal stages: a tiny GPT-2 trained by {@code influence train}
 * with {@code train.optimizer = sgd} on a corpus with a windowed long text, scored by the score stage on local[2];
 * the top-k and bottom-k equal a brute-force ranking of the core {@link LmReplay#scores} computed here from the
 * corpus tokenised independently (file order, windows cut by hand, the log's order), ids mapped by construction.
 */
class SgdInfluenceStageTest {

  private static final int CONTEXT = 24;
  private static final int K = 3;
  private static final String LONG = "the old mills of Brastow grind the grain of the valley every autumn, and the "
      + "river that turns their wheels runs north past the chapel to the sea.";

  @TempDir
  static Path dir;

  private static Path corpusFile;
  private static Path queriesFile;

  @BeforeAll
  static void trainTwoRuns() throws Exception {
    corpusFile = dir.resolve("corpus.jsonl");
    StringBuilder corpus = new StringBuilder("{\"id\": \"long\", \"text\": \"" + LONG + "\"}\n");
    String[] words = {"mill", "river", "grain", "chapel", "ferry", "valley", "autumn"};
    for (int i = 0; i < words.length; i++) {
      corpus.append("{\"id\": ").append(i).append(", \"text\": \"the ").append(words[i]).append(" of Brastow runs ")
          .append(i).append("\"}\n");
    }
    Files.writeString(corpusFile, corpus);
    queriesFile = dir.resolve("queries.jsonl");
    Files.writeString(queriesFile, "{\"id\": \"q1\", \"prompt\": \"the old mills of\", \"completion\": \" Brastow\"}\n"
        + "{\"id\": \"q2\", \"prompt\": \"the river\", \"completion\": \" runs north\"}\n");
    for (String optimizer : List.of("sgd", "adamw")) {
      InfluenceSettings s = settings(optimizer, "out-" + optimizer);
      TrainJob.run(corpusFile, Path.of(s.input().run("train")), s.train(), s.input().longText(), line -> { });
    }
  }

  private static InfluenceSettings settings(String optimizer, String out) {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("train.vocab-size", "300");
    o.put("train.context", String.valueOf(CONTEXT));
    o.put("train.width", "16");
    o.put("train.layers", "1");
    o.put("train.heads", "2");
    o.put("train.steps", "4");
    o.put("train.batch-size", "4");
    o.put("train.warmup-steps", "0");
    o.put("train.learning-rate", optimizer.equals("sgd") ? "0.5" : "3e-3");
    o.put("train.checkpoints", "1");
    o.put("train.optimizer", optimizer);
    o.put("input.corpus", corpusFile.toString());
    o.put("input.queries", queriesFile.toString());
    o.put("input.run", dir.resolve("run-" + optimizer).toString());
    o.put("output.dir", dir.resolve(out).toString());
    o.put("score.method", "sgd-influence");
    o.put("score.top-k", String.valueOf(K));
    return Settings.load(Optional.empty(), o);
  }

  @Test
  void score_sgdRun_topAndBottomKEqualTheCoreReplayWithCorpusIds() throws Exception {
    InfluenceSettings s = settings("sgd", "out-sgd");
    Path runDir = dir.resolve("run-sgd");
    // independent path: the trainer's sequence list rebuilt by hand (texts in file order, windows of CONTEXT)
    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(runDir.resolve("tokenizer.json"));
    List<String> ids = new ArrayList<>();
    List<int[]> sequences = new ArrayList<>();
    for (String line : Files.readAllLines(corpusFile)) {
      var row = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
      int[] tokens = tokenizer.encodeDocument(row.get("text").asText());
      for (int start = 0, w = 0; start < tokens.length; start += CONTEXT, w++) {
        int[] piece = java.util.Arrays.copyOfRange(tokens, start, Math.min(tokens.length, start + CONTEXT));
        if (piece.length >= 2) {
          sequences.add(piece);
          ids.add(tokens.length > CONTEXT ? row.get("id").asText() + "#w" + w : row.get("id").asText());
        }
      }
    }
    assertTrue(ids.contains("long#w2"), "the long text must need three windows: " + ids);
    long tr = System.nanoTime();
    LmReplay replay = LmReplay.open(runDir, sequences);
    Map<String, TokenBatch> queries = new LinkedHashMap<>();
    queries.put("q1", batch(tokenizer, "q1", "the old mills of", " Brastow"));
    queries.put("q2", batch(tokenizer, "q2", "the river", " runs north"));
    double[][] truth = replay.scores(new ArrayList<>(queries.values()));

    System.out.printf("core replay: %.1f s%n", (System.nanoTime() - tr) / 1e9);
    SparkSession spark = LocalSpark.get();
    long t0 = System.nanoTime();
    List<Row> rows = Stages.score(spark, s).collectAsList();
    System.out.printf("sgd-influence score stage: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    assertEquals(2 * 2 * K, rows.size());
    int q = 0;
    for (String query : queries.keySet()) {
      double[] scores = truth[q++];
      double scale = java.util.Arrays.stream(scores).map(Math::abs).max().orElseThrow();
      List<Integer> order = new ArrayList<>();
      for (int j = 0; j < scores.length; j++) {
        order.add(j);
      }
      order.sort(Comparator.comparingDouble(j -> -scores[j]));
      for (String direction : List.of("top", "bottom")) {
        List<Row> got = rows.stream().filter(r -> r.getString(0).equals(query) && r.getString(1).equals(direction))
            .sorted(Comparator.comparingInt(r -> r.getInt(2))).toList();
        for (int rank = 0; rank < K; rank++) {
          int j = direction.equals("top") ? order.get(rank) : order.get(order.size() - 1 - rank);
          Row r = got.get(rank);
          assertEquals(ids.get(j), r.getString(3), query + " " + direction + " rank " + (rank + 1));
          assertEquals(scores[j], r.getDouble(4), 1e-9 * scale, query + " " + direction + " " + ids.get(j));
          assertEquals("sgd-influence", r.getString(r.fieldIndex("method")));
          String rowId = LongText.rowId(ids.get(j));
          String text = rowId.equals("long") ? LONG : Files.readAllLines(corpusFile).get(Integer.parseInt(rowId) + 1)
              .replaceAll(".*\"text\": \"(.*)\"}", "$1");
          assertEquals(text, r.getString(r.fieldIndex("text")), "the corpus row's text is joined");
        }
      }
    }

    // the report shows the same rows, without needing a gradient store
    t0 = System.nanoTime();
    ReportBuilder.Built built = ReportBuilder.build(spark, s);
    List<String> shown = built.report().queries().stream().filter(r -> r.queryId().equals("q1"))
        .flatMap(r -> r.top().stream()).map(RankedSequence::trainId).toList();
    assertEquals(rows.stream().filter(r -> r.getString(0).equals("q1") && r.getString(1).equals("top"))
        .map(r -> r.getString(3)).toList(), shown);
    assertEquals("sgd-influence", built.parts().get(0).method());

    System.out.printf("report: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    // the same inputs reuse the output; changed queries recompute it
    t0 = System.nanoTime();
    assertEquals(rows, Stages.score(spark, s).collectAsList());
    System.out.printf("reuse: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    t0 = System.nanoTime();
    Files.writeString(queriesFile, Files.readString(queriesFile)
        + "{\"id\": \"q3\", \"prompt\": \"the grain\", \"completion\": \" of Brastow\"}\n");
    try {
      assertEquals(3 * 2 * K, Stages.score(spark, s).count(), "a new query is scored: the output was recomputed");
      System.out.printf("recompute: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    } finally {
      Files.writeString(queriesFile, String.join("\n", Files.readAllLines(queriesFile).subList(0, 2)) + "\n");
    }
  }

  /** The trainer's sequence list rebuilt by hand (texts in file order, windows of CONTEXT): ids and tokens. */
  private static Map<String, int[]> handSequences(Tokenizer tokenizer) throws Exception {
    Map<String, int[]> out = new LinkedHashMap<>();
    for (String line : Files.readAllLines(corpusFile)) {
      var row = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
      int[] tokens = tokenizer.encodeDocument(row.get("text").asText());
      for (int start = 0, w = 0; start < tokens.length; start += CONTEXT, w++) {
        int[] piece = java.util.Arrays.copyOfRange(tokens, start, Math.min(tokens.length, start + CONTEXT));
        if (piece.length >= 2) {
          out.put(tokens.length > CONTEXT ? row.get("id").asText() + "#w" + w : row.get("id").asText(), piece);
        }
      }
    }
    return out;
  }

  /**
   * {@code self-influence.method = sgd-influence}: every sequence's score equals the core's replay of its own final
   * gradient ({@link LmReplay#selfScores}, itself checked against retraining in SgdInfluenceLogisticTest) on the corpus
   * tokenised here; a corpus above {@code self-influence.sgd-influence-max-sequences} is refused before any work.
   */
  @Test
  void selfInfluence_sgdRun_equalsTheCoreReplayPerSequence_andIsBoundedBySetting() throws Exception {
    Path runDir = dir.resolve("run-sgd");
    Map<String, int[]> hand = handSequences(Tokenizer.fromTokenizerJson(runDir.resolve("tokenizer.json")));
    List<String> ids = new ArrayList<>(hand.keySet());
    int[] all = java.util.stream.IntStream.range(0, ids.size()).toArray();
    double[] truth = LmReplay.open(runDir, new ArrayList<>(hand.values())).selfScores(all, 4);
    double scale = java.util.Arrays.stream(truth).map(Math::abs).max().orElseThrow();

    InfluenceSettings s = settings("sgd", "out-self").with("self-influence.method", "sgd-influence")
        .with("self-influence.flag-fraction", "0.2");
    long t0 = System.nanoTime();
    List<Row> rows = Stages.selfInfluence(LocalSpark.get(), s).collectAsList();
    System.out.printf("sgd-influence self-influence stage: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    assertEquals(ids.size(), rows.size());
    for (Row r : rows) {
      int j = ids.indexOf(r.getString(0));
      assertTrue(j >= 0, "unknown id " + r.getString(0));
      assertEquals(truth[j], r.getDouble(1), 1e-9 * scale, "self-influence of " + ids.get(j));
    }
    assertEquals((long) Math.ceil(0.2 * ids.size()), rows.stream().filter(r -> r.getBoolean(3)).count());

    InfluenceSettings tooMany = settings("sgd", "out-self-2").with("self-influence.method", "sgd-influence")
        .with("self-influence.sgd-influence-max-sequences", "3");
    var e = assertThrows(IllegalArgumentException.class, () -> Stages.selfInfluence(LocalSpark.get(), tooMany));
    assertTrue(e.getMessage().contains("influence.self-influence.sgd-influence-max-sequences = 3")
        && e.getMessage().contains("HINT"), e.getMessage());
    assertTrue(!Files.exists(dir.resolve("out-self-2").resolve("self-influence")), "nothing written");
  }

  /**
   * {@code flag.method = sgd-influence}: one replay with both unwanted examples' final gradients; each sequence's
   * mean and max of the scores divided by the example's gradient norm equal the core replay's.
   */
  @Test
  void flag_sgdRun_meanAndMaxOfNormalisedReplayedScoresEqualTheCore() throws Exception {
    Path runDir = dir.resolve("run-sgd");
    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(runDir.resolve("tokenizer.json"));
    Map<String, int[]> hand = handSequences(tokenizer);
    List<String> ids = new ArrayList<>(hand.keySet());
    LmReplay replay = LmReplay.open(runDir, new ArrayList<>(hand.values()));
    List<TokenBatch> examples = List.of(batch(tokenizer, "q1", "the old mills of", " Brastow"),
        batch(tokenizer, "q2", "the river", " runs north"));
    double[][] g = replay.finalGradients(examples);
    double[][] scores = replay.scores(examples);
    double[][] normalised = new double[ids.size()][2];
    double scale = 0;
    for (int e = 0; e < 2; e++) {
      double norm = Math.sqrt(java.util.Arrays.stream(g[e]).map(x -> x * x).sum());
      for (int j = 0; j < ids.size(); j++) {
        normalised[j][e] = scores[e][j] / norm;
        scale = Math.max(scale, Math.abs(normalised[j][e]));
      }
    }
    InfluenceSettings s = settings("sgd", "out-flag").with("flag.method", "sgd-influence")
        .with("flag.examples", queriesFile.toString()).with("flag.top-k", "2");
    List<Row> rows = Stages.flag(LocalSpark.get(), s).collectAsList();
    assertEquals(ids.size(), rows.size());
    for (Row r : rows) {
      int j = ids.indexOf((String) r.getAs("train_id"));
      double[] x = normalised[j];
      assertEquals((x[0] + x[1]) / 2, (double) r.getAs("mean"), 1e-9 * scale, "mean of " + ids.get(j));
      assertEquals(Math.max(x[0], x[1]), (double) r.getAs("max"), 1e-9 * scale, "max of " + ids.get(j));
      assertEquals((long) r.getAs("rank") <= 2, r.getAs("flagged"));
    }
    assertTrue(Files.readString(dir.resolve("out-flag/flag/_flag.json")).contains("\"method\" : \"sgd-influence\""));
  }

  private static TokenBatch batch(Tokenizer tokenizer, String id, String prompt, String completion) {
    PromptCompletion p = PromptCompletion.encode(tokenizer, id, prompt, completion, CONTEXT);
    return new TokenBatch(new int[][] {p.tokens()}, new int[][] {p.lossMask()});
  }

  @Test
  void score_adamwRun_refusedNamingTheSetting() {
    InfluenceSettings s = settings("adamw", "out-adamw");
    var e = assertThrows(IllegalArgumentException.class, () -> Stages.score(LocalSpark.get(), s));
    assertTrue(e.getMessage().contains("\"adamw\"") && e.getMessage().contains("train.optimizer = sgd")
        && e.getMessage().contains(TrainingLogs.FILE), e.getMessage());
    assertTrue(!Files.exists(dir.resolve("out-adamw").resolve("scores")), "nothing written");
  }

  @Test
  void score_runWithoutExamplesFile_refusedWithHint() throws Exception {
    Path old = dir.resolve("run-old");
    copy(dir.resolve("run-sgd"), old);
    Files.delete(old.resolve(TrainingExamples.FILE));
    InfluenceSettings s = settings("sgd", "out-old").with("input.run", old.toString());
    var e = assertThrows(IllegalArgumentException.class, () -> Stages.score(LocalSpark.get(), s));
    assertTrue(e.getMessage().contains(TrainingExamples.FILE + " does not exist") && e.getMessage().contains("HINT: "),
        e.getMessage());
    // the code API still reads the log and replays the older run
    assertEquals(Optional.empty(), TrainingExamples.read(old));
    assertEquals(4, TrainingLogs.read(old).steps().size());
  }

  @Test
  void read_examplesFileWithUnknownFieldOrOtherLog_refusedNamingTheLine() throws Exception {
    Path bad = dir.resolve("run-bad");
    copy(dir.resolve("run-sgd"), bad);
    Path file = bad.resolve(TrainingExamples.FILE);
    List<String> lines = new ArrayList<>(Files.readAllLines(file));
    assertEquals(TrainingLogs.read(bad).corpusSize() + 1, lines.size());
    lines.set(2, lines.get(2).replace("{", "{\"window\": 1, "));
    Files.write(file, lines);
    var e = assertThrows(CheckpointFormatException.class, () -> TrainingExamples.read(bad));
    assertTrue(e.getMessage().contains("line 3 has unknown field \"window\""), e.getMessage());
    lines.set(2, lines.get(2).replace("{\"window\": 1, ", "{"));
    Files.write(file, lines);
    assertEquals(lines.size() - 1, TrainingExamples.read(bad).orElseThrow().size());
    Files.writeString(bad.resolve(TrainingLogs.FILE), Files.readString(bad.resolve(TrainingLogs.FILE)) + "\n");
    e = assertThrows(CheckpointFormatException.class, () -> TrainingExamples.read(bad));
    assertTrue(e.getMessage().contains("belongs to another " + TrainingLogs.FILE), e.getMessage());
  }

  private static void copy(Path from, Path to) throws Exception {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : files.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }
}
