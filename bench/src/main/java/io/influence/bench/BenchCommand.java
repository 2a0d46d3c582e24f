package io.influence.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code influence bench [TASK...]}: the quality and speed suite; one table on stdout, the same figures as JSON. */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Measured quality and speed: runs the named tasks (all when none), prints one table, "
        + "writes JSON with --json. Data is generated from --seed; sizes are -P key=value flags.")
final class BenchCommand implements Callable<Integer> {

  @Parameters(arity = "0..*", paramLabel = "TASK", description = "Tasks to run (see --list); all when none.")
  List<String> tasks = new ArrayList<>();

  @Option(names = "--quick", description = "The short version (smaller sizes; what CI runs).")
  boolean quick;

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the figures as JSON: one object per task.")
  Path json;

  @Option(names = "--seed", description = "Seed of every generated data set and model (default: ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(names = "--work-dir", paramLabel = "DIR", description = "Scratch folder (default: a new temporary folder).")
  Path workDir;

  @Option(names = "-P", paramLabel = "KEY=VALUE", description = "A task size or setting, e.g. -P facts=20.")
  Map<String, String> params = new LinkedHashMap<>();

  @Option(names = "--list", description = "List the tasks and exit.")
  boolean list;

  @Option(names = "--fail-on-miss", description = "Exit with status 3 when a figure misses its target.")
  boolean failOnMiss;

  @Override
  public Integer call() throws Exception {
    List<BenchTask> chosen = BenchSuite.select(tasks);
    if (list) {
      chosen.forEach(t -> System.out.printf("%-20s %-8s %s%n", t.name(), t.kind(), t.description()));
      return 0;
    }
    Path dir = workDir != null ? Files.createDirectories(workDir) : Files.createTempDirectory("influence-bench");
    List<BenchResult> results = BenchSuite.run(chosen, new BenchOptions(quick, seed, dir, params), System.err);
    System.out.print(BenchSuite.table(results));
    if (json != null) {
      BenchSuite.writeJson(results, json);
      System.out.println("figures written to " + json.toAbsolutePath());
    }
    boolean missed = results.stream().anyMatch(r -> r.targets().entrySet().stream()
        .anyMatch(e -> !e.getValue().met(r.metrics().get(e.getKey()))));
    return failOnMiss && missed ? 3 : 0;
  }
}
