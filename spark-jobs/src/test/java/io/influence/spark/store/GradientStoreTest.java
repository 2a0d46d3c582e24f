package io.influence.spark.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.testing.LocalSpark;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GradientStoreTest {

  private final SparkSession spark = LocalSpark.get();

  @TempDir Path dir;

  private static String messages(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      b.append(t.getMessage()).append(" | ");
    }
    return b.toString();
  }

  @Test
  void writeThenRead_syntheticRows_roundTripsExactly() throws Exception {
    SyntheticGradients g = new SyntheticGradients(1, 1, 25, false);
    Path store = dir.resolve("store");
    StoreMetadata meta = SyntheticGradients.meta("step-100", 100, 0.01);
    assertTrue(GradientStore.write(spark, g.rows(spark, 0, 3), store, meta));

    List<Row> rows = GradientStore.read(spark, store, "step-100").collectAsList();
    assertEquals(g.ids.size(), rows.size());
    for (Row r : rows) {
      String id = r.getString(0);
      assertEquals("step-100", r.getString(1));
      float[][] got = StoredRow.layers(r, meta);
      for (int l = 0; l < SyntheticGradients.LAYERS.size(); l++) {
        float[] want = g.grads.get(0).get(id).get(SyntheticGradients.LAYERS.get(l).name());
        assertArrayEquals(want, got[l], 0f, "example " + id + " layer " + l);
      }
    }
    Path folder = GradientStore.folder(store, "step-100");
    assertEquals(meta, StoreMetadata.fromJson(Files.readString(folder.resolve("_store.json")), "test"));
    assertEquals(meta, GradientStore.metadata(spark, store, "step-100"));
    String footer = spark.read().parquet(folder.toString()).schema().apply("id").metadata()
        .getString(StoreMetadata.PARQUET_KEY);
    assertEquals(meta, StoreMetadata.fromJson(footer, "footer"));
    assertEquals(List.of("step-100"), GradientStore.checkpoints(store));
  }

  @Test
  void metadataJson_roundTrip_keepsEveryField() {
    StoreMetadata m = SyntheticGradients.meta("step-7", 7, 3e-4);
    assertEquals(m, StoreMetadata.fromJson(m.toJson(), "x"));
    StoreMetadata full = StoreMetadata.of("s", 1, 1.0, null, SyntheticGradients.LAYERS, StoreMetadata.FULL, null, "v");
    assertEquals(full, StoreMetadata.fromJson(full.toJson(), "x"));
    assertEquals("full", full.projectionDescription());
    assertEquals("h__0__mlp__c_fc", StoreMetadata.columnOf("h.0.mlp.c_fc"));
  }

  /**
   * Adam preconditioning is part of the stored vectors and of the inputs: it survives the JSON, makes another
   * gradient space than the raw store's, another optimizer state other inputs, and token-factor methods refuse it.
   */
  @Test
  void metadata_adamPreconditioned_roundTripsAndDiffersInSpaceAndInputs_tokenFactorMethodsRefuse() {
    StoreMetadata raw = SyntheticGradients.meta("step-7", 7, 3e-4);
    StoreMetadata adam = raw.withAdam("ab12cd34ef56aa");
    assertEquals(adam, StoreMetadata.fromJson(adam.toJson(), "x"));
    String older = raw.toJson().replace(",\"optimizerPreconditioning\":\"NONE\",\"optimizerSha256\":null", "");
    assertFalse(older.contains("optimizer"), "a store written before the field: " + older);
    assertEquals(raw, StoreMetadata.fromJson(older, "old"), "an older store reads as not preconditioned");
    assertFalse(raw.sameGradientSpace(adam));
    assertTrue(adam.sameGradientSpace(raw.withAdam("other")));
    assertFalse(adam.sameInputs(raw.withAdam("other")));
    assertTrue(adam.projectionDescription().startsWith("adam-preconditioned(optimizer.safetensors sha256 ab12cd34ef56)"),
        adam.projectionDescription());
    raw.requireUnpreconditioned("EK-FAC");
    var e = assertThrows(IllegalStateException.class, () -> adam.requireUnpreconditioned("EK-FAC"));
    assertTrue(e.getMessage().contains("extract.optimizer-preconditioning") && e.getMessage().contains("HINT"),
        e.getMessage());
  }

  @Test
  void write_checkpointAlreadyComplete_isNoOp() throws Exception {
    SyntheticGradients g = new SyntheticGradients(2, 1, 10, false);
    Path store = dir.resolve("store");
    StoreMetadata meta = SyntheticGradients.meta("step-100", 100, 0.01);
    assertTrue(GradientStore.write(spark, g.rows(spark, 0, 2), store, meta));
    Path folder = GradientStore.folder(store, "step-100");
    List<String> before = listing(folder);
    long stamp = Files.getLastModifiedTime(folder.resolve("_store.json")).toMillis();
    SyntheticGradients other = new SyntheticGradients(99, 1, 4, false);
    assertFalse(GradientStore.write(spark, other.rows(spark, 0, 2), store, meta));
    assertEquals(before, listing(folder));
    assertEquals(stamp, Files.getLastModifiedTime(folder.resolve("_store.json")).toMillis());
    assertEquals(10, GradientStore.read(spark, store, "step-100").count());
  }

  @Test
  void write_completeCheckpointWithOtherLayers_failsNamingFile() {
    SyntheticGradients g = new SyntheticGradients(3, 1, 5, false);
    Path store = dir.resolve("store");
    GradientStore.write(spark, g.rows(spark, 0, 1), store, SyntheticGradients.meta("step-100", 100, 0.01));
    StoreMetadata other = StoreMetadata.of("step-100", 100, 0.01, "sha", List.of(new StoreMetadata.Layer("x", 2, 2)),
        "kronecker-gaussian", 42L, "test");
    var e = assertThrows(IllegalStateException.class, () -> GradientStore.write(spark, g.rows(spark, 0, 1), store,
        other));
    assertTrue(e.getMessage().contains("_store.json") && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void checkpointsAndRead_halfWrittenFolders_ignoredThenCleanedByNextWrite() throws Exception {
    Path store = dir.resolve("store");
    Path tmp = store.resolve("_tmp-crashed");
    Files.createDirectories(tmp);
    Files.writeString(tmp.resolve("part-00000.parquet"), "half a file");
    Path incomplete = GradientStore.folder(store, "step-200");
    Files.createDirectories(incomplete);
    Files.writeString(incomplete.resolve("part-00000.parquet"), "no marker");
    assertEquals(List.of(), GradientStore.checkpoints(store));
    var e = assertThrows(IllegalArgumentException.class, () -> GradientStore.read(spark, store, "step-200"));
    assertTrue(e.getMessage().contains("checkpoint=step-200") && e.getMessage().contains("HINT"), e.getMessage());

    SyntheticGradients g = new SyntheticGradients(4, 1, 6, false);
    assertTrue(GradientStore.write(spark, g.rows(spark, 0, 2), store, SyntheticGradients.meta("step-100", 100, 0.01)));
    assertFalse(Files.exists(tmp));
    assertEquals(List.of("step-100"), GradientStore.checkpoints(store));
    assertEquals(6, GradientStore.read(spark, store, "step-100").count());

    assertTrue(GradientStore.write(spark, g.rows(spark, 0, 2), store, SyntheticGradients.meta("step-200", 200, 0.01)));
    assertFalse(Files.exists(incomplete.resolve("part-00000.parquet")));
    assertEquals(List.of("step-100", "step-200"), GradientStore.checkpoints(store));
    assertEquals(6, GradientStore.read(spark, store, "step-200").count());
  }

  @Test
  void read_storeJsonLayersDifferFromParquet_failsNamingFile() throws Exception {
    SyntheticGradients g = new SyntheticGradients(5, 1, 5, false);
    Path store = dir.resolve("store");
    GradientStore.write(spark, g.rows(spark, 0, 1), store, SyntheticGradients.meta("step-100", 100, 0.01));
    Path json = GradientStore.folder(store, "step-100").resolve("_store.json");
    Files.writeString(json, Files.readString(json).replace("\"lm_head\"", "\"lm_head2\""));
    var e = assertThrows(IllegalArgumentException.class, () -> GradientStore.read(spark, store, "step-100"));
    assertTrue(e.getMessage().contains(json.getFileName().toString()) && e.getMessage().contains("lm_head2")
        && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void read_storeJsonShapeDiffersFromFooter_failsNamingFile() throws Exception {
    SyntheticGradients g = new SyntheticGradients(6, 1, 5, false);
    Path store = dir.resolve("store");
    GradientStore.write(spark, g.rows(spark, 0, 1), store, SyntheticGradients.meta("step-100", 100, 0.01));
    Path json = GradientStore.folder(store, "step-100").resolve("_store.json");
    Files.writeString(json, Files.readString(json).replace("\"rows\":1,\"cols\":3", "\"rows\":3,\"cols\":1"));
    var e = assertThrows(IllegalArgumentException.class, () -> GradientStore.read(spark, store, "step-100"));
    assertTrue(e.getMessage().contains("_store.json") && e.getMessage().contains("footer"), e.getMessage());
  }

  @Test
  void write_arrayOfWrongLength_failsNamingExampleAndLeavesNothingVisible() {
    Path store = dir.resolve("store");
    List<Row> rows = new ArrayList<>();
    rows.add(RowFactory.create("good", new float[12], new float[10], new float[3]));
    rows.add(RowFactory.create("short-one", new float[12], new float[9], new float[3]));
    Dataset<Row> df = spark.createDataFrame(rows, SyntheticGradients.schema());
    var e = assertThrows(Exception.class, () -> GradientStore.write(spark, df, store,
        SyntheticGradients.meta("step-100", 100, 0.01)));
    String m = messages(e);
    assertTrue(m.contains("short-one") && m.contains("h.0.mlp.c_fc") && m.contains("needs 10"), m);
    assertEquals(List.of(), GradientStore.checkpoints(store));
    assertFalse(Files.exists(GradientStore.folder(store, "step-100")));
  }

  @Test
  void write_nanOrInfiniteGradient_failsNamingExample() {
    Path store = dir.resolve("store");
    for (float v : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      float[] bad = {0.5f, v, -0.5f};
      Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create("ok-row", new float[12], new float[10],
              new float[3]), RowFactory.create("nan-row", new float[12], new float[10], bad)),
          SyntheticGradients.schema());
      var e = assertThrows(Exception.class, () -> GradientStore.write(spark, df, store,
          SyntheticGradients.meta("step-100", 100, 0.01)), "value " + v);
      String m = messages(e);
      assertTrue(m.contains("nan-row") && m.contains("lm_head") && m.contains("NaN"), m);
      assertEquals(List.of(), GradientStore.checkpoints(store));
    }
  }

  @Test
  void write_missingLayerColumn_failsBeforeAnyWork() {
    Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create("a", new float[12], new float[10], new float[3])),
        SyntheticGradients.schema()).drop("lm_head");
    var e = assertThrows(IllegalArgumentException.class, () -> GradientStore.write(spark, df, dir.resolve("s"),
        SyntheticGradients.meta("step-100", 100, 0.01)));
    assertTrue(e.getMessage().contains("lm_head") && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void table_checkpointsWithDifferentIds_failsNamingIds() {
    Path store = dir.resolve("store");
    SyntheticGradients a = new SyntheticGradients(7, 1, 4, false);
    SyntheticGradients b = new SyntheticGradients(8, 1, 5, false);
    GradientStore.write(spark, a.rows(spark, 0, 1), store, SyntheticGradients.meta("step-100", 100, 0.01));
    GradientStore.write(spark, b.rows(spark, 0, 1), store, SyntheticGradients.meta("step-200", 200, 0.01));
    assertEquals(List.of("step-100", "step-200"), GradientStore.checkpoints(store));
    var e = assertThrows(IllegalArgumentException.class, () -> GradientStore.table(spark, store,
        List.of("step-100", "step-200")));
    assertTrue(e.getMessage().contains(b.ids.get(4)) && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void table_duplicateIdInOneCheckpoint_failsNamingId() {
    Path store = dir.resolve("store");
    Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create("twice", new float[12], new float[10], new float[3]),
        RowFactory.create("twice", new float[12], new float[10], new float[3]),
        RowFactory.create("once", new float[12], new float[10], new float[3])), SyntheticGradients.schema());
    GradientStore.write(spark, df, store, SyntheticGradients.meta("step-100", 100, 0.01));
    var e = assertThrows(IllegalArgumentException.class, () -> GradientStore.table(spark, store, List.of("step-100")));
    assertTrue(e.getMessage().contains("twice (2 rows") && !e.getMessage().contains("once ("), e.getMessage());
  }

  @Test
  void table_twoCheckpoints_joinsRowsById() {
    Path store = dir.resolve("store");
    SyntheticGradients g = new SyntheticGradients(9, 2, 8, false);
    g.writeAll(spark, store, 2);
    GradientTable t = GradientStore.table(spark, store, g.checkpoints);
    assertEquals(8, t.rows().count());
    assertEquals(2 * 25, t.width());
    Row r = t.rows().filter("id = '" + g.ids.get(3) + "'").first();
    byte[] packed = r.getAs("c1__gradient");   // lm_head follows 12 + 10 floats
    ByteBuffer le = ByteBuffer.wrap(packed).order(ByteOrder.LITTLE_ENDIAN);
    float[] want = g.grads.get(1).get(g.ids.get(3)).get("lm_head");
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], le.getFloat(4 * (22 + i)), 0f);
    }
  }

  @Test
  void writeThenRead_extremeFiniteValues_packedLittleEndianAndBitExact() {
    float[] specials = {-0.0f, Float.MIN_VALUE, -Float.MAX_VALUE, Float.MAX_VALUE, 1e-40f, -1.17549435e-38f, 1f / 3};
    SplittableRandom rnd = new SplittableRandom(11);
    List<Row> rows = new ArrayList<>();
    Map<String, float[]> want = new java.util.HashMap<>();
    for (int e = 0; e < 6; e++) {
      float[][] layers = {new float[12], new float[10], new float[3]};
      float[] flat = new float[25];
      for (int i = 0; i < 25; i++) {
        flat[i] = (i + e) % 3 == 0 ? specials[(i + e) % specials.length] : (float) rnd.nextGaussian();
      }
      System.arraycopy(flat, 0, layers[0], 0, 12);
      System.arraycopy(flat, 12, layers[1], 0, 10);
      System.arraycopy(flat, 22, layers[2], 0, 3);
      rows.add(RowFactory.create("e" + e, layers[0], layers[1], layers[2]));
      want.put("e" + e, flat);
    }
    Path store = dir.resolve("store");
    StoreMetadata meta = SyntheticGradients.meta("step-1", 1, 0.1);
    GradientStore.write(spark, spark.createDataFrame(rows, SyntheticGradients.schema()), store, meta);

    // the Parquet column itself: binary, 4·dim bytes, each value's IEEE bits little-endian
    Path folder = GradientStore.folder(store, "step-1");
    Dataset<Row> raw = spark.read().parquet(folder.toString());
    assertEquals(org.apache.spark.sql.types.DataTypes.BinaryType, raw.schema().apply(StoredRow.COLUMN).dataType());
    for (Row r : raw.collectAsList()) {
      byte[] b = r.getAs(StoredRow.COLUMN);
      float[] w = want.get(r.<String>getAs("id"));
      assertEquals(4 * w.length, b.length);
      for (int i = 0; i < w.length; i++) {
        int bits = Float.floatToRawIntBits(w[i]);
        for (int k = 0; k < 4; k++) {
          assertEquals((byte) (bits >>> (8 * k)), b[4 * i + k], "row " + r.getAs("id") + " value " + i + " byte " + k);
        }
      }
    }
    // the driver-side decode (the executors' RowGather is checked bit-exactly in the format-1 test below)
    for (Row r : GradientStore.read(spark, store, "step-1").collectAsList()) {
      assertBitsEqual(want.get(r.getString(0)), StoredRow.values(r, meta), r.getString(0));
    }
  }

  @Test
  void table_formatOneCheckpointBesideFormatTwo_readsTheSameValuesAndRefusesParts() throws Exception {
    Path store = dir.resolve("store");
    SyntheticGradients g = new SyntheticGradients(12, 2, 7, false);
    StoreMetadata old = g.writeFormat1(spark, store, 0);
    GradientStore.write(spark, g.rows(spark, 1, 2), store, SyntheticGradients.meta(g.checkpoints.get(1), 200, 0.02));
    assertEquals(1, GradientStore.metadata(spark, store, g.checkpoints.get(0)).formatVersion());
    assertEquals(StoreMetadata.FORMAT_VERSION, GradientStore.metadata(spark, store, g.checkpoints.get(1)).formatVersion());

    for (Row r : GradientStore.read(spark, store, g.checkpoints.get(0)).collectAsList()) {
      assertBitsEqual(toFloat(g.flat(0, r.getString(0))), StoredRow.values(r, old), r.getString(0));
    }
    GradientTable t = GradientStore.table(spark, store, g.checkpoints);
    Map<String, float[]> gathered = gather(t);
    assertEquals(new java.util.HashSet<>(g.ids), gathered.keySet());
    for (String id : g.ids) {
      float[] both = new float[50];
      System.arraycopy(toFloat(g.flat(0, id)), 0, both, 0, 25);
      System.arraycopy(toFloat(g.flat(1, id)), 0, both, 25, 25);
      assertBitsEqual(both, gathered.get(id), id);
    }

    var e = assertThrows(IllegalStateException.class, () -> GradientStore.writePart(spark, g.rows(spark, 0, 1),
        io.influence.spark.io.Locations.local(store),
        old.withFormatVersion(StoreMetadata.FORMAT_VERSION), "_added-1"));
    assertTrue(e.getMessage().contains("format 1") && e.getMessage().contains("HINT"), e.getMessage());
  }

  private static Map<String, float[]> gather(GradientTable t) {
    RowGather gather = t.gather();
    List<scala.Tuple2<String, float[]>> rows = t.rows().queryExecution().toRdd().toJavaRDD().map(r -> {
      String id = gather.id(r);
      float[] f = new float[gather.width()];
      gather.copy(r, id, f, 0);
      return new scala.Tuple2<>(id, f);
    }).collect();
    Map<String, float[]> out = new java.util.HashMap<>();
    rows.forEach(x -> out.put(x._1(), x._2()));
    return out;
  }

  private static float[] toFloat(double[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) v[i];
    }
    return out;
  }

  private static void assertBitsEqual(float[] want, float[] got, String id) {
    assertEquals(want.length, got.length, id);
    for (int i = 0; i < want.length; i++) {
      assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), id + " value " + i);
    }
  }

  private static List<String> listing(Path folder) throws Exception {
    try (Stream<Path> s = Files.list(folder)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void publishAfterTasks_aTaskWritingAfterThePublish_isAwaitedAndTheFolderItRecreatesDeleted() throws Exception {
    org.apache.hadoop.conf.Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path tmpDir = dir.resolve("_tmp-zombie");
    org.apache.hadoop.fs.Path tmp = new org.apache.hadoop.fs.Path(tmpDir.toUri());
    org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(dir.resolve("published").toUri());
    org.apache.hadoop.fs.FileSystem fs = AtomicOutput.fs(tmp, conf);
    fs.mkdirs(tmp);
    AtomicOutput.writeString(fs, new org.apache.hadoop.fs.Path(tmp, "part"), "rows");
    // like a task of a retried stage's earlier attempt: still running at the publish, it then writes its attempt
    // folder under the temporary folder's old name
    String late = tmpDir.resolve("_temporary").resolve("attempt_0").toString();
    var zombie = org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext())
        .parallelize(List.of(1), 1).foreachAsync(x -> {
          Thread.sleep(1500);
          Files.createDirectories(Path.of(late));
        });
    long wait = System.nanoTime() + 10_000_000_000L;
    while (AtomicOutput.runningTasks(spark.sparkContext()) == 0 && System.nanoTime() < wait) {
      Thread.sleep(10);
    }
    assertEquals(1, AtomicOutput.runningTasks(spark.sparkContext()), "the task runs");
    AtomicOutput.publishAfterTasks(spark.sparkContext(), fs, tmp, target, java.time.Duration.ofSeconds(60));
    assertTrue(zombie.isDone(), "publish returned before the task ended");
    zombie.get();
    assertFalse(Files.exists(tmpDir), "the folder the task re-created after the publish is left behind");
    assertEquals("rows", Files.readString(dir.resolve("published").resolve("part")));
  }
}
