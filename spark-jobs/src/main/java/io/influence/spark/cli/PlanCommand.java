package io.influence.spark.cli;

import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.plan.Plan;
import io.influence.spark.plan.Planner;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code influence plan}: what {@code influence run} would cost with these settings (store size, passes, FLOPs and
 * seconds per stage, task memory), from a scan of the corpus and a few seconds of calibration; prints a table and
 * one JSON line. Computes no gradient of the corpus and writes nothing under the output folder.
 */
@Command(name = "plan", mixinStandardHelpOptions = true,
    description = "Estimate what `influence run` would cost (store bytes, passes, FLOPs, seconds per stage, task "
        + "memory) from a corpus scan and a short calibration; computes nothing heavy.")
final class PlanCommand extends StageCommands.StageCommand {

  @Option(names = "--candidates", paramLabel = "M", defaultValue = "0",
      description = "also price a candidate prefilter keeping the top M training rows per query (0: none, or the"
          + " candidates block's M when extract.candidates = true)")
  int candidates;

  @Option(names = "--calibration-seconds", paramLabel = "S", defaultValue = "1",
      description = "seconds each calibration measurement repeats for (default 1)")
  double calibrationSeconds;

  PlanCommand() {
    super(Needs.CORPUS_AND_RUN);
  }

  @Override
  void run(SparkSession spark, InfluenceSettings s) {
    print(Planner.plan(spark, s, new Planner.Options(candidates, calibrationSeconds)));
  }

  /** The table, then the JSON line. */
  static void print(Plan plan) {
    System.out.print(plan.table());
    System.out.println(plan.json());
  }
}
