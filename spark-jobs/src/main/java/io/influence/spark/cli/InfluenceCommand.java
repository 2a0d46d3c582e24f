package io.influence.spark.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code influence} command line. Each subcommand parses its settings on the driver, checks
 * them, then calls a job function that tests call directly.
 */
@Command(name = "influence", mixinStandardHelpOptions = true, version = "influence 0.1.0-SNAPSHOT",
    description = "Training-data influence for language models on Apache Spark.",
    footer = {"%nThe quality and speed suite is not in this jar: it is the bench module, run from a checkout as "
        + "bin/influence bench [TASK...] (bin/influence bench --help)."},
    subcommands = {StageCommands.Run.class, StageCommands.Extract.class, StageCommands.SelfInfluence.class,
        StageCommands.Score.class, StageCommands.FitEkfac.class, StageCommands.Train.class,
        StageCommands.Report.class, StageCommands.Quickstart.class, InspectCommand.class,
        CommandLine.HelpCommand.class})
public final class InfluenceCommand implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "choose a subcommand");
  }

  public static void main(String[] args) {
    int code = new CommandLine(new InfluenceCommand()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }
}
