package io.influence.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Handwritten tokenizer.json files for what the published files of LlmTokenizersTest do not reach:
 * byte fallback and unk on a tiny SentencePiece-style vocabulary, Metaspace, BOS/EOS from
 * tokenizer_config.json and post-processors, Hugging Face's merge order, the regex translation, and
 * one clear error for each unsupported part.
 */
class HfTokenizerTest {
  private static final int BYTES = 3; // id of <0x00>; <0xNN> is BYTES + NN

  @TempDir Path dir;

  /**
   * Llama 2's layout in small: <unk> <s> </s>, 256 byte tokens, then ▁ a b ▁a ab ▁ab c; merges
   * "▁ a", "a b", "▁a b"; normalizer Prepend ▁ + Replace " " → ▁; decoder Replace, ByteFallback,
   * Fuse, Strip; post-processor "<s> $A".
   */
  static ObjectNode sentencePiece() {
    ObjectNode root = TokenizerFixtures.JSON.createObjectNode();
    ObjectNode norm = root.putObject("normalizer").put("type", "Sequence");
    ArrayNode ns = norm.putArray("normalizers");
    ns.addObject().put("type", "Prepend").put("prepend", "▁");
    ObjectNode replace = ns.addObject().put("type", "Replace").put("content", "▁");
    replace.putObject("pattern").put("String", " ");
    root.putNull("pre_tokenizer");
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE").put("unk_token", "<unk>").put("fuse_unk", true).put("byte_fallback", true);
    ObjectNode vocab = model.putObject("vocab");
    vocab.put("<unk>", 0).put("<s>", 1).put("</s>", 2);
    for (int b = 0; b < 256; b++) vocab.put(String.format("<0x%02X>", b), BYTES + b);
    String[] tokens = {"▁", "a", "b", "▁a", "ab", "▁ab", "c"};
    for (int i = 0; i < tokens.length; i++) vocab.put(tokens[i], 259 + i);
    model.putArray("merges").add("▁ a").add("a b").add("▁a b");
    ArrayNode added = root.putArray("added_tokens");
    String[] specials = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) added.addObject().put("id", i).put("content", specials[i]).put("special", true);
    ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
    post.putArray("single").addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
    ((ArrayNode) post.get("single")).addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
    post.putObject("special_tokens").putObject("<s>").put("id", "<s>").putArray("ids").add(1);
    ObjectNode dec = root.putObject("decoder").put("type", "Sequence");
    ArrayNode ds = dec.putArray("decoders");
    ObjectNode r = ds.addObject().put("type", "Replace").put("content", " ");
    r.putObject("pattern").put("String", "▁");
    ds.addObject().put("type", "ByteFallback");
    ds.addObject().put("type", "Fuse");
    ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
    return root;
  }

  private Path write(ObjectNode root, String config) throws IOException {
    Path sub = Files.createTempDirectory(dir, "t");
    Path f = sub.resolve("tokenizer.json");
    TokenizerFixtures.JSON.writeValue(f.toFile(), root);
    if (config != null) Files.writeString(sub.resolve("tokenizer_config.json"), config);
    return f;
  }

  private Tokenizer load(Consumer<ObjectNode> change, String config) throws IOException {
    ObjectNode root = sentencePiece();
    change.accept(root);
    return Tokenizer.fromTokenizerJson(write(root, config));
  }

  private void assertError(Consumer<ObjectNode> change, String config, String... fragments) throws IOException {
    ObjectNode root = sentencePiece();
    change.accept(root);
    Path f = write(root, config);
    TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromTokenizerJson(f));
    assertTrue(e.getMessage().contains("HINT: "), e.getMessage());
    assertTrue(e.getMessage().contains(f.getParent().toString()), "message does not name the file: " + e.getMessage());
    for (String s : fragments) assertTrue(e.getMessage().contains(s), () -> "lacks \"" + s + "\": " + e.getMessage());
  }

  @Test
  void encode_sentencePieceWithByteFallback_unknownCharacterBecomesUtf8ByteTokens() throws IOException {
    Tokenizer t = load(r -> { }, null);
    assertArrayEquals(new int[] {264}, t.encode("ab")); // ▁ab
    // ▁ab ▁ then é = C3 A9 and 😀 = F0 9F 98 80 as byte tokens
    assertArrayEquals(new int[] {264, 259, BYTES + 0xC3, BYTES + 0xA9, 259, BYTES + 0xF0, BYTES + 0x9F, BYTES + 0x98,
        BYTES + 0x80}, t.encode("ab é 😀"));
    assertEquals("ab é 😀", t.decode(t.encode("ab é 😀")));
    assertEquals("  ab", t.decode(t.encode("  ab")), "only the one space that Prepend added is stripped");
    assertArrayEquals(new int[0], t.encode(""));
  }

  @Test
  void encode_noByteFallback_consecutiveUnknownsFuseIntoOneUnk() throws IOException {
    Tokenizer t = load(r -> ((ObjectNode) r.get("model")).put("byte_fallback", false), null);
    assertArrayEquals(new int[] {262, 0, 261}, t.encode("aééb")); // ▁a <unk> b
    Tokenizer noFuse = load(r -> ((ObjectNode) r.get("model")).put("byte_fallback", false).put("fuse_unk", false), null);
    assertArrayEquals(new int[] {262, 0, 0, 261}, noFuse.encode("aééb"));
  }

  @Test
  void encode_addedTokensSplitFirst_eachStretchNormalisedOnItsOwn() throws IOException {
    Tokenizer t = load(r -> { }, null);
    assertArrayEquals(new int[] {1, 264, 2, 262}, t.encode("<s>ab</s>a", true)); // "ab" and "a" each get ▁
    assertArrayEquals(new int[] {259, BYTES + '<', BYTES + 's', BYTES + '>'}, t.encode("<s>")); // raw text
  }

  @Test
  void encode_metaspacePreTokenizer_sameAsPrependAndReplaceNormalizer() throws IOException {
    Tokenizer normalizer = load(r -> { }, null);
    Tokenizer metaspace = load(r -> {
      r.putNull("normalizer");
      r.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", "▁").put("prepend_scheme", "always")
          .put("split", false);
    }, null);
    for (String s : new String[] {"ab", "ab  a b ", "é ab", "a\tb", ""}) {
      assertArrayEquals(normalizer.encode(s), metaspace.encode(s), s);
    }
    // Metaspace prepends only when the text does not already start with the replacement
    assertArrayEquals(new int[] {259, 264}, normalizer.encode(" ab"));
    assertArrayEquals(new int[] {264}, metaspace.encode(" ab"));
    Tokenizer split = load(r -> {
      r.putNull("normalizer");
      r.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", "▁").put("add_prefix_space", true);
    }, null);
    assertArrayEquals(new int[] {262, 262}, split.encode("a a")); // ▁a | ▁a, never merged across the cut
  }

  @Test
  void encodeWithSpecialTokens_postProcessorTemplate_addsBos() throws IOException {
    Tokenizer t = load(r -> { }, null);
    assertArrayEquals(new int[] {1, 264}, t.encodeWithSpecialTokens("ab"));
    assertArrayEquals(new int[] {1, 1, 264}, t.encodeWithSpecialTokens("<s>ab"));
    assertEquals(OptionalInt.of(1), t.bosTokenId());
    assertEquals(OptionalInt.of(2), t.eosTokenId()); // no config, no suffix: "</s>" by name
  }

  @Test
  void encodeWithSpecialTokens_tokenizerConfigFlags_overrideThePostProcessor() throws IOException {
    String config = "{\"add_bos_token\": false, \"add_eos_token\": true, \"bos_token\": {\"content\": \"<s>\","
        + " \"lstrip\": false}, \"eos_token\": \"</s>\"}";
    Tokenizer t = load(r -> { }, config);
    assertArrayEquals(new int[] {264, 2}, t.encodeWithSpecialTokens("ab"));
    assertEquals(OptionalInt.of(1), t.bosTokenId());
    assertEquals(OptionalInt.of(2), t.eosTokenId());
    Tokenizer noBos = load(r -> r.putNull("post_processor"), "{\"bos_token\": null, \"eos_token\": \"<unk>\"}");
    assertArrayEquals(new int[] {264}, noBos.encodeWithSpecialTokens("ab"));
    assertEquals(OptionalInt.empty(), noBos.bosTokenId());
    assertEquals(OptionalInt.of(0), noBos.eosTokenId());
  }

  @Test
  void encodeWithSpecialTokens_sequenceOfByteLevelAndTemplate_likeNewerLlama3Files() throws IOException {
    Tokenizer t = load(r -> {
      ObjectNode template = (ObjectNode) r.remove("post_processor");
      ObjectNode seq = r.putObject("post_processor").put("type", "Sequence");
      seq.putArray("processors").addObject().put("type", "ByteLevel").put("add_prefix_space", true);
      ((ArrayNode) seq.get("processors")).add(template);
    }, "{\"bos_token\": \"<s>\"}");
    assertArrayEquals(new int[] {1, 264}, t.encodeWithSpecialTokens("ab"));
  }

  @Test
  void merge_mergeCreatesLowerRankedPair_followsHuggingFaceOrderInBothLoops() throws IOException {
    // rank 0 "ab a", rank 1 "a b": after the first "a b", "ab a" (lower rank) goes first, so "abab" is
    // "aba" "b", where OpenAI's encoder.py (all "a b" of a round first) would give "ab" "ab".
    Tokenizer t = load(r -> {
      r.putNull("normalizer");
      ObjectNode model = (ObjectNode) r.get("model");
      ((ObjectNode) model.get("vocab")).put("aba", 266);
      model.putArray("merges").add("ab a").add("a b");
    }, null);
    assertArrayEquals(new int[] {266, 261}, t.encode("abab"));
    int[] expected = new int[40];
    for (int i = 0; i < 40; i += 2) {
      expected[i] = 266;
      expected[i + 1] = 261;
    }
    assertArrayEquals(expected, t.encode("abab".repeat(20)), "heap loop (over 64 symbols)");
  }

  @Test
  void onigRegex_llama3Pattern_unicodeWhitespaceAndCaseInsensitiveContractions() throws Exception {
    Pattern p = OnigRegex.compile("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
        + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
    assertEquals(java.util.List.of("HE", "'S", " I", "'LL", " ", "123", "4"), matches(p, "HE'S I'LL 1234"));
    // U+0085 is White_Space (Oniguruma, Rust), U+FEFF is not (ECMAScript has it the other way round)
    assertEquals(java.util.List.of("1", "\u0085", "\u0085", "2"), matches(p, "1\u0085\u00852"));
    assertEquals(java.util.List.of("1", "\uFEFF\uFEFF", "2"), matches(p, "1\uFEFF\uFEFF2"));
    assertEquals(java.util.List.of("x", "'ſ"), matches(p, "x'ſ")); // Unicode case folding
    for (String bad : new String[] {"\\bword", "^a", "a$", "[[a]b]", "(?<n>a)", "\\p{Han}", "(?m:a)", "\\1", "[\\S]"}) {
      assertThrows(OnigRegex.UnsupportedRegexException.class, () -> OnigRegex.compile(bad), bad);
    }
  }

  private static java.util.List<String> matches(Pattern p, String s) {
    return p.matcher(s).results().map(java.util.regex.MatchResult::group).toList();
  }

  @Test
  void fromTokenizerJson_unsupportedParts_oneClearErrorEach() throws IOException {
    assertError(r -> ((ObjectNode) r.get("model")).put("type", "WordPiece"), null, "model.type", "\"WordPiece\"");
    assertError(r -> ((ObjectNode) r.get("model")).put("type", "Unigram"), null, "model.type", "\"Unigram\"");
    assertError(r -> r.putObject("normalizer").put("type", "BertNormalizer"), null, "normalizer.type", "\"BertNormalizer\"");
    assertError(r -> ((ObjectNode) r.get("normalizer").get("normalizers").get(0)).put("type", "Lowercase"), null,
        "normalizer.normalizers[0].type", "\"Lowercase\"");
    assertError(r -> r.putObject("pre_tokenizer").put("type", "Digits"), null, "pre_tokenizer.type", "\"Digits\"");
    assertError(r -> {
      ObjectNode split = r.putObject("pre_tokenizer").put("type", "Split").put("behavior", "Isolated");
      split.putObject("pattern").put("Regex", "\\bthe\\b");
    }, null, "pre_tokenizer.pattern.Regex", "\\\\bthe\\\\b", "escape \\b");
    assertError(r -> {
      ObjectNode split = r.putObject("pre_tokenizer").put("type", "Split").put("behavior", "MergedWithNext");
      split.putObject("pattern").put("String", " ");
    }, null, "pre_tokenizer.behavior", "\"MergedWithNext\"");
    assertError(r -> r.putObject("decoder").put("type", "CTC"), null, "decoder.type", "\"CTC\"");
    assertError(r -> r.putObject("post_processor").put("type", "Whatever"), null, "post_processor.type", "\"Whatever\"");
    assertError(r -> ((ObjectNode) r.get("model")).put("byte_fallback", false).putNull("unk_token"), null,
        "model.unk_token", "neither byte_fallback nor an unk_token");
    assertError(r -> ((ObjectNode) r.get("added_tokens").get(1)).put("single_word", true), null,
        "added_tokens[1].single_word");
    assertError(r -> { }, "{\"add_bos_token\": true, \"bos_token\": \"<bos>\"}", "tokenizer_config.json", "bos_token",
        "\"<bos>\"");
    assertError(r -> { }, "{\"add_bos_token\": \"yes\"}", "tokenizer_config.json", "add_bos_token", "\"yes\"");
  }
}
