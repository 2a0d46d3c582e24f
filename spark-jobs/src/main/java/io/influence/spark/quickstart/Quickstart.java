package io.influence.spark.quickstart;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.Sessions;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.report.ReportWriter;
import io.influence.spark.reporting.ReportBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The one-command quickstart: writes the embedded example ({@link Example}), trains a small GPT-2
 * on it ({@link TrainJob}), runs the pipeline (extract, self-influence, score), builds the HTML
 * report, and prints each query's top 3 training sequences, whether the planted ones came out on
 * top, and where everything is. Layout under the output folder: {@code example/} (corpus and
 * queries), {@code run/} (tokenizer, checkpoints, manifest), {@code gradients/},
 * {@code self-influence/}, {@code scores/}, {@code report/index.html}.
 */
public final class Quickstart {

  /**
   * What a quickstart produced. {@code hitAt1}: fraction of queries whose top training sequence is
   * one of its planted ones; {@code recallAt3}: fraction of planted sequences (3 per query) found
   * in their query's top 3.
   */
  public record Result(Path out, Path report, Map<String, List<String>> top3, Map<String, List<String>> planted,
                       double hitAt1, double recallAt3, double seconds) {}

  private Quickstart() {}

  public static Result run(Config settings, boolean overwrite, Consumer<String> print) {
    try (InProcessThreads.Limit limit = InProcessThreads.limitUnlessSet(1)) {
      if (limit.applied()) {
        print.accept("quickstart: 1 BLAS thread per task (set OMP_NUM_THREADS to choose)");
      }
      return runWithThreads(settings, overwrite, print);
    }
  }

  private static Result runWithThreads(Config settings, boolean overwrite, Consumer<String> print) {
    long t0 = System.nanoTime();
    Path out = Path.of(settings.getString("output.dir")).toAbsolutePath().normalize();
    prepare(out, overwrite);
    Config q = settings.getConfig("quickstart");
    String method = q.getString("method");
    if (!method.equals("tracin")) {
      throw new IllegalArgumentException("influence.quickstart.method = \"" + method + "\" is not available: the "
          + "score stage of this build runs \"tracin\". HINT: use -D quickstart.method=tracin");
    }
    TrainSettings train = TrainSettings.from(settings);
    Example.Written example = Example.write(out.resolve("example"), q.getInt("fortunes"), q.getInt("max-chars"),
        train.seed());
    print.accept("quickstart: " + example.fortunes() + " fortunes (Debian fortunes-min) + "
        + example.planted().values().stream().mapToInt(List::size).sum() + " planted sequences stating "
        + example.planted().size() + " invented facts -> " + example.corpus());
    Path runDir = out.resolve("run");
    TrainJob.Result trained = TrainJob.run(example.corpus(), runDir, train, print);
    checkFits(example.corpus(), trained, train.context());
    long tTrained = System.nanoTime();
    print.accept(String.format("trained %d steps: loss %.3f -> %.3f; %d checkpoints in %s", train.steps(),
        trained.firstLoss(), trained.lastLoss(), trained.run().checkpoints().size(), runDir));

    Config s = settings
        .withValue("input.corpus", ConfigValueFactory.fromAnyRef(example.corpus().toString()))
        .withValue("input.queries", ConfigValueFactory.fromAnyRef(example.queries().toString()))
        .withValue("input.run", ConfigValueFactory.fromAnyRef(runDir.toString()))
        .withValue("output.dir", ConfigValueFactory.fromAnyRef(out.toString()));
    SparkSession spark = Sessions.create(s);
    Map<String, List<String>> top3 = new LinkedHashMap<>();
    Path reportFile = out.resolve("report").resolve("index.html");
    List<String> lines = new ArrayList<>();
    long[] tPipeline = {0};
    try {
      Stages.extract(spark, s, false);
      Stages.selfInfluence(spark, s, false);
      List<Row> rows = new ArrayList<>(Stages.score(spark, s, false).collectAsList());
      rows.removeIf(r -> !"top".equals(r.getAs("direction")) || (int) r.getAs("rank") > 3);
      rows.sort(Comparator.comparing((Row r) -> (String) r.getAs("query_id")).thenComparing(r -> (int) r.getAs("rank")));
      for (Row r : rows) {
        String qid = r.getAs("query_id");
        String tid = r.getAs("train_id");
        top3.computeIfAbsent(qid, k -> new ArrayList<>()).add(tid);
        String text = r.getAs("text");
        boolean planted = example.planted().getOrDefault(qid, List.of()).contains(tid);
        lines.add(String.format("  #%d %-13s %11.4g  %-6s %s %s", (int) r.getAs("rank"), tid, (double) r.getAs("score"),
            r.getAs("method"), planted ? "PLANTED" : "       ", shorten(text, 80)));
      }
      tPipeline[0] = System.nanoTime();
      ReportWriter.write(ReportBuilder.build(spark, s).report(), reportFile);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the report " + reportFile + ": " + e.getMessage(), e);
    } finally {
      spark.stop();
    }
    int hits = 0;
    int found = 0;
    int plantedTotal = 0;
    Map<String, Example.Fact> facts = new LinkedHashMap<>();
    for (int f = 0; f < Example.FACTS.size(); f++) {
      facts.put(String.format("q%02d-%s", f + 1, Example.FACTS.get(f).key()), Example.FACTS.get(f));
    }
    int line = 0;
    List<String> missed = new ArrayList<>();
    for (Map.Entry<String, List<String>> e : example.planted().entrySet()) {
      List<String> top = top3.getOrDefault(e.getKey(), List.of());
      Example.Fact fact = facts.get(e.getKey());
      print.accept(e.getKey() + ": \"" + fact.prompt() + "\" -> \"" + fact.completion() + "\"");
      for (int k = 0; k < top.size(); k++) {
        print.accept(lines.get(line++));
      }
      if (!top.isEmpty() && e.getValue().contains(top.get(0))) {
        hits++;
      } else {
        missed.add(e.getKey());
      }
      found += (int) top.stream().filter(e.getValue()::contains).count();
      plantedTotal += Math.min(3, e.getValue().size());
    }
    double hitAt1 = (double) hits / example.planted().size();
    double recallAt3 = (double) found / plantedTotal;
    long tEnd = System.nanoTime();
    double seconds = (tEnd - t0) / 1e9;
    print.accept(String.format("planted facts: %d of %d queries have a planted sequence first (hit@1 %.2f); "
        + "%d of %d planted sequences are in their query's top 3 (recall@3 %.2f)%s", hits, example.planted().size(),
        hitAt1, found, plantedTotal, recallAt3, missed.isEmpty() ? "."
            : ". NOT first for " + String.join(", ", missed) + ": TracIn ranked other text above the planted "
            + "sequences there."));
    print.accept("outputs: " + out + " (example/, run/, gradients/, self-influence/, scores/summary.jsonl)");
    print.accept("report:  " + reportFile);
    print.accept(String.format("took %.1f s (example and training %.1f s, extract + self-influence + score %.1f s, "
        + "report %.1f s)", seconds, (tTrained - t0) / 1e9, (tPipeline[0] - tTrained) / 1e9, (tEnd - tPipeline[0]) / 1e9));
    return new Result(out, reportFile, top3, example.planted(), hitAt1, recallAt3, seconds);
  }

  private static void checkFits(Path corpus, TrainJob.Result trained, int context) {
    try {
      Tokenizer tokenizer = Tokenizer.fromTokenizerJson(trained.tokenizerJson());
      for (String text : TrainJob.readTexts(corpus)) {
        int n = tokenizer.encode(text).length;
        if (n > context) {
          throw new IllegalStateException("quickstart sequence \"" + shorten(text, 40) + "\" has " + n
              + " tokens, over the context of " + context + ". HINT: lower quickstart.max-chars or raise train.context");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Refuses a non-empty folder that is not a previous quickstart; with overwrite, clears a previous quickstart. */
  private static void prepare(Path out, boolean overwrite) {
    try {
      if (!Files.isDirectory(out) || isEmpty(out)) {
        Files.createDirectories(out);
        return;
      }
      if (!Files.exists(out.resolve("example").resolve("corpus.jsonl"))) {
        throw new IllegalStateException(out + " is not empty and holds no previous quickstart. HINT: choose another "
            + "--out folder");
      }
      if (!overwrite) {
        throw new IllegalStateException(out + " holds a previous quickstart. HINT: pass --overwrite to replace it, "
            + "or choose another --out folder");
      }
      try (var walk = Files.walk(out)) {
        for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
          if (!p.equals(out)) {
            Files.delete(p);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare " + out + ": " + e.getMessage(), e);
    }
  }

  private static boolean isEmpty(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }

  static String shorten(String text, int max) {
    if (text == null) {
      return "";
    }
    String t = text.replace('\n', ' ');
    return t.length() <= max ? t : t.substring(0, max - 3) + "...";
  }
}
