package io.influence.spark.plan;

import io.influence.spark.io.Locations;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * What Spark itself costs on this session, measured in a few seconds: the wall time of a small job (listing,
 * planning and reading one column of a small Parquet folder; every stage runs tens of jobs), the fastest of five,
 * and the aggregate rates at which the session writes and reads rows of
 * float32 arrays as Parquet (the gradient store's format, dictionary off), on a scratch store of about {@code
 * targetBytes} in a local temporary folder that is deleted afterwards.
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
    String out = dir.resolve("store").toString();
    try {
      StructType schema = new StructType().add("id", DataTypes.StringType, false)
          .add("g", DataTypes.createArrayType(DataTypes.FloatType, false), false);
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
      generated.write().option("parquet.enable.dictionary", "false").parquet(out);
      double write = (System.nanoTime() - w0) / 1e9;
      long bytes = Planner.folderBytes(dir.resolve("store"));
      long r0 = System.nanoTime();
      // decoded as the score and self-influence jobs read the store: Catalyst rows, each array copied out whole
      spark.read().parquet(out).queryExecution().toRdd().toJavaRDD()
          .map(r -> (double) r.getArray(1).toFloatArray()[0]).reduce(Double::sum);
      double read = (System.nanoTime() - r0) / 1e9;
      // a small job as the stages run tens of them: list, plan and read one column of a small Parquet folder
      spark.read().parquet(out).filter("id = ''").count();
      double job = Double.POSITIVE_INFINITY;
      for (int i = 0; i < 5; i++) {
        long j0 = System.nanoTime();
        spark.read().parquet(out).filter("id = ''").count();
        job = Math.min(job, (System.nanoTime() - j0) / 1e9);   // a repetition slowed by other work is not the cost
      }   // the median: one slow repetition on a busy machine is not the rate
      // the rates without one job's fixed cost, which the stages' job counts carry (at least half the time is I/O)
      return new SparkRates(job, bytes / Math.max(write / 2, write - job), bytes / Math.max(read / 2, read - job), bytes);
    } finally {
      Locations.deleteRecursively(spark.sparkContext().hadoopConfiguration(), Locations.local(dir));
    }
  }
}
