package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which corpus row each example index of a run's {@value TrainingLogs#FILE} is: the sidecar
 * {@value #FILE} beside the log, written by {@code influence train} once training finished. The log's
 * indices are positions in the trainer's list of sequences; this file names them as the pipeline's
 * stages do, so a stage can map a corpus file onto the log (SGD-influence in the score stage).
 *
 * <p>JSON Lines, UTF-8. Line 1 is the header, then one line per index 0, 1, ... in order:
 * <pre>
 * {"format": "influence-training-examples/1", "corpus_size": 6, "training_log_sha256": "ab12..."}
 * {"index": 0, "row": "doc-a", "id": "doc-a#w0", "tokens_sha256": "..."}
 * </pre>
 * {@code row} is the corpus row's id, {@code id} the training sequence's id (the row's id, or
 * {@code <row>#w<k>} for window k of a long text, as the corpus stages name it), {@code tokens_sha256}
 * the SHA-256 of the sequence's token ids as little-endian int32 ({@link #tokensSha256}).
 * {@code training_log_sha256} is the SHA-256 of the log file the indices belong to; a log changed or
 * rewritten since is refused. Unknown or missing fields, gaps and duplicate ids are refused naming
 * file and line. A run trained before this file existed (or whose corpus rows had no unique ids) has
 * none: {@link #read} then returns empty, and the log stays readable by {@link TrainingLogs}.
 */
public final class TrainingExamples {
  /** File name of the sidecar inside a run folder. */
  public static final String FILE = "training-examples.jsonl";
  /** Value of the header's "format" field. */
  public static final String FORMAT = "influence-training-examples/1";

  /** One example index of the log: its corpus row, its sequence id and its tokens' hash. */
  public record Example(int index, String row, String id, String tokensSha256) {}

  private static final Set<String> HEADER_FIELDS = Set.of("format", "corpus_size", "training_log_sha256");
  private static final Set<String> LINE_FIELDS = Set.of("index", "row", "id", "tokens_sha256");
  private static final String HINT = "retrain the run with `influence train`, which writes " + FILE
      + " beside " + TrainingLogs.FILE + " (every corpus row needs a unique id).";
  private static final ObjectWriter LINE = Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);

  private TrainingExamples() {}

  /** SHA-256 (hex) of {@code tokens} as little-endian int32. */
  public static String tokensSha256(int[] tokens) {
    ByteBuffer b = ByteBuffer.allocate(4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int t : tokens) {
      b.putInt(t);
    }
    return sha256(b.array());
  }

  /**
   * Writes {@value #FILE} in {@code runDir} for its finished {@value TrainingLogs#FILE}: {@code rows.get(i)} and
   * {@code ids.get(i)} name the log's example {@code i}, whose tokens are {@code sequences.get(i)}.
   */
  public static void write(Path runDir, List<String> rows, List<String> ids, List<int[]> sequences) throws IOException {
    if (rows.size() != ids.size() || ids.size() != sequences.size()) {
      throw new IllegalArgumentException(rows.size() + " rows, " + ids.size() + " ids and " + sequences.size()
          + " sequences: one each per example index");
    }
    if (new HashSet<>(ids).size() != ids.size()) {
      throw new IllegalArgumentException("the sequence ids are not unique");
    }
    Map<String, Object> header = new LinkedHashMap<>();
    header.put("format", FORMAT);
    header.put("corpus_size", ids.size());
    header.put("training_log_sha256", sha256(Files.readAllBytes(runDir.resolve(TrainingLogs.FILE))));
    Path tmp = runDir.resolve(FILE + ".tmp");
    try (BufferedWriter out = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      out.write(LINE.writeValueAsString(header));
      out.write('\n');
      for (int i = 0; i < ids.size(); i++) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("index", i);
        m.put("row", rows.get(i));
        m.put("id", ids.get(i));
        m.put("tokens_sha256", tokensSha256(sequences.get(i)));
        out.write(LINE.writeValueAsString(m));
        out.write('\n');
      }
    }
    Files.move(tmp, runDir.resolve(FILE), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * The examples of {@code runDir}'s log by index, or empty when the run has no {@value #FILE} (an older run).
   *
   * @throws CheckpointFormatException naming the file and line, for a malformed file, one that does not
   *                                   belong to the run's current log, or a count other than the log's corpus size
   */
  public static Optional<List<Example>> read(Path runDir) throws CheckpointFormatException {
    Path file = runDir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    TrainingLog log = TrainingLogs.read(runDir);
    List<String> lines;
    String logSha;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      logSha = sha256(Files.readAllBytes(runDir.resolve(TrainingLogs.FILE)));
    } catch (IOException e) {
      throw new CheckpointFormatException(file, null, "cannot be read: " + e + ".", HINT, e);
    }
    if (lines.isEmpty()) {
      throw new CheckpointFormatException(file, null, "is empty (no header line).", HINT);
    }
    ObjectNode header = object(file, lines.get(0), 1);
    fields(file, header, HEADER_FIELDS, 1);
    if (!FORMAT.equals(header.get("format").asText())) {
      throw new CheckpointFormatException(file, null, "line 1: \"format\" must be \"" + FORMAT + "\" but is "
          + Json.kind(header.get("format")) + ".", HINT);
    }
    if (!logSha.equals(header.get("training_log_sha256").asText())) {
      throw new CheckpointFormatException(file, null, "belongs to another " + TrainingLogs.FILE + " (SHA-256 "
          + Json.abbreviate(header.get("training_log_sha256").asText()) + ", the log now has " + Json.abbreviate(logSha)
          + ").", "the log was rewritten after training; " + HINT);
    }
    JsonNode size = header.get("corpus_size");
    if (!size.canConvertToInt() || !size.isIntegralNumber() || size.intValue() != log.corpusSize()) {
      throw new CheckpointFormatException(file, null, "line 1: \"corpus_size\" is " + Json.kind(size) + " but "
          + TrainingLogs.FILE + " records " + log.corpusSize() + " sequences.", HINT);
    }
    List<Example> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 1; i < lines.size(); i++) {
      int lineNo = i + 1;
      if (lines.get(i).isBlank() && i == lines.size() - 1) {
        break;
      }
      ObjectNode o = object(file, lines.get(i), lineNo);
      fields(file, o, LINE_FIELDS, lineNo);
      JsonNode index = o.get("index");
      if (!index.isIntegralNumber() || !index.canConvertToInt() || index.intValue() != out.size()) {
        throw new CheckpointFormatException(file, null, "line " + lineNo + ": \"index\" must be " + out.size()
            + " (0, 1, ... in order, without gaps) but is " + Json.kind(index) + ".", HINT);
      }
      for (String f : List.of("row", "id", "tokens_sha256")) {
        if (!o.get(f).isTextual() || o.get(f).asText().isEmpty()) {
          throw new CheckpointFormatException(file, null, "line " + lineNo + ": \"" + f + "\" must be a non-empty "
              + "string but is " + Json.kind(o.get(f)) + ".", HINT);
        }
      }
      String id = o.get("id").asText();
      if (!seen.add(id)) {
        throw new CheckpointFormatException(file, null, "line " + lineNo + ": id \"" + id + "\" is named twice.", HINT);
      }
      out.add(new Example(out.size(), o.get("row").asText(), id, o.get("tokens_sha256").asText()));
    }
    if (out.size() != log.corpusSize()) {
      throw new CheckpointFormatException(file, null, "names " + out.size() + " examples but " + TrainingLogs.FILE
          + " records " + log.corpusSize() + ".", HINT);
    }
    return Optional.of(List.copyOf(out));
  }

  /** SHA-256 (hex) of a file, e.g. of {@value TrainingLogs#FILE} or {@value #FILE}, for fingerprints. */
  public static String fileSha256(Path file) throws IOException {
    return sha256(Files.readAllBytes(file));
  }

  private static ObjectNode object(Path file, String text, int lineNo) throws CheckpointFormatException {
    JsonNode node = Json.parse(file, text.getBytes(StandardCharsets.UTF_8), "line " + lineNo);
    if (!(node instanceof ObjectNode o)) {
      throw new CheckpointFormatException(file, null, "line " + lineNo + " must be a JSON object but is "
          + Json.kind(node) + ".", HINT);
    }
    return o;
  }

  private static void fields(Path file, ObjectNode node, Set<String> allowed, int lineNo)
      throws CheckpointFormatException {
    Iterator<String> it = node.fieldNames();
    while (it.hasNext()) {
      String f = it.next();
      if (!allowed.contains(f)) {
        throw new CheckpointFormatException(file, null, "line " + lineNo + " has unknown field \"" + f
            + "\"; allowed: " + new TreeSet<>(allowed) + ".", HINT);
      }
    }
    for (String f : allowed) {
      if (!node.has(f)) {
        throw new CheckpointFormatException(file, null, "line " + lineNo + " lacks the field \"" + f + "\".", HINT);
      }
    }
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
