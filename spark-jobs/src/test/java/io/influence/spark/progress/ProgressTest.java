package io.influence.spark.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.testing.LocalSpark;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

class ProgressTest {

  @Test
  void progress_countsRowsFinishedByTasks_andPrintsAFinalLine() {
    List<String> lines = new ArrayList<>();
    var spark = LocalSpark.get();
    try (Progress p = Progress.start(spark.sparkContext(), "demo", 1000, Duration.ofHours(1), lines::add)) {
      var acc = p.counter();
      JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(List.of(1, 2, 3, 4), 4)
          .foreach(i -> acc.add(100));
      assertTrue(p.line().startsWith("demo: 400/1000 rows (40%), "), p.line());
      assertTrue(p.line().contains("left"), p.line());
    }
    assertEquals(1, lines.size());
    assertTrue(lines.get(0).startsWith("demo: 400/1000 rows (40%)") && lines.get(0).contains(" in "), lines.get(0));
  }
}
