package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code decoder} of a tokenizer.json: turns token strings back into text, step by step on the
 * list of tokens as Hugging Face does. Supported: {@code ByteLevel} (byte alphabet to UTF-8; added
 * tokens are kept as written), {@code Replace}, {@code ByteFallback} (runs of {@code <0xNN>}
 * tokens become their UTF-8 text), {@code Fuse}, {@code Strip}, {@code Metaspace} and
 * {@code Sequence}; no decoder concatenates the tokens. Invalid UTF-8 becomes U+FFFD (one per
 * maximal invalid subsequence, as JavaScript's TextDecoder does; Rust's ByteFallback writes one per
 * byte instead).
 */
interface Decoder {
  List<String> decodeChain(List<String> tokens);

  /** The whole text of {@code tokens}. */
  default String decode(List<String> tokens) {
    return String.join("", decodeChain(tokens));
  }

  static Decoder parse(HfJson json, JsonNode node, String field, Set<String> addedTokens)
      throws TokenizerFormatException {
    if (node == null || node.isNull()) return tokens -> tokens;
    String type = json.type(node, field);
    switch (type) {
      case "Sequence" -> {
        JsonNode list = json.array(node, "decoders", field);
        List<Decoder> steps = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
          steps.add(parse(json, list.get(i), field + ".decoders[" + i + "]", addedTokens));
        }
        return tokens -> {
          for (Decoder d : steps) tokens = d.decodeChain(tokens);
          return tokens;
        };
      }
      case "ByteLevel" -> {
        return tokens -> byteLevel(tokens, addedTokens);
      }
      case "Replace" -> {
        Pattern pattern = Normalizer.pattern(json, node.get("pattern"), field + ".pattern");
        String content = Matcher.quoteReplacement(json.text(node, "content", field));
        return tokens -> tokens.stream().map(t -> pattern.matcher(t).replaceAll(content)).toList();
      }
      case "ByteFallback" -> {
        return Decoder::byteFallback;
      }
      case "Fuse" -> {
        return tokens -> List.of(String.join("", tokens));
      }
      case "Strip" -> {
        String content = json.text(node, "content", field);
        int start = json.integer(node, "start", field);
        int stop = json.integer(node, "stop", field);
        return tokens -> tokens.stream().map(t -> strip(t, content, start, stop)).toList();
      }
      case "Metaspace" -> {
        String replacement = json.text(node, "replacement", field);
        JsonNode scheme = node.get("prepend_scheme");
        boolean prefix = scheme != null && scheme.isTextual()
            ? !scheme.asText().equals("never") : json.bool(node, "add_prefix_space", field, true);
        return tokens -> {
          List<String> out = new ArrayList<>(tokens.size());
          for (int i = 0; i < tokens.size(); i++) {
            String t = tokens.get(i).replace(replacement, " ");
            out.add(prefix && i == 0 && t.startsWith(" ") ? t.substring(1) : t);
          }
          return out;
        };
      }
      default -> throw json.unsupported(field + ".type", node.get("type"),
          "ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence");
    }
  }

  private static List<String> byteLevel(List<String> tokens, Set<String> addedTokens) {
    List<String> out = new ArrayList<>();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (String t : tokens) {
      if (addedTokens.contains(t)) {
        if (bytes.size() > 0) out.add(bytes.toString(StandardCharsets.UTF_8));
        bytes.reset();
        out.add(t);
        continue;
      }
      byte[] b = ByteLevel.toBytes(t);
      bytes.writeBytes(b != null ? b : t.getBytes(StandardCharsets.UTF_8));
    }
    if (bytes.size() > 0) out.add(bytes.toString(StandardCharsets.UTF_8));
    return out;
  }

  private static List<String> byteFallback(List<String> tokens) {
    List<String> out = new ArrayList<>(tokens.size());
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (String t : tokens) {
      int b = byteToken(t);
      if (b >= 0) {
        bytes.write(b);
        continue;
      }
      if (bytes.size() > 0) out.add(bytes.toString(StandardCharsets.UTF_8));
      bytes.reset();
      out.add(t);
    }
    if (bytes.size() > 0) out.add(bytes.toString(StandardCharsets.UTF_8));
    return out;
  }

  /** The byte of a {@code <0xNN>} token, else -1. */
  private static int byteToken(String t) {
    if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
    int hi = Character.digit(t.charAt(3), 16);
    int lo = Character.digit(t.charAt(4), 16);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }

  private static String strip(String t, String content, int start, int stop) {
    int from = 0;
    for (int i = 0; i < start && t.startsWith(content, from); i++) from += content.length();
    int to = t.length();
    for (int i = 0; i < stop && to - content.length() >= from && t.startsWith(content, to - content.length()); i++) {
      to -= content.length();
    }
    return t.substring(from, to);
  }
}
