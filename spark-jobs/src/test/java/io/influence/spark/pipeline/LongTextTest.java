package io.influence.spark.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.LongText;
import io.influence.spark.config.Settings;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Runs;
import io.influence.spark.report.RankedSequence;
import io.influence.spark.report.ReportBuilder;
import io.influence.spark.report.TokenContribution;
import io.influence.spark.store.GradientStore;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.train.TrainJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code influence.input.long-text}: {@code train} and the corpus stages cut a text longer than the model's context
 * the same way, so a corpus {@code train} learnt from runs through extract, score and the report as it is.
 */
class LongTextTest {

  private static final int CONTEXT = 24;
  private static final String LONG = "the old mills of Brastow grind the grain of the valley every autumn, and the "
      + "river that turns their wheels runs north past the chapel and the ferry to the sea.";

  @TempDir
  static Path dir;

  private static InfluenceSettings settings;
  private static Path corpusFile;

  @BeforeAll
  static void trainOnLongTexts() throws Exception {
    corpusFile = dir.resolve("corpus.jsonl");
    StringBuilder corpus = new StringBuilder();
    corpus.append("{\"id\": \"long-a\", \"text\": \"").append(LONG).append("\"}\n");
    corpus.append("{\"id\": \"long-b\", \"text\": \"").append(LONG.toUpperCase()).append(" 森の中 🙂\"}\n");
    for (int i = 0; i < 4; i++) {
      corpus.append("{\"id\": \"short-").append(i).append("\", \"text\": \"the river runs ").append(i).append("\"}\n");
    }
    Files.writeString(corpusFile, corpus);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q\", \"prompt\": \"the old mills of\", \"completion\": \" Brastow\"}\n");
    Map<String, String> o = new LinkedHashMap<>();
    o.put("train.vocab-size", "300");
    o.put("train.context", String.valueOf(CONTEXT));
    o.put("train.width", "16");
    o.put("train.layers", "1");
    o.put("train.heads", "2");
    o.put("train.steps", "3");
    o.put("train.batch-size", "4");
    o.put("train.checkpoints", "1");
    o.put("input.corpus", corpusFile.toString());
    o.put("input.queries", queries.toString());
    o.put("input.run", dir.resolve("run").toString());
    o.put("output.dir", dir.resolve("out").toString());
    o.put("score.top-k", "40");
    settings = Settings.load(Optional.empty(), o);
    assertEquals(LongText.WINDOWS, settings.input().longText(), "the default");
    TrainJob.run(corpusFile, dir.resolve("run"), settings.train(), settings.input().longText(), line -> { });
  }

  @Test
  void trainThenRun_longTexts_windowsAreExtractedScoredAndShownWithTheirOwnTokens() throws Exception {
    SparkSession spark = LocalSpark.get();
    Stages.extract(spark, settings);
    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(dir.resolve("run").resolve("tokenizer.json"));
    int[] longA = tokenizer.encode(LONG);
    assertTrue(longA.length > 2 * CONTEXT, "the long text must need three windows, has " + longA.length);
    String checkpoint = GradientStore.checkpoints(new org.apache.hadoop.fs.Path(dir.resolve("out")
        .resolve(Stages.GRADIENTS).toUri())).get(0);
    Set<String> ids = new TreeSet<>();
    for (Row r : GradientStore.read(spark, new org.apache.hadoop.fs.Path(dir.resolve("out").resolve(Stages.GRADIENTS)
        .toUri()), checkpoint).select("id").collectAsList()) {
      ids.add(r.getString(0));
    }
    assertTrue(ids.containsAll(List.of("long-a#w0", "long-a#w1", "long-a#w2", "short-0", "short-3")), ids.toString());
    assertTrue(!ids.contains("long-a") && !ids.contains("long-b"), "a windowed row has no sequence of its own id");

    Stages.score(spark, settings).collectAsList();
    ReportBuilder.Built built = ReportBuilder.build(spark, settings);
    Map<String, RankedSequence> shown = new HashMap<>();
    built.report().queries().forEach(q -> q.top().forEach(r -> shown.put(r.trainId(), r)));
    assertEquals(ids, new TreeSet<>(shown.keySet()), "top-k above the row count shows every sequence");
    RankedSequence w1 = shown.get("long-a#w1");
    String shownText = w1.tokens().stream().map(TokenContribution::text).collect(Collectors.joining());
    int[] window = java.util.Arrays.copyOfRange(longA, CONTEXT, 2 * CONTEXT);
    assertEquals(tokenizer.decode(window), shownText, "the report shows window 1's own tokens");
  }

  @Test
  void prepare_truncate_keepsTheFirstContextTokensUnderTheRowsId() throws Exception {
    SparkSession spark = LocalSpark.get();
    var run = Runs.read(spark.sparkContext().hadoopConfiguration(), dir.resolve("run").toString(),
        OptionalDouble.empty());
    TokenizedCorpus t = TokenizedCorpus.prepare(spark, Corpus.read(spark, corpusFile), run.checkpoints().get(0),
        BadRows.FAIL, LongText.TRUNCATE);
    Map<String, Integer> lengths = new HashMap<>();
    t.rows().collectAsList().forEach(r -> lengths.put(r.getString(0), r.getList(1).size()));
    t.release();
    assertEquals(Set.of("long-a", "long-b", "short-0", "short-1", "short-2", "short-3"), lengths.keySet());
    assertEquals(CONTEXT, lengths.get("long-a"));
    assertEquals(CONTEXT, lengths.get("long-b"));
  }

  @Test
  void prepare_error_refusesLongRowsNamingTheSetting() throws Exception {
    SparkSession spark = LocalSpark.get();
    var run = Runs.read(spark.sparkContext().hadoopConfiguration(), dir.resolve("run").toString(),
        OptionalDouble.empty());
    var e = assertThrows(IllegalArgumentException.class, () -> TokenizedCorpus.prepare(spark,
        Corpus.read(spark, corpusFile), run.checkpoints().get(0), BadRows.FAIL, LongText.ERROR));
    assertTrue(e.getMessage().contains("2 corpus row(s)") && e.getMessage().contains("long-a (")
        && e.getMessage().contains("over the model's context of " + CONTEXT + " with influence.input.long-text = error;"
        + " set it to windows or truncate"), e.getMessage());
  }

  @Test
  void train_error_refusesALongTextNamingTheSetting() {
    var e = assertThrows(IllegalArgumentException.class, () -> TrainJob.run(corpusFile, dir.resolve("run-error"),
        settings.train(), LongText.ERROR, line -> { }));
    assertTrue(e.getMessage().contains("text 1 has") && e.getMessage().contains("influence.input.long-text = error")
        && e.getMessage().contains("HINT: set influence.input.long-text = windows or truncate"), e.getMessage());
  }

  @Test
  void prepare_idShapedLikeAWindow_isABadRowSoWindowIdsNeverCollide() throws Exception {
    SparkSession spark = LocalSpark.get();
    Path file = dir.resolve("window-like.jsonl");
    Files.writeString(file, "{\"id\": \"x#w1\", \"text\": \"the river runs north\"}\n"
        + "{\"id\": \"x#wide\", \"text\": \"the river runs south\"}\n");
    var run = Runs.read(spark.sparkContext().hadoopConfiguration(), dir.resolve("run").toString(),
        OptionalDouble.empty());
    var e = assertThrows(IllegalArgumentException.class, () -> TokenizedCorpus.prepare(spark,
        Corpus.read(spark, file), run.checkpoints().get(0), BadRows.FAIL, LongText.WINDOWS));
    assertTrue(e.getMessage().startsWith("1 corpus row(s)") && e.getMessage().contains("x#w1 (its id ends in #w and "
        + "digits"), e.getMessage());
  }

  @Test
  void pieces_eachPolicy_andSequenceFindsTheWindowBack() {
    int[] tokens = new int[21];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = i;
    }
    List<int[]> windows = LongText.WINDOWS.pieces(tokens, 10);
    assertEquals(2, windows.size(), "the trailing single-token window is dropped");
    assertArrayEquals(java.util.Arrays.copyOfRange(tokens, 10, 20), windows.get(1));
    assertArrayEquals(windows.get(1), LongText.sequence(LongText.windowId("a#b", 1), tokens, 10));
    assertEquals("a#b#w1", LongText.WINDOWS.pieceId("a#b", 1, 21, 10));
    assertEquals("a#b", LongText.rowId("a#b#w1"));
    assertEquals("a#wx", LongText.rowId("a#wx"));
    assertEquals(List.of(10), LongText.TRUNCATE.pieces(tokens, 10).stream().map(p -> p.length).toList());
    assertEquals("a", LongText.TRUNCATE.pieceId("a", 0, 21, 10));
    assertEquals(List.of(21), LongText.ERROR.pieces(tokens, 10).stream().map(p -> p.length).toList());
    assertEquals(List.of(21), LongText.WINDOWS.pieces(tokens, 30).stream().map(p -> p.length).toList());
    var bad = assertThrows(IllegalArgumentException.class, () -> Settings.load(Optional.empty(),
        Map.of("input.long-text", "split")));
    assertTrue(bad.getMessage().contains("influence.input.long-text must be \"windows\", \"truncate\" or \"error\""),
        bad.getMessage());
  }
}
