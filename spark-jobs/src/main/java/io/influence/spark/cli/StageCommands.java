package io.influence.spark.cli;

import com.typesafe.config.Config;
import io.influence.spark.config.Sessions;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.pipeline.Stages;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** The pipeline's subcommands: each loads the settings, starts Spark, calls one function of {@link Stages}. */
final class StageCommands {

  private StageCommands() {}

  abstract static class StageCommand implements Callable<Integer> {
    @Mixin SettingsOptions options;

    @Override
    public Integer call() {
      Config settings = options.load();
      SparkSession spark = Sessions.create(settings);
      try {
        run(spark, settings, settings.getBoolean("output.overwrite"));
        return 0;
      } finally {
        spark.stop();
      }
    }

    abstract void run(SparkSession spark, Config settings, boolean overwrite);
  }

  @Command(name = "extract", mixinStandardHelpOptions = true,
      description = "Per-example gradients of the corpus at every checkpoint, as Parquet shards.")
  static final class Extract extends StageCommand {
    @Override
    void run(SparkSession spark, Config s, boolean overwrite) {
      printExtract(Stages.extract(spark, s, overwrite));
    }
  }

  @Command(name = "self-influence", mixinStandardHelpOptions = true,
      description = "TracIn self-influence of every training sequence; flags the top fraction.")
  static final class SelfInfluence extends StageCommand {
    @Override
    void run(SparkSession spark, Config s, boolean overwrite) {
      printSelfInfluence(Stages.selfInfluence(spark, s, overwrite).limit(10).collectAsList());
    }
  }

  @Command(name = "score", mixinStandardHelpOptions = true,
      description = "Top-k and bottom-k training sequences of each query (TracIn, EK-FAC, CG or LiSSA), joined to their text.")
  static final class Score extends StageCommand {
    @Override
    void run(SparkSession spark, Config s, boolean overwrite) {
      printScores(Stages.score(spark, s, overwrite).collectAsList(), 3);
    }
  }

  @Command(name = "fit-ekfac", mixinStandardHelpOptions = true,
      description = "EK-FAC factors per checkpoint and layer, in the gradient store's space (needs extract).")
  static final class FitEkfac extends StageCommand {
    @Override
    void run(SparkSession spark, Config s, boolean overwrite) {
      printFitEkfac(Stages.fitEkfac(spark, s, overwrite));
    }

    static void printFitEkfac(io.influence.spark.ekfac.FitEkfacJob.Result r) {
      System.out.println("fit-ekfac: wrote " + r.written() + ", already done " + r.skipped()
          + (r.badRows() != null && r.badRows().count() > 0 ? ", left out " + r.badRows().count() + " bad rows, e.g. "
          + r.badRows().examples() : ""));
    }
  }

  @Command(name = "run", mixinStandardHelpOptions = true,
      description = "The whole pipeline: extract, fit-ekfac (when a method is ekfac), self-influence, score.")
  static final class Run extends StageCommand {
    @Override
    void run(SparkSession spark, Config s, boolean overwrite) {
      boolean selfEkfac = Stages.usesEkfac(s, "self-influence"); // both methods checked before any work
      boolean scoreEkfac = Stages.usesEkfac(s, "score") && !s.getIsNull("input.queries");
      printExtract(Stages.extract(spark, s, overwrite));
      if (selfEkfac || scoreEkfac) {
        FitEkfac.printFitEkfac(Stages.fitEkfac(spark, s, overwrite));
      }
      printSelfInfluence(Stages.selfInfluence(spark, s, overwrite).limit(10).collectAsList());
      if (!s.getIsNull("input.queries")) {
        printScores(Stages.score(spark, s, overwrite).collectAsList(), 3);
      }
      System.out.println("outputs in " + s.getString("output.dir"));
    }
  }

  @Command(name = "train", mixinStandardHelpOptions = true,
      description = "Train a byte-level BPE and a small GPT-2 on --corpus; checkpoints and manifest into --out.")
  static final class Train implements Callable<Integer> {
    @Mixin SettingsOptions options;

    @Override
    public Integer call() {
      Config s = options.load();
      if (options.corpus == null || options.out == null) {
        throw new IllegalArgumentException("train needs --corpus FILE and --out RUN_DIR");
      }
      var r = io.influence.spark.train.TrainJob.run(java.nio.file.Path.of(options.corpus),
          java.nio.file.Path.of(options.out), io.influence.spark.train.TrainSettings.from(s), System.out::println);
      System.out.printf("trained on %d sequences: loss %.3f -> %.3f; run in %s (use it as --run)%n", r.sequences(),
          r.firstLoss(), r.lastLoss(), options.out);
      return 0;
    }
  }

  @Command(name = "report", mixinStandardHelpOptions = true,
      description = "The HTML report of an output folder (scores, self-influence, token contributions) -> OUT/report/index.html.")
  static final class Report extends StageCommand {
    @Override
    void run(SparkSession spark, Config s, boolean overwrite) {
      System.out.println("report: " + io.influence.spark.report.ReportBuilder.write(spark, s));
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
      Config s = options.load();
      io.influence.spark.quickstart.Quickstart.run(s, s.getBoolean("output.overwrite"), System.out::println);
      return 0;
    }
  }

  static void printExtract(ExtractJob.Result r) {
    System.out.println("extract: wrote " + r.written() + ", already done " + r.skipped()
        + (r.badRows().count() > 0 ? ", skipped " + r.badRows().count() + " bad rows, e.g. " + r.badRows().examples()
        : ""));
  }

  static void printSelfInfluence(List<Row> top) {
    System.out.println("self-influence, highest first:");
    for (Row r : top) {
      System.out.printf("  %-24s %12.5g  quantile %.3f%s%n", r.getString(0), r.getDouble(1), r.getDouble(2),
          r.getBoolean(3) ? "  FLAGGED" : "");
    }
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
