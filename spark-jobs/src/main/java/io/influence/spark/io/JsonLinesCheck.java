package io.influence.spark.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * Checks a JSON Lines file (or a folder of them) on the driver before Spark reads it, so that a bad line is named
 * by its file and 1-based line number with what is wrong: bytes that are not UTF-8 (Spark would read them as
 * U+FFFD, silently), text that is not JSON, or JSON that is not an object. Spark's reader names neither.
 *
 * <p>One streaming pass over the bytes (constant memory; blank lines and a trailing {@code \r} are allowed);
 * the result is kept per file, length and modification time, so the stages of one run check a file once.
 */
public final class JsonLinesCheck {

  /** Problems kept per file for messages; the count covers them all. */
  public static final int NAMED = 10;

  /** What a check found: how many bad lines, and the first {@value #NAMED} as {@code FILE line N: what}. */
  public record Result(long badLines, List<String> examples, boolean invalidUtf8) {
    /** True when every line is a JSON object. */
    public boolean clean() {
      return badLines == 0;
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, Result> CHECKED = new ConcurrentHashMap<>();

  private JsonLinesCheck() {}

  /** Checks the file at {@code path}, or every visible file of the folder at {@code path}. */
  public static Result check(Configuration conf, Path path) {
    FileStatus status = Locations.status(conf, path);
    if (status == null) {
      throw new IllegalArgumentException("input " + path + " does not exist. HINT: check the path in your settings");
    }
    List<FileStatus> files = new ArrayList<>();
    if (status.isDirectory()) {
      for (FileStatus f : Locations.list(conf, path)) {
        String name = f.getPath().getName();
        if (f.isFile() && !name.startsWith("_") && !name.startsWith(".")) {
          files.add(f);
        }
      }
      files.sort((a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
    } else {
      files.add(status);
    }
    long bad = 0;
    boolean utf8 = false;
    List<String> examples = new ArrayList<>();
    for (FileStatus f : files) {
      String key = f.getPath() + "#" + f.getLen() + "#" + f.getModificationTime();
      Result r = CHECKED.computeIfAbsent(key, k -> checkFile(conf, f.getPath()));
      bad += r.badLines();
      utf8 |= r.invalidUtf8();
      for (String e : r.examples()) {
        if (examples.size() < NAMED) {
          examples.add(e);
        }
      }
    }
    return new Result(bad, List.copyOf(examples), utf8);
  }

  private static Result checkFile(Configuration conf, Path file) {
    long bad = 0;
    boolean utf8 = false;
    List<String> examples = new ArrayList<>();
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    try (InputStream in = new java.io.BufferedInputStream(Locations.fs(conf, file).open(file), 1 << 16)) {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      long number = 0;
      boolean more = true;
      while (more) {
        int b = in.read();
        if (b >= 0 && b != '\n') {
          line.write(b);
          continue;
        }
        more = b >= 0;
        if (!more && line.size() == 0) {
          break;
        }
        number++;
        String problem = problem(line.toByteArray(), decoder);
        line.reset();
        if (problem != null) {
          bad++;
          utf8 |= problem.startsWith("not UTF-8");
          if (examples.size() < NAMED) {
            examples.add(file + " line " + number + ": " + problem);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
    return new Result(bad, List.copyOf(examples), utf8);
  }

  /** What is wrong with one line's bytes (without its {@code \n}), or null. */
  private static String problem(byte[] bytes, CharsetDecoder decoder) {
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(bytes.length + 1);
    CoderResult result = decoder.reset().decode(in, out, true);
    if (result.isError()) {
      int at = in.position();
      return "not UTF-8 (byte 0x" + String.format("%02X", bytes[at] & 0xFF) + " at byte " + (at + 1)
          + " of the line)";
    }
    decoder.flush(out);
    String text = out.flip().toString();
    if (text.isBlank()) {
      return null;
    }
    try {
      JsonNode node = JSON.readTree(text);
      if (node == null || !node.isObject()) {
        return "not a JSON object (found " + (node == null ? "nothing" : node.getNodeType().name().toLowerCase(
            java.util.Locale.ROOT)) + ")";
      }
      return null;
    } catch (JsonProcessingException e) {
      String what = e.getOriginalMessage();
      return "not valid JSON at character " + e.getLocation().getColumnNr() + " (" + what + ")";
    }
  }
}
