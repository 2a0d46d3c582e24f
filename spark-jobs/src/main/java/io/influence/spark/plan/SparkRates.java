package io.influence.spark.plan;

import io.influence.spark.io.Locations;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.GradientTable;
import io.influence.spark.store.RowGather;
import io.influence.spark.store.StoreMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * What Spark itself costs on this session, measured in a few seconds: the wall time of a small bookkeeping job (a
 * two-stage count of one row per task slot; every stage runs tens of such jobs), the fastest of five,
 * and the aggregate rates at which the session writes and reads gradient rows through the store's own code
 * ({@link GradientStore#write}: per-layer float arrays in, the packed binary column of the current store format out,
 * every value checked finite; {@link RowGather}: each row's bytes copied into a float block buffer as the score,
 * self-influence and flag jobs read it), on a one-checkpoint scratch store of about {@code targetBytes} in a local
 * temporary folder that is deleted afterwards.
 *
 * @param jobSeconds           one small bookkeeping job (see above)
 * @param writeBytesPerSecond  Parquet bytes written per second (generation of the rows included)
 * @param readBytesPerSecond   Parquet bytes read and decoded per second (every float touched)
 * @param scratchBytes         bytes of the scratch store
 */
public record SparkRates(double jobSeconds, double writeBytesPerSecond, double readBytesPerSecond, long scratchBytes) {

  /** The fastest of five runs of {@code job} after one warm-up run: a repetition slowed by other work is not the cost. */
  private static double fastest(Runnable job) {
    job.run();
    double best = Double.POSITIVE_INFINITY;
    for (int i = 0; i < 5; i++) {
      long t0 = System.nanoTime();
      job.run();
      best = Math.min(best, (System.nanoTime() - t0) / 1e9);
    }
    return best;
  }

  /** Measures with rows of {@code floatsPerRow} floats, about {@code targetBytes} in all. */
  public static SparkRates measure(SparkSession spark, long floatsPerRow, long targetBytes) {
    int slots = spark.sparkContext().defaultParallelism();
    int width = (int) Math.max(1, Math.min(floatsPerRow, 1 << 20));
    long rows = Math.max(4L * slots, targetBytes / (4L * width));
    Path dir;
    try {
      dir = Files.createTempDirectory("influence-plan-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a temporary folder for the Parquet calibration: " + e.getMessage(), e);
    }
    Path store = dir.resolve("store");
    try {
      StoreMetadata meta = StoreMetadata.of("calibration", 0, 1.0, null,
          List.of(new StoreMetadata.Layer("probe", 1, width)), StoreMetadata.FULL, null, "plan");
      StructType schema = new StructType().add("id", DataTypes.StringType, false)
          .add(meta.layers().get(0).column(), DataTypes.createArrayType(DataTypes.FloatType, false), false);
      Dataset<Row> generated = spark.range(0, rows, 1, slots).mapPartitions(
          (MapPartitionsFunction<Long, Row>) ids -> new java.util.Iterator<>() {
            private final Random random = new Random(17);

            @Override
            public boolean hasNext() {
              return ids.hasNext();
            }

            @Override
            public Row next() {
              long id = ids.next();
              float[] values = new float[width];   // primitive, as extract hands its rows over
              for (int i = 0; i < width; i++) {
                values[i] = (float) random.nextGaussian();
              }
              return RowFactory.create("row-" + id, values);
            }
          }, Encoders.row(schema));
      String group = "influence-plan-calibration-write";
      spark.sparkContext().setJobGroup(group, "plan: Parquet write rate", false);
      long w0 = System.nanoTime();
      try {
        GradientStore.write(spark, generated, store, meta);
      } finally {
        spark.sparkContext().clearJobGroup();
      }
      double write = (System.nanoTime() - w0) / 1e9;
      int writeJobs = spark.sparkContext().statusTracker().getJobIdsForGroup(group).length;
      long bytes = Planner.folderBytes(store);
      GradientTable table = GradientStore.table(spark, store, List.of(meta.checkpoint()));
      RowGather gather = table.gather();
      long r0 = System.nanoTime();
      // decoded as the score and self-influence jobs read the store: Catalyst rows copied into a block buffer
      table.rows().queryExecution().toRdd().toJavaRDD().mapPartitions(it -> {
        float[] buf = new float[gather.width()];
        double sum = 0;
        while (it.hasNext()) {
          InternalRow row = it.next();
          gather.copy(row, gather.id(row), buf, 0);
          sum += buf[0];
        }
        return List.of(sum).iterator();
      }).reduce(Double::sum);
      double read = (System.nanoTime() - r0) / 1e9;
      String folder = GradientStore.folder(store, meta.checkpoint()).toString();
      // the fixed cost of a stage's bookkeeping job (counts, checks, small aggregates: most of the tens each stage
      // runs): a two-stage count over one row per task slot, the fastest of five after a warm-up. (The earlier
      // calibration, listing and reading one column of a small Parquet folder, took 0.29 s against the 0.06-0.10 s
      // per job the stages averaged, work included, and overestimated every stage 1.7-3.1x on a quiet machine;
      // averaging this job with a one-stage RDD count, 0.015 s, underestimated them 1.5-3x. This one still varies
      // from 0.055 to 0.16 s between runs.)
      double parquetJob = fastest(() -> spark.read().parquet(folder).filter("id = ''").count());
      double job = fastest(() -> spark.range(0, slots, 1, slots).count());
      // the rates without the jobs' fixed costs, which the stages' job counts carry: the write ran writeJobs jobs (its
      // checks, the write and the commit; the extract stage's count includes them), the read one Parquet job (at
      // least half of each time is I/O)
      return new SparkRates(job, bytes / Math.max(write / 2, write - writeJobs * job),
          bytes / Math.max(read / 2, read - parquetJob), bytes);
    } finally {
      Locations.deleteRecursively(spark.sparkContext().hadoopConfiguration(), Locations.local(dir));
    }
  }
}
