package io.influence.bench;

import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.config.TrainSettings;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.train.TrainJob;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.apache.spark.sql.Row;

/**
 * What the corpus tasks share: the settings of one bench run (the engine's {@code reference.conf}, then the
 * task's model sizes, then any {@code -P set.KEY=VALUE} flag, which wins), training with the real trainer
 * ({@link TrainJob}), and the real pipeline ({@link Stages}) on a local Spark session, read back as plain maps.
 *
 * <p>Model-size flags (each task gives its own quick and full defaults): {@code -P vocab=}, {@code width=},
 * {@code layers=}, {@code heads=}, {@code steps=}, {@code checkpoints=}; any engine setting with
 * {@code -P set.extract.projection.k-in=32} and the like.
 */
final class BenchPipeline {

  /** A task's default sizes of the quick and the full version. */
  record Sizes(int vocab, int width, int layers, int heads, int steps, int checkpoints) {}

  private BenchPipeline() {}

  /** The settings of a bench run writing under {@code out}. */
  static InfluenceSettings settings(BenchOptions o, Sizes quick, Sizes full, Path out, BenchCorpus.Written data) {
    return settings(o, quick, full, out, data, Map.of());
  }

  /**
   * The settings of a bench run writing under {@code out}, with a task's own defaults of other engine keys
   * ({@code taskDefaults}, e.g. {@code train.optimizer}) over {@code reference.conf}; {@code -P set.KEY=VALUE} still wins.
   */
  static InfluenceSettings settings(BenchOptions o, Sizes quick, Sizes full, Path out, BenchCorpus.Written data,
      Map<String, String> taskDefaults) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("output.dir", out.toString());
    m.put("input.corpus", data.corpus().toString());
    m.put("input.queries", data.queries().toString());
    m.put("input.run", out.resolve("run").toString());
    m.put("train.vocab-size", String.valueOf(o.intParam("vocab", quick.vocab(), full.vocab())));
    m.put("train.width", String.valueOf(o.intParam("width", quick.width(), full.width())));
    m.put("train.layers", String.valueOf(o.intParam("layers", quick.layers(), full.layers())));
    m.put("train.heads", String.valueOf(o.intParam("heads", quick.heads(), full.heads())));
    m.put("train.steps", String.valueOf(o.intParam("steps", quick.steps(), full.steps())));
    m.put("train.checkpoints", String.valueOf(o.intParam("checkpoints", quick.checkpoints(), full.checkpoints())));
    m.put("train.seed", String.valueOf(o.seed()));
    m.put("score.top-k", String.valueOf(data.texts().size()));   // the full ranking of every query
    m.putAll(taskDefaults);
    o.params().forEach((k, v) -> {
      if (k.startsWith("set.")) {
        m.put(k.substring(4), v);
      }
    });
    try {
      return Settings.load(Optional.empty(), m);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("bench settings are not valid (" + e.getMessage() + "). HINT: -P set.KEY=VALUE "
          + "takes the keys of conf/reference.conf without the influence. prefix", e);
    }
  }

  /** Trains the model of {@code s} on its corpus into {@code input.run}. */
  static TrainJob.Result train(InfluenceSettings s, Consumer<String> log) {
    return TrainJob.run(Path.of(s.input().corpus("train")), Path.of(s.input().run("train")), s.train(),
        s.input().longText(), log);
  }

  /** Every query's score of every training sequence with {@code method} (a score.method word): query → train → score. */
  static Map<String, Map<String, Double>> scores(org.apache.spark.sql.SparkSession spark, InfluenceSettings s,
      String method) {
    InfluenceSettings c = s.with("score.method", method).with("output.overwrite", true);
    Map<String, Map<String, Double>> out = new LinkedHashMap<>();
    List<Row> rows = Stages.score(spark, c).collectAsList();
    for (Row r : rows) {
      if ("top".equals(r.getAs("direction"))) {
        out.computeIfAbsent(r.getAs("query_id"), k -> new LinkedHashMap<>()).put(r.getAs("train_id"), r.getAs("score"));
      }
    }
    return out;
  }

  /** Self-influence of every training sequence with {@code method} ("tracin" or "ekfac"): train id → score. */
  static Map<String, Double> selfInfluence(org.apache.spark.sql.SparkSession spark, InfluenceSettings s,
      String method) {
    InfluenceSettings c = s.with("self-influence.method", method).with("output.overwrite", true);
    Map<String, Double> out = new LinkedHashMap<>();
    for (Row r : Stages.selfInfluence(spark, c).collectAsList()) {
      out.put(r.getAs("train_id"), r.getAs("score"));
    }
    return out;
  }

  /** A one-line summary of the model trained, for the notes. */
  static String describe(InfluenceSettings s, TrainJob.Result t) {
    TrainSettings c = s.train();
    return String.format(java.util.Locale.ROOT, "model: GPT-2 %d layers x width %d, BPE %d, %d steps (loss %.3f -> %.3f), "
            + "%d checkpoints; gradients projected %s", c.layers(), c.width(), c.vocabSize(),
        c.steps(), t.firstLoss(), t.lastLoss(), t.run().checkpoints().size(),
        s.extract().projection().map(p -> p.kOut() + "x" + p.kIn() + " per layer").orElse("off (full)"));
  }
}
