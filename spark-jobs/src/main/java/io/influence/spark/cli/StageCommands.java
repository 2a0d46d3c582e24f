package io.influence.spark.cli;

import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Sessions;
import io.influence.spark.io.Locations;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.train.TrainJob;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The pipeline's subcommands: each loads the settings, starts Spark, calls one function of {@link Stages}. */
final class StageCommands {

  private StageCommands() {}

  abstract static class StageCommand implements Callable<Integer> {
    @Mixin SettingsOptions options;
    @Spec CommandSpec spec;

    /** The inputs the stage cannot start without: checked before Spark starts. */
    enum Needs { NOTHING, CORPUS_AND_RUN, CORPUS_RUN_AND_QUERIES }

    private final Needs needs;

    StageCommand(Needs needs) {
      this.needs = needs;
    }

    @Override
    public Integer call() {
      InfluenceSettings settings = options.load();
      if (needs != Needs.NOTHING) {   // what needs no cluster fails before Spark starts
        settings.input().require(spec.name(), needs == Needs.CORPUS_RUN_AND_QUERIES);
        io.influence.spark.io.Corpus.precheckLocal(settings.input().corpus(spec.name()), "corpus",
            settings.input().badRows());
        if (needs == Needs.CORPUS_RUN_AND_QUERIES) {
          io.influence.spark.io.Corpus.precheckLocal(settings.input().queries(spec.name()), "queries",
              io.influence.spark.config.BadRows.FAIL);
        }
      }
      preflight(settings);
      SparkSession spark = Sessions.create(settings.spark());
      try {
        run(spark, settings);
        return 0;
      } finally {
        spark.stop();
      }
    }

    /** What else this stage checks before Spark starts (nothing by default). */
    void preflight(InfluenceSettings settings) {}

    abstract void run(SparkSession spark, InfluenceSettings settings);
  }

  @Command(name = "extract", mixinStandardHelpOptions = true,
      description = "Per-example gradients of the corpus at every checkpoint, as Parquet shards.")
  static final class Extract extends StageCommand {
    Extract() {
      super(Needs.CORPUS_AND_RUN);
    }

    @Override
    void preflight(InfluenceSettings s) {
      if (s.extract().candidates()) {   // extract.candidates = true needs the queries whose candidates it extracts
        s.input().require("extract", true);
      }
    }

    @Override
    void run(SparkSession spark, InfluenceSettings s) {
      System.out.println(Stages.describe(Stages.extract(spark, s)));
    }
  }

  @Command(name = "self-influence", mixinStandardHelpOptions = true,
      description = "TracIn self-influence of every training sequence; flags the top fraction.")
  static final class SelfInfluence extends StageCommand {
    SelfInfluence() {
      super(Needs.NOTHING);
    }

    @Override
    void run(SparkSession spark, InfluenceSettings s) {
      printSelfInfluence(Stages.selfInfluence(spark, s).limit(10).collectAsList());
    }
  }

  @Command(name = "score", mixinStandardHelpOptions = true,
      description = "Top-k and bottom-k training sequences of each query (TracIn, EK-FAC, CG, LiSSA, or Data Shapley"
          + " by fine-tuning: tmc-shapley, g-shapley), joined to their text.")
  static final class Score extends StageCommand {
    Score() {
      super(Needs.CORPUS_RUN_AND_QUERIES);
    }

    @Override
    void run(SparkSession spark, InfluenceSettings s) {
      printScores(Stages.score(spark, s).collectAsList(), 3);
    }
  }

  @Command(name = "candidates", mixinStandardHelpOptions = true,
      description = "Per query, the top-M training rows by TF-IDF cosine or BM25 (Spark MLlib; the candidates block), "
          + "into output.dir/candidates/; score.candidates = true scores only them.")
  static final class Candidates extends StageCommand {
    Candidates() {
      super(Needs.CORPUS_RUN_AND_QUERIES);
    }

    @Override
    void run(SparkSession spark, InfluenceSettings s) {
      List<Row> rows = Stages.candidates(spark, s).collectAsList();
      System.out.println("candidates: " + rows.size() + " (query, row) pairs in "
          + Locations.resolve(spark, s.output().dir()) + "/" + Stages.CANDIDATES);
    }
  }

  @Command(name = "flag", mixinStandardHelpOptions = true,
      description = "Ranks every training sequence by its influence on examples of unwanted behaviour (--examples); "
          + "flags the top fraction for cleaning -> OUT/flag/.")
  static final class Flag extends StageCommand {
    @Option(names = "--examples", paramLabel = "FILE",
        description = "examples of unwanted behaviour: JSON Lines or Parquet with id, prompt, completion (sets flag.examples)")
    String examples;

    Flag() {
      super(Needs.CORPUS_AND_RUN);
    }

    @Override
    public Integer call() {
      if (examples != null) {
        options.overrides.put("flag.examples", examples);
      }
      return super.call();
    }

    @Override
    void preflight(InfluenceSettings s) {
      String file = s.flag().examples("flag");
      Configuration conf = Locations.conf();
      if (!Locations.exists(conf, Locations.resolve(conf, file))) {
        throw new IllegalArgumentException("influence.flag.examples = " + file + " does not exist. HINT: pass "
            + "--examples FILE, a JSON Lines or Parquet file of id, prompt, completion");
      }
    }

    @Override
    void run(SparkSession spark, InfluenceSettings s) {
      printFlags(Stages.flag(spark, s).limit(10).collectAsList(), s.output().dir() + "/" + s.flag().folder());
    }
  }

  @Command(name = "fit-ekfac", mixinStandardHelpOptions = true,
      description = "EK-FAC factors per checkpoint and layer, in the gradient store's space (needs extract).")
  static final class FitEkfac extends StageCommand {
    FitEkfac() {
      super(Needs.CORPUS_AND_RUN);
    }

    @Override
    void run(SparkSession spark, InfluenceSettings s) {
      System.out.println(Stages.describe(Stages.fitEkfac(spark, s)));
    }
  }

  @Command(name = "run", mixinStandardHelpOptions = true,
      description = "The whole pipeline: extract, fit-ekfac (when a method is ekfac), self-influence, score.")
  static final class Run extends StageCommand {
    @Option(names = "--dry-run", description = "print what the run would cost (as `influence plan`) and exit")
    boolean dryRun;

    Run() {
      super(Needs.CORPUS_AND_RUN);
    }

    @Override
    void run(SparkSession spark, InfluenceSettings s) {
      if (dryRun) {
        PlanCommand.print(io.influence.spark.plan.Planner.plan(spark, s, io.influence.spark.plan.Planner.Options.defaults()));
        return;
      }
      Stages.Outcome o = Stages.run(spark, s, System.out::println);
      printSelfInfluence(o.selfInfluence().limit(10).collectAsList());
      o.scores().ifPresent(scores -> printScores(scores.collectAsList(), 3));
      System.out.println("outputs in " + s.output().dir());
    }
  }

  @Command(name = "train", mixinStandardHelpOptions = true,
      description = "Train a byte-level BPE and a small GPT-2 on --corpus; checkpoints and manifest into --out.")
  static final class Train implements Callable<Integer> {
    @Mixin SettingsOptions options;

    @Override
    public Integer call() {
      InfluenceSettings s = options.load();
      if (options.corpus == null || options.out == null) {
        throw new IllegalArgumentException("train needs --corpus FILE and --out RUN_DIR");
      }
      var r = TrainJob.run(java.nio.file.Path.of(options.corpus), java.nio.file.Path.of(options.out), s.train(),
          s.input().longText(), System.out::println);
      System.out.printf("trained on %d sequences: loss %.3f -> %.3f; run in %s (use it as --run)%n", r.sequences(),
          r.firstLoss(), r.lastLoss(), options.out);
      return 0;
    }
  }

  @Command(name = "report", mixinStandardHelpOptions = true,
      description = "The HTML report of an output folder (scores, self-influence, token contributions) -> OUT/report/index.html.")
  static final class Report extends StageCommand {
    Report() {
      super(Needs.NOTHING);
    }

    @Override
    void run(SparkSession spark, InfluenceSettings s) {
      System.out.println("report: " + Stages.report(spark, s));
    }
  }

  @Command(name = "quickstart", mixinStandardHelpOptions = true,
      description = "Train a small model on an embedded example with planted facts, run the pipeline, write the report.")
  static final class Quickstart implements Callable<Integer> {
    @Mixin SettingsOptions options;

    @Override
    public Integer call() {
      if (options.out == null) {
        options.out = "quickstart-out";
      }
      // 32 x 32 projections per layer: measured on the default quickstart, planted facts first for 12 of 12
      // queries (recall@3 0.75); with 16 x 16, 11 of 12 (0.58)
      options.overrides.putIfAbsent("extract.projection.k-in", "32");
      options.overrides.putIfAbsent("extract.projection.k-out", "32");
      io.influence.spark.quickstart.Quickstart.run(options.load(), System.out::println);
      return 0;
    }
  }

  static void printSelfInfluence(List<Row> top) {
    System.out.println("self-influence, highest first:");
    for (Row r : top) {
      System.out.printf("  %-24s %12.5g  quantile %.3f%s%n", r.getString(0), r.getDouble(1), r.getDouble(2),
          r.getBoolean(3) ? "  FLAGGED" : "");
    }
  }

  static void printFlags(List<Row> top, String folder) {
    System.out.println("flag, highest first:");
    for (Row r : top) {
      System.out.printf("  %-24s %12.5g  %s%n", (String) r.getAs("train_id"), (double) r.getAs("score"),
          (String) r.getAs("reason"));
    }
    System.out.println("flags in " + folder);
  }

  static void printScores(List<Row> rows, int perQuery) {
    rows.stream().filter(r -> "top".equals(r.getAs("direction")) && (int) r.getAs("rank") <= perQuery)
        .sorted(java.util.Comparator.comparing((Row r) -> (String) r.getAs("query_id"))
            .thenComparing(r -> (int) r.getAs("rank")))
        .forEach(r -> {
          String text = r.getAs("text");
          System.out.printf("  %-16s #%d %-20s %12.5g  %s  %s%n", (String) r.getAs("query_id"), (int) r.getAs("rank"),
              (String) r.getAs("train_id"), (double) r.getAs("score"), (String) r.getAs("method"),
              text == null ? "" : text.replace('\n', ' ').substring(0, Math.min(70, text.length())));
        });
  }
}
