package io.influence.spark.bench;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.Gpt2Model;
import io.influence.core.train.Initialization;
import io.influence.core.train.Trainer;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.io.Corpus;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Random;
import java.util.stream.Collectors;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Extraction throughput of the Spark pipeline: {@code local[1]} against {@code local[2]} on the
 * same corpus, and the driver's peak heap as the corpus grows (1×, 4×, 16× by default). Writes
 * its own data from a seed (a random GPT-2 checkpoint and random token sequences); prints one
 * JSON line. Not a test: run it on a quiet machine.
 *
 * <pre>
 *   java ... io.influence.spark.bench.ExtractBench [rows=2000] [seq=64] [width=128] [layers=2] [k=16] [seed=1]
 * </pre>
 */
public final class ExtractBench {

  private ExtractBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new LinkedHashMap<>();
    for (String arg : args) {
      String[] kv = arg.replaceFirst("^--", "").split("=", 2);
      a.put(kv[0], kv.length > 1 ? kv[1] : "true");
    }
    int rows = Integer.parseInt(a.getOrDefault("rows", "2000"));
    int seq = Integer.parseInt(a.getOrDefault("seq", "64"));
    int width = Integer.parseInt(a.getOrDefault("width", "128"));
    int layers = Integer.parseInt(a.getOrDefault("layers", "2"));
    int k = Integer.parseInt(a.getOrDefault("k", "16"));
    long seed = Long.parseLong(a.getOrDefault("seed", "1"));
    Path dir = Files.createTempDirectory("extract-bench");
    Gpt2Config config = new Gpt2Config(1024, seq, width, layers, Math.max(1, width / 64), 1e-5, "gelu_new");
    Gpt2Model model = Initialization.gpt2(config, seed, DataType.FLOAT);
    Path checkpoint = dir.resolve("run").resolve("checkpoint-1");
    Trainer.save(model, checkpoint, java.util.Optional.empty());
    TrainingRuns.writeManifest(dir.resolve("run"), List.of(new io.influence.checkpoints.RunCheckpoint(1, 1e-3,
        checkpoint, TrainingRuns.sha256(checkpoint))));
    TrainingRun run = TrainingRuns.read(dir.resolve("run"), OptionalDouble.empty());

    Map<String, Object> out = new LinkedHashMap<>();
    out.put("rows", rows);
    out.put("seq", seq);
    out.put("width", width);
    out.put("layers", layers);
    out.put("projection", k + "x" + k);
    for (String master : List.of("local[1]", "local[2]")) {
      out.put(master + "_rows_per_s", rate(master, corpus(dir, rows, seq, seed), run, dir, k, rows));
    }
    out.put("speedup_2_vs_1", (double) out.get("local[2]_rows_per_s") / (double) out.get("local[1]_rows_per_s"));
    List<String> heap = new ArrayList<>();
    for (int scale : new int[] {1, 4, 16}) {
      resetPeaks();
      rate("local[2]", corpus(dir, rows * scale, seq, seed + scale), run, dir, k, rows * scale);
      heap.add(String.format(Locale.ROOT, "\"%dx\": %.1f", scale, peakHeapMiB()));
    }
    out.put("driver_peak_heap_mib", "{" + String.join(", ", heap) + "}");
    System.out.println(out.entrySet().stream().map(e -> "\"" + e.getKey() + "\": " + (e.getValue() instanceof String s
        && !s.startsWith("{") ? "\"" + s + "\"" : e.getValue())).collect(Collectors.joining(", ", "{", "}")));
  }

  private static Path corpus(Path dir, int rows, int seq, long seed) throws Exception {
    Random random = new Random(seed);
    Path file = dir.resolve("corpus-" + rows + "-" + seed + ".jsonl");
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < rows; i++) {
      s.append("{\"id\": \"r").append(i).append("\", \"input_ids\": [");
      for (int t = 0; t < seq; t++) {
        s.append(t == 0 ? "" : ",").append(random.nextInt(1024));
      }
      s.append("]}\n");
    }
    Files.writeString(file, s);
    return file;
  }

  private static double rate(String master, Path corpus, TrainingRun run, Path dir, int k, int rows) {
    SparkSession spark = SparkSession.builder().master(master).appName("extract-bench")
        .config("spark.ui.enabled", "false").config("spark.sql.files.maxPartitionBytes", String.valueOf(1 << 20))
        .getOrCreate();
    try {
      Path store = dir.resolve("store-" + master.replaceAll("\\W", "") + "-" + System.nanoTime());
      var spec = new ExtractSpec(Corpus.read(spark, corpus), run, store, new ExtractSpec.Projection(k, k, 42), null, 16,
          ExtractSpec.BadRowPolicy.FAIL);
      long t0 = System.nanoTime();
      ExtractJob.run(spark, spec);
      return rows / ((System.nanoTime() - t0) / 1e9);
    } finally {
      spark.stop();
    }
  }

  private static void resetPeaks() {
    System.gc();
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      pool.resetPeakUsage();
    }
  }

  private static double peakHeapMiB() {
    long sum = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        sum += pool.getPeakUsage().getUsed();
      }
    }
    return sum / (1024.0 * 1024.0);
  }
}
