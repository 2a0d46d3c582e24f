package io.influence.spark.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRuns;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.config.Settings;
import io.influence.spark.ekfac.FactorStore;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.report.ReportBuilder;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.util.ExitUtil;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline on a real HDFS (an in-process {@link MiniDFSCluster}): corpus, run, queries and the settings file
 * on {@code hdfs://}, {@code output.dir} too; extract, fit-ekfac, self-influence, score (TracIn and EK-FAC) and the
 * report give exactly what the same run gives on local files, and nothing is written locally but the run's cache.
 */
class HdfsPipelineTest {

  @TempDir static java.nio.file.Path dir;

  private static MiniDFSCluster cluster;
  private static FileSystem hdfs;
  private static String root;
  private static TinyRun tiny;

  @BeforeAll
  static void startHdfs() throws Exception {
    ExitUtil.disableSystemExit();   // a failing NameNode or DataNode throws instead of ending the test JVM
    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("hdfs").toString());
    conf.setInt("dfs.replication", 1);
    cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    cluster.waitActive();
    hdfs = cluster.getFileSystem();
    root = hdfs.getUri() + "/influence";
    tiny = TinyRun.create(Files.createDirectories(dir.resolve("local")));
  }

  @AfterAll
  static void stopHdfs() {
    if (cluster != null) {
      cluster.shutdown();
    }
  }

  @Test
  void pipeline_onHdfs_equalsTheSameRunOnLocalFiles() throws Exception {
    java.nio.file.Path local = dir.resolve("local");
    java.nio.file.Path queries = local.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n"
        + "{\"id\": \"q2\", \"prompt\": \"a blue bird\", \"completion\": \" sings quietly.\"}\n");
    // the principal basis: its matrices file is written to and read from the store's file system by every stage
    // (a seeded projection has no file); a mix-up between the two runs' files would break the equalities below
    String settingsFile = "influence {\n  score.top-k = 5\n  extract.projection.k-in = 6\n"
        + "  extract.projection.k-out = 5\n  extract.projection.basis = principal\n  ekfac.damping.value = 0.1\n}\n";
    java.nio.file.Path localSettings = local.resolve("job.conf");
    Files.writeString(localSettings, settingsFile);
    hdfs.copyFromLocalFile(new Path(tiny.corpus().toUri()), new Path(root + "/data/corpus.jsonl"));
    hdfs.copyFromLocalFile(new Path(queries.toUri()), new Path(root + "/data/queries.jsonl"));
    hdfs.copyFromLocalFile(new Path(local.resolve("run").toUri()), new Path(root + "/run"));
    hdfs.copyFromLocalFile(new Path(localSettings.toUri()), new Path(root + "/conf/job.conf"));

    InfluenceSettings onLocal = Settings.load(localSettings.toString(), inputs(tiny.corpus().toString(),
        local.resolve("run").toString(), queries.toString(), local.resolve("out").toString()));
    InfluenceSettings onHdfs = Settings.load(root + "/conf/job.conf", inputs(root + "/data/corpus.jsonl", root + "/run",
        root + "/data/queries.jsonl", root + "/out"));
    assertEquals(5, onHdfs.score().topK(), "the settings file was read from HDFS");

    SparkSession spark = LocalSpark.get();
    java.nio.file.Path cache = dir.resolve("cache");
    spark.sparkContext().hadoopConfiguration().set(Locations.CACHE_DIR_KEY, cache.toString());
    spark.sparkContext().hadoopConfiguration().setInt("dfs.replication", 1);   // one DataNode
    long t0 = System.nanoTime();
    Outputs expected;
    Outputs got;
    try {
      expected = pipeline(spark, onLocal);
      long t1 = System.nanoTime();
      got = pipeline(spark, onHdfs);
      System.out.printf("HdfsPipelineTest: local run %.1f s, HDFS run %.1f s%n", (t1 - t0) / 1e9,
          (System.nanoTime() - t1) / 1e9);
    } finally {
      spark.sparkContext().hadoopConfiguration().unset(Locations.CACHE_DIR_KEY);
      spark.sparkContext().hadoopConfiguration().unset("dfs.replication");
    }

    assertEquals(2 * 2 * 5, expected.tracin().size());
    assertEquals(expected.tracin(), got.tracin(), "TracIn scores");
    assertEquals(expected.ekfac(), got.ekfac(), "EK-FAC scores");
    assertEquals(expected.self(), got.self(), "self-influence");

    Path out = new Path(root + "/out");
    for (String file : List.of(OutputGuard.file(Stages.GRADIENTS), Stages.SCORES + "/" + ScoreJob.SUMMARY_FILE,
        "scores-ekfac/query-gradients.safetensors", Stages.SELF_INFLUENCE + "/summary.jsonl",
        ReportBuilder.REPORT_FILE)) {
      assertTrue(hdfs.exists(new Path(out, file)), file + " on HDFS");
    }
    assertTrue(FactorStore.isComplete(new Path(out, Stages.FACTORS), "step-6"), "EK-FAC factors on HDFS");
    var meta = io.influence.spark.store.GradientStore.metadata(spark, new Path(out, Stages.GRADIENTS), "step-6");
    assertTrue(meta.projectionFile().startsWith("hdfs://") && hdfs.exists(new Path(meta.projectionFile())),
        "the principal matrices lie in the store on HDFS: " + meta.projectionFile());
    String html = Locations.readString(hdfs.getConf(), new Path(out, ReportBuilder.REPORT_FILE));
    assertTrue(html.contains("q1") && html.contains("q2") && html.contains("doc-"), "report names queries and docs");
    assertFalse(Files.exists(java.nio.file.Path.of("hdfs:")), "no stray local folder named after the scheme");
    try (var cached = Files.list(cache)) {
      assertEquals(1, cached.filter(p -> p.getFileName().toString().startsWith("run-")).count(),
          "the remote run was copied once to the local cache");
    }

    // A second run over the same HDFS outputs finds every stage finished.
    long before = hdfs.getFileStatus(new Path(out, Stages.SCORES + "/" + ScoreJob.SUMMARY_FILE)).getModificationTime();
    Stages.score(spark, onHdfs);
    assertEquals(before, hdfs.getFileStatus(new Path(out, Stages.SCORES + "/" + ScoreJob.SUMMARY_FILE))
        .getModificationTime());
  }

  @Test
  void checkpointDir_remoteCheckpoint_copiedOnceWithPlaceholders_andHashChecked() throws Exception {
    RunCheckpoint c = tiny.run().checkpoints().get(0);
    String remote = root + "/copied/" + c.dir().getFileName();
    hdfs.copyFromLocalFile(new Path(c.dir().toUri()), new Path(remote));
    try (var out = hdfs.create(new Path(remote, "optimizer.pt"))) {
      out.write("pickled optimizer state".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    Configuration conf = new Configuration(hdfs.getConf());
    conf.set(Locations.CACHE_DIR_KEY, dir.resolve("executor-cache").toString());

    var wrong = assertThrows(IllegalStateException.class, () -> Runs.checkpointDir(conf, remote, "0".repeat(64)));
    assertTrue(wrong.getMessage().contains("replaced while the job ran"), wrong.getMessage());

    java.nio.file.Path copy = Runs.checkpointDir(conf, remote, c.sha256());
    assertEquals(c.sha256(), TrainingRuns.sha256(copy));
    assertEquals(0, Files.size(copy.resolve("optimizer.pt")), "pickles become empty placeholders");
    assertEquals(Files.readString(c.dir().resolve("config.json")), Files.readString(copy.resolve("config.json")));
    assertEquals(copy, Runs.checkpointDir(conf, remote, c.sha256()), "copied once");
    assertEquals(Optional.of(Files.readString(c.dir().resolve("tokenizer.json"))),
        Runs.localFile(conf, remote, "tokenizer.json").map(p -> read(p)));
    assertEquals(Optional.empty(), Runs.localFile(conf, remote, "missing.json"));
  }

  @Test
  void locations_onHdfs_resolveWriteReplaceListDelete() {
    Configuration conf = hdfs.getConf();
    Path file = Locations.resolve(conf, root + "/small/a.json");
    assertEquals("hdfs", file.toUri().getScheme());
    Locations.writeString(conf, file, "first");
    Locations.writeString(conf, file, "second, longer");
    assertEquals("second, longer", Locations.readString(conf, file));
    assertEquals(List.of("a.json"), Locations.list(conf, file.getParent()).stream()
        .map(s -> s.getPath().getName()).toList(), "no temporary file left");
    Locations.deleteRecursively(conf, file.getParent());
    assertFalse(Locations.exists(conf, file.getParent()));
    Path relative = Locations.resolve(new Configuration(), "some/relative/dir");
    assertEquals(new Path(java.nio.file.Path.of("some/relative/dir").toAbsolutePath().toUri()), relative,
        "a string without a scheme is a local path relative to the working folder");
  }

  private record Outputs(List<String> tracin, List<String> ekfac, List<String> self) {}

  private static Outputs pipeline(SparkSession spark, InfluenceSettings s) {
    InfluenceSettings ekfac = s.with("score.method", "ekfac").with("score.folder", "scores-ekfac");
    Stages.extract(spark, s);
    Stages.fitEkfac(spark, ekfac);
    List<String> self = rows(Stages.selfInfluence(spark, s).collectAsList());
    List<String> tracin = rows(Stages.score(spark, s).select("query_id", "direction", "rank", "train_id",
        "score", "text").collectAsList());
    List<String> ek = rows(Stages.score(spark, ekfac).select("query_id", "direction", "rank", "train_id",
        "score", "damping").collectAsList());
    ReportBuilder.write(spark, s);
    return new Outputs(tracin, ek, self);
  }

  private static List<String> rows(List<Row> rows) {
    return rows.stream().map(Row::toString).sorted().toList();
  }

  private static Map<String, String> inputs(String corpus, String run, String queries, String out) {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("input.corpus", corpus);
    o.put("input.run", run);
    o.put("input.queries", queries);
    o.put("output.dir", out);
    return o;
  }

  private static String read(java.nio.file.Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
