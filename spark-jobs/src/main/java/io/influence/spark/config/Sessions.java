package io.influence.spark.config;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Builds the Spark session from the {@code influence.spark} settings block.
 *
 * <p>The master from the settings applies only when the JVM was not launched by
 * {@code spark-submit} (which sets {@code spark.master} itself), so the same jar runs embedded
 * and on a cluster. BLAS threads: each task runs ND4J GEMMs with {@code OMP_NUM_THREADS}
 * threads; with {@code blas-threads = auto} executors get {@code cores / concurrent tasks} (at
 * least one) so that tasks × threads never exceeds the cores.
 */
public final class Sessions {

  private Sessions() {}

  public static SparkSession create(SparkSettings spark) {
    SparkConf conf = new SparkConf();
    if (!conf.contains("spark.master")) {
      conf.setMaster(spark.master());
    }
    conf.setAppName(spark.appName());
    spark.conf().forEach(conf::set);
    String master = conf.get("spark.master", "local[*]");
    if (master.startsWith("local")) {
      conf.setIfMissing("spark.ui.enabled", "false");   // nobody watches it, and it would listen on every interface
    } else if (master.startsWith("spark://")) {
      requireReachable(master);
    }
    int threads = blasThreads(spark.blasThreads(), conf);
    conf.setIfMissing("spark.executorEnv.OMP_NUM_THREADS", String.valueOf(threads));
    return SparkSession.builder().config(conf).getOrCreate();
  }

  /**
   * Fails in a second, naming the master, when no standalone master answers at any of its {@code host:port}
   * addresses (Spark itself retries for a minute and then reports its own internals).
   */
  static void requireReachable(String master) {
    String reasons = "";
    for (String hostPort : master.substring("spark://".length()).split(",")) {
      int colon = hostPort.lastIndexOf(':');
      String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
      int port = 7077;
      try {
        port = colon < 0 ? 7077 : Integer.parseInt(hostPort.substring(colon + 1).replaceAll("/.*", ""));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("influence.spark.master = " + master + " has no valid port. HINT: "
            + "spark://HOST:PORT, e.g. spark://127.0.0.1:7077");
      }
      try (java.net.Socket socket = new java.net.Socket()) {
        socket.connect(new java.net.InetSocketAddress(host, port), 3000);
        return;
      } catch (java.io.IOException e) {
        reasons += (reasons.isEmpty() ? "" : "; ") + host + ":" + port + ": " + e.getMessage();
      }
    }
    throw new IllegalArgumentException("no Spark master answers (" + reasons + "). HINT: start the master, or pass "
        + "--master (influence.spark.master) with the address it prints; cannot reach " + master);
  }

  /** Threads per task for the BLAS, given the setting ("auto" or a number) and the Spark conf. */
  static int blasThreads(String setting, SparkConf conf) {
    if (!"auto".equals(setting)) {
      try {
        int n = Integer.parseInt(setting);
        if (n >= 1) {
          return n;
        }
      } catch (NumberFormatException ignored) {
        // fall through to the error
      }
      throw new IllegalArgumentException("influence.spark.blas-threads must be \"auto\" or a positive integer, got "
          + setting);
    }
    String master = conf.get("spark.master", "local[*]");
    int cores = Runtime.getRuntime().availableProcessors();
    int executorCores = conf.getInt("spark.executor.cores", master.startsWith("local") ? localSlots(master, cores) : 1);
    int taskCpus = conf.getInt("spark.task.cpus", 1);
    int concurrent = Math.max(1, executorCores / taskCpus);
    return Math.max(1, Math.min(cores, master.startsWith("local") ? cores / concurrent : taskCpus));
  }

  private static int localSlots(String master, int cores) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("local\\[(\\d+|\\*)").matcher(master);
    if (m.find()) {
      return "*".equals(m.group(1)) ? cores : Integer.parseInt(m.group(1));
    }
    return 1;
  }
}
