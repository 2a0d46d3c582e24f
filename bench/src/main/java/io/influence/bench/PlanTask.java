package io.influence.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.CausalLm;
import io.influence.core.tokenizer.BpeTrainer;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.train.Initialization;
import io.influence.core.train.Trainer;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.plan.Plan;
import io.influence.spark.plan.Planner;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The cost planner against the run it plans: {@link Planner#plan} first, then the real extract, fit-ekfac,
 * self-influence and score stages on the same settings and session, each timed; per stage the planned and the
 * measured seconds and their ratio, and the planned and the written store bytes. Target: every ratio within 30%
 * (0.7 to 1.3).
 *
 * <p>Data: the quickstart's fortunes (real text) as the corpus and the queries (a fortune's first half as prompt,
 * the rest as completion), a byte-level BPE trained on them, and {@code checkpoints} random GPT-2 checkpoints
 * (seeded; the planner and the stages only need shapes and real forward/backward passes, not a trained model).
 * Keys: {@code -P rows=} (quick 400, full 2000), {@code queries=} (8, 16), {@code width=} (64, 128), {@code layers=}
 * (2, 2), {@code ctx=} (64, 64), {@code vocab=} (512, 1024), {@code checkpoints=} (2, 2), {@code candidates=} (20),
 * and any setting as {@code set.KEY=VALUE}. Runs on {@code local[cores]} with one BLAS thread per task.
 */
final class PlanTask implements BenchTask {

  @Override
  public String name() {
    return "plan";
  }

  @Override
  public String kind() {
    return "speed";
  }

  @Override
  public String description() {
    return "influence plan's estimates (seconds per stage, store bytes) against the measured extract, fit-ekfac, "
        + "self-influence and score of the same run";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    int rows = o.intParam("rows", 400, 2000);
    int queries = o.intParam("queries", 8, 16);
    int width = o.intParam("width", 64, 128);
    int layers = o.intParam("layers", 2, 2);
    int ctx = o.intParam("ctx", 64, 64);
    int vocab = o.intParam("vocab", 512, 1024);
    int checkpoints = o.intParam("checkpoints", 2, 2);
    int candidates = o.intParam("candidates", 20, 20);
    Path work = o.workDir();
    List<String> fortunes = BenchCorpus.fortunes();
    if (fortunes.size() < rows + queries) {
      throw new IllegalArgumentException("the quickstart text has " + fortunes.size() + " fortunes; -P rows=" + rows
          + " plus -P queries=" + queries + " do not fit. HINT: lower -P rows");
    }
    ObjectMapper json = new ObjectMapper();
    Path corpus = work.resolve("corpus.jsonl");
    try (BufferedWriter w = Files.newBufferedWriter(corpus)) {
      for (int i = 0; i < rows; i++) {
        w.write(json.writeValueAsString(Map.of("id", String.format(Locale.ROOT, "f%05d", i), "text", fortunes.get(i))));
        w.write('\n');
      }
    }
    Path queryFile = work.resolve("queries.jsonl");
    try (BufferedWriter w = Files.newBufferedWriter(queryFile)) {
      for (int q = 0; q < queries; q++) {
        String f = fortunes.get(rows + q);
        int cut = Math.max(1, f.length() / 2);
        w.write(json.writeValueAsString(Map.of("id", "q" + q, "prompt", f.substring(0, cut),
            "completion", f.substring(cut))));
        w.write('\n');
      }
    }
    Path tokenizerJson = work.resolve("tokenizer.json");
    Tokenizer tokenizer = BpeTrainer.train(fortunes.subList(0, rows), vocab, tokenizerJson);
    Path runDir = work.resolve("run");
    List<RunCheckpoint> saved = new ArrayList<>();
    for (int c = 1; c <= checkpoints; c++) {
      CausalLm model = Initialization.gpt2(new Gpt2Config(tokenizer.vocabSize(), ctx, width, layers,
          Math.max(1, width / 32), 1e-5, "gelu_new"), o.seed() + c, DataType.FLOAT);
      Path dir = runDir.resolve("checkpoint-" + c);
      Trainer.save(model, dir, Optional.of(tokenizerJson));
      saved.add(new RunCheckpoint(c, 1e-3, dir, TrainingRuns.sha256(dir)));
    }
    TrainingRuns.writeManifest(runDir, saved);

    int slots = BlasThreads.cores();
    Map<String, String> m = new LinkedHashMap<>();
    m.put("input.corpus", corpus.toString());
    m.put("input.queries", queryFile.toString());
    m.put("input.run", runDir.toString());
    m.put("output.dir", work.resolve("out").toString());
    m.put("score.method", "ekfac");
    m.put("spark.master", "local[" + slots + "]");
    o.params().forEach((k, v) -> {
      if (k.startsWith("set.")) {
        m.put(k.substring(4), v);
      }
    });
    InfluenceSettings s = Settings.load(Optional.empty(), m);

    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    SparkSession spark = BenchSpark.session("local[" + slots + "]");
    try (BlasThreads t = BlasThreads.set(1)) {
      long t0 = System.nanoTime();
      Plan plan = Planner.plan(spark, s, new Planner.Options(candidates, 1.0));
      b.metric("plan_seconds", (System.nanoTime() - t0) / 1e9);
      for (String line : plan.table().split("\n")) {
        if (!line.isBlank()) {
          b.note("plan: " + line);
        }
      }
      Map<String, Double> measured = new LinkedHashMap<>();
      java.util.concurrent.atomic.AtomicInteger jobs = new java.util.concurrent.atomic.AtomicInteger();
      spark.sparkContext().addSparkListener(new org.apache.spark.scheduler.SparkListener() {
        @Override
        public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart start) {
          jobs.incrementAndGet();
        }
      });
      Map<String, Supplier<?>> stages = new LinkedHashMap<>();
      stages.put("extract", () -> Stages.extract(spark, s));
      stages.put("fit-ekfac", () -> Stages.fitEkfac(spark, s));
      stages.put("self-influence", () -> Stages.selfInfluence(spark, s).count());
      stages.put("score", () -> Stages.score(spark, s).count());
      for (Map.Entry<String, Supplier<?>> e : stages.entrySet()) {
        int before = jobs.get();
        measured.put(e.getKey(), timed(e.getValue()));
        b.note(e.getKey() + ": " + (jobs.get() - before) + " Spark jobs");
      }
      for (Map.Entry<String, Double> e : measured.entrySet()) {
        Plan.Stage stage = plan.stage(e.getKey()).orElseThrow(() -> new IllegalStateException("the plan has no stage "
            + e.getKey() + "; it planned " + plan.stages()));
        String key = e.getKey().replace('-', '_');
        b.metric(key + "_planned_s", stage.seconds());
        b.metric(key + "_measured_s", e.getValue());
        b.metric(key + "_ratio", stage.seconds() / e.getValue());
        b.atMost(key + "_ratio_error", Math.abs(stage.seconds() / e.getValue() - 1), 0.3);
      }
      long written = Planner.folderBytes(work.resolve("out").resolve(Stages.GRADIENTS));
      b.metric("store_planned_bytes", plan.storeBytes());
      b.metric("store_written_bytes", written);
      b.atMost("store_ratio_error", Math.abs((double) plan.storeBytes() / written - 1), 0.3);
    } finally {
      spark.stop();
    }
    b.note(String.format(Locale.ROOT, "GPT-2 %d layers, width %d, context %d, BPE %d; %d fortunes, %d queries, "
        + "%d random checkpoints; local[%d], 1 BLAS thread per task; score.method ekfac", layers, width, ctx,
        tokenizer.vocabSize(), rows, queries, checkpoints, slots));
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }

  /** Wall seconds of {@code work}, which forces its result. */
  private static double timed(Supplier<?> work) {
    long t0 = System.nanoTime();
    work.get();
    return (System.nanoTime() - t0) / 1e9;
  }
}
