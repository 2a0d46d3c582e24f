package io.influence.spark.store;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import io.influence.spark.io.Locations;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.MetadataBuilder;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.Platform;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-example gradients as Parquet, one folder per checkpoint:
 * <pre>
 *   store/
 *     checkpoint=step-100/          visible only when complete (written as _tmp-uuid, then renamed)
 *       _store.json                 StoreMetadata (layers, shapes, projection, loss convention, checkpoint)
 *       _SUCCESS                    Spark's commit marker
 *       part-*.parquet              rows (id string, checkpoint string, gradient binary: every layer, float32 LE)
 *     _tmp-1b2c.../                 a crashed write; ignored by readers, deleted by the next write
 * </pre>
 * The {@code gradient} column (format 2, byte map in {@link StoredRow}) holds each layer's {@code [rows, cols]}
 * matrix flattened row-major, layers in metadata order, the order of {@link io.influence.core.score.LayerLayout}, as
 * {@code 4 · dim} bytes of little-endian float32: read with one block copy per row. A format-1 folder (one
 * {@code array<float>} column per layer, named {@link StoreMetadata#columnOf}) is still read; rows are decoded only
 * by {@link RowGather} and {@link StoredRow}. The metadata JSON is also in the Parquet footer (field
 * metadata {@value StoreMetadata#PARQUET_KEY} of {@code id}); reading checks that both agree with
 * the Parquet schema. Writing the same checkpoint again is a no-op when the existing folder was
 * written with the same gradient space, and an error otherwise.
 *
 * <p>A partial store (extract with {@code extract.candidates = true}) also has {@code _candidates.json}
 * ({@link CandidateCoverage}): the corpus rows it holds, and the parts ({@code _added-N/} inside a checkpoint
 * folder, {@link #writePart}) added by later extractions; {@link #read} returns a checkpoint's own rows plus its
 * listed parts.
 */
public final class GradientStore {

  public static final String METADATA_FILE = "_store.json";
  public static final String SUCCESS_FILE = "_SUCCESS";
  public static final String FOLDER_PREFIX = "checkpoint=";

  private static final Logger LOG = LoggerFactory.getLogger(GradientStore.class);
  /** Rows per task of the id check's aggregation (64-bit hashes: a few MiB of hash map each). */
  private static final long ROWS_PER_ID_CHECK_TASK = 1L << 18;

  private GradientStore() {}

  /** The folder of one checkpoint inside a store. */
  public static Path folder(Path store, String checkpoint) {
    return new Path(store, FOLDER_PREFIX + checkpoint);
  }

  /** The folder of one checkpoint inside a local store. */
  public static java.nio.file.Path folder(java.nio.file.Path store, String checkpoint) {
    return store.resolve(FOLDER_PREFIX + checkpoint);
  }

  /**
   * Writes {@code rows} (an {@code id} string column and one numeric-array column per layer of {@code meta},
   * named {@link StoreMetadata.Layer#column()}; an optional {@code checkpoint} column is replaced) as the
   * checkpoint {@code meta.checkpoint()} of {@code store}. Returns false, writing nothing, when that checkpoint is
   * already complete with the same gradient space. Every row's arrays are checked (length = rows·cols, no null,
   * NaN or Inf) while writing; a bad row fails the write naming its id, and nothing becomes visible.
   */
  public static boolean write(SparkSession spark, Dataset<Row> rows, Path store, StoreMetadata meta) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path root = store;
    FileSystem fs = AtomicOutput.fs(root, conf);
    Path target = new Path(root, FOLDER_PREFIX + meta.checkpoint());
    if (isComplete(fs, target)) {
      StoreMetadata existing = readMetadata(fs, target);
      if (!existing.sameGradientSpace(meta)) {
        throw new IllegalStateException(new Path(target, METADATA_FILE) + " was written with " + existing.toJson()
            + " but this run writes " + meta.toJson() + ". HINT: write to a new store, or delete " + target
            + " to re-extract it.");
      }
      LOG.info("checkpoint '{}' is already complete in {}; skipping the write", meta.checkpoint(), store);
      return false;
    }
    try {
      if (fs.exists(target)) {
        // never left by this protocol on a file system with atomic rename; on one without (object stores) a
        // crash during the rename can leave it: it has no markers, so it is incomplete and safe to replace
        LOG.warn("deleting incomplete checkpoint folder {} (no {} or {})", target, METADATA_FILE, SUCCESS_FILE);
        fs.delete(target, true);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete incomplete folder " + target + ": " + e.getMessage(), e);
    }
    int cleaned = AtomicOutput.cleanTemporaries(fs, root);
    if (cleaned > 0) {
      LOG.info("deleted {} unfinished temporary folder(s) under {}", cleaned, store);
    }
    Dataset<Row> checked = shapeForWrite(rows, meta);
    Path tmp = AtomicOutput.newTemporary(root);
    try {
      // Gradients are dense floats with few repeats: a dictionary never pays, but Parquet's writer would keep a
      // hash map of every distinct float of each column chunk (tens of MB per task, growing with the rows until it
      // gives up) and spend a hash insert per float. Measured with `influence bench memory`.
      checked.write().option("parquet.enable.dictionary", "false").parquet(tmp.toString());
      AtomicOutput.writeString(fs, new Path(tmp, METADATA_FILE), meta.toJson());
      AtomicOutput.publishAfterTasks(spark.sparkContext(), fs, tmp, target, AtomicOutput.ZOMBIE_PATIENCE);
    } catch (RuntimeException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw e;
    }
    LOG.info("wrote checkpoint '{}' to {}", meta.checkpoint(), target);
    return true;
  }

  /**
   * The rows of one complete checkpoint: {@code id}, {@code checkpoint} and the stored gradient: the
   * {@code gradient} binary column (format 2) or the layer columns in metadata order (format 1); decode a row with
   * {@link StoredRow#layers} (small reads) or read them through {@link #table} and {@link RowGather}.
   * Throws IllegalArgumentException naming the file when the folder is missing or incomplete, or when its
   * {@code _store.json}, Parquet footer and Parquet schema disagree.
   */
  public static Dataset<Row> read(SparkSession spark, Path store, String checkpoint) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path root = store;
    FileSystem fs = AtomicOutput.fs(root, conf);
    Path folder = requireComplete(fs, root, checkpoint);
    Path metaFile = new Path(folder, METADATA_FILE);
    StoreMetadata meta = readMetadata(fs, folder);
    Dataset<Row> data = spark.read().parquet(folder.toString());
    checkSchema(data.schema(), meta, metaFile);
    List<Column> cols = new ArrayList<>();
    cols.add(col("id"));
    cols.add(col("checkpoint"));
    for (String c : storedColumns(meta)) {
      cols.add(col(c));
    }
    Dataset<Row> out = data.select(cols.toArray(new Column[0]));
    for (String part : CandidateCoverage.read(conf, root).map(c -> c.partsOf(checkpoint)).orElse(List.of())) {
      Path p = new Path(folder, part);
      if (!AtomicOutput.isComplete(fs, p, SUCCESS_FILE)) {
        throw new IllegalArgumentException(new Path(root, CandidateCoverage.FILE) + " lists part " + part + " of "
            + checkpoint + " but " + p + " is missing or incomplete (no " + SUCCESS_FILE + "). HINT: run `influence"
            + " extract` with extract.candidates = true again (or delete the store and extract again)");
      }
      // its data files by name: Spark skips (and warns about) a folder whose name starts with '_'
      String[] files = Locations.list(conf, p).stream().map(FileStatus::getPath)
          .filter(f -> !f.getName().startsWith("_") && !f.getName().startsWith(".")).map(Path::toString)
          .toArray(String[]::new);
      if (files.length == 0) {   // a part of bad rows only holds no rows
        continue;
      }
      Dataset<Row> added = spark.read().parquet(files);
      checkSchema(added.schema(), meta, metaFile);
      out = out.unionAll(added.select(cols.toArray(new Column[0])));
    }
    return out;
  }

  /**
   * Writes {@code rows} as a new part {@code part} ({@code _added-N}) of the complete checkpoint {@code meta.checkpoint()}
   * of a partial store: into a temporary folder inside the checkpoint folder, renamed to the part when complete. The
   * part is read only once {@link CandidateCoverage} lists it (the caller's commit); a leftover part of the same name
   * (a killed run's) is replaced. The checkpoint must have been written with the same gradient space and inputs.
   */
  public static void writePart(SparkSession spark, Dataset<Row> rows, Path store, StoreMetadata meta, String part) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    FileSystem fs = AtomicOutput.fs(store, conf);
    Path folder = requireComplete(fs, store, meta.checkpoint());
    StoreMetadata existing = readMetadata(fs, folder);
    if (!existing.packed()) {
      throw new IllegalStateException(new Path(folder, METADATA_FILE) + " is gradient store format "
          + existing.formatVersion() + " (one array<float> column per layer); this engine adds parts only to format "
          + StoreMetadata.FORMAT_VERSION + " checkpoints. HINT: delete " + folder + " (or the store) and extract it"
          + " again.");
    }
    if (!existing.sameGradientSpace(meta) || !existing.sameInputs(meta)) {
      throw new IllegalStateException(new Path(folder, METADATA_FILE) + " was written with " + existing.toJson()
          + " but this part is " + meta.toJson() + ". HINT: extract the checkpoint again over every candidate");
    }
    Path target = new Path(folder, part);
    AtomicOutput.deleteQuietly(fs, target);
    AtomicOutput.cleanTemporaries(fs, folder);
    Path tmp = AtomicOutput.newTemporary(folder);
    try {
      shapeForWrite(rows, existing).write().option("parquet.enable.dictionary", "false").parquet(tmp.toString());
      AtomicOutput.publishAfterTasks(spark.sparkContext(), fs, tmp, target, AtomicOutput.ZOMBIE_PATIENCE);
    } catch (RuntimeException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw e;
    }
    LOG.info("wrote part {} of checkpoint '{}' to {}", part, meta.checkpoint(), target);
  }

  /**
   * Deletes the {@code _added-*} parts of every checkpoint folder that {@code coverage} does not list (a killed
   * increment's; never read) and returns how many.
   */
  public static int removeUnlistedParts(Configuration conf, Path store, CandidateCoverage coverage) {
    FileSystem fs = AtomicOutput.fs(store, conf);
    int n = 0;
    for (String name : checkpoints(store, conf)) {
      Path folder = folder(store, name);
      for (FileStatus s : Locations.list(conf, folder)) {
        String part = s.getPath().getName();
        if (s.isDirectory() && part.startsWith(CandidateCoverage.PART_PREFIX)
            && !coverage.partsOf(name).contains(part)) {
          AtomicOutput.deleteQuietly(fs, s.getPath());
          n++;
        }
      }
    }
    return n;
  }

  /** The metadata of one complete checkpoint ({@code _store.json}). */
  public static StoreMetadata metadata(SparkSession spark, Path store, String checkpoint) {
    Path root = store;
    FileSystem fs = AtomicOutput.fs(root, spark.sparkContext().hadoopConfiguration());
    return readMetadata(fs, requireComplete(fs, root, checkpoint));
  }

  /** Names of the complete checkpoints of a store, by step then name (empty when the store does not exist). */
  public static List<String> checkpoints(Path store) {
    return checkpoints(store, Locations.conf());
  }

  /** {@link #checkpoints(Path)} with a given Hadoop configuration. */
  public static List<String> checkpoints(Path store, Configuration conf) {
    Path root = store;
    FileSystem fs = AtomicOutput.fs(root, conf);
    List<StoreMetadata> found = new ArrayList<>();
    try {
      if (!fs.exists(root)) {
        return List.of();
      }
      for (FileStatus s : fs.listStatus(root)) {
        String name = s.getPath().getName();
        if (s.isDirectory() && name.startsWith(FOLDER_PREFIX) && isComplete(fs, s.getPath())) {
          found.add(readMetadata(fs, s.getPath()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
    }
    found.sort(Comparator.comparingLong(StoreMetadata::step).thenComparing(StoreMetadata::checkpoint));
    return found.stream().map(StoreMetadata::checkpoint).toList();
  }

  /**
   * Several checkpoints of one store side by side, joined on {@code id}: see {@link GradientTable}. All must
   * share one gradient space (layers, shapes, projection) and hold the same ids.
   */
  public static GradientTable table(SparkSession spark, Path store, List<String> checkpoints) {
    if (checkpoints.isEmpty()) {
      throw new IllegalArgumentException("no checkpoints given for " + store + "; it has " + checkpoints(store,
          spark.sparkContext().hadoopConfiguration()) + ". HINT: name at least one.");
    }
    List<StoreMetadata> metas = new ArrayList<>();
    Dataset<Row> joined = null;
    for (int i = 0; i < checkpoints.size(); i++) {
      String name = checkpoints.get(i);
      StoreMetadata m = metadata(spark, store, name);
      if (!metas.isEmpty() && !metas.get(0).sameLayout(m)) {
        throw new IllegalArgumentException(new Path(folder(store, name), METADATA_FILE) + " describes " + m.layers()
            + " " + m.projectionDescription() + " but " + new Path(folder(store, checkpoints.get(0)), METADATA_FILE)
            + " describes " + metas.get(0).layers() + " " + metas.get(0).projectionDescription()
            + ". HINT: extract every checkpoint with the same layers and projection.");
      }
      metas.add(m);
      List<Column> cols = new ArrayList<>();
      cols.add(col("id"));
      if (m.packed()) {
        cols.add(col(StoredRow.COLUMN).as(GradientTable.packedColumn(i)));
      } else {
        for (StoreMetadata.Layer l : m.layers()) {
          cols.add(col(l.column()).as(GradientTable.column(i, l)));
        }
      }
      Dataset<Row> part = read(spark, store, name).select(cols.toArray(new Column[0]));
      joined = joined == null ? part : joined.join(part, "id");
    }
    checkSameIds(spark, store, checkpoints);
    return new GradientTable(metas, joined);
  }

  /**
   * Every id must occur exactly once per checkpoint. Fast path: one hash aggregation over 64-bit hashes of the ids
   * (fixed-size keys; the string aggregation cost as much as scoring a million projected rows), counting the rows per
   * hash and summing {@code 2^c} over their checkpoints {@code c}: C rows with the sum {@code 2^C - 1} means one row in
   * each (a sum of C powers of two has C one-bits only without carries). Only when some hash fails (a bad store,
   * or two ids sharing a hash) the exact aggregation over the ids runs, and it alone decides and names the ids.
   */
  private static void checkSameIds(SparkSession spark, Path store, List<String> checkpoints) {
    int c = checkpoints.size();
    if (c <= 62) {
      Dataset<Row> hashes = null;
      for (int i = 0; i < c; i++) {
        Dataset<Row> part = read(spark, store, checkpoints.get(i))
            .select(org.apache.spark.sql.functions.xxhash64(col("id")).as("h"), lit(1L << i).as("bit"));
        hashes = hashes == null ? part : hashes.unionAll(part);
      }
      // as many partitions as keep each aggregating task at ROWS_PER_ID_CHECK_TASK rows: its hash map does not grow
      // with the store (a fixed spark.sql.shuffle.partitions would)
      long rows = read(spark, store, checkpoints.get(0)).count(); // from the Parquet footers
      int parts = (int) Math.max(1, Math.min(1 << 16, c * rows / ROWS_PER_ID_CHECK_TASK + 1));
      boolean suspect = !hashes.repartition(parts, col("h")).groupBy("h").agg(org.apache.spark.sql.functions.count(lit(1)).as("n"),
              org.apache.spark.sql.functions.sum(col("bit")).as("bits"))
          .filter(col("n").notEqual(c).or(col("bits").notEqual((1L << c) - 1))).limit(1).isEmpty();
      if (!suspect) {
        return;
      }
    }
    Dataset<Row> ids = null;
    for (int i = 0; i < checkpoints.size(); i++) {
      Dataset<Row> part = read(spark, store, checkpoints.get(i)).select(col("id"), lit(i).as("c"));
      ids = ids == null ? part : ids.unionAll(part);
    }
    List<Row> bad = ids.groupBy("id").agg(org.apache.spark.sql.functions.count(lit(1)).as("n"),
            org.apache.spark.sql.functions.countDistinct(col("c")).as("k"))
        .filter(col("n").notEqual(checkpoints.size()).or(col("k").notEqual(checkpoints.size())))
        .orderBy("id").limit(5).collectAsList();
    if (!bad.isEmpty()) {
      List<String> where = bad.stream().map(r -> r.getString(0) + " (" + r.getLong(1) + " rows in " + r.getLong(2)
          + " of " + checkpoints.size() + " checkpoints)").toList();
      throw new IllegalArgumentException("checkpoints " + checkpoints + " of " + store + " do not hold the same example"
          + " ids once each, e.g. " + where + ". HINT: extract every checkpoint over the same training examples"
          + " (ids must be unique).");
    }
  }

  // ------------------------------------------------------------------ local stores (java.nio paths)

  /** {@link #write(SparkSession, Dataset, Path, StoreMetadata)} of a local store. */
  public static boolean write(SparkSession spark, Dataset<Row> rows, java.nio.file.Path store, StoreMetadata meta) {
    return write(spark, rows, Locations.local(store), meta);
  }

  /** {@link #read(SparkSession, Path, String)} of a local store. */
  public static Dataset<Row> read(SparkSession spark, java.nio.file.Path store, String checkpoint) {
    return read(spark, Locations.local(store), checkpoint);
  }

  /** {@link #metadata(SparkSession, Path, String)} of a local store. */
  public static StoreMetadata metadata(SparkSession spark, java.nio.file.Path store, String checkpoint) {
    return metadata(spark, Locations.local(store), checkpoint);
  }

  /** {@link #checkpoints(Path)} of a local store. */
  public static List<String> checkpoints(java.nio.file.Path store) {
    return checkpoints(Locations.local(store));
  }

  /** {@link #table(SparkSession, Path, List)} of a local store. */
  public static GradientTable table(SparkSession spark, java.nio.file.Path store, List<String> checkpoints) {
    return table(spark, Locations.local(store), checkpoints);
  }

  private static boolean isComplete(FileSystem fs, Path folder) {
    return AtomicOutput.isComplete(fs, folder, SUCCESS_FILE) && AtomicOutput.isComplete(fs, folder, METADATA_FILE);
  }

  private static Path requireComplete(FileSystem fs, Path root, String checkpoint) {
    Path folder = new Path(root, FOLDER_PREFIX + checkpoint);
    if (!isComplete(fs, folder)) {
      throw new IllegalArgumentException(folder + " is not a complete checkpoint folder (it needs " + METADATA_FILE
          + " and " + SUCCESS_FILE + "); complete checkpoints in this store: "
          + checkpoints(root, fs.getConf())
          + ". HINT: run the extract stage for checkpoint '" + checkpoint + "'.");
    }
    return folder;
  }

  private static StoreMetadata readMetadata(FileSystem fs, Path folder) {
    Path file = new Path(folder, METADATA_FILE);
    StoreMetadata m = StoreMetadata.fromJson(AtomicOutput.readString(fs, file), file.toString());
    String expected = FOLDER_PREFIX + m.checkpoint();
    if (!folder.getName().equals(expected)) {
      throw new IllegalArgumentException(file + " is for checkpoint '" + m.checkpoint() + "' but lies in folder '"
          + folder.getName() + "'. HINT: do not rename checkpoint folders; re-extract instead.");
    }
    if (m.projectionSha256() != null) {   // a principal projection: its matrices lie beside, wherever the store is now
      m = m.withProjectionFile(fs.makeQualified(StoreProjections.file(folder.getParent(), m.checkpoint(),
          m.projectionSha256())).toString());
    }
    return m;
  }

  private static void checkSchema(StructType schema, StoreMetadata meta, Path metaFile) {
    List<String> expected = new ArrayList<>(List.of("id", "checkpoint"));
    expected.addAll(storedColumns(meta));
    List<String> found = Arrays.asList(schema.fieldNames());
    if (!new java.util.HashSet<>(found).equals(new java.util.HashSet<>(expected))) {
      List<String> missing = new ArrayList<>(expected);
      missing.removeAll(found);
      List<String> extra = new ArrayList<>(found);
      extra.removeAll(expected);
      throw new IllegalArgumentException(metaFile + " (format " + meta.formatVersion() + ") lists layers "
          + meta.layerNames() + " but the Parquet files next to it have columns " + found + " (missing " + missing + ", unexpected " + extra
          + "). HINT: the folder was modified after writing; delete it and re-extract this checkpoint.");
    }
    if (meta.packed()) {
      DataType t = schema.apply(StoredRow.COLUMN).dataType();
      if (t != DataTypes.BinaryType) {
        throw new IllegalArgumentException(metaFile + ": column `" + StoredRow.COLUMN + "` must be binary (format "
            + meta.formatVersion() + "), found " + t.simpleString() + ". HINT: re-extract this checkpoint.");
      }
    }
    for (StoreMetadata.Layer l : meta.packed() ? List.<StoreMetadata.Layer>of() : meta.layers()) {
      DataType t = schema.apply(l.column()).dataType();
      if (!(t instanceof ArrayType a) || a.elementType() != DataTypes.FloatType) {
        throw new IllegalArgumentException(metaFile + ": column `" + l.column() + "` (layer '" + l.name()
            + "') must be array<float>, found " + t.simpleString() + ". HINT: re-extract this checkpoint.");
      }
    }
    Metadata idMeta = schema.apply("id").metadata();
    if (idMeta.contains(StoreMetadata.PARQUET_KEY)) {
      StoreMetadata footer = StoreMetadata.fromJson(idMeta.getString(StoreMetadata.PARQUET_KEY), metaFile.getParent()
          + " (Parquet footer)");
      if (!footer.withProjectionFile(meta.projectionFile()).equals(meta)) {
        throw new IllegalArgumentException(metaFile + " says " + meta.toJson() + " but the Parquet footer of the files"
            + " next to it says " + footer.toJson() + ". HINT: the folder was modified after writing; delete it and"
            + " re-extract this checkpoint.");
      }
    }
  }

  /** The data columns of a checkpoint after id and checkpoint: {@code gradient} (format 2) or one per layer. */
  private static List<String> storedColumns(StoreMetadata meta) {
    return meta.packed() ? List.of(StoredRow.COLUMN) : meta.layers().stream().map(StoreMetadata.Layer::column).toList();
  }

  /**
   * Validates the input schema on the driver, then packs each row ({@link StoredRow}, format 2) checking it on the
   * way (id present; each layer present, of rows·cols values, all finite): the rows to write.
   */
  private static Dataset<Row> shapeForWrite(Dataset<Row> rows, StoreMetadata meta) {
    StructType schema = rows.schema();
    List<String> names = Arrays.asList(schema.fieldNames());
    if (!names.contains("id") || schema.apply("id").dataType() != DataTypes.StringType) {
      throw new IllegalArgumentException("gradient rows for checkpoint '" + meta.checkpoint()
          + "' need a string `id` column; columns: " + schema.simpleString());
    }
    List<String> allowed = new ArrayList<>(List.of("id", "checkpoint"));
    for (StoreMetadata.Layer l : meta.layers()) {
      allowed.add(l.column());
      if (!names.contains(l.column())) {
        throw new IllegalArgumentException("gradient rows for checkpoint '" + meta.checkpoint() + "' have no column `"
            + l.column() + "` for layer '" + l.name() + "'; columns: " + names
            + ". HINT: name each layer's column StoreMetadata.columnOf(layer).");
      }
      DataType t = schema.apply(l.column()).dataType();
      if (!(t instanceof ArrayType a) || !(a.elementType() instanceof NumericType)) {
        throw new IllegalArgumentException("gradient rows for checkpoint '" + meta.checkpoint() + "': column `"
            + l.column() + "` must be an array of numbers, found " + t.simpleString());
      }
    }
    List<String> extra = new ArrayList<>(names);
    extra.removeAll(allowed);
    if (!extra.isEmpty()) {
      throw new IllegalArgumentException("gradient rows for checkpoint '" + meta.checkpoint() + "' have columns " + extra
          + " that are not layers of the metadata " + meta.layerNames() + ". HINT: drop them or add the layers.");
    }
    if (!meta.packed()) {
      throw new IllegalStateException("this engine writes gradient store format " + StoreMetadata.FORMAT_VERSION
          + " only, not " + meta.formatVersion() + " (checkpoint '" + meta.checkpoint() + "')");
    }
    List<Column> in = new ArrayList<>();
    in.add(col("id"));
    boolean[] nullable = new boolean[meta.layers().size()];
    for (int l = 0; l < nullable.length; l++) {
      StoreMetadata.Layer layer = meta.layers().get(l);
      nullable[l] = ((ArrayType) schema.apply(layer.column()).dataType()).containsNull();
      in.add(col(layer.column()).cast(DataTypes.createArrayType(DataTypes.FloatType, nullable[l])));
    }
    JavaRDD<Row> packed = rows.select(in.toArray(new Column[0])).queryExecution().toRdd().toJavaRDD()
        .mapPartitions(new Packer(meta, nullable));
    Metadata idMeta = new MetadataBuilder().putString(StoreMetadata.PARQUET_KEY, meta.toJson()).build();
    StructType out = new StructType()
        .add("id", DataTypes.StringType, false, idMeta)
        .add("checkpoint", DataTypes.StringType, false)
        .add(StoredRow.COLUMN, DataTypes.BinaryType, false);
    return rows.sparkSession().createDataFrame(packed, out);
  }

  /**
   * Packs rows {@code (id, layer arrays...)} into {@code (id, checkpoint, gradient)}, checking each: one float buffer
   * per task, the NaN/Inf check a loop over it (a generated loop per value in SQL cost more than the rest of the
   * write, see {@code influence bench memory}). Errors name the checkpoint, layer and example id.
   */
  private static final class Packer implements FlatMapFunction<Iterator<InternalRow>, Row> {
    private static final long serialVersionUID = 1L;
    private final StoreMetadata meta;
    private final boolean[] nullable;

    Packer(StoreMetadata meta, boolean[] nullable) {
      this.meta = meta;
      this.nullable = nullable;
    }

    @Override
    public Iterator<Row> call(Iterator<InternalRow> rows) {
      float[] buf = new float[meta.dim()];
      List<StoreMetadata.Layer> layers = meta.layers();
      String checkpoint = meta.checkpoint();
      return new Iterator<>() {
        @Override
        public boolean hasNext() {
          return rows.hasNext();
        }

        @Override
        public Row next() {
          InternalRow r = rows.next();
          if (r.isNullAt(0)) {
            throw new IllegalArgumentException("gradient store: a row of checkpoint '" + checkpoint + "' has no id."
                + " HINT: every example needs a unique id.");
          }
          String id = r.getUTF8String(0).toString();
          int off = 0;
          for (int l = 0; l < layers.size(); l++) {
            StoreMetadata.Layer layer = layers.get(l);
            String where = "gradient store, checkpoint '" + checkpoint + "', layer '" + layer.name() + "', example '"
                + id + "': ";
            if (r.isNullAt(l + 1)) {
              throw new IllegalArgumentException(where + "no gradient (null).");
            }
            ArrayData a = r.getArray(l + 1);
            if (a.numElements() != layer.size()) {
              throw new IllegalArgumentException(where + "array has " + a.numElements() + " values but ["
                  + layer.rows() + ", " + layer.cols() + "] needs " + layer.size()
                  + ". HINT: flatten the matrix row-major.");
            }
            String finite = ". HINT: the loss overflowed for this example at this checkpoint; check the checkpoint"
                + " and the example's tokens, or drop it.";
            if (nullable[l]) {
              for (int i = 0; i < layer.size(); i++) {
                if (a.isNullAt(i)) {
                  throw new IllegalArgumentException(where + "gradient holds NaN, Inf or null (a null value)" + finite);
                }
              }
            }
            if (a instanceof UnsafeArrayData u) {
              int n = layer.size();
              Platform.copyMemory(u.getBaseObject(), u.getBaseOffset() + UnsafeArrayData.calculateHeaderPortionInBytes(n),
                  buf, Platform.FLOAT_ARRAY_OFFSET + 4L * off, 4L * n);
            } else {
              System.arraycopy(a.toFloatArray(), 0, buf, off, layer.size());
            }
            for (int i = off; i < off + layer.size(); i++) {
              if (!Float.isFinite(buf[i])) {  // a double too large for float32 became Inf in the cast
                throw new IllegalArgumentException(where + "gradient holds NaN, Inf or null (value " + buf[i]
                    + " at index " + (i - off) + ")" + finite);
              }
            }
            off += layer.size();
          }
          return RowFactory.create(id, checkpoint, StoredRow.pack(buf, 0, buf.length));
        }
      };
    }
  }
}
