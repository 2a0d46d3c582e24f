package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code normalizer} of a tokenizer.json: a function applied to each stretch of text between
 * added tokens before pre-tokenisation. Supported types: {@code Sequence}, {@code Prepend} (e.g.
 * Llama 2's "▁"), {@code Replace} (a {@code String} or a translatable {@code Regex} pattern),
 * {@code NFC}, {@code NFD}, {@code NFKC}, {@code NFKD} (Qwen's NFC). Prepend adds nothing to an
 * empty stretch, as in Hugging Face tokenizers.
 */
interface Normalizer {
  String normalize(String text);

  /** The normalizer of a tokenizer.json ({@code null} or JSON null: none, returned as null). */
  static Normalizer parse(HfJson json, JsonNode node, String field) throws TokenizerFormatException {
    if (node == null || node.isNull()) return null;
    String type = json.type(node, field);
    switch (type) {
      case "Sequence" -> {
        JsonNode list = json.array(node, "normalizers", field);
        List<Normalizer> parts = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
          Normalizer n = parse(json, list.get(i), field + ".normalizers[" + i + "]");
          if (n != null) parts.add(n);
        }
        return text -> {
          for (Normalizer n : parts) text = n.normalize(text);
          return text;
        };
      }
      case "Prepend" -> {
        String prefix = json.text(node, "prepend", field);
        return text -> text.isEmpty() ? text : prefix + text;
      }
      case "Replace" -> {
        Pattern pattern = pattern(json, node.get("pattern"), field + ".pattern");
        String content = Matcher.quoteReplacement(json.text(node, "content", field));
        return text -> pattern.matcher(text).replaceAll(content);
      }
      case "NFC", "NFD", "NFKC", "NFKD" -> {
        java.text.Normalizer.Form form = java.text.Normalizer.Form.valueOf(type);
        return text -> java.text.Normalizer.normalize(text, form);
      }
      default -> throw json.unsupported(field + ".type", node.get("type"),
          "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD");
    }
  }

  /** A {@code {"String": s}} or {@code {"Regex": r}} pattern object (Replace, Split). */
  static Pattern pattern(HfJson json, JsonNode node, String field) throws TokenizerFormatException {
    if (node != null && node.path("String").isTextual()) {
      return Pattern.compile(Pattern.quote(node.get("String").asText()));
    }
    if (node != null && node.path("Regex").isTextual()) {
      try {
        return OnigRegex.compile(node.get("Regex").asText());
      } catch (OnigRegex.UnsupportedRegexException e) {
        throw json.error(field + ".Regex", node.get("Regex"),
            "cannot be translated faithfully to java.util.regex: " + e.getMessage() + ".",
            "only the constructs listed in OnigRegex are translated; use a tokenizer whose regex avoids this one.");
      }
    }
    throw json.error(field, node, "expected {\"String\": ...} or {\"Regex\": ...}.", "fix that pattern.");
  }
}
