package io.influence.spark.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.flag.FlagJob;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Queries;
import io.influence.spark.report.TokenContributions;
import io.influence.spark.score.QueryGradientFile;
import io.influence.spark.store.GradientStore;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code influence flag} from the command line: its preflight, and its outputs on a tiny real run. */
class FlagCommandTest {

  @TempDir Path dir;

  private static int run(StringWriter err, String... args) {
    CommandLine cl = InfluenceCommand.commandLine();
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  @Test
  void flag_missingExamplesFile_failsBeforeSparkInOneLineNamingKeyAndFile() throws Exception {
    Path out = dir.resolve("out");
    StringWriter err = new StringWriter();
    int code = run(err, "flag", "--corpus", dir.resolve("corpus.jsonl").toString(), "--run", dir.resolve("run").toString(),
        "--examples", dir.resolve("no-such-examples.jsonl").toString(), "--out", out.toString(), "--master", "local[1]");
    List<String> lines = err.toString().lines().toList();
    assertEquals(Failures.USER_ERROR, code, lines.toString());
    assertEquals(1, lines.size(), lines.toString());
    assertTrue(lines.get(0).startsWith("influence: influence.flag.examples = ")
        && lines.get(0).contains("no-such-examples.jsonl") && lines.get(0).contains("HINT"), lines.get(0));
    assertFalse(Files.exists(out), "nothing claimed");

    StringWriter err2 = new StringWriter();
    int code2 = run(err2, "flag", "--corpus", "c.jsonl", "--run", "r", "--out", out.toString());
    assertEquals(Failures.USER_ERROR, code2);
    assertTrue(err2.toString().startsWith("influence: influence.flag.examples is required for flag"), err2.toString());
  }

  @Test
  void flag_afterExtract_writesDocumentedColumns_andReusesItsOutput() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    Path examples = dir.resolve("unwanted.jsonl");
    Files.writeString(examples, "{\"id\": \"ex-1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n"
        + "{\"id\": \"ex-2\", \"prompt\": \"a blue bird\", \"completion\": \" sings quietly.\"}\n");
    Path out = dir.resolve("out");
    String[] common = {"--corpus", tiny.corpus().toString(), "--run", dir.resolve("run").toString(), "--out",
        out.toString(), "--master", "local[2]", "-D", "extract.projection.k-in=6", "-D", "extract.projection.k-out=5"};
    assertEquals(0, run(new StringWriter(), concat(new String[] {"extract"}, common)));
    String[] flag = concat(new String[] {"flag", "--examples", examples.toString(), "-D", "flag.top-k=3"}, common);
    StringWriter err = new StringWriter();
    assertEquals(0, run(err, flag), err.toString());

    Path folder = out.resolve("flag");
    List<String> lines = Files.readAllLines(folder.resolve(FlagJob.JSON_LINES));
    assertEquals(tiny.ids().size(), lines.size());
    ObjectMapper json = new ObjectMapper();
    int flagged = 0;
    for (int i = 0; i < lines.size(); i++) {
      JsonNode row = json.readTree(lines.get(i));
      List<String> keys = new ArrayList<>();
      for (Iterator<String> it = row.fieldNames(); it.hasNext(); ) {
        keys.add(it.next());
      }
      assertEquals(List.of("train_id", "score", "mean", "max", "quantile", "flagged", "rank", "strongest_example",
          "reason"), keys);
      assertEquals(i + 1, row.get("rank").asLong());
      assertEquals(row.get("max").asDouble(), row.get("score").asDouble(), 0.0);   // flag.aggregate's default
      assertTrue(row.get("max").asDouble() >= row.get("mean").asDouble());
      flagged += row.get("flagged").asBoolean() ? 1 : 0;
    }
    assertEquals(3, flagged);
    assertTrue(json.readTree(lines.get(0)).get("reason").asText().startsWith(
        "max normalised influence over 2 unwanted examples in the top 3 (rank 1 of 40); strongest on example ex-"));
    JsonNode p = json.readTree(folder.resolve(FlagJob.PROVENANCE).toFile());
    // the defaults: EK-FAC over the positive per-position terms, its factors fitted by flag itself after extract
    assertEquals("ekfac", p.get("method").asText());
    assertEquals("positive-tokens", p.get("span").asText());
    assertTrue(Files.isDirectory(out.resolve("factors")), "flag fitted the missing EK-FAC factors");
    assertEquals(1, p.get("checkpoints").size(), "EK-FAC's influence function of the final model (ekfac.checkpoints)");
    assertEquals(64, p.get("settings_fingerprint").asText().length());
    assertTrue(Files.exists(out.resolve("_settings.flag.conf")));

    // the same inputs again: reused; other examples: refused without --overwrite
    long before = Files.getLastModifiedTime(folder.resolve(FlagJob.JSON_LINES)).toMillis();
    assertEquals(0, run(new StringWriter(), flag));
    assertEquals(before, Files.getLastModifiedTime(folder.resolve(FlagJob.JSON_LINES)).toMillis());
    Files.writeString(examples, "{\"id\": \"ex-3\", \"prompt\": \"the dog\", \"completion\": \" runs.\"}\n");
    assertEquals(0, run(new StringWriter(), flag), "changed example content recomputes");
    assertEquals(1, new ObjectMapper().readTree(folder.resolve(FlagJob.PROVENANCE).toFile()).get("examples")
        .get("ids").size());

    // flag.span = positive-tokens against the report's token contributions (TokenContributions, on the driver from
    // the score stage's saved query gradients), and their plain sums against the store pass of flag.span = sequence
    Path two = dir.resolve("two.jsonl");
    Files.writeString(two, "{\"id\": \"ex-1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n"
        + "{\"id\": \"ex-2\", \"prompt\": \"a blue bird\", \"completion\": \" sings quietly.\"}\n");
    assertEquals(0, run(new StringWriter(), concat(new String[] {"flag", "--examples", two.toString(), "-D",
        "flag.method=tracin", "-D", "flag.span=positive-tokens", "-D", "flag.folder=flag-tokens"}, common)));
    assertEquals(0, run(new StringWriter(), concat(new String[] {"flag", "--examples", two.toString(), "-D",
        "flag.method=tracin", "-D", "flag.span=sequence", "-D", "flag.folder=flag-sequence"}, common)));
    assertEquals(0, run(new StringWriter(), concat(new String[] {"score", "--queries", two.toString(), "-D",
        "score.folder=scores-two"}, common)));
    Map<String, JsonNode> tokens = byId(out.resolve("flag-tokens").resolve(FlagJob.JSON_LINES));
    Map<String, JsonNode> sequence = byId(out.resolve("flag-sequence").resolve(FlagJob.JSON_LINES));
    assertEquals("positive-tokens", json.readTree(out.resolve("flag-tokens").resolve(FlagJob.PROVENANCE).toFile())
        .get("span").asText());
    QueryGradientFile.Scored scored = QueryGradientFile.read(out.resolve("scores-two"));
    assertTrue(scored.unit(), "TracIn's default gradients are unit-normalised");
    SparkSession spark = LocalSpark.get();
    Path store = out.resolve("gradients");
    List<TokenContributions.At> at = new ArrayList<>();
    for (RunCheckpoint c : tiny.run().checkpoints()) {
      at.add(new TokenContributions.At(c, GradientStore.metadata(spark, store, ExtractJob.checkpointName(c))));
    }
    TokenizedCorpus corpus = TokenizedCorpus.prepare(spark, Corpus.read(spark, tiny.corpus()),
        tiny.run().checkpoints().get(0), BadRows.FAIL, LongText.ERROR);
    Map<String, int[]> sequences = new LinkedHashMap<>();
    for (Row r : corpus.rows().collectAsList()) {
      sequences.put(r.getString(0), r.getList(1).stream().mapToInt(v -> (Integer) v).toArray());
    }
    corpus.release();
    List<Queries.Query> unwanted = Queries.read(spark, two.toString());
    Map<String, Set<String>> pairs = new LinkedHashMap<>();
    unwanted.forEach(q -> pairs.put(q.id(), sequences.keySet()));
    Map<String, Map<String, double[]>> terms = TokenContributions.compute(unwanted, at, scored, sequences, pairs);
    // unit gradients: each example's scoring vector is [w_1 q̂_1, w_2 q̂_2] / ‖·‖, so its norm is √Σ w_i²
    double norm = Math.sqrt(scored.checkpoints().stream().mapToDouble(c -> scored.weight(c) * scored.weight(c)).sum());
    assertEquals(sequences.keySet(), tokens.keySet());
    for (String id : sequences.keySet()) {
      double posMax = Double.NEGATIVE_INFINITY;
      double posSum = 0;
      double plainSum = 0;
      for (Queries.Query q : unwanted) {
        double pos = 0;
        double plain = 0;
        for (double c : terms.get(q.id()).get(id)) {
          pos += Math.max(0, c) / norm;
          plain += c / norm;
        }
        posMax = Math.max(posMax, pos);
        posSum += pos;
        plainSum += plain;
      }
      assertClose(posMax, tokens.get(id).get("max").asDouble(), 1e-6, "positive-tokens max of " + id);
      assertClose(posSum / unwanted.size(), tokens.get(id).get("mean").asDouble(), 1e-6, "positive-tokens mean of " + id);
      // float32 stored gradients against recomputed factors
      assertClose(plainSum / unwanted.size(), sequence.get(id).get("mean").asDouble(), 1e-4, "sequence mean of " + id);
      assertTrue(tokens.get(id).get("max").asDouble() >= sequence.get(id).get("max").asDouble() - 1e-6, id);
    }
  }

  private static Map<String, JsonNode> byId(Path jsonLines) throws Exception {
    Map<String, JsonNode> out = new LinkedHashMap<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(jsonLines)) {
      JsonNode row = json.readTree(line);
      out.put(row.get("train_id").asText(), row);
    }
    return out;
  }

  private static void assertClose(double want, double got, double relative, String what) {
    assertEquals(want, got, relative * Math.max(1e-9, Math.abs(want)), what);
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
