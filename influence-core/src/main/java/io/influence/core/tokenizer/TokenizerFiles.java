package io.influence.core.tokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/*
 * Readers and the writer of tokenizer files. Every problem becomes a TokenizerFormatException
 * that names the file, the field / line / merge number, and a HINT.
 *
 * tokenizer.json (Hugging Face tokenizers): a file with GPT-2's fixed scheme (isGpt2Style: no
 * normalizer, pre_tokenizer ByteLevel with use_regex true, add_prefix_space honoured, and a model
 * without continuing_subword_prefix, end_of_word_suffix, byte_fallback or ignore_merges) is read here
 * into ByteLevelBpe, exactly as before Llama support; model.type must be "BPE" (or absent with vocab
 * and merges present) and dropout null. Every other file (Llama 2, Llama 3, Qwen, ...) goes to
 * HfTokenizer, which refuses what it does not implement. The decoder of a GPT-2 style file is
 * ignored (our decode is ByteLevel); its post_processor and the tokenizer_config.json beside it give
 * the special tokens of encodeWithSpecialTokens (SpecialTokens).
 * Merges may be "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs (>= 0.20).
 *
 * The writer is TokenizerJsonWriter.
 *
 * Vocabulary rules (both formats): ids are non-negative and distinct; all 256 byte symbols are in
 * the vocabulary (otherwise some inputs could not be encoded); each merge's two parts and their
 * concatenation are in the vocabulary.
 */
final class TokenizerFiles {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String EOT = "<|endoftext|>";
  /** Largest accepted token id (a sanity bound: ids index dense arrays). */
  static final int MAX_ID = (1 << 24) - 1;

  private TokenizerFiles() {}

  static Tokenizer readTokenizerJson(Path file) throws IOException {
    JsonNode root = readJson(file);
    TokenizerConfig config = TokenizerConfig.readBeside(file);
    if (!isGpt2Style(root)) return HfTokenizer.read(file, root, config);
    JsonNode model = root.get("model");
    if (model == null || !model.isObject()) {
      throw new TokenizerFormatException(
          file, "has no \"model\" object.", "pass a Hugging Face tokenizer.json (tokenizer.save()).");
    }
    JsonNode type = model.get("type");
    if (type != null && !"BPE".equals(type.asText())) {
      throw new TokenizerFormatException(
          file,
          "model.type is \"" + type.asText() + "\"; only \"BPE\" is supported.",
          "use a byte-level BPE tokenizer (GPT-2 style) or train one with BpeTrainer.");
    }
    checkAbsentOrDefault(file, model, "continuing_subword_prefix", "");
    checkAbsentOrDefault(file, model, "end_of_word_suffix", "");
    checkAbsentOrDefault(file, model, "byte_fallback", "false");
    checkAbsentOrDefault(file, model, "ignore_merges", "false");
    JsonNode dropout = model.get("dropout");
    if (dropout != null && !dropout.isNull() && dropout.asDouble() != 0.0) {
      throw new TokenizerFormatException(
          file, "model.dropout is " + dropout + "; BPE dropout is not supported.", "set \"dropout\": null.");
    }
    JsonNode normalizer = root.get("normalizer");
    if (normalizer != null && !normalizer.isNull()) {
      throw new TokenizerFormatException(
          file,
          "normalizer " + typeOf(normalizer) + " is not supported (GPT-2 style tokenizers have none).",
          "set \"normalizer\": null or use a tokenizer without normalisation.");
    }
    boolean addPrefixSpace = readPreTokenizer(file, root.get("pre_tokenizer"));

    JsonNode vocabNode = model.get("vocab");
    if (vocabNode == null || !vocabNode.isObject()) {
      throw new TokenizerFormatException(
          file, "model.vocab is missing or not an object.", "model.vocab must map token -> id.");
    }
    Map<String, Integer> vocab = readVocabObject(file, vocabNode, "model.vocab");

    JsonNode mergesNode = model.get("merges");
    if (mergesNode == null || !mergesNode.isArray()) {
      throw new TokenizerFormatException(
          file, "model.merges is missing or not an array.", "model.merges must list merges in rank order.");
    }
    List<String[]> merges = readMerges(file, mergesNode);

    List<ByteLevelBpe.AddedToken> added = readAddedTokens(file, root.get("added_tokens"), vocab);
    java.util.function.Function<String, OptionalInt> idOf = name -> {
      for (ByteLevelBpe.AddedToken t : added) if (t.content().equals(name)) return OptionalInt.of(t.id());
      Integer id = vocab.get(name);
      return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    };
    SpecialTokens special = SpecialTokens.read(
        new HfJson(file), root.get("post_processor"), config, idOf, ByteLevelBpe.defaultEos(idOf));
    return build(file, vocab, merges, file, "model.merges[%d]", added, addPrefixSpace, null, special);
  }

  /**
   * Whether a tokenizer.json has GPT-2's fixed scheme (no normalizer, a ByteLevel pre-tokenizer with
   * GPT-2's regex, a plain BPE model), which ByteLevelBpe implements exactly as it always has; every
   * other file goes to HfTokenizer.
   */
  static boolean isGpt2Style(JsonNode root) {
    JsonNode normalizer = root.get("normalizer");
    if (normalizer != null && !normalizer.isNull()) return false;
    JsonNode pre = root.get("pre_tokenizer");
    if (pre != null && "Sequence".equals(pre.path("type").asText()) && pre.path("pretokenizers").size() == 1) {
      pre = pre.path("pretokenizers").get(0);
    }
    if (pre == null || !"ByteLevel".equals(pre.path("type").asText()) || !pre.path("use_regex").asBoolean(true)) {
      return false;
    }
    JsonNode model = root.path("model");
    for (String f : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
      JsonNode v = model.get(f);
      if (v != null && !v.isNull() && !v.asText().isEmpty()) return false;
    }
    return !model.path("byte_fallback").asBoolean(false) && !model.path("ignore_merges").asBoolean(false);
  }

  /** {@code model.merges}: "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs, in rank order. */
  static List<String[]> readMerges(Path file, JsonNode mergesNode) throws TokenizerFormatException {
    List<String[]> merges = new ArrayList<>();
    for (int i = 0; i < mergesNode.size(); i++) {
      JsonNode m = mergesNode.get(i);
      String[] pair;
      if (m.isTextual()) {
        pair = m.asText().split(" ", -1);
      } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
        pair = new String[] {m.get(0).asText(), m.get(1).asText()};
      } else {
        pair = null;
      }
      if (pair == null || pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
        throw new TokenizerFormatException(
            file,
            "model.merges[" + i + "] is " + m + "; expected \"left right\" or [\"left\", \"right\"].",
            "each merge names exactly two non-empty tokens.");
      }
      merges.add(pair);
    }
    return merges;
  }

  /**
   * The {@code added_tokens} of a tokenizer.json ({@code null} or JSON null for none): each needs an
   * id in {@code [0, MAX_ID]} and non-empty content, and must agree with {@code model.vocab} and
   * not repeat an earlier entry.
   */
  static List<ByteLevelBpe.AddedToken> readAddedTokens(Path file, JsonNode addedNode, Map<String, Integer> vocab)
      throws TokenizerFormatException {
    List<ByteLevelBpe.AddedToken> added = new ArrayList<>();
    Map<Integer, String> idToToken = null;
    if (addedNode != null && !addedNode.isNull()) {
      if (!addedNode.isArray()) {
        throw new TokenizerFormatException(file, "added_tokens is not an array.", "use [] or a list of tokens.");
      }
      for (int i = 0; i < addedNode.size(); i++) {
        JsonNode t = addedNode.get(i);
        JsonNode id = t.get("id");
        JsonNode content = t.get("content");
        if (id == null || !id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0 || id.asInt() > MAX_ID
            || content == null || !content.isTextual() || content.asText().isEmpty()) {
          throw new TokenizerFormatException(
              file,
              "added_tokens[" + i + "] is " + t + "; it needs an integer \"id\" in [0, " + MAX_ID
                  + "] and a non-empty \"content\".",
              "fix or remove that entry.");
        }
        if (idToToken == null) {
          idToToken = new HashMap<>();
          for (Map.Entry<String, Integer> e : vocab.entrySet()) idToToken.put(e.getValue(), e.getKey());
        }
        String holder = idToToken.get(id.asInt());
        if (holder != null && !holder.equals(content.asText())) {
          throw new TokenizerFormatException(
              file,
              "added_tokens[" + i + "] \"" + content.asText() + "\" has id " + id.asInt()
                  + ", which model.vocab already gives to \"" + holder + "\".",
              "give the added token an unused id.");
        }
        idToToken.put(id.asInt(), content.asText());
        for (ByteLevelBpe.AddedToken earlier : added) {
          if (earlier.content().equals(content.asText())) {
            throw new TokenizerFormatException(
                file,
                "added_tokens[" + i + "] repeats \"" + content.asText() + "\" (ids " + earlier.id() + " and "
                    + id.asInt() + ").",
                "list each added token once.");
          }
        }
        Integer inVocab = vocab.get(content.asText());
        if (inVocab != null && inVocab != id.asInt()) {
          throw new TokenizerFormatException(
              file,
              "added_tokens[" + i + "] \"" + content.asText() + "\" has id " + id.asInt()
                  + " but model.vocab gives it id " + inVocab + ".",
              "make the two ids agree.");
        }
        added.add(new ByteLevelBpe.AddedToken(id.asInt(), content.asText(), t.path("special").asBoolean(false)));
      }
    }
    return added;
  }

  static Tokenizer readVocabAndMerges(Path vocabFile, Path mergesFile) throws IOException {
    JsonNode root = readJson(vocabFile);
    if (!root.isObject()) {
      throw new TokenizerFormatException(
          vocabFile, "is not a JSON object.", "pass GPT-2's encoder.json / vocab.json (token -> id).");
    }
    Map<String, Integer> vocab = readVocabObject(vocabFile, root, "vocabulary");
    List<String> lines;
    try {
      lines = Files.readAllLines(mergesFile, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new TokenizerFormatException(mergesFile, "does not exist.", "pass the path of vocab.bpe / merges.txt.");
    }
    List<String[]> merges = new ArrayList<>();
    List<Integer> lineOf = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if ((i == 0 && line.startsWith("#version")) || line.isEmpty()) continue;
      String[] pair = line.split(" ", -1);
      if (pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
        throw new TokenizerFormatException(
            mergesFile,
            "line " + (i + 1) + " is \"" + line + "\"; expected two tokens separated by one space.",
            "each line of a merges file is \"left right\"; only the first line may be \"#version ...\".");
      }
      merges.add(pair);
      lineOf.add(i + 1);
    }
    List<ByteLevelBpe.AddedToken> added = new ArrayList<>();
    Integer eot = vocab.get(EOT);
    if (eot != null) added.add(new ByteLevelBpe.AddedToken(eot, EOT, true));
    return build(vocabFile, vocab, merges, mergesFile, "line %d", added, false, lineOf, null);
  }

  /**
   * Checks the vocabulary against the byte alphabet and the merges against the vocabulary, then
   * builds the tokenizer. {@code mergeWhere} formats a merge's position for messages, from its
   * index or, when {@code lineOf} is not null, its line number.
   */
  private static Tokenizer build(
      Path vocabFile,
      Map<String, Integer> vocab,
      List<String[]> merges,
      Path mergesFile,
      String mergeWhere,
      List<ByteLevelBpe.AddedToken> added,
      boolean addPrefixSpace,
      List<Integer> lineOf,
      SpecialTokens special)
      throws TokenizerFormatException {
    int[] byteToId = new int[256];
    for (int b = 0; b < 256; b++) {
      String symbol = String.valueOf(ByteLevel.BYTE_TO_CHAR[b]);
      Integer id = vocab.get(symbol);
      if (id == null) {
        throw new TokenizerFormatException(
            vocabFile,
            "the vocabulary lacks the byte-level symbol \"" + symbol + "\" (byte 0x"
                + String.format("%02X", b) + "), so some text could not be encoded.",
            "a byte-level BPE vocabulary must contain all 256 byte symbols (train with the full byte"
                + " alphabet, as BpeTrainer does).");
      }
      byteToId[b] = id;
    }
    List<int[]> pairs = new ArrayList<>(merges.size());
    for (int i = 0; i < merges.size(); i++) {
      String[] m = merges.get(i);
      String where = String.format(mergeWhere, lineOf == null ? i : lineOf.get(i));
      for (String part : new String[] {m[0], m[1], m[0] + m[1]}) {
        if (!vocab.containsKey(part)) {
          throw new TokenizerFormatException(
              mergesFile,
              "merge " + where + " \"" + m[0] + " " + m[1] + "\" needs token \"" + part
                  + "\", which is not in the vocabulary" + (mergesFile.equals(vocabFile) ? "" : " " + vocabFile) + ".",
              "vocabulary and merges must come from the same tokenizer.");
        }
      }
      pairs.add(new int[] {vocab.get(m[0]), vocab.get(m[1]), vocab.get(m[0] + m[1])});
    }
    return new ByteLevelBpe(vocab, pairs, added, byteToId, addPrefixSpace, special);
  }

  private static boolean readPreTokenizer(Path file, JsonNode pre) throws TokenizerFormatException {
    JsonNode byteLevel = null;
    if (pre != null && "ByteLevel".equals(pre.path("type").asText())) {
      byteLevel = pre;
    } else if (pre != null
        && "Sequence".equals(pre.path("type").asText())
        && pre.path("pretokenizers").size() == 1
        && "ByteLevel".equals(pre.path("pretokenizers").get(0).path("type").asText())) {
      byteLevel = pre.path("pretokenizers").get(0);
    }
    if (byteLevel == null) {
      throw new TokenizerFormatException(
          file,
          "pre_tokenizer is " + (pre == null || pre.isNull() ? "missing" : typeOf(pre))
              + "; only a ByteLevel pre_tokenizer (GPT-2's regex) is supported.",
          "use a GPT-2 style byte-level BPE tokenizer (pre_tokenizer {\"type\": \"ByteLevel\"}).");
    }
    if (!byteLevel.path("use_regex").asBoolean(true)) {
      throw new TokenizerFormatException(
          file,
          "pre_tokenizer ByteLevel has use_regex false (a custom split, e.g. Llama 3's); not supported.",
          "use a tokenizer whose ByteLevel pre_tokenizer applies GPT-2's regex.");
    }
    return byteLevel.path("add_prefix_space").asBoolean(false);
  }

  private static void checkAbsentOrDefault(Path file, JsonNode model, String field, String expected)
      throws TokenizerFormatException {
    JsonNode v = model.get(field);
    if (v == null || v.isNull() || v.asText().equals(expected)) return;
    throw new TokenizerFormatException(
        file,
        "model." + field + " is " + v + "; only " + (expected.isEmpty() ? "\"\"/null" : expected)
            + " is supported by this byte-level BPE.",
        "use a GPT-2 style byte-level BPE tokenizer.");
  }

  private static String typeOf(JsonNode node) {
    return node.has("type") ? "\"" + node.get("type").asText() + "\"" : node.toString();
  }

  static Map<String, Integer> readVocabObject(Path file, JsonNode node, String what)
      throws TokenizerFormatException {
    Map<String, Integer> vocab = new HashMap<>(node.size() * 2);
    Map<Integer, String> byId = new HashMap<>(node.size() * 2);
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode v = e.getValue();
      if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 0 || v.asInt() > MAX_ID) {
        throw new TokenizerFormatException(
            file,
            what + " entry \"" + e.getKey() + "\" has id " + v + "; ids must be integers in [0, " + MAX_ID + "].",
            "fix that entry.");
      }
      String previous = byId.put(v.asInt(), e.getKey());
      if (previous != null) {
        throw new TokenizerFormatException(
            file,
            what + " gives id " + v.asInt() + " to both \"" + previous + "\" and \"" + e.getKey() + "\".",
            "every token needs its own id.");
      }
      vocab.put(e.getKey(), v.asInt());
    }
    if (vocab.isEmpty()) {
      throw new TokenizerFormatException(file, what + " is empty.", "pass a non-empty vocabulary.");
    }
    return vocab;
  }

  static JsonNode readJson(Path file) throws IOException {
    try {
      return JSON.readTree(file.toFile());
    } catch (JacksonException e) {
      throw new TokenizerFormatException(
          file, "is not valid JSON: " + e.getOriginalMessage(), "check that the file is complete and is JSON.");
    } catch (java.io.FileNotFoundException e) {
      throw new TokenizerFormatException(file, "does not exist or cannot be opened.", "check the path.");
    }
  }
}
