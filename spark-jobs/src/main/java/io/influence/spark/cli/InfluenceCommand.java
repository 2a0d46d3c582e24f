package io.influence.spark.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * The {@code influence} command line. Each subcommand parses its settings on the driver, checks
 * them, then calls a job function that tests call directly.
 */
@Command(name = "influence", mixinStandardHelpOptions = true, version = "influence 0.1.0-SNAPSHOT",
    description = "Training-data influence for language models on Apache Spark.",
    footer = {"%nThe quality and speed suite is not in this jar: it is the bench module, run from a checkout as "
        + "bin/influence bench [TASK...] (bin/influence bench --help)."},
    subcommands = {StageCommands.Run.class, StageCommands.Extract.class, StageCommands.SelfInfluence.class,
        StageCommands.Score.class, StageCommands.Candidates.class, StageCommands.Flag.class, StageCommands.FitEkfac.class, StageCommands.Train.class,
        StageCommands.Report.class, StageCommands.Quickstart.class, InspectCommand.class, PlanCommand.class,
        CommandLine.HelpCommand.class})
public final class InfluenceCommand implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
      description = "On an error, print the stack trace too.")
  boolean verbose;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "choose a subcommand");
  }

  /**
   * The command line as {@code main} runs it: a user's mistake ends in one line naming what to fix and exit status
   * 2, a bug in a stack trace and status 1 (see {@link Failures}).
   */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new InfluenceCommand()).setCaseInsensitiveEnumValuesAllowed(true);
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> Failures.report(e,
        parsed.originalArgs().contains("--verbose"), cmd.getErr()));
    return cl;
  }

  public static void main(String[] args) {
    int code = commandLine().execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }
}
