package io.influence.spark.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A real Spark standalone cluster on loopback, started from the jars on the test class path:
 * one Master and {@code n} Workers, each its own JVM, as {@code sbin/start-master.sh} would run
 * them. {@code SPARK_HOME} is a temporary folder whose {@code jars/} links every jar of the class
 * path, which is what a Worker needs to launch executors. {@link #close()} stops every process
 * (executors included) and deletes the folder.
 */
public final class StandaloneCluster implements AutoCloseable {

  private static final String OPENS = String.join(" ",
      "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
      "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
      "--add-opens=java.base/java.net=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
      "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED", "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
      "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
      "--add-opens=java.base/sun.security.action=ALL-UNNAMED", "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
      "-Djdk.reflect.useDirectMethodHandle=false", "-Dio.netty.tryReflectionSetAccessible=true");

  private final Path home;
  private final String masterUrl;
  private final int masterUiPort;
  private final List<Process> daemons = new ArrayList<>();

  private StandaloneCluster(Path home, int masterPort, int masterUiPort) {
    this.home = home;
    this.masterUrl = "spark://127.0.0.1:" + masterPort;
    this.masterUiPort = masterUiPort;
  }

  /** Starts a Master and {@code workers} Workers with {@code coresPerWorker} cores each; waits until all are alive. */
  public static StandaloneCluster start(int workers, int coresPerWorker, String memoryPerWorker) throws IOException {
    Path home = Files.createTempDirectory("spark-home-");
    Path jars = Files.createDirectories(home.resolve("jars"));
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path p = Path.of(entry);
      if (entry.endsWith(".jar") && Files.isRegularFile(p)) {
        Path link = jars.resolve(p.getFileName());
        if (!Files.exists(link)) {
          Files.createSymbolicLink(link, p.toAbsolutePath());
        }
      }
    }
    StandaloneCluster cluster = new StandaloneCluster(home, freePort(), freePort());
    try {
      cluster.daemons.add(cluster.launch("master", "org.apache.spark.deploy.master.Master",
          "--host", "127.0.0.1", "--port", cluster.masterUrl.substring(cluster.masterUrl.lastIndexOf(':') + 1),
          "--webui-port", String.valueOf(cluster.masterUiPort)));
      for (int i = 0; i < workers; i++) {
        Path work = Files.createDirectories(home.resolve("work-" + i));
        cluster.daemons.add(cluster.launch("worker-" + i, "org.apache.spark.deploy.worker.Worker",
            "--host", "127.0.0.1", "--cores", String.valueOf(coresPerWorker), "--memory", memoryPerWorker,
            "--webui-port", String.valueOf(freePort()), "--work-dir", work.toString(), cluster.masterUrl));
      }
      cluster.awaitAliveWorkers(workers, Duration.ofSeconds(90));
      return cluster;
    } catch (IOException | RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  public String masterUrl() {
    return masterUrl;
  }

  public Path home() {
    return home;
  }

  /** The JVM flags Spark needs on Java 17, for drivers and executors of this cluster. */
  public static String javaOptions() {
    return OPENS;
  }

  /** Environment for any Spark process of this cluster. */
  public Map<String, String> environment() {
    return Map.of("SPARK_HOME", home.toString(), "SPARK_SCALA_VERSION", "2.13", "SPARK_LOCAL_IP", "127.0.0.1",
        "OMP_NUM_THREADS", "1");
  }

  /** Runs {@code SparkSubmit} with the cluster's jars plus {@code appJar}; returns the finished process. */
  public Process submit(Path appJar, Path log, List<String> arguments) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(java(), "-Xmx1g"));
    cmd.addAll(List.of(OPENS.split(" ")));
    cmd.addAll(List.of("-cp", home.resolve("jars") + "/*" + File.pathSeparator + appJar,
        "org.apache.spark.deploy.SparkSubmit", "--master", masterUrl,
        "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.extraJavaOptions=" + OPENS, "--conf", "spark.executor.extraJavaOptions=" + OPENS,
        "--conf", "spark.executorEnv.OMP_NUM_THREADS=1"));
    cmd.addAll(arguments);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(environment());
    return pb.start();
  }

  /** PIDs of the executor JVMs currently running on the workers. */
  public List<ProcessHandle> executors() {
    List<ProcessHandle> out = new ArrayList<>();
    for (Process d : daemons) {
      d.toHandle().descendants()
          .filter(h -> h.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend"))
          .forEach(out::add);
    }
    return out;
  }

  private Process launch(String name, String mainClass, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(java(), "-Xmx512m"));
    cmd.addAll(List.of(OPENS.split(" ")));
    cmd.addAll(List.of("-cp", home.resolve("jars") + "/*", mainClass));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(home.resolve(name + ".log").toFile());
    pb.environment().putAll(environment());
    return pb.start();
  }

  private void awaitAliveWorkers(int expected, Duration timeout) throws IOException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      for (Process d : daemons) {
        if (!d.isAlive()) {
          throw new IllegalStateException("a Spark daemon exited with " + d.exitValue() + "; logs in " + home);
        }
      }
      try {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + masterUiPort + "/json/"))
            .timeout(Duration.ofSeconds(2)).build();
        last = http.send(req, HttpResponse.BodyHandlers.ofString()).body();
        int alive = last.split("\"state\" ?: ?\"ALIVE\"", -1).length - 1;
        // The master's own status is ALIVE too; workers are counted in "aliveworkers".
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"aliveworkers\" ?: ?(\\d+)").matcher(last);
        if (m.find() && Integer.parseInt(m.group(1)) >= expected && alive > 0) {
          return;
        }
      } catch (IOException e) {
        last = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the cluster", e);
      }
      sleep(500);
    }
    throw new IllegalStateException("the cluster did not get " + expected + " alive workers in " + timeout
        + "; last master status: " + last + "; logs in " + home);
  }

  @Override
  public void close() {
    for (int i = daemons.size() - 1; i >= 0; i--) {
      Process d = daemons.get(i);
      d.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
      d.destroy();
    }
    for (Process d : daemons) {
      try {
        if (!d.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
          d.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try (Stream<Path> walk = Files.walk(home)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + home, e);
    }
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
