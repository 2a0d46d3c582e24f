package io.influence.bench;

/**
 * One task of {@code influence bench}: generates its own data from {@link BenchOptions#seed()} and the
 * sizes in {@link BenchOptions#params()}, measures, and returns named figures. A task never prints the
 * table itself; it may log progress to stderr.
 */
public interface BenchTask {

  /** Short name used on the command line ({@code influence bench NAME}) and as the JSON object's "task". */
  String name();

  /** "quality" or "speed". */
  String kind();

  /** One line saying what is measured and against which truth. */
  String description();

  BenchResult run(BenchOptions options) throws Exception;
}
