package io.influence.spark.bench;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.Gpt2Model;
import io.influence.core.train.Initialization;
import io.influence.core.train.Trainer;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.io.Corpus;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
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

  /** One timed extraction: wall seconds, rows, and the summed run time of its Spark tasks. */
  record Timing(double seconds, long rows, double taskSeconds, int tasks) {
    double rowsPerS() {
      return rows / seconds;
    }

    /** Summed task time over (wall time × slots): 1 when every slot computed all the time. */
    double busyFraction(int slots) {
      return taskSeconds / (seconds * slots);
    }
  }

  /** A random checkpoint (seeded) saved under {@code dir/run} with our manifest. */
  static TrainingRun randomRun(Path dir, ModelSize m, long seed) throws Exception {
    Gpt2Config config = new Gpt2Config(m.vocab(), m.seq(), m.width(), m.layers(), Math.max(1, m.width() / 64), 1e-5,
        "gelu_new");
    Gpt2Model model = Initialization.gpt2(config, seed, DataType.FLOAT);
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

  /** Runs the extract stage (projection {@code k × k}, batches of 16) into a new store; returns its timing. */
  static Timing extract(SparkSession spark, Path corpus, TrainingRun run, Path store, int k, long rows) {
    TaskTime listener = new TaskTime();
    spark.sparkContext().addSparkListener(listener);
    try {
      var spec = new ExtractSpec(Corpus.read(spark, corpus), run, store, new ExtractSpec.Projection(k, k, 42), null, 16,
          ExtractSpec.BadRowPolicy.FAIL);
      long t0 = System.nanoTime();
      ExtractJob.Result r = ExtractJob.run(spark, spec);
      double seconds = (System.nanoTime() - t0) / 1e9;
      if (r.written().size() != 1) {
        throw new IllegalStateException("the bench extraction wrote " + r.written() + " into " + store
            + "; expected one new checkpoint");
      }
      listener.settle();
      return new Timing(seconds, rows, listener.runMillis.get() / 1e3, listener.tasks.get());
    } finally {
      spark.sparkContext().removeSparkListener(listener);
    }
  }

  /** Sums the executor run time of finished tasks (events arrive asynchronously; {@link #settle} waits briefly). */
  private static final class TaskTime extends SparkListener {
    final AtomicLong runMillis = new AtomicLong();
    final AtomicInteger tasks = new AtomicInteger();

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
      if (end.taskMetrics() != null) {
        runMillis.addAndGet(end.taskMetrics().executorRunTime());
      }
      tasks.incrementAndGet();
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
  }
}
