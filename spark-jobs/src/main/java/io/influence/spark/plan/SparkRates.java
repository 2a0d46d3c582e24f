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
 * What Spark itself costs on this session, measured in a few seconds: the wall time of a small job (listing,
 * planning and reading one column of a small Parquet folder; every stage runs tens of jobs), the fastest of five,
 * and the aggregate rates at which the session writes and reads gradient rows through the store's own code
 * ({@link GradientStore#write}: per-layer float arrays in, the packed binary column of the current store format out,
 * every value checked finite; {@link RowGather}: each row's bytes copied into a float block buffer as the score,
 * self-influence and flag jobs read it), on a one-checkpoint scratch store of about {@code targetBytes} in a local
 * temporary folder that is deleted afterwards.
 *
 * @param jobSeconds           one small Parquet job (see above)
 * @param writeBytesPerSecond  Parquet bytes written per second (generation of the rows included)
 * @param readBytesPerSecond   Parquet bytes read and decoded per second (every float touched)
 * @param scratchBytes         bytes of the scratch store
 */
public record SparkRates(double jobSeconds, double writeBytesPerSecond, double readBytesPerSecond, long scratchBytes) {

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
      long w0 = System.nanoTime();
      GradientStore.write(spark, generated, store, meta);
      double write = (System.nanoTime() - w0) / 1e9;
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
      // a small job as the stages run tens of them: list, plan and read one column of a small Parquet folder
      spark.read().parquet(folder).filter("id = ''").count();
      double job = Double.POSITIVE_INFINITY;
      for (int i = 0; i < 5; i++) {
        long j0 = System.nanoTime();
        spark.read().parquet(folder).filter("id = ''").count();
        job = Math.min(job, (System.nanoTime() - j0) / 1e9);   // a repetition slowed by other work is not the cost
      }
      // the rates without one job's fixed cost, which the stages' job counts carry (at least half the time is I/O)
      return new SparkRates(job, bytes / Math.max(write / 2, write - job), bytes / Math.max(read / 2, read - job), bytes);
    } finally {
      Locations.deleteRecursively(spark.sparkContext().hadoopConfiguration(), Locations.local(dir));
    }
  }
}
