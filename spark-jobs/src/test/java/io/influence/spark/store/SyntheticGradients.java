package io.influence.spark.store;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MetadataBuilder;
import org.apache.spark.sql.types.StructType;

/**
 * Seeded synthetic per-example gradients for tests (no model): {@code grads.get(c).get(id)} is the
 * per-layer map of example {@code id} at checkpoint {@code c}, each layer a row-major float array.
 * With {@code integers = true} every value is a small integer, so float32 dot products are exact
 * and equal scores really tie.
 */
public final class SyntheticGradients {

  public static final List<StoreMetadata.Layer> LAYERS = List.of(new StoreMetadata.Layer("h.0.attn.c_attn", 3, 4),
      new StoreMetadata.Layer("h.0.mlp.c_fc", 2, 5), new StoreMetadata.Layer("lm_head", 1, 3));

  public final List<String> checkpoints;
  public final List<String> ids;
  public final List<Map<String, Map<String, float[]>>> grads = new ArrayList<>();

  public SyntheticGradients(long seed, int nCheckpoints, int nExamples, boolean integers) {
    SplittableRandom r = new SplittableRandom(seed);
    checkpoints = new ArrayList<>();
    ids = new ArrayList<>();
    for (int e = 0; e < nExamples; e++) {
      ids.add("ex-" + Integer.toString(e * 7 + 3, 36) + "-" + e); // unique ids, not in numeric order
    }
    for (int c = 0; c < nCheckpoints; c++) {
      checkpoints.add("step-" + (100 * (c + 1)));
      Map<String, Map<String, float[]>> byId = new LinkedHashMap<>();
      for (String id : ids) {
        byId.put(id, randomExample(r, integers));
      }
      grads.add(byId);
    }
  }

  public static Map<String, float[]> randomExample(SplittableRandom r, boolean integers) {
    Map<String, float[]> m = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : LAYERS) {
      float[] v = new float[l.size()];
      for (int i = 0; i < v.length; i++) {
        v[i] = integers ? r.nextInt(-3, 4) : (float) (r.nextDouble() * 2 - 1);
      }
      m.put(l.name(), v);
    }
    return m;
  }

  public static StoreMetadata meta(String checkpoint, long step, double lr) {
    return StoreMetadata.of(checkpoint, step, lr, "sha-" + checkpoint, LAYERS, "kronecker-gaussian", 42L, "test");
  }

  public static StructType schema() {
    StructType s = new StructType().add("id", DataTypes.StringType, false);
    for (StoreMetadata.Layer l : LAYERS) {
      s = s.add(l.column(), DataTypes.createArrayType(DataTypes.FloatType, false), false);
    }
    return s;
  }

  public Dataset<Row> rows(SparkSession spark, int checkpoint, int partitions) {
    List<Row> rows = new ArrayList<>();
    for (String id : ids) {
      Object[] values = new Object[1 + LAYERS.size()];
      values[0] = id;
      for (int l = 0; l < LAYERS.size(); l++) {
        values[1 + l] = grads.get(checkpoint).get(id).get(LAYERS.get(l).name());
      }
      rows.add(RowFactory.create(values));
    }
    return spark.createDataFrame(rows, schema()).repartition(partitions);
  }

  /** Writes every checkpoint (learning rate 0.01·(c+1)) into {@code store}. */
  public void writeAll(SparkSession spark, Path store, int partitions) {
    for (int c = 0; c < checkpoints.size(); c++) {
      GradientStore.write(spark, rows(spark, c, partitions), store, meta(checkpoints.get(c), 100L * (c + 1), 0.01 * (c + 1)));
    }
  }

  /**
   * Writes checkpoint {@code c} as a format-1 folder, as engines before format 2 wrote it: one {@code array<float>}
   * column per layer, the metadata JSON in {@code _store.json} and in the {@code id} column's footer metadata.
   */
  public StoreMetadata writeFormat1(SparkSession spark, Path store, int c) throws java.io.IOException {
    StoreMetadata meta = meta(checkpoints.get(c), 100L * (c + 1), 0.01 * (c + 1))
        .withFormatVersion(StoreMetadata.FORMAT_VERSION_ARRAYS);
    Path folder = GradientStore.folder(store, meta.checkpoint());
    List<org.apache.spark.sql.Column> cols = new ArrayList<>();
    cols.add(functions.col("id").as("id", new MetadataBuilder().putString(StoreMetadata.PARQUET_KEY, meta.toJson())
        .build()));
    cols.add(functions.lit(meta.checkpoint()).as("checkpoint"));
    for (StoreMetadata.Layer l : LAYERS) {
      cols.add(functions.col(l.column()));
    }
    rows(spark, c, 2).select(cols.toArray(new org.apache.spark.sql.Column[0])).write().parquet(folder.toString());
    java.nio.file.Files.writeString(folder.resolve(GradientStore.METADATA_FILE), meta.toJson());
    return meta;
  }

  /** Flat row-major vector (layer order of LAYERS) of one example at one checkpoint, in float64. */
  public double[] flat(int checkpoint, String id) {
    Map<String, float[]> m = grads.get(checkpoint).get(id);
    int d = 0;
    for (StoreMetadata.Layer l : LAYERS) {
      d += l.size();
    }
    double[] out = new double[d];
    int o = 0;
    for (StoreMetadata.Layer l : LAYERS) {
      for (float x : m.get(l.name())) {
        out[o++] = x;
      }
    }
    return out;
  }
}
