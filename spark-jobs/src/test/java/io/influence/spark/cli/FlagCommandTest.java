package io.influence.spark.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.spark.flag.FlagJob;
import io.influence.spark.testing.TinyRun;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
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
    assertEquals("tracin", p.get("method").asText());
    assertEquals(2, p.get("checkpoints").size());
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
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
