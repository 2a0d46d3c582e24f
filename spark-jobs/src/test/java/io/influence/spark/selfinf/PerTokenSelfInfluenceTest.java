package io.influence.spark.selfinf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code self-influence.normalize = per-token} through the pipeline on a real tiny run: each score equals the
 * summed-loss self-influence of the same store divided by the sequence's predicted tokens (its token count from
 * the run's own tokenizer, minus one), computed here independently; ranks and quantiles follow the new scores.
 */
class PerTokenSelfInfluenceTest {

  @TempDir
  Path dir;

  @Test
  void perToken_equalsSummedScoreOverPredictedTokens_andBadSettingIsNamed() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    SparkSession spark = LocalSpark.get();
    Map<String, String> o = new LinkedHashMap<>();
    o.put("input.corpus", tiny.corpus().toString());
    o.put("input.run", dir.resolve("run").toString());
    o.put("output.dir", dir.resolve("sum").toString());
    InfluenceSettings sum = Settings.load(Optional.empty(), o);
    Stages.extract(spark, sum);
    Map<String, Double> summed = new HashMap<>();
    Stages.selfInfluence(spark, sum).collectAsList().forEach(r -> summed.put(r.getString(0), r.getDouble(1)));

    o.put("self-influence.normalize", "per-token");
    InfluenceSettings perToken = Settings.load(Optional.empty(), o);
    // the same store, self-influence again per token (other settings: replaces the stage's output)
    List<Row> rows = Stages.selfInfluence(spark, perToken.with("output.overwrite", true)).collectAsList();

    assertEquals(tiny.ids().size(), rows.size());
    double previous = Double.POSITIVE_INFINITY;
    for (Row r : rows) {
      String id = r.getString(0);
      int predicted = tiny.tokenizer().encode(tiny.texts().get(tiny.ids().indexOf(id))).length - 1;
      assertTrue(predicted >= 1, id);
      assertEquals(summed.get(id) / predicted, r.getDouble(1), 1e-12 * Math.abs(summed.get(id)), id);
      assertTrue(r.getDouble(1) <= previous, "rows come highest first");
      previous = r.getDouble(1);
    }

    o.put("self-influence.normalize", "mean");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Stages.selfInfluence(spark, Settings.load(Optional.empty(), o).with("output.overwrite", true)));
    assertTrue(e.getMessage().contains("self-influence.normalize"), e.getMessage());
  }
}
