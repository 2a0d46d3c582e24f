package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;

/**
 * Typed reads of one tokenizer file's JSON fields: each failure is a TokenizerFormatException
 * that names the file, the field's path (for example {@code pre_tokenizer.pretokenizers[0].pattern})
 * and the value found, with a HINT.
 */
final class HfJson {
  final Path file;

  HfJson(Path file) {
    this.file = file;
  }

  TokenizerFormatException error(String field, JsonNode value, String problem, String hint) {
    String shown = value == null ? "missing" : abbreviate(value.toString());
    return new TokenizerFormatException(file, field + " is " + shown + ": " + problem, hint);
  }

  /** The error for a component of a type we do not implement. */
  TokenizerFormatException unsupported(String field, JsonNode value, String supported) {
    return error(field, value, "not supported (supported: " + supported + ").",
        "use a tokenizer made of supported parts; anything else would tokenize differently from Hugging Face,"
            + " so it is refused rather than approximated.");
  }

  JsonNode textNode(String s) {
    return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.textNode(s);
  }

  static String abbreviate(String s) {
    return s.length() <= 200 ? s : s.substring(0, 200) + "...";
  }

  /** The "type" of a component object. */
  String type(JsonNode node, String field) throws TokenizerFormatException {
    if (node == null || !node.isObject() || !node.path("type").isTextual()) {
      throw error(field, node, "expected an object with a string \"type\".", "fix that component of the file.");
    }
    return node.get("type").asText();
  }

  String text(JsonNode parent, String name, String field) throws TokenizerFormatException {
    JsonNode v = parent.get(name);
    if (v == null || !v.isTextual()) {
      throw error(field + "." + name, v, "expected a string.", "fix that field.");
    }
    return v.asText();
  }

  /** A boolean field, {@code dflt} when absent or null. */
  boolean bool(JsonNode parent, String name, String field, boolean dflt) throws TokenizerFormatException {
    JsonNode v = parent.get(name);
    if (v == null || v.isNull()) return dflt;
    if (!v.isBoolean()) throw error(field + "." + name, v, "expected true or false.", "fix that field.");
    return v.asBoolean();
  }

  int integer(JsonNode parent, String name, String field) throws TokenizerFormatException {
    JsonNode v = parent.get(name);
    if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
      throw error(field + "." + name, v, "expected a non-negative integer.", "fix that field.");
    }
    return v.asInt();
  }

  JsonNode array(JsonNode parent, String name, String field) throws TokenizerFormatException {
    JsonNode v = parent.get(name);
    if (v == null || !v.isArray()) throw error(field + "." + name, v, "expected an array.", "fix that field.");
    return v;
  }
}
