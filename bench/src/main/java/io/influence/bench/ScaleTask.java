package io.influence.bench;

import io.influence.core.score.TopK;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.score.QueryGradient;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.score.ScoreSpec;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.GradientTable;
import io.influence.spark.store.RowGather;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.testing.StandaloneCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;

/**
 * Exact top-k over a large store: a synthetic store of projected gradients (seeded uniform floats, written as a
 * stream: each write task generates its own rows, nothing per row passes through the driver) scored by the real
 * {@link ScoreJob} at 1/4 and at the full size. Measures the whole job's time against the float32 GEMM peak measured in
 * the same run, the live heap of the JVM (after a forced GC every {@code period} ms, {@link HeapSampler}) during the
 * job at both sizes, a pass that only reads and decodes the rows, and checks the job's top-k and bottom-k of a few
 * queries against a float64 brute-force pass over the same store. Each store is deleted when its part is done.
 *
 * <p>In local mode the executor's tasks run in the driver's JVM, so the heap figure is driver and tasks together: an
 * upper bound of the driver's, whose largest sample depends on which task buffers (Parquet row groups, Tungsten
 * pages of the id check, block buffers) a forced collection happens to meet. With {@code -P master=standalone} the
 * job runs on a real standalone cluster on this machine (spark-jobs' {@code StandaloneCluster}: a Master and one
 * Worker with {@code slots} cores, the executor in its own JVM), so the sampled heap is the driver's alone.
 *
 * <p>Keys: {@code -P train=N} (quick 20,000; full 1,000,000), {@code queries} (64; 2,048), {@code grad-layers},
 * {@code grad-rows}, {@code grad-cols} (2 × 32 × 16: D = 1,024, 4 KiB a row), {@code topk} (10), {@code block}
 * (2,048), {@code check} (queries checked by brute force, 4), {@code period} (ms between heap samples, 2,000),
 * {@code slots} (cores), {@code master} ({@code local} or {@code standalone}; {@code executor-memory}, 4g).
 */
final class ScaleTask implements BenchTask {

  @Override
  public String name() {
    return "scale";
  }

  @Override
  public String kind() {
    return "speed";
  }

  @Override
  public String description() {
    return "exact top-k over a 1M-row synthetic store: job time vs GEMM peak, live heap at 1/4 and full size,"
        + " top-k vs a float64 brute-force pass";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    int train = o.intParam("train", 20_000, 1_000_000);
    ScoreBench.Sizes sizes = new ScoreBench.Sizes(train, o.intParam("queries", 64, 2048),
        o.intParam("grad-layers", 2, 2), o.intParam("grad-rows", 32, 32), o.intParam("grad-cols", 16, 16),
        o.intParam("topk", 10, 10), o.intParam("block", 2048, 2048));
    ScoreBench.Sizes quarter = new ScoreBench.Sizes(Math.max(1, train / 4), sizes.queries(), sizes.layers(),
        sizes.rows(), sizes.cols(), sizes.k(), sizes.block());
    int check = Math.min(o.intParam("check", 4, 4), sizes.queries());
    int period = o.intParam("period", 2000, 2000);
    int slots = o.intParam("slots", BlasThreads.cores(), BlasThreads.cores());
    int threads = Math.max(1, BlasThreads.cores() / slots);
    long storeBytes = 4L * sizes.dim() * train + 16L * train;
    long free = Files.getFileStore(o.workDir()).getUsableSpace();
    if (free < storeBytes * 3 / 2) {
      throw new IllegalStateException(String.format(Locale.ROOT, "the scale bench needs about %.1f GB free under %s"
          + " for its store, %.1f GB are free. HINT: pass a smaller -P train or a --work-dir with more space.",
          storeBytes / 1e9, o.workDir(), free / 1e9));
    }
    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    b.note(String.format(Locale.ROOT, "%d train x %d queries, D = %d (%d layers of %dx%d), k = %d, blocks of %d rows;"
        + " store about %.2f GB; %d task slots, %d BLAS thread(s) per task; peak = %d concurrent 1024^3 GEMMs; heap"
        + " sampled after a forced GC every %d ms, -Xmx %.0f MiB",
        train, sizes.queries(), sizes.dim(), sizes.layers(), sizes.rows(), sizes.cols(), sizes.k(), sizes.block(),
        storeBytes / 1e9, slots, threads, slots, period, HeapSampler.maxHeapMiB()));

    String master = o.param("master", "local");
    if (!master.equals("local") && !master.equals("standalone")) {
      throw new IllegalArgumentException("-P master=" + master + " is not known. HINT: local or standalone.");
    }
    b.note(master.equals("local")
        ? "local[" + slots + "]: the heap is the driver's JVM with the executor's tasks in it"
        : "standalone cluster on this machine (a Master, one Worker of " + slots + " cores, the executor in its own"
            + " JVM): the heap is the driver's alone");
    String executorMemory = o.param("executor-memory", "4g");
    StandaloneCluster cluster = master.equals("local") ? null : StandaloneCluster.start(1, slots, executorMemory);
    SparkSession spark = cluster == null ? BenchSpark.session("local[" + slots + "]")
        : BenchSpark.session(cluster.masterUrl(), Map.of(
            "spark.executor.memory", executorMemory,
            "spark.cores.max", String.valueOf(slots),
            "spark.executor.extraJavaOptions", StandaloneCluster.javaOptions(),
            "spark.executorEnv.OMP_NUM_THREADS", String.valueOf(threads)));
    try (BlasThreads t = BlasThreads.set(threads)) {
      double peak = ScoreBench.gemmPeak(slots);
      b.metric("gemm_peak_gflops", peak);
      StoreMetadata meta = meta(sizes);
      List<QueryGradient> queries = queries(meta, sizes.queries());

      // 1/4 of the rows: live heap during the job (also the JIT's warm-up)
      Path small = o.workDir().resolve("store-quarter");
      long w0 = System.nanoTime();
      writeStore(spark, small, meta, quarter.train());
      b.metric("quarter_write_seconds", (System.nanoTime() - w0) / 1e9);
      Run q = job(spark, small, queries, sizes, period);
      b.metric("quarter_rows", quarter.train());
      b.metric("quarter_job_seconds", q.seconds());
      b.metric("quarter_live_heap_mib", q.liveMiB());
      deleteTree(small);

      // all rows: one job timed alone, one with the heap sampler, a read-only pass, the brute-force check
      Path store = o.workDir().resolve("store");
      long w1 = System.nanoTime();
      writeStore(spark, store, meta, train);
      b.metric("write_seconds", (System.nanoTime() - w1) / 1e9);
      b.metric("store_gb", bytes(store) / 1e9);
      try {
        long t0 = System.nanoTime();
        ScoreJob.run(spark, spec(store, queries, sizes)).count();
        double seconds = (System.nanoTime() - t0) / 1e9;
        double gflops = sizes.flops() / seconds / 1e9;
        b.metric("rows", train);
        b.metric("job_seconds", seconds);
        b.metric("job_gflops", gflops);
        b.atLeast("job_fraction_of_peak", gflops / peak, 0.70);
        Run full = job(spark, store, queries, sizes, period);
        b.metric("live_heap_mib", full.liveMiB());
        b.atMost("live_heap_growth", full.liveMiB() / q.liveMiB(), 1.25);
        b.metric("sampled_job_seconds", full.seconds());

        long t1 = System.nanoTime();
        GradientTable table = GradientStore.table(spark, store, List.of(meta.checkpoint()));
        b.metric("table_and_id_check_seconds", (System.nanoTime() - t1) / 1e9);
        long t2 = System.nanoTime();
        long read = readOnly(table);
        b.metric("read_only_seconds", (System.nanoTime() - t2) / 1e9);
        if (read != train) {
          throw new IllegalStateException("read " + read + " rows, expected " + train);
        }

        long t3 = System.nanoTime();
        Check c = check(spark, table, queries.subList(0, check), full.rows(), sizes.k());
        b.metric("brute_force_seconds", (System.nanoTime() - t3) / 1e9);
        b.metric("checked_queries", check);
        b.atLeast("exact_fraction", c.exact() / (double) check, 1.0);
        b.metric("max_score_error", c.maxError());
      } finally {
        deleteTree(store);
      }
    } finally {
      spark.stop();
      if (cluster != null) {
        cluster.close();
      }
    }
    b.note("job = ScoreJob.run end to end (store checks incl. the id check, one Parquet pass: decode, block GEMMs,"
        + " top-k and the float64 parts of kept pairs); job_seconds from a run without the heap sampler;"
        + " read_only = the same rows read and copied, no GEMM; exact = the top-k and bottom-k ids of a checked query"
        + " equal, in order, those of a float64 brute-force pass; max_score_error = largest |job score - float64"
        + " score|");
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }

  /** One job: its time, its rows (collected; 2k per query) and the largest live heap sampled while it ran. */
  private record Run(double seconds, double liveMiB, List<Row> rows) {}

  private static Run job(SparkSession spark, Path store, List<QueryGradient> queries, ScoreBench.Sizes sizes,
      int period) {
    List<Row> rows;
    double seconds;
    double live;
    try (HeapSampler heap = HeapSampler.start(period)) {
      long t0 = System.nanoTime();
      rows = ScoreJob.run(spark, spec(store, queries, sizes)).collectAsList();
      seconds = (System.nanoTime() - t0) / 1e9;
      live = heap.maxLiveMiB();
    }
    return new Run(seconds, live, rows);
  }

  private static ScoreSpec spec(Path store, List<QueryGradient> queries, ScoreBench.Sizes sizes) {
    return new ScoreSpec(store, List.of("step-1"), List.of(1.0), queries, sizes.k(), sizes.block(), "bench", null,
        null, null);
  }

  private static StoreMetadata meta(ScoreBench.Sizes sizes) {
    List<StoreMetadata.Layer> layers = new ArrayList<>();
    for (int l = 0; l < sizes.layers(); l++) {
      layers.add(new StoreMetadata.Layer("h." + l + ".mlp.c_fc", sizes.rows(), sizes.cols()));
    }
    return StoreMetadata.of("step-1", 1, 1.0, null, layers, "kronecker-gaussian", 7L, "bench");
  }

  private static List<QueryGradient> queries(StoreMetadata meta, int n) {
    SplittableRandom r = new SplittableRandom(5);
    List<QueryGradient> out = new ArrayList<>();
    for (int q = 0; q < n; q++) {
      Map<String, float[]> m = new HashMap<>();
      for (StoreMetadata.Layer l : meta.layers()) {
        m.put(l.name(), random(r, l.size()));
      }
      out.add(new QueryGradient("q" + q, List.of(m)));
    }
    return out;
  }

  private static float[] random(SplittableRandom r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return v;
  }

  /** One generated row: its id and all its layers' values in one array (a bean: Spark encodes float[] in bulk). */
  public static final class Generated implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private String id;
    private float[] values;

    public Generated() {}

    Generated(String id, float[] values) {
      this.id = id;
      this.values = values;
    }

    public String getId() {
      return id;
    }

    public void setId(String id) {
      this.id = id;
    }

    public float[] getValues() {
      return values;
    }

    public void setValues(float[] values) {
      this.values = values;
    }
  }

  /**
   * Writes {@code n} seeded rows through {@link GradientStore#write}; each write task generates its own share lazily
   * (nothing per row on the driver). Row {@code i} is {@code train-i}, uniform in [-1, 1) from seed {@code 1000 + i}.
   */
  static void writeStore(SparkSession spark, Path store, StoreMetadata meta, int n) {
    List<StoreMetadata.Layer> layers = meta.layers();
    int d = meta.dim();
    int parts = Math.max(4, (int) Math.min(4096, (long) n * d * 4 / (64L << 20) + 1));
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JavaRDD<Generated> gen = jsc.parallelize(IntStream.range(0, parts).boxed().toList(), parts).flatMap(p -> {
      int from = (int) ((long) n * p / parts);
      int to = (int) ((long) n * (p + 1) / parts);
      return new Iterator<Generated>() {
        private int i = from;

        @Override
        public boolean hasNext() {
          return i < to;
        }

        @Override
        public Generated next() {
          if (i >= to) {
            throw new NoSuchElementException();
          }
          Generated g = new Generated("train-" + i, random(new SplittableRandom(1000L + i), d));
          i++;
          return g;
        }
      };
    });
    List<Column> cols = new ArrayList<>();
    cols.add(functions.col("id"));
    int off = 0;
    for (StoreMetadata.Layer l : layers) {
      cols.add(functions.slice(functions.col("values"), off + 1, l.size()).as(l.column()));
      off += l.size();
    }
    Dataset<Row> rows = spark.createDataset(gen.rdd(), Encoders.bean(Generated.class))
        .select(cols.toArray(new Column[0]));
    GradientStore.write(spark, rows, store, meta);
  }

  /** Reads every row of {@code table} into a float buffer as the score job does, without scoring; returns the rows. */
  static long readOnly(GradientTable table) {
    RowGather gather = table.gather();
    return table.rows().queryExecution().toRdd().toJavaRDD().mapPartitions(it -> {
      float[] buf = new float[gather.width()];
      long n = 0;
      while (it.hasNext()) {
        InternalRow row = it.next();
        gather.copy(row, gather.id(row), buf, 0);
        n++;
      }
      return List.of(n).iterator();
    }).reduce(Long::sum);
  }

  /** How many checked queries the job ranked exactly as the float64 brute force, and the largest score error. */
  private record Check(int exact, double maxError) {}

  /**
   * A float64 brute-force pass over the store (streamed: per-partition heaps of the checked queries, merged) compared
   * with the job's rows of those queries.
   */
  private static Check check(SparkSession spark, GradientTable table, List<QueryGradient> checked, List<Row> jobRows,
      int k) {
    int d = table.dim();
    int nq = checked.size();
    List<String> layerNames = table.checkpoints().get(0).layerNames();
    float[] q = new float[nq * d];
    for (int i = 0; i < nq; i++) {
      int off = i * d;
      for (String l : layerNames) {
        float[] v = checked.get(i).perCheckpoint().get(0).get(l);
        System.arraycopy(v, 0, q, off, v.length);
        off += v.length;
      }
    }
    RowGather gather = table.gather();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    var qb = jsc.broadcast(q);
    List<TopK[]> merged = table.rows().queryExecution().toRdd().toJavaRDD().mapPartitions(it -> {
      float[] row = new float[d];
      float[] qs = qb.value();
      TopK[] heaps = new TopK[2 * nq];
      for (int i = 0; i < nq; i++) {
        heaps[2 * i] = TopK.largest(k);
        heaps[2 * i + 1] = TopK.smallest(k);
      }
      while (it.hasNext()) {
        InternalRow r = it.next();
        String id = gather.id(r);
        gather.copy(r, id, row, 0);
        for (int i = 0; i < nq; i++) {
          double s = 0;
          for (int j = 0; j < d; j++) {
            s += (double) qs[i * d + j] * row[j];
          }
          heaps[2 * i].offer(id, s);
          heaps[2 * i + 1].offer(id, s);
        }
      }
      return List.<TopK[]>of(heaps).iterator();
    }).collect();
    qb.destroy();
    TopK[] truth = merged.get(0);
    for (int p = 1; p < merged.size(); p++) {
      for (int h = 0; h < truth.length; h++) {
        truth[h].merge(merged.get(p)[h]);
      }
    }
    int exact = 0;
    double maxError = 0;
    for (int i = 0; i < nq; i++) {
      String qid = checked.get(i).id();
      boolean same = true;
      for (int dir = 0; dir < 2; dir++) {
        String direction = dir == 0 ? "top" : "bottom";
        List<TopK.Scored> want = truth[2 * i + dir].result();
        List<Row> got = jobRows.stream().filter(r -> r.getString(0).equals(qid) && r.getString(1).equals(direction))
            .sorted(java.util.Comparator.comparingInt(r -> r.getInt(2))).toList();
        if (got.size() != want.size()) {
          same = false;
          continue;
        }
        for (int r = 0; r < want.size(); r++) {
          same &= got.get(r).getString(3).equals(want.get(r).id());
          maxError = Math.max(maxError, Math.abs(got.get(r).getDouble(4) - want.get(r).score()));
        }
      }
      exact += same ? 1 : 0;
    }
    return new Check(exact, maxError);
  }

  private static long bytes(Path dir) throws IOException {
    try (var s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var s = Files.walk(dir)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
