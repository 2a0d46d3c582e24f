package io.influence.spark.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.LargeVarCharVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Reads a Hugging Face {@code datasets} folder written by {@code Dataset.save_to_disk}: a
 * {@code state.json} naming the data files ({@code _data_files[].filename}), each an Arrow IPC
 * <em>stream</em> of record batches. Each data file is read by one Spark task with Arrow Java;
 * only the columns {@code id}, {@code text}, {@code input_ids} (those present) are kept, as
 * {@code id: string}, {@code text: string}, {@code input_ids: array<int>}. The folder may be on any Hadoop
 * file system; tasks open their data file with the driver's Hadoop configuration ({@link SerializableConf}).
 */
final class HfArrowFolder {

  private HfArrowFolder() {}

  static Dataset<Row> read(SparkSession spark, Path folder) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    List<String> files = dataFiles(conf, folder);
    StructType schema = schemaOf(conf, new Path(folder, files.get(0)));
    List<String> paths = files.stream().map(f -> new Path(folder, f).toString()).toList();
    var rows = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .parallelize(paths, paths.size())
        .flatMap(new RowsOf(new SerializableConf(conf)));
    return spark.createDataFrame(rows, schema);
  }

  /** One task: the rows of one data file. */
  private record RowsOf(SerializableConf conf) implements FlatMapFunction<String, Row> {
    @Override
    public Iterator<Row> call(String file) throws IOException {
      return rowsOf(conf.get(), file);
    }
  }

  static List<String> dataFiles(Configuration conf, Path folder) {
    Path state = new Path(folder, "state.json");
    List<String> files = new ArrayList<>();
    if (Locations.exists(conf, state)) {
      try {
        JsonNode node = new ObjectMapper().readTree(Locations.readBytes(conf, state)).path("_data_files");
        if (!node.isArray() || node.isEmpty()) {
          throw new IllegalArgumentException(state + ": `_data_files` is missing or empty."
              + " HINT: save the dataset with Dataset.save_to_disk");
        }
        for (JsonNode f : node) {
          String name = f.path("filename").asText("");
          if (name.isEmpty() || name.contains("/") || name.contains("\\") || name.equals("..")
              || !Locations.isFile(conf, new Path(folder, name))) {
            throw new IllegalArgumentException(state + ": data file `" + name + "` is missing or outside " + folder);
          }
          files.add(name);
        }
      } catch (IOException e) {
        throw new IllegalArgumentException(state + " is not valid JSON: " + e.getMessage(), e);
      }
    } else {
      Locations.list(conf, folder).stream().map(FileStatus::getPath).map(Path::getName)
          .filter(n -> n.endsWith(".arrow")).sorted().forEach(files::add);
    }
    if (files.isEmpty()) {
      throw new IllegalArgumentException(folder + " holds no .arrow data files");
    }
    return files;
  }

  private static StructType schemaOf(Configuration conf, Path file) {
    try (BufferAllocator allocator = new RootAllocator();
         InputStream in = Locations.fs(conf, file).open(file);
         ArrowStreamReader reader = new ArrowStreamReader(in, allocator)) {
      StructType schema = new StructType();
      for (var field : reader.getVectorSchemaRoot().getSchema().getFields()) {
        switch (field.getName()) {
          case "id" -> schema = schema.add("id", DataTypes.StringType, false);
          case "text" -> schema = schema.add("text", DataTypes.StringType, true);
          case "input_ids" -> schema = schema.add("input_ids", DataTypes.createArrayType(DataTypes.IntegerType, false), true);
          default -> { }
        }
      }
      return schema;
    } catch (IOException e) {
      throw new IllegalArgumentException(file + " is not an Arrow IPC stream: " + e.getMessage()
          + ". HINT: the folder should come from Dataset.save_to_disk", e);
    }
  }

  private static Iterator<Row> rowsOf(Configuration conf, String file) throws IOException {
    List<Row> rows = new ArrayList<>();
    Path path = new Path(file);
    try (BufferAllocator allocator = new RootAllocator();
         InputStream in = Locations.fs(conf, path).open(path);
         ArrowStreamReader reader = new ArrowStreamReader(in, allocator)) {
      VectorSchemaRoot root = reader.getVectorSchemaRoot();
      while (reader.loadNextBatch()) {
        FieldVector id = root.getVector("id");
        FieldVector text = root.getVector("text");
        FieldVector ids = root.getVector("input_ids");
        for (int r = 0; r < root.getRowCount(); r++) {
          List<Object> values = new ArrayList<>(3);
          if (id != null) {
            values.add(id.isNull(r) ? null : String.valueOf(id.getObject(r)));
          }
          if (text != null) {
            values.add(stringAt(text, r));
          }
          if (ids != null) {
            values.add(tokensAt(ids, r, file));
          }
          rows.add(RowFactory.create(values.toArray()));
        }
      }
    }
    return rows.iterator();
  }

  private static String stringAt(FieldVector v, int r) {
    if (v.isNull(r)) {
      return null;
    }
    if (v instanceof VarCharVector s) {
      return new String(s.get(r), java.nio.charset.StandardCharsets.UTF_8);
    }
    if (v instanceof LargeVarCharVector s) {
      return new String(s.get(r), java.nio.charset.StandardCharsets.UTF_8);
    }
    return String.valueOf(v.getObject(r));
  }

  private static int[] tokensAt(FieldVector v, int r, String file) {
    if (v.isNull(r)) {
      return null;
    }
    if (!(v instanceof ListVector list) || !(list.getDataVector() instanceof BaseIntVector data)) {
      throw new IllegalArgumentException(file + ": column input_ids must be a list of integers, found "
          + v.getField().getType());
    }
    int start = list.getElementStartIndex(r);
    int end = list.getElementEndIndex(r);
    int[] out = new int[end - start];
    for (int i = start; i < end; i++) {
      long value = data.getValueAsLong(i);
      if (value < 0 || value > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(file + ": input_ids value " + value + " at row " + r + " is not a token id");
      }
      out[i - start] = (int) value;
    }
    return out;
  }
}
