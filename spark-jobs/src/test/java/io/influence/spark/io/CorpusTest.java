package io.influence.spark.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.testing.LocalSpark;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.impl.UnionListWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {

  private final SparkSession spark = LocalSpark.get();

  @TempDir Path dir;

  private static List<Row> sorted(List<Row> rows) {
    return rows.stream().sorted(Comparator.comparing(r -> r.getString(0))).toList();
  }

  @Test
  void read_jsonLinesWithText_givesIdTextAndNullTokens() throws Exception {
    Path file = dir.resolve("corpus.jsonl");
    Files.writeString(file, "{\"id\": 2, \"text\": \"b <script>\"}\n{\"id\": 1, \"text\": \"a\"}\n");
    List<Row> rows = sorted(Corpus.read(spark, file).collectAsList());
    assertEquals(2, rows.size());
    assertEquals("1", rows.get(0).getString(0));
    assertEquals("b <script>", rows.get(1).getString(1));
    assertNull(rows.get(0).get(2));
  }

  @Test
  void read_parquetWithTokenIds_keepsTokens() {
    Path out = dir.resolve("corpus.parquet");
    spark.sql("SELECT 'x' AS id, array(5L, 6L, 7L) AS input_ids UNION ALL SELECT 'y', array(1L)")
        .write().parquet(out.toString());
    List<Row> rows = sorted(Corpus.read(spark, out).collectAsList());
    assertEquals(List.of(5, 6, 7), rows.get(0).getList(2));
    assertEquals(List.of(1), rows.get(1).getList(2));
    assertNull(rows.get(0).get(1));
  }

  @Test
  void read_huggingFaceArrowFolder_readsEveryDataFile() throws Exception {
    Path folder = dir.resolve("hf");
    Files.createDirectories(folder);
    writeArrowStream(folder.resolve("data-00000-of-00002.arrow"), new long[] {10, 11}, new String[] {"ten", "eleven"},
        new int[][] {{1, 2}, {3}});
    writeArrowStream(folder.resolve("data-00001-of-00002.arrow"), new long[] {12}, new String[] {"twelve"},
        new int[][] {{4, 5, 6}});
    Files.writeString(folder.resolve("state.json"), "{\"_data_files\": [{\"filename\": \"data-00000-of-00002.arrow\"},"
        + " {\"filename\": \"data-00001-of-00002.arrow\"}], \"_fingerprint\": \"f\"}");
    assertEquals(InputFormat.HF_ARROW, InputFormat.detect(folder));
    List<Row> rows = sorted(Corpus.read(spark, folder).collectAsList());
    assertEquals(3, rows.size());
    assertEquals("10", rows.get(0).getString(0));
    assertEquals("eleven", rows.get(1).getString(1));
    assertArrayEquals(new Object[] {4, 5, 6}, rows.get(2).getList(2).toArray());
  }

  @Test
  void read_stateJsonNamingMissingFile_failsNamingIt() throws Exception {
    Path folder = dir.resolve("hf-bad");
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("state.json"), "{\"_data_files\": [{\"filename\": \"../escape.arrow\"}]}");
    var e = assertThrows(IllegalArgumentException.class, () -> Corpus.read(spark, folder));
    assertTrue(e.getMessage().contains("../escape.arrow"), e.getMessage());
  }

  @Test
  void read_duplicateIds_failsListingThem() throws Exception {
    Path file = dir.resolve("dup.jsonl");
    Files.writeString(file, "{\"id\": \"a\", \"text\": \"1\"}\n{\"id\": \"a\", \"text\": \"2\"}\n{\"id\": \"b\", \"text\": \"3\"}\n");
    var e = assertThrows(IllegalArgumentException.class, () -> Corpus.read(spark, file));
    assertTrue(e.getMessage().contains("a (2×)"), e.getMessage());
  }

  @Test
  void read_rowWithoutId_failsCountingRows() throws Exception {
    Path file = dir.resolve("noid.jsonl");
    Files.writeString(file, "{\"id\": \"a\", \"text\": \"1\"}\n{\"text\": \"2\"}\n");
    var e = assertThrows(IllegalArgumentException.class, () -> Corpus.read(spark, file));
    assertTrue(e.getMessage().contains("1 rows have no id"), e.getMessage());
  }

  @Test
  void read_noTextNorTokens_failsListingColumns() throws Exception {
    Path file = dir.resolve("cols.jsonl");
    Files.writeString(file, "{\"id\": \"a\", \"body\": \"1\"}\n");
    var e = assertThrows(IllegalArgumentException.class, () -> Corpus.read(spark, file));
    assertTrue(e.getMessage().contains("neither `text` nor `input_ids`") && e.getMessage().contains("body"),
        e.getMessage());
  }

  @Test
  void read_tokensNotIntegers_failsNamingColumn() throws Exception {
    Path file = dir.resolve("tok.jsonl");
    Files.writeString(file, "{\"id\": \"a\", \"input_ids\": [\"x\", \"y\"]}\n");
    var e = assertThrows(IllegalArgumentException.class, () -> Corpus.read(spark, file));
    assertTrue(e.getMessage().contains("`input_ids` must be a list of integers"), e.getMessage());
  }

  @Test
  void read_invalidJsonOnLine3_failsBeforeSparkNamingFileAndLine() throws Exception {
    Path file = dir.resolve("broken.jsonl");
    Files.writeString(file, "{\"id\": \"a\", \"text\": \"one\"}\n\n{\"id\": \"b\", \"text\": \n"
        + "{\"id\": \"c\", \"text\": \"three\"}\n", StandardCharsets.UTF_8);
    var e = assertThrows(IllegalArgumentException.class, () -> Corpus.read(spark, file));
    assertTrue(e.getMessage().startsWith("corpus " + Locations.local(file) + ": 1 line(s) are not JSON objects in "
        + "UTF-8: " + Locations.local(file) + " line 3: not valid JSON at character"), e.getMessage());
    assertTrue(e.getMessage().endsWith("HINT: fix them (one JSON object per line), or set influence.input.bad-rows = "
        + "skip to leave them out"), e.getMessage());
    assertTrue(!e.getMessage().contains("mode") && !e.getMessage().contains("Malformed"), e.getMessage());
  }

  @Test
  void read_invalidJsonWithSkip_leavesTheLineOut() throws Exception {
    Path file = dir.resolve("broken-skip.jsonl");
    Files.writeString(file, "{\"id\": \"a\", \"text\": \"one\"}\n[1, 2]\n{\"id\": \"b\", \"text\": \n"
        + "{\"id\": \"c\", \"text\": \"three\"}\n", StandardCharsets.UTF_8);
    List<String> ids = Corpus.read(spark, file.toString(), io.influence.spark.config.BadRows.SKIP)
        .select("id").orderBy("id").collectAsList().stream().map(r -> r.getString(0)).toList();
    assertEquals(List.of("a", "c"), ids);
  }

  @Test
  void read_invalidUtf8OnLine2_failsNamingLineAndByteEvenWithSkip() throws Exception {
    Path file = dir.resolve("latin1.jsonl");
    try (OutputStream out = Files.newOutputStream(file)) {
      out.write("{\"id\": \"a\", \"text\": \"ok\"}\r\n".getBytes(StandardCharsets.UTF_8));
      out.write("{\"id\": \"b\", \"text\": \"caf".getBytes(StandardCharsets.UTF_8));
      out.write(0xE9);
      out.write("\"}\n".getBytes(StandardCharsets.UTF_8));
    }
    for (var policy : io.influence.spark.config.BadRows.values()) {
      var e = assertThrows(IllegalArgumentException.class, () -> Corpus.read(spark, file.toString(), policy));
      assertTrue(e.getMessage().contains(Locations.local(file) + " line 2: not UTF-8 (byte 0xE9 at byte 25 of the "
          + "line)") && e.getMessage().endsWith("HINT: save the file as UTF-8 (bytes that are not UTF-8 are never "
          + "skipped)"), e.getMessage());
    }
  }

  @Test
  void queries_invalidJsonOnLine3_failsNamingFileAndLine() throws Exception {
    Path file = dir.resolve("queries.jsonl");
    Files.writeString(file, "{\"id\": \"q1\", \"prompt\": \"a\", \"completion\": \" b\"}\n"
        + "{\"id\": \"q2\", \"prompt\": \"a\", \"completion\": \" c\"}\n{\"id\": \"q3\", \"prompt\": }\n");
    var e = assertThrows(IllegalArgumentException.class, () -> Queries.read(spark, file));
    assertTrue(e.getMessage().startsWith("queries " + Locations.local(file) + ": 1 line(s)")
        && e.getMessage().contains(" line 3: not valid JSON at character 24 (")
        && e.getMessage().endsWith("HINT: fix them (one JSON object per line)"), e.getMessage());
  }

  @Test
  void detect_unknownExtension_failsWithHint() throws Exception {
    Path file = dir.resolve("corpus.csv");
    Files.writeString(file, "id,text\n");
    var e = assertThrows(IllegalArgumentException.class, () -> InputFormat.detect(file));
    assertTrue(e.getMessage().contains("HINT"), e.getMessage());
  }

  /** Writes what Dataset.save_to_disk writes: an Arrow IPC stream with id, text and input_ids. */
  private static void writeArrowStream(Path file, long[] ids, String[] texts, int[][] tokens) throws Exception {
    try (BufferAllocator allocator = new RootAllocator();
         BigIntVector id = new BigIntVector("id", allocator);
         VarCharVector text = new VarCharVector("text", allocator);
         ListVector inputIds = ListVector.empty("input_ids", allocator)) {
      id.allocateNew(ids.length);
      text.allocateNew();
      UnionListWriter writer = inputIds.getWriter();
      for (int i = 0; i < ids.length; i++) {
        id.set(i, ids[i]);
        text.setSafe(i, texts[i].getBytes(StandardCharsets.UTF_8));
        writer.setPosition(i);
        writer.startList();
        for (int t : tokens[i]) {
          writer.writeInt(t);
        }
        writer.endList();
      }
      id.setValueCount(ids.length);
      text.setValueCount(ids.length);
      inputIds.setValueCount(ids.length);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(id, text, inputIds);
           OutputStream out = Files.newOutputStream(file);
           ArrowStreamWriter stream = new ArrowStreamWriter(root, null, out)) {
        stream.start();
        stream.writeBatch();
        stream.end();
      }
    }
  }
}
