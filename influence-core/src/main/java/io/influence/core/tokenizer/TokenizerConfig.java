package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the tokenizer needs from a {@code tokenizer_config.json} (transformers' tokenizer settings,
 * saved beside {@code tokenizer.json}): {@code add_bos_token} / {@code add_eos_token} ({@code null}
 * when absent) and the names of the BOS and EOS tokens, each a string or an object with a
 * {@code content} string ({@code null} when absent or JSON null; {@code bosNamed} / {@code eosNamed}
 * say whether the key is present at all).
 */
record TokenizerConfig(
    Path file, Boolean addBos, Boolean addEos, String bosToken, boolean bosNamed, String eosToken, boolean eosNamed) {

  static final String FILE_NAME = "tokenizer_config.json";

  /** The config beside {@code tokenizerJson}, or null when there is none. */
  static TokenizerConfig readBeside(Path tokenizerJson) throws IOException {
    Path file = tokenizerJson.toAbsolutePath().resolveSibling(FILE_NAME);
    if (!Files.isRegularFile(file)) return null;
    JsonNode root = TokenizerFiles.readJson(file);
    HfJson json = new HfJson(file);
    if (!root.isObject()) throw json.error("the file", root, "expected a JSON object.", "pass transformers' tokenizer_config.json.");
    return new TokenizerConfig(file, flag(json, root, "add_bos_token"), flag(json, root, "add_eos_token"),
        token(json, root, "bos_token"), root.has("bos_token"), token(json, root, "eos_token"), root.has("eos_token"));
  }

  private static Boolean flag(HfJson json, JsonNode root, String name) throws TokenizerFormatException {
    JsonNode v = root.get(name);
    if (v == null || v.isNull()) return null;
    if (!v.isBoolean()) throw json.error(name, v, "expected true or false.", "fix that field.");
    return v.asBoolean();
  }

  private static String token(HfJson json, JsonNode root, String name) throws TokenizerFormatException {
    JsonNode v = root.get(name);
    if (v == null || v.isNull()) return null;
    if (v.isTextual()) return v.asText();
    if (v.isObject() && v.path("content").isTextual()) return v.get("content").asText();
    throw json.error(name, v, "expected a string or an object with a \"content\" string.", "fix that field.");
  }

  /** Whether the config decides which tokens {@code tokenizer(text)} adds (it sets a flag). */
  boolean decidesAddedTokens() {
    return addBos != null || addEos != null;
  }
}
