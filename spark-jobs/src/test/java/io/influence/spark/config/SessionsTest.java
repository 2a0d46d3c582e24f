package io.influence.spark.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

class SessionsTest {

  private static final int CORES = Runtime.getRuntime().availableProcessors();

  @Test
  void blasThreads_localWithAllCoresAsTasks_givesOneThreadPerTask() {
    assertEquals(Math.max(1, CORES / CORES), Sessions.blasThreads("auto", new SparkConf().setMaster("local[*]")));
  }

  @Test
  void blasThreads_localWithOneTask_givesAllCores() {
    assertEquals(CORES, Sessions.blasThreads("auto", new SparkConf().setMaster("local[1]")));
  }

  @Test
  void blasThreads_explicitNumber_isKept() {
    assertEquals(3, Sessions.blasThreads("3", new SparkConf().setMaster("local[*]")));
  }

  @Test
  void blasThreads_clusterWithMultiCpuTasks_givesTaskCpus() {
    SparkConf conf = new SparkConf().setMaster("spark://h:7077").set("spark.executor.cores", "8")
        .set("spark.task.cpus", "4");
    assertEquals(Math.min(CORES, 4), Sessions.blasThreads("auto", conf));
  }

  @Test
  void blasThreads_nonsense_failsNamingSetting() {
    var e = assertThrows(IllegalArgumentException.class, () -> Sessions.blasThreads("many", new SparkConf()));
    assertEquals(true, e.getMessage().contains("blas-threads"));
  }
}
