package io.influence.spark.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What a person sees after an ordinary mistake: one line naming the setting or address and the fix, exit status 2,
 * no stack trace (unless {@code --verbose}), and no claimed output folder; a bug still shows its trace.
 */
class CommandLineErrorsTest {

  @TempDir Path dir;

  private record Ran(int code, List<String> err) {}

  private static Ran run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cl = InfluenceCommand.commandLine();
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Ran(code, err.toString().lines().toList());
  }

  @Test
  void score_withoutCorpus_oneLineNamingTheSetting_noTrace_noClaimedFolder() throws Exception {
    Path out = dir.resolve("out");
    Ran r = run("score", "--out", out.toString(), "--master", "local[1]");
    assertEquals(Failures.USER_ERROR, r.code());
    assertEquals(1, r.err().size(), r.err().toString());
    assertTrue(r.err().get(0).startsWith("influence: influence.input.corpus is required for score")
        && r.err().get(0).contains("HINT"), r.err().toString());
    assertFalse(Files.exists(out) && Files.list(out).findAny().isPresent(), "a failed command claims no folder");
  }

  @Test
  void extract_missingCorpusFile_failsInOneLine_andLeavesNoClaim() throws Exception {
    io.influence.spark.testing.TinyRun.create(dir);
    Path out = dir.resolve("out-missing");
    Ran r = run("extract", "--corpus", dir.resolve("no-such-corpus.jsonl").toString(), "--run",
        dir.resolve("run").toString(), "--out", out.toString(), "--master", "local[1]");
    assertEquals(Failures.USER_ERROR, r.code(), r.err().toString());
    assertTrue(r.err().get(r.err().size() - 1).contains("no-such-corpus.jsonl"), r.err().toString());
    assertFalse(r.err().stream().anyMatch(l -> l.startsWith("\tat ")), r.err().toString());
    assertFalse(Files.exists(out), "a failed command claims no folder: " + r.err());
  }

  /** A bad JSON Lines line is named before Spark starts: with an unreachable master the error is still the line's. */
  @Test
  void extract_corpusWithBadLine3_namesFileAndLineBeforeSparkStarts() throws Exception {
    Path corpus = dir.resolve("bad.jsonl");
    Files.writeString(corpus, "{\"id\": \"a\", \"text\": \"one\"}\n{\"id\": \"b\", \"text\": \"two\"}\n"
        + "{\"id\": \"c\", \"text\": \"three\"\n");
    Path out = dir.resolve("out-bad-line");
    Ran r = run("extract", "--corpus", corpus.toString(), "--run", dir.resolve("run").toString(), "--out",
        out.toString(), "--master", "spark://127.0.0.1:1");
    assertEquals(Failures.USER_ERROR, r.code(), r.err().toString());
    String last = r.err().get(r.err().size() - 1);
    assertTrue(last.contains("bad.jsonl line 3") && last.contains("HINT"), last);
    assertFalse(r.err().stream().anyMatch(l -> l.contains("cannot reach")), "Spark was not started: " + r.err());
    assertFalse(Files.exists(out), "nothing claimed: " + r.err());
  }

  @Test
  void extract_projectionLargerThanTheLayers_isRefusedBeforeAnyWork() throws Exception {
    io.influence.spark.testing.TinyRun tiny = io.influence.spark.testing.TinyRun.create(dir);   // width 16
    Path out = dir.resolve("out-big");
    Ran r = run("extract", "--corpus", tiny.corpus().toString(), "--run", dir.resolve("run").toString(), "--out",
        out.toString(), "--master", "local[1]", "-D", "extract.projection.k-in=100000");
    assertEquals(Failures.USER_ERROR, r.code(), r.err().toString());
    String last = r.err().get(r.err().size() - 1);
    assertTrue(last.contains("influence.extract.projection.k-in = 100000") && last.contains("17")
        && last.contains("HINT"), last);
    assertFalse(Files.exists(out), "nothing claimed: " + r.err());
  }

  @Test
  void unknownSetting_isNamed_andVerboseAddsTheTrace() {
    Ran r = run("extract", "-D", "extract.projection.kin=8", "--out", dir.resolve("o").toString());
    assertEquals(Failures.USER_ERROR, r.code());
    assertEquals(1, r.err().size(), r.err().toString());
    assertTrue(r.err().get(0).contains("extract.projection.kin"), r.err().toString());
    Ran verbose = run("extract", "-D", "extract.projection.kin=8", "--verbose", "--out", dir.resolve("o").toString());
    assertEquals(Failures.USER_ERROR, verbose.code());
    assertTrue(verbose.err().stream().anyMatch(l -> l.startsWith("\tat ")), verbose.err().toString());
    assertTrue(verbose.err().get(verbose.err().size() - 1).contains("extract.projection.kin"));
  }

  @Test
  void unreachableMaster_failsFast_lastLineSaysCannotReachIt() {
    Ran r = run("extract", "--corpus", "c.jsonl", "--run", "run", "--out", dir.resolve("o").toString(),
        "--master", "spark://127.0.0.1:1");
    assertEquals(Failures.USER_ERROR, r.code());
    assertTrue(r.err().get(r.err().size() - 1).contains("cannot reach spark://127.0.0.1:1"), r.err().toString());
    assertFalse(r.err().stream().anyMatch(l -> l.startsWith("\tat ")), r.err().toString());
  }

  @Test
  void listSettingWithoutBrackets_isRefusedWithTheSyntaxThatWorks() {
    Ran r = run("extract", "-D", "extract.layers=h.1.mlp.c_fc", "--out", dir.resolve("o").toString());
    assertEquals(Failures.USER_ERROR, r.code());
    assertTrue(r.err().get(0).contains("-D 'extract.layers=[\"first\", \"second\"]'"), r.err().toString());
  }

  @Test
  void bug_showsItsTrace_andExitsOne() {
    StringWriter err = new StringWriter();
    int code = Failures.report(new NullPointerException("boom"), false, new PrintWriter(err, true));
    assertEquals(Failures.BUG, code);
    assertTrue(err.toString().contains("\tat ") && err.toString().contains("boom"), err.toString());
  }
}
