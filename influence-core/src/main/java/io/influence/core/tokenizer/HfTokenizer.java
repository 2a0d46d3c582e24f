package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/*
 * A Hugging Face tokenizer.json pipeline beyond GPT-2's fixed scheme (Llama 2, Llama 3, Qwen):
 *
 *   text -> split at added tokens (optional) -> Normalizer per stretch -> PreTokenizer -> BpeModel
 *        -> SpecialTokens (encodeWithSpecialTokens only)
 *   ids  -> token strings -> Decoder
 *
 * Added tokens are found leftmost first, longest on ties (tokenizers' AddedVocabulary and
 * transformers.js's DictionarySplitter), before normalisation, so each stretch between them is
 * normalised on its own (Llama 2's Prepend "▁" applies to each stretch). lstrip / rstrip remove the
 * Unicode whitespace next to the token. single_word tokens, and normalized tokens when there is a
 * normalizer, are refused: they change where tokens are matched.
 */
final class HfTokenizer implements Tokenizer {
  private static final Pattern LEADING_SPACE = Pattern.compile("^[" + OnigRegex.WHITE_SPACE + "]+");
  private static final Pattern TRAILING_SPACE = Pattern.compile("[" + OnigRegex.WHITE_SPACE + "]+$");

  /** An added token and whether it eats the whitespace on its left / right. */
  private record Added(int id, String content, boolean lstrip, boolean rstrip) {}

  private final Normalizer normalizer;
  private final PreTokenizer preTokenizer;
  private final BpeModel model;
  private final Decoder decoder;
  private final SpecialTokens special;
  /** Added tokens by first char, longest first. */
  private final Map<Character, List<Added>> addedByFirst = new HashMap<>();
  private final Map<String, Integer> addedIds = new HashMap<>();
  private final String[] idToToken;

  private HfTokenizer(Normalizer normalizer, PreTokenizer preTokenizer, BpeModel model, List<Added> added,
      HfJson json, JsonNode root, TokenizerConfig config) throws TokenizerFormatException {
    this.normalizer = normalizer;
    this.preTokenizer = preTokenizer;
    this.model = model;
    int max = -1;
    for (int id : model.vocab.values()) max = Math.max(max, id);
    for (Added a : added) max = Math.max(max, a.id());
    idToToken = new String[max + 1];
    for (Map.Entry<String, Integer> e : model.vocab.entrySet()) idToToken[e.getValue()] = e.getKey();
    List<Added> sorted = new ArrayList<>(added);
    sorted.sort(Comparator.comparingInt((Added a) -> -a.content().length()));
    for (Added a : sorted) {
      idToToken[a.id()] = a.content();
      addedIds.put(a.content(), a.id());
      addedByFirst.computeIfAbsent(a.content().charAt(0), c -> new ArrayList<>()).add(a);
    }
    this.decoder = Decoder.parse(json, root.get("decoder"), "decoder", Set.copyOf(addedIds.keySet()));
    this.special = SpecialTokens.read(json, root.get("post_processor"), config, this::tokenId,
        ByteLevelBpe.defaultEos(this::tokenId));
    for (int id : special.wrap(new int[0])) {
      if (id >= idToToken.length || idToToken[id] == null) {
        throw json.error("post_processor", root.get("post_processor"), "adds token id " + id + ", which is not in the vocabulary.",
            "the post-processor must use ids of this tokenizer.");
      }
    }
  }

  /** Reads a tokenizer.json that is not GPT-2 style (see TokenizerFiles). */
  static Tokenizer read(Path file, JsonNode root, TokenizerConfig config) throws TokenizerFormatException {
    HfJson json = new HfJson(file);
    Normalizer normalizer = Normalizer.parse(json, root.get("normalizer"), "normalizer");
    PreTokenizer pre = PreTokenizer.parse(json, root.get("pre_tokenizer"), "pre_tokenizer");
    BpeModel model = BpeModel.parse(json, root.get("model"), pre.byteLevel());
    JsonNode m = root.get("model");
    if (!pre.byteLevel() && !json.bool(m, "byte_fallback", "model", false)
        && (m.get("unk_token") == null || m.get("unk_token").isNull())) {
      throw json.error("model.unk_token", m.get("unk_token"), "the model works on characters (no ByteLevel"
          + " pre-tokenizer) but has neither byte_fallback nor an unk_token, so text with a character outside the"
          + " vocabulary could not be encoded.", "use a byte-level or byte-fallback tokenizer.");
    }
    List<ByteLevelBpe.AddedToken> tokens = TokenizerFiles.readAddedTokens(file, root.get("added_tokens"), model.vocab);
    List<Added> added = new ArrayList<>();
    for (int i = 0; i < tokens.size(); i++) {
      JsonNode t = root.get("added_tokens").get(i);
      String f = "added_tokens[" + i + "]";
      if (json.bool(t, "single_word", f, false)) {
        throw json.error(f + ".single_word", t.get("single_word"), "single-word added tokens are not supported.",
            "set single_word false.");
      }
      if (normalizer != null && json.bool(t, "normalized", f, false)) {
        throw json.error(f + ".normalized", t.get("normalized"), "an added token matched after normalisation is not"
            + " supported.", "set normalized false (Llama, Qwen and Mistral files do).");
      }
      added.add(new Added(tokens.get(i).id(), tokens.get(i).content(), json.bool(t, "lstrip", f, false),
          json.bool(t, "rstrip", f, false)));
    }
    return new HfTokenizer(normalizer, pre, model, added, json, root, config);
  }

  @Override
  public int[] encode(String text) {
    return encode(text, false);
  }

  @Override
  public int[] encode(String text, boolean parseSpecialTokens) {
    if (text == null) throw new IllegalArgumentException("text must not be null");
    IntBuffer out = new IntBuffer(Math.max(16, text.length() / 3));
    if (!parseSpecialTokens || addedByFirst.isEmpty()) {
      encodeStretch(text, true, out);
      return out.toArray();
    }
    List<Object> sections = new ArrayList<>(); // String stretches and Added tokens, in order
    List<Integer> starts = new ArrayList<>();
    int from = 0;
    for (int i = 0; i < text.length(); ) {
      Added a = addedAt(text, i);
      if (a == null) {
        i++;
        continue;
      }
      if (i > from) {
        sections.add(text.substring(from, i));
        starts.add(from);
      }
      sections.add(a);
      starts.add(i);
      i += a.content().length();
      from = i;
    }
    if (from < text.length()) {
      sections.add(text.substring(from));
      starts.add(from);
    }
    for (int k = 0; k < sections.size(); k++) {
      if (!(sections.get(k) instanceof Added a)) continue;
      if (a.lstrip() && k > 0 && sections.get(k - 1) instanceof String s) {
        sections.set(k - 1, TRAILING_SPACE.matcher(s).replaceFirst(""));
      }
      if (a.rstrip() && k + 1 < sections.size() && sections.get(k + 1) instanceof String s) {
        sections.set(k + 1, LEADING_SPACE.matcher(s).replaceFirst(""));
      }
    }
    for (int k = 0; k < sections.size(); k++) {
      if (sections.get(k) instanceof Added a) {
        out.add(a.id());
      } else {
        encodeStretch((String) sections.get(k), starts.get(k) == 0, out);
      }
    }
    return out.toArray();
  }

  /** The longest added token starting at {@code i}, or null. */
  private Added addedAt(String text, int i) {
    List<Added> candidates = addedByFirst.get(text.charAt(i));
    if (candidates == null) return null;
    for (Added a : candidates) if (text.startsWith(a.content(), i)) return a;
    return null;
  }

  private void encodeStretch(String text, boolean atStart, IntBuffer out) {
    if (text.isEmpty()) return;
    if (normalizer != null) text = normalizer.normalize(text);
    if (text.isEmpty()) return;
    for (String piece : preTokenizer.split(text, atStart)) model.encode(piece, out);
  }

  @Override
  public int[] encodeWithSpecialTokens(String text) {
    return special.wrap(encode(text, true));
  }

  @Override
  public int[] specialPrefix() {
    return special.prefix().clone();
  }

  @Override
  public int[] specialSuffix() {
    return special.suffix().clone();
  }

  @Override
  public String decode(int[] ids) {
    List<String> tokens = new ArrayList<>(ids.length);
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      if (id < 0 || id >= idToToken.length || idToToken[id] == null) {
        throw new IllegalArgumentException("token id " + id + " at position " + i + " is not in the vocabulary (size "
            + idToToken.length + "). HINT: decode ids produced by this tokenizer.");
      }
      tokens.add(idToToken[id]);
    }
    return decoder.decode(tokens);
  }

  @Override
  public int vocabSize() {
    return idToToken.length;
  }

  @Override
  public OptionalInt eosTokenId() {
    return special.eos();
  }

  @Override
  public OptionalInt bosTokenId() {
    return special.bos();
  }

  @Override
  public OptionalInt tokenId(String token) {
    Integer id = addedIds.get(token);
    if (id == null) id = model.vocab.get(token);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }
}
