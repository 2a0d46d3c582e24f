package io.influence.spark.quickstart;

import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Method;
import io.influence.spark.config.QuickstartSettings;
import io.influence.spark.config.Sessions;
import io.influence.spark.config.TrainSettings;
import io.influence.spark.io.Locations;
import io.influence.spark.method.InfluenceMethod;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.train.TrainJob;
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
 * on it ({@link TrainJob}), runs the pipeline (extract, fit-ekfac, self-influence, then score with
 * each of {@code quickstart.methods}: TracIn and EK-FAC by default), builds the HTML report with
 * both methods side by side, and prints each query's top 3 training sequences per method, whether
 * the planted ones came out on top, and where everything is. Layout under the output folder:
 * {@code example/} (corpus and queries), {@code run/} (tokenizer, checkpoints, manifest),
 * {@code gradients/}, {@code factors/}, {@code self-influence/}, {@code scores/} (the first
 * method), {@code scores-ekfac/} (the second), {@code report/index.html}.
 */
public final class Quickstart {

  /**
   * One scoring method's outcome. {@code hitAt1}: fraction of queries whose top training sequence
   * is one of its planted ones; {@code recallAt3}: fraction of planted sequences (3 per query)
   * found in their query's top 3.
   */
  public record MethodResult(String method, String folder, Map<String, List<String>> top3, double hitAt1,
                             double recallAt3) {}

  /** What a quickstart produced: per scoring method (in the order run), its top 3 and recall. */
  public record Result(Path out, Path report, Map<String, MethodResult> methods, Map<String, List<String>> planted,
                       double seconds) {}

  private Quickstart() {}

  public static Result run(InfluenceSettings settings, Consumer<String> print) {
    try (BlasThreads limit = BlasThreads.setUnlessEnvironmentSays(1)) {
      if (limit.applied()) {
        print.accept("quickstart: 1 BLAS thread per task (set OMP_NUM_THREADS to choose)");
      }
      return runWithThreads(settings, print);
    }
  }

  /** The score folder of the {@code i}-th method: {@code scores} for the first, {@code scores-<method>} after. */
  static String folder(List<String> methods, int i) {
    return i == 0 ? Stages.SCORES : Stages.SCORES + "-" + methods.get(i);
  }

  private static Result runWithThreads(InfluenceSettings settings, Consumer<String> print) {
    long t0 = System.nanoTime();
    Path out = Path.of(settings.output().dir()).toAbsolutePath().normalize();
    QuickstartSettings q = settings.quickstart();
    List<String> methods = q.methods().stream().map(Method::word).toList();
    if (methods.stream().distinct().count() != methods.size()) {
      throw new IllegalArgumentException("influence.quickstart.methods = " + methods + " must list each method once. "
          + "HINT: -D quickstart.methods=[tracin,ekfac]");
    }
    boolean factors = q.methods().stream().filter(m -> m != Method.REPRESENTER)
        .anyMatch(m -> InfluenceMethod.of(m, settings).needsFactors());
    prepare(out, settings.output().overwrite());
    TrainSettings train = settings.train();
    Example.Written example = Example.write(out.resolve("example"), q.fortunes(), q.maxChars(), train.seed());
    print.accept("quickstart: " + example.fortunes() + " fortunes (Debian fortunes-min) + "
        + example.planted().values().stream().mapToInt(List::size).sum() + " planted sequences stating "
        + example.planted().size() + " invented facts -> " + example.corpus());
    Path runDir = out.resolve("run");
    TrainJob.Result trained = TrainJob.run(example.corpus(), runDir, train, settings.input().longText(), print);
    checkFits(example.corpus(), trained, train.context());
    long tTrained = System.nanoTime();
    print.accept(String.format("trained %d steps: loss %.3f -> %.3f; %d checkpoints in %s", train.steps(),
        trained.firstLoss(), trained.lastLoss(), trained.run().checkpoints().size(), runDir));

    List<String> folders = new ArrayList<>();
    for (int i = 0; i < methods.size(); i++) {
      folders.add(folder(methods, i));
    }
    InfluenceSettings s = settings.with("input.corpus", example.corpus().toString())
        .with("input.queries", example.queries().toString()).with("input.run", runDir.toString())
        .with("output.dir", out.toString()).with("report.scores", folders).with("output.overwrite", false);
    SparkSession spark = Sessions.create(s.spark());
    Map<String, List<Row>> kept = new LinkedHashMap<>();
    Path reportFile;
    long[] tPipeline = {0};
    try {
      Stages.extract(spark, s);
      if (factors) {
        Stages.fitEkfac(spark, s);
      }
      Stages.selfInfluence(spark, s);
      for (int i = 0; i < methods.size(); i++) {
        InfluenceSettings m = s.with("score.method", methods.get(i)).with("score.folder", folders.get(i));
        List<Row> rows = new ArrayList<>(Stages.score(spark, m).collectAsList());
        rows.removeIf(r -> !"top".equals(r.getAs("direction")) || (int) r.getAs("rank") > 3);
        rows.sort(Comparator.comparing((Row r) -> (String) r.getAs("query_id"))
            .thenComparing(r -> (int) r.getAs("rank")));
        kept.put(methods.get(i), rows);
      }
      tPipeline[0] = System.nanoTime();
      reportFile = Locations.toLocal(Stages.report(spark, s));
    } finally {
      spark.stop();
    }
    Map<String, Example.Fact> facts = new LinkedHashMap<>();
    for (int f = 0; f < Example.FACTS.size(); f++) {
      facts.put(String.format("q%02d-%s", f + 1, Example.FACTS.get(f).key()), Example.FACTS.get(f));
    }
    Map<String, MethodResult> results = new LinkedHashMap<>();
    Map<String, Map<String, List<String>>> lines = new LinkedHashMap<>();
    for (int i = 0; i < methods.size(); i++) {
      Map<String, List<String>> top3 = new LinkedHashMap<>();
      Map<String, List<String>> printed = new LinkedHashMap<>();
      for (Row r : kept.get(methods.get(i))) {
        String qid = r.getAs("query_id");
        String tid = r.getAs("train_id");
        top3.computeIfAbsent(qid, k -> new ArrayList<>()).add(tid);
        boolean planted = example.planted().getOrDefault(qid, List.of()).contains(tid);
        printed.computeIfAbsent(qid, k -> new ArrayList<>()).add(String.format("  #%d %-13s %11.4g  %-6s %s %s",
            (int) r.getAs("rank"), tid, (double) r.getAs("score"), r.getAs("method"), planted ? "PLANTED" : "       ",
            shorten(r.getAs("text"), 76)));
      }
      results.put(methods.get(i), recall(methods.get(i), folders.get(i), top3, example.planted()));
      lines.put(methods.get(i), printed);
    }
    for (Map.Entry<String, List<String>> e : example.planted().entrySet()) {
      Example.Fact fact = facts.get(e.getKey());
      print.accept(e.getKey() + ": \"" + fact.prompt() + "\" -> \"" + fact.completion() + "\"");
      for (String method : methods) {
        lines.get(method).getOrDefault(e.getKey(), List.of()).forEach(print);
      }
    }
    for (MethodResult m : results.values()) {
      List<String> missed = new ArrayList<>();
      example.planted().forEach((qid, ids) -> {
        List<String> top = m.top3().getOrDefault(qid, List.of());
        if (top.isEmpty() || !ids.contains(top.get(0))) {
          missed.add(qid);
        }
      });
      int queries = example.planted().size();
      print.accept(String.format("planted facts, %s: %d of %d queries have a planted sequence first (hit@1 %.2f); "
          + "planted sequences in their query's top 3: recall@3 %.2f%s", m.method(),
          Math.round(m.hitAt1() * queries), queries, m.hitAt1(), m.recallAt3(), missed.isEmpty() ? "."
              : ". NOT first for " + String.join(", ", missed) + ": " + m.method() + " ranked other text above the "
              + "planted sequences there."));
    }
    long tEnd = System.nanoTime();
    double seconds = (tEnd - t0) / 1e9;
    print.accept("outputs: " + out + " (example/, run/, gradients/, " + (factors ? "factors/, " : "")
        + "self-influence/, " + String.join("/, ", folders) + "/; each with summary.jsonl)");
    print.accept("report:  " + reportFile);
    print.accept(String.format("took %.1f s (example and training %.1f s, extract + %sself-influence + score %.1f s, "
        + "report %.1f s)", seconds, (tTrained - t0) / 1e9, factors ? "fit-ekfac + " : "",
        (tPipeline[0] - tTrained) / 1e9, (tEnd - tPipeline[0]) / 1e9));
    return new Result(out, reportFile, results, example.planted(), seconds);
  }

  private static MethodResult recall(String method, String folder, Map<String, List<String>> top3,
                                     Map<String, List<String>> planted) {
    int hits = 0;
    int found = 0;
    int plantedTotal = 0;
    for (Map.Entry<String, List<String>> e : planted.entrySet()) {
      List<String> top = top3.getOrDefault(e.getKey(), List.of());
      if (!top.isEmpty() && e.getValue().contains(top.get(0))) {
        hits++;
      }
      found += (int) top.stream().filter(e.getValue()::contains).count();
      plantedTotal += Math.min(3, e.getValue().size());
    }
    return new MethodResult(method, folder, top3, (double) hits / planted.size(), (double) found / plantedTotal);
  }

  private static void checkFits(Path corpus, TrainJob.Result trained, int context) {
    try {
      Tokenizer tokenizer = Tokenizer.fromTokenizerJson(trained.tokenizerJson());
      for (String text : TrainJob.readTexts(corpus)) {
        int n = tokenizer.encodeDocument(text).length;
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
