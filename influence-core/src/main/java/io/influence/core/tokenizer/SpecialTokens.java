package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.OptionalInt;
import java.util.function.Function;

/**
 * The tokens that Hugging Face's {@code tokenizer(text)} (add_special_tokens=True) puts around a
 * text, and the BOS and EOS ids.
 *
 * <p>Which tokens are added: if {@code tokenizer_config.json} sets {@code add_bos_token} or
 * {@code add_eos_token}, BOS is added iff add_bos_token is true and EOS iff add_eos_token is true
 * (as transformers' LlamaTokenizerFast rebuilds its post-processor from them); otherwise the
 * {@code post_processor} of tokenizer.json decides: {@code TemplateProcessing}'s {@code single}
 * template (special tokens before and after {@code $A}), {@code RobertaProcessing} /
 * {@code BertProcessing} ({@code cls} before, {@code sep} after), {@code ByteLevel} (nothing), or
 * a {@code Sequence} of these.
 *
 * <p>BOS / EOS ids: the config's {@code bos_token} / {@code eos_token} when it has the key (JSON
 * null: none), else the template's first added token / last added token, else (EOS only) the
 * first of {@code <|endoftext|>}, {@code </s>}, {@code <eos>} in the vocabulary.
 */
record SpecialTokens(int[] prefix, int[] suffix, OptionalInt bos, OptionalInt eos) {

  static SpecialTokens read(HfJson json, JsonNode postProcessor, TokenizerConfig config,
      Function<String, OptionalInt> idOf, OptionalInt defaultEos) throws TokenizerFormatException {
    int[][] template = template(json, postProcessor, "post_processor");
    int[] prefix = template == null ? new int[0] : template[0];
    int[] suffix = template == null ? new int[0] : template[1];
    OptionalInt bos = prefix.length > 0 ? OptionalInt.of(prefix[0]) : OptionalInt.empty();
    OptionalInt eos = suffix.length > 0 ? OptionalInt.of(suffix[suffix.length - 1]) : defaultEos;
    if (config != null) {
      HfJson cj = new HfJson(config.file());
      if (config.bosNamed()) bos = resolve(cj, "bos_token", config.bosToken(), idOf);
      if (config.eosNamed()) eos = resolve(cj, "eos_token", config.eosToken(), idOf);
      if (config.decidesAddedTokens()) {
        prefix = added(cj, "add_bos_token", config.addBos(), "bos_token", bos);
        suffix = added(cj, "add_eos_token", config.addEos(), "eos_token", eos);
      }
    }
    return new SpecialTokens(prefix, suffix, bos, eos);
  }

  private static OptionalInt resolve(HfJson json, String field, String name, Function<String, OptionalInt> idOf)
      throws TokenizerFormatException {
    if (name == null) return OptionalInt.empty();
    OptionalInt id = idOf.apply(name);
    if (id.isEmpty()) {
      throw json.error(field, json.textNode(name), "is neither in model.vocab nor in added_tokens of tokenizer.json.",
          "the config and tokenizer.json must come from the same tokenizer.");
    }
    return id;
  }

  private static int[] added(HfJson json, String flag, Boolean on, String tokenField, OptionalInt id)
      throws TokenizerFormatException {
    if (on == null || !on) return new int[0];
    if (id.isEmpty()) {
      throw json.error(flag, json.textNode("true"), "but " + tokenField + " names no token.", "set " + tokenField + ".");
    }
    return new int[] {id.getAsInt()};
  }

  /** {prefix, suffix} of a post-processor, or null when it adds nothing. */
  private static int[][] template(HfJson json, JsonNode node, String field) throws TokenizerFormatException {
    if (node == null || node.isNull()) return null;
    String type = json.type(node, field);
    switch (type) {
      case "ByteLevel" -> {
        return null;
      }
      case "Sequence" -> {
        JsonNode list = json.array(node, "processors", field);
        int[][] found = null;
        for (int i = 0; i < list.size(); i++) {
          int[][] t = template(json, list.get(i), field + ".processors[" + i + "]");
          if (t != null && found != null) {
            throw json.error(field + ".processors[" + i + "]", list.get(i), "is a second template.",
                "use at most one TemplateProcessing / RobertaProcessing / BertProcessing.");
          }
          if (t != null) found = t;
        }
        return found;
      }
      case "RobertaProcessing", "BertProcessing" -> {
        return new int[][] {{pairId(json, node, "cls", field)}, {pairId(json, node, "sep", field)}};
      }
      case "TemplateProcessing" -> {
        return single(json, node, field);
      }
      default -> throw json.unsupported(field + ".type", node.get("type"),
          "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence");
    }
  }

  private static int pairId(HfJson json, JsonNode node, String name, String field) throws TokenizerFormatException {
    JsonNode v = node.get(name);
    if (v == null || !v.isArray() || v.size() != 2 || !v.get(1).canConvertToInt() || v.get(1).asInt() < 0) {
      throw json.error(field + "." + name, v, "expected [token, id].", "fix that field.");
    }
    return v.get(1).asInt();
  }

  private static int[][] single(HfJson json, JsonNode node, String field) throws TokenizerFormatException {
    JsonNode items = json.array(node, "single", field);
    JsonNode specials = node.path("special_tokens");
    int[][] parts = {new int[0], new int[0]};
    int side = 0;
    for (int i = 0; i < items.size(); i++) {
      JsonNode item = items.get(i);
      String where = field + ".single[" + i + "]";
      if (item.has("Sequence") && "A".equals(item.get("Sequence").path("id").asText()) && side == 0) {
        side = 1;
      } else if (item.has("SpecialToken") && item.get("SpecialToken").path("id").isTextual()) {
        String name = item.get("SpecialToken").get("id").asText();
        JsonNode ids = specials.path(name).path("ids");
        if (!ids.isArray() || ids.isEmpty()) {
          throw json.error(field + ".special_tokens." + name, specials.get(name), "expected an object with \"ids\".",
              "list every special token of the template in special_tokens.");
        }
        for (JsonNode id : ids) {
          if (!id.canConvertToInt() || id.asInt() < 0) {
            throw json.error(field + ".special_tokens." + name + ".ids", ids, "expected token ids.", "fix that field.");
          }
          parts[side] = Arrays.copyOf(parts[side], parts[side].length + 1);
          parts[side][parts[side].length - 1] = id.asInt();
        }
      } else {
        throw json.error(where, item, "expected {\"SpecialToken\": {\"id\": ...}} or one {\"Sequence\": {\"id\": \"A\"}}.",
            "fix the single template.");
      }
    }
    if (side == 0) throw json.error(field + ".single", items, "has no {\"Sequence\": {\"id\": \"A\"}}.", "fix the template.");
    return parts;
  }

  /** {@code ids} between the prefix and the suffix. */
  int[] wrap(int[] ids) {
    if (prefix.length == 0 && suffix.length == 0) return ids;
    int[] out = new int[prefix.length + ids.length + suffix.length];
    System.arraycopy(prefix, 0, out, 0, prefix.length);
    System.arraycopy(ids, 0, out, prefix.length, ids.length);
    System.arraycopy(suffix, 0, out, prefix.length + ids.length, suffix.length);
    return out;
  }
}
