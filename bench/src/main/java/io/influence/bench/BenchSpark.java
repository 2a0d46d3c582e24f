package io.influence.bench;

import org.apache.spark.sql.SparkSession;

/**
 * Spark sessions for the speed tasks: a task needs a given master ({@code local[1]}, {@code local[2]}),
 * and Spark keeps one context per JVM, so any running session is stopped first; the task stops its own
 * when done.
 */
final class BenchSpark {

  private BenchSpark() {}

  static SparkSession session(String master) {
    return session(master, java.util.Map.of());
  }

  /** {@link #session(String)} with {@code conf} set as well (a cluster's executor settings). */
  static SparkSession session(String master, java.util.Map<String, String> conf) {
    if (SparkSession.getActiveSession().isDefined()) {
      SparkSession.getActiveSession().get().stop();
    }
    if (SparkSession.getDefaultSession().isDefined()) {
      SparkSession.getDefaultSession().get().stop();
    }
    SparkSession.Builder b = SparkSession.builder().master(master).appName("influence-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "8");
    conf.forEach(b::config);
    return b.getOrCreate();
  }
}
