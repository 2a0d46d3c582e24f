package io.influence.bench;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.CausalLm;
import io.influence.core.train.Initialization;
import io.influence.core.train.Trainer;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.ExtractSettings.Projection;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.io.Corpus;
import java.io.BufferedWriter;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The pieces the Spark speed tasks share: a seeded random GPT-2 checkpoint saved as a training run, a
 * corpus of random token sequences (JSON Lines), and one timed {@link ExtractJob#run} with the tasks'
 * summed run time (from a Spark listener), which tells how busy the task slots were.
 */
final class ExtractBench {

  private ExtractBench() {}

  /**
   * The bench model: vocabulary, context (= sequence length of the corpus), width, layers; heads = width / 64.
   * Keys {@code -P vocab, ctx, width, layers} (quick 512, 32, 64, 1; full 1024, 64, 128, 2).
   */
  record ModelSize(int vocab, int seq, int width, int layers) {
    static ModelSize of(BenchOptions o) {
      return new ModelSize(o.intParam("vocab", 512, 1024), o.intParam("ctx", 32, 64), o.intParam("width", 64, 128),
          o.intParam("layers", 1, 2));
    }

    String describe() {
      return String.format(Locale.ROOT, "GPT-2 %d layer(s), width %d, vocab %d, %d tokens per sequence", layers, width,
          vocab, seq);
    }
  }

  /**
   * One timed extraction: wall seconds, rows, the summed run time of its Spark tasks, and the stage that did the
   * most work (the gradient stage): its wall seconds, tasks, and longest and mean task run time; and the time this
   * JVM's garbage collectors reported meanwhile (in local mode, the tasks' collections).
   */
  record Timing(double seconds, long rows, double taskSeconds, int tasks, double mainStageSeconds,
                int mainStageTasks, double mainStageMaxTaskSeconds, double mainStageMeanTaskSeconds,
                double gcSeconds) {
    double rowsPerS() {
      return rows / seconds;
    }

    /** Summed task time over (wall time × slots): 1 when every slot computed all the time. */
    double busyFraction(int slots) {
      return taskSeconds / (seconds * slots);
    }

    /** Wall time outside the gradient stage: driver work, the tokenising and checking jobs, the store commit. */
    double outsideMainStageSeconds() {
      return seconds - mainStageSeconds;
    }
  }

  /** A random checkpoint (seeded) saved under {@code dir/run} with our manifest. */
  static TrainingRun randomRun(Path dir, ModelSize m, long seed) throws Exception {
    Gpt2Config config = new Gpt2Config(m.vocab(), m.seq(), m.width(), m.layers(), Math.max(1, m.width() / 64), 1e-5,
        "gelu_new");
    CausalLm model = Initialization.gpt2(config, seed, DataType.FLOAT);
    Path runDir = dir.resolve("run");
    Path checkpoint = runDir.resolve("checkpoint-1");
    Trainer.save(model, checkpoint, Optional.empty());
    TrainingRuns.writeManifest(runDir, List.of(new RunCheckpoint(1, 1e-3, checkpoint, TrainingRuns.sha256(checkpoint))));
    return TrainingRuns.read(runDir, OptionalDouble.empty());
  }

  /** {@code rows} random sequences of {@code m.seq()} token ids as JSON Lines {@code {"id", "input_ids"}}. */
  static Path corpus(Path dir, int rows, ModelSize m, long seed) throws Exception {
    Random random = new Random(seed);
    Path file = dir.resolve("corpus-" + rows + "-" + seed + ".jsonl");
    try (BufferedWriter w = Files.newBufferedWriter(file)) {
      StringBuilder s = new StringBuilder();
      for (int i = 0; i < rows; i++) {
        s.setLength(0);
        s.append("{\"id\": \"r").append(i).append("\", \"input_ids\": [");
        for (int t = 0; t < m.seq(); t++) {
          s.append(t == 0 ? "" : ",").append(random.nextInt(m.vocab()));
        }
        w.write(s.append("]}\n").toString());
      }
    }
    return file;
  }

  /**
   * The extraction kernel without Spark: {@code threads} threads, each with its own model loaded from {@code run}'s
   * checkpoint, each extracting {@code rowsPerThread} random sequences (batches of 16, projection {@code k × k}) after
   * one warm-up batch; returns rows per second over all threads. What Spark's scaling is compared with.
   */
  static double kernelRowsPerS(TrainingRun run, ModelSize m, int k, int threads, int rowsPerThread, long seed)
      throws Exception {
    RunCheckpoint c = run.checkpoints().get(0);
    List<Callable<Void>> work = new ArrayList<>();
    CyclicBarrier start = new CyclicBarrier(threads + 1);
    for (int t = 0; t < threads; t++) {
      Random random = new Random(seed + t);
      List<String> ids = new ArrayList<>();
      List<int[]> tokens = new ArrayList<>();
      for (int i = 0; i < rowsPerThread; i++) {
        ids.add("r" + i);
        tokens.add(random.ints(m.seq(), 0, m.vocab()).toArray());
      }
      work.add(() -> {
        CausalLm model = CausalLm.load(c.dir(), DataType.FLOAT);
        GradientExtractor extractor = new GradientExtractor(model,
            model.projections(model.linearLayers(), k, k, 42), 16);
        int warm = Math.min(16, rowsPerThread);
        extractor.extract(ids.subList(0, warm), tokens.subList(0, warm), null);
        start.await();
        for (int i = 0; i < rowsPerThread; i += 16) {
          int end = Math.min(rowsPerThread, i + 16);
          extractor.extract(ids.subList(i, end), tokens.subList(i, end), null);
        }
        return null;
      });
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Void>> done = new ArrayList<>();
      for (Callable<Void> w : work) {
        done.add(pool.submit(w));
      }
      start.await();
      long t0 = System.nanoTime();
      for (Future<Void> f : done) {
        f.get();
      }
      return threads * (double) rowsPerThread / ((System.nanoTime() - t0) / 1e9);
    } finally {
      pool.shutdownNow();
    }
  }

  /** Runs the extract stage (projection {@code k × k}, batches of 16) into a new store; returns its timing. */
  static Timing extract(SparkSession spark, Path corpus, TrainingRun run, Path store, int k, long rows) {
    TaskTime listener = new TaskTime();
    spark.sparkContext().addSparkListener(listener);
    try {
      var spec = new ExtractSpec(Corpus.read(spark, corpus), run, store, new Projection(k, k, 42), null, 16,
          BadRows.FAIL, LongText.WINDOWS);
      long gc0 = gcMillis();
      long t0 = System.nanoTime();
      ExtractJob.Result r = ExtractJob.run(spark, spec);
      double seconds = (System.nanoTime() - t0) / 1e9;
      if (r.written().size() != 1) {
        throw new IllegalStateException("the bench extraction wrote " + r.written() + " into " + store
            + "; expected one new checkpoint");
      }
      listener.settle();
      return listener.timing(seconds, rows, (gcMillis() - gc0) / 1e3);
    } finally {
      spark.sparkContext().removeSparkListener(listener);
    }
  }

  private static long gcMillis() {
    long sum = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      sum += Math.max(0, gc.getCollectionTime());
    }
    return sum;
  }

  /**
   * Sums the executor run time of finished tasks, overall and per stage, and keeps each stage's wall time (events
   * arrive asynchronously; {@link #settle} waits briefly for the last ones).
   */
  private static final class TaskTime extends SparkListener {
    private final Map<Integer, long[]> perStage = new ConcurrentHashMap<>(); // run ms sum, max, count
    private final Map<Integer, Long> stageWallMillis = new ConcurrentHashMap<>();
    private final AtomicLong runMillis = new AtomicLong();
    private final AtomicInteger tasks = new AtomicInteger();

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
      long ms = end.taskMetrics() == null ? 0 : end.taskMetrics().executorRunTime();
      runMillis.addAndGet(ms);
      perStage.compute(end.stageId(), (k, v) -> {
        long[] x = v == null ? new long[3] : v;
        x[0] += ms;
        x[1] = Math.max(x[1], ms);
        x[2]++;
        return x;
      });
      tasks.incrementAndGet();
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted done) {
      StageInfo info = done.stageInfo();
      if (info.submissionTime().isDefined() && info.completionTime().isDefined()) {
        stageWallMillis.put(info.stageId(), (Long) info.completionTime().get() - (Long) info.submissionTime().get());
      }
    }

    void settle() {
      int last = -1;
      for (int i = 0; i < 20 && tasks.get() != last; i++) {
        last = tasks.get();
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }

    Timing timing(double seconds, long rows, double gcSeconds) {
      int main = -1;
      long[] best = {0, 0, 1};
      for (Map.Entry<Integer, long[]> e : perStage.entrySet()) {
        if (main < 0 || e.getValue()[0] > best[0]) {
          main = e.getKey();
          best = e.getValue();
        }
      }
      double mainWall = stageWallMillis.getOrDefault(main, 0L) / 1e3;
      return new Timing(seconds, rows, runMillis.get() / 1e3, tasks.get(), mainWall, (int) best[2], best[1] / 1e3,
          best[0] / 1e3 / Math.max(1, best[2]), gcSeconds);
    }
  }
}
