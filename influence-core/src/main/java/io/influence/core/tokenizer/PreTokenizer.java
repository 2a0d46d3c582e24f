package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code pre_tokenizer} of a tokenizer.json: cuts normalised text into pieces that BPE merges
 * never cross. Supported: none ({@code null}, the whole text is one piece, as for Llama 2);
 * {@code Split} with a pattern, behaviour {@code Isolated} or {@code Removed} and {@code invert}
 * false (Llama 3's and Qwen's regex, see OnigRegex); {@code ByteLevel} without
 * {@code add_prefix_space}, last in the chain (with {@code use_regex} it first applies GPT-2's regex,
 * translated as Hugging Face compiles it); {@code Metaspace} (newer SentencePiece-style files:
 * spaces become the replacement character, which is prepended per {@code prepend_scheme} or the
 * older {@code add_prefix_space}, and {@code split} cuts before each replacement character); and a
 * {@code Sequence} of these.
 */
final class PreTokenizer {
  /** GPT-2's pre-tokenisation regex in the spelling of Hugging Face's ByteLevel pre-tokenizer. */
  static final String GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

  /** One step: appends the pieces of {@code piece} to {@code out}. */
  private interface Step {
    void split(String piece, boolean atStart, List<String> out);
  }

  private final List<Step> steps;
  private final boolean byteLevel;

  private PreTokenizer(List<Step> steps, boolean byteLevel) {
    this.steps = List.copyOf(steps);
    this.byteLevel = byteLevel;
  }

  /** Whether the chain ends in ByteLevel: the model then works on the pieces' UTF-8 bytes. */
  boolean byteLevel() {
    return byteLevel;
  }

  /**
   * Pieces of one stretch of normalised text; {@code atStart} says that the stretch begins the
   * input (Metaspace's {@code prepend_scheme "first"}).
   */
  List<String> split(String text, boolean atStart) {
    List<String> pieces = new ArrayList<>(List.of(text));
    for (Step step : steps) {
      List<String> next = new ArrayList<>(pieces.size() * 2);
      for (int i = 0; i < pieces.size(); i++) step.split(pieces.get(i), atStart && i == 0, next);
      pieces = next;
    }
    return pieces;
  }

  static PreTokenizer parse(HfJson json, JsonNode node, String field) throws TokenizerFormatException {
    List<Step> steps = new ArrayList<>();
    boolean byteLevel = false;
    List<JsonNode> nodes = new ArrayList<>();
    List<String> fields = new ArrayList<>();
    if (node != null && !node.isNull()) {
      if ("Sequence".equals(json.type(node, field))) {
        JsonNode list = json.array(node, "pretokenizers", field);
        for (int i = 0; i < list.size(); i++) {
          nodes.add(list.get(i));
          fields.add(field + ".pretokenizers[" + i + "]");
        }
      } else {
        nodes.add(node);
        fields.add(field);
      }
    }
    for (int i = 0; i < nodes.size(); i++) {
      JsonNode n = nodes.get(i);
      String f = fields.get(i);
      if (byteLevel) {
        throw json.error(f, n, "follows a ByteLevel pre-tokenizer; only ByteLevel last is supported.",
            "put ByteLevel last in the pre_tokenizer Sequence.");
      }
      switch (json.type(n, f)) {
        case "Split" -> steps.add(split(json, n, f));
        case "ByteLevel" -> {
          if (json.bool(n, "add_prefix_space", f, false)) {
            throw json.error(f + ".add_prefix_space", n.get("add_prefix_space"),
                "a ByteLevel prefix space combined with other parts is not supported.",
                "set add_prefix_space false (Llama 3 and Qwen do), or use a plain GPT-2 style file.");
          }
          if (json.bool(n, "use_regex", f, true)) steps.add(regexStep(compile(json, GPT2_REGEX, f), false));
          byteLevel = true;
        }
        case "Metaspace" -> steps.add(metaspace(json, n, f));
        default -> throw json.unsupported(f + ".type", n.get("type"), "Split, ByteLevel, Metaspace, Sequence");
      }
    }
    return new PreTokenizer(steps, byteLevel);
  }

  private static Pattern compile(HfJson json, String regex, String field) throws TokenizerFormatException {
    try {
      return OnigRegex.compile(regex);
    } catch (OnigRegex.UnsupportedRegexException e) {
      throw json.error(field, null, e.getMessage(), "report this: the built-in regex should translate.");
    }
  }

  private static Step split(HfJson json, JsonNode n, String f) throws TokenizerFormatException {
    Pattern pattern = Normalizer.pattern(json, n.get("pattern"), f + ".pattern");
    if (json.bool(n, "invert", f, false)) {
      throw json.error(f + ".invert", n.get("invert"), "an inverted Split is not supported.", "use invert false.");
    }
    String behavior = n.path("behavior").asText("");
    return switch (behavior) {
      case "Isolated" -> regexStep(pattern, false);
      case "Removed" -> regexStep(pattern, true);
      default -> throw json.unsupported(f + ".behavior", n.get("behavior"), "Isolated, Removed");
    };
  }

  /** Matches and the text between them, in order; empty matches are skipped (Isolated / Removed). */
  private static Step regexStep(Pattern pattern, boolean dropMatches) {
    return (piece, atStart, out) -> {
      Matcher m = pattern.matcher(piece);
      int prev = 0;
      while (m.find()) {
        if (m.end() == m.start()) continue;
        if (m.start() > prev) out.add(piece.substring(prev, m.start()));
        if (!dropMatches) out.add(m.group());
        prev = m.end();
      }
      if (prev < piece.length()) out.add(piece.substring(prev));
    };
  }

  private static Step metaspace(HfJson json, JsonNode n, String f) throws TokenizerFormatException {
    String replacement = json.text(n, "replacement", f);
    if (replacement.codePointCount(0, replacement.length()) != 1) {
      throw json.error(f + ".replacement", n.get("replacement"), "expected one character.", "use \"▁\".");
    }
    String scheme;
    if (n.has("prepend_scheme") && !n.get("prepend_scheme").isNull()) {
      scheme = n.get("prepend_scheme").asText("");
      if (!List.of("always", "first", "never").contains(scheme)) {
        throw json.unsupported(f + ".prepend_scheme", n.get("prepend_scheme"), "always, first, never");
      }
    } else {
      scheme = json.bool(n, "add_prefix_space", f, true) ? "always" : "never";
    }
    boolean cut = json.bool(n, "split", f, true);
    return (piece, atStart, out) -> {
      String s = piece.replace(" ", replacement);
      boolean prepend = scheme.equals("always") || (scheme.equals("first") && atStart);
      if (prepend && !s.startsWith(replacement)) s = replacement + s;
      if (!cut) {
        out.add(s);
        return;
      }
      int from = 0;
      for (int at = s.indexOf(replacement, 1); at >= 0; at = s.indexOf(replacement, at + 1)) {
        out.add(s.substring(from, at));
        from = at;
      }
      out.add(s.substring(from));
    };
  }
}
