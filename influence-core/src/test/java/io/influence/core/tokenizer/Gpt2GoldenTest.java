package io.influence.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.influence.core.tokenizer.TokenizerFixtures.GoldenCase;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2's own vocabulary and merges against the ids that the independent JavaScript encoder (npm
 * gpt-3-encoder, a port of OpenAI's encoder.py) produced for 1118 strings; see
 * src/test/resources/tokenizer/gpt2/README.md for how they were made; and, with special tokens parsed,
 * against Hugging Face's tokenizers.js loading GPT-2's tokenizer.json. Comparisons are exact.
 */
class Gpt2GoldenTest {
  private static final int GPT2_VOCAB_SIZE = 50257;
  private static final int GPT2_EOT = 50256;

  private static Tokenizer gpt2;
  private static List<GoldenCase> cases;

  @BeforeAll
  static void load() throws IOException {
    gpt2 = TokenizerFixtures.gpt2();
    cases = TokenizerFixtures.goldenCases();
  }

  @Test
  void encode_gpt3EncoderGoldenCases_matchExactly() {
    assertTrue(cases.size() >= 1000, "expected the full golden file, got " + cases.size() + " cases");
    int mismatches = 0;
    String first = null;
    for (GoldenCase c : cases) {
      int[] got = gpt2.encode(c.text());
      if (!Arrays.equals(got, c.ids())) {
        mismatches++;
        if (first == null) {
          first = "text " + quote(c.text()) + "\n expected " + Arrays.toString(c.ids()) + "\n got      "
              + Arrays.toString(got);
        }
      }
    }
    System.out.println("[Gpt2GoldenTest] " + cases.size() + " strings, " + mismatches + " mismatches vs gpt-3-encoder");
    assertEquals(0, mismatches, mismatches + " of " + cases.size() + " strings differ; first: " + first);
  }

  @Test
  void encodeParsingSpecialTokens_tokenizersJsGoldenCases_matchExactly() throws IOException {
    JsonNode hf = TokenizerFixtures.JSON.readTree(TokenizerFixtures.resource("gpt2/hf_js_ids.json").toFile());
    assertEquals(cases.size(), hf.size());
    int mismatches = 0;
    String first = null;
    for (JsonNode c : hf) {
      int[] expected = new int[c.get("ids").size()];
      for (int i = 0; i < expected.length; i++) expected[i] = c.get("ids").get(i).asInt();
      int[] got = gpt2.encode(c.get("text").asText(), true);
      if (!Arrays.equals(expected, got) && mismatches++ == 0) {
        first = "text " + quote(c.get("text").asText()) + "\n expected " + Arrays.toString(expected) + "\n got      "
            + Arrays.toString(got);
      }
    }
    System.out.println("[Gpt2GoldenTest] " + hf.size() + " strings, " + mismatches + " mismatches vs tokenizers.js");
    assertEquals(0, mismatches, mismatches + " of " + hf.size() + " strings differ; first: " + first);
  }

  @Test
  void decode_goldenIdsAndOwnIds_giveTextBack() {
    for (GoldenCase c : cases) {
      String text = TokenizerFixtures.wellFormed(c.text());
      assertEquals(text, gpt2.decode(c.ids()), () -> "decode(golden ids) of " + quote(c.text()));
      assertEquals(text, gpt2.decode(gpt2.encode(c.text())), () -> "round trip of " + quote(c.text()));
    }
  }

  @Test
  void vocabSizeAndEos_gpt2Files_matchGpt2() {
    assertEquals(GPT2_VOCAB_SIZE, gpt2.vocabSize());
    assertEquals(GPT2_EOT, gpt2.eosTokenId().orElseThrow());
    assertEquals(262, gpt2.tokenId("Ġthe").orElseThrow()); // GPT-2's well-known id of " the"
  }

  @Test
  void encode_endOfTextInText_literalByDefaultAndSpecialOnRequest() {
    String text = "text<|endoftext|>more";
    int[] literal = expectedIds(text);
    assertArrayEquals(literal, gpt2.encode(text));
    assertArrayEquals(literal, gpt2.encode(text, false));
    int[] special =
        IntStream.concat(
                IntStream.concat(IntStream.of(expectedIds("text")), IntStream.of(GPT2_EOT)),
                IntStream.of(expectedIds("more")))
            .toArray();
    assertArrayEquals(special, gpt2.encode(text, true));
    assertEquals(text, gpt2.decode(gpt2.encode(text, true)));
    assertArrayEquals(new int[] {GPT2_EOT, GPT2_EOT}, gpt2.encode("<|endoftext|><|endoftext|>", true));
  }

  @Test
  void fromTokenizerJson_gpt2InHuggingFaceLayoutWithStringMerges_equalsVocabAndMerges(@TempDir Path dir)
      throws IOException {
    assertSameAsGpt2(Tokenizer.fromTokenizerJson(writeHfTokenizerJson(dir.resolve("tokenizer.json"), false)));
  }

  @Test
  void fromTokenizerJson_gpt2InHuggingFaceLayoutWithPairMerges_equalsVocabAndMerges(@TempDir Path dir)
      throws IOException {
    assertSameAsGpt2(Tokenizer.fromTokenizerJson(writeHfTokenizerJson(dir.resolve("tokenizer.json"), true)));
  }

  @Test
  void encode_unpairedSurrogate_encodedAsReplacementCharacter() {
    assertArrayEquals(gpt2.encode("a\uFFFDb"), gpt2.encode("a\uD800b"));
    assertEquals("a\uFFFDb", gpt2.decode(gpt2.encode("a\uD800b")));
  }

  @Test
  void decode_idCutInsideMultiByteCharacter_givesReplacementCharacter() {
    int[] ids = gpt2.encode("😀"); // 4 UTF-8 bytes, split over tokens by GPT-2
    assertTrue(ids.length > 1, "expected the emoji to span several tokens");
    assertEquals("\uFFFD", gpt2.decode(new int[] {ids[0]}).substring(0, 1));
  }

  private static void assertSameAsGpt2(Tokenizer t) {
    assertEquals(GPT2_VOCAB_SIZE, t.vocabSize());
    assertEquals(GPT2_EOT, t.eosTokenId().orElseThrow());
    for (GoldenCase c : cases) {
      assertArrayEquals(c.ids(), t.encode(c.text()), () -> "encode " + quote(c.text()));
      assertEquals(TokenizerFixtures.wellFormed(c.text()), t.decode(c.ids()));
    }
    String text = "a<|endoftext|>b";
    assertArrayEquals(gpt2.encode(text, true), t.encode(text, true));
  }

  /**
   * GPT-2's tokenizer.json as Hugging Face's tokenizers writes it for "gpt2", built here with
   * plain Jackson from encoder.json and vocab.bpe (not with the code under test).
   */
  private static Path writeHfTokenizerJson(Path out, boolean pairMerges) throws IOException {
    JsonNode vocab = TokenizerFixtures.JSON.readTree(TokenizerFixtures.gpt2Vocab().toFile());
    List<String> lines = Files.readAllLines(TokenizerFixtures.gpt2Merges(), StandardCharsets.UTF_8);
    ObjectNode root = TokenizerFixtures.JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ObjectNode eot = root.putArray("added_tokens").addObject();
    eot.put("id", GPT2_EOT).put("content", "<|endoftext|>").put("single_word", false).put("lstrip", false)
        .put("rstrip", false).put("normalized", true).put("special", true);
    root.putNull("normalizer");
    root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false)
        .put("trim_offsets", true).put("use_regex", true);
    root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", true)
        .put("trim_offsets", false).put("use_regex", true);
    root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true)
        .put("trim_offsets", true).put("use_regex", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE").putNull("dropout");
    model.putNull("unk_token");
    model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false)
        .put("byte_fallback", false).put("ignore_merges", false);
    model.set("vocab", vocab);
    ArrayNode merges = model.putArray("merges");
    for (String line : lines.subList(1, lines.size())) {
      if (line.isEmpty()) continue;
      String[] p = line.split(" ");
      if (pairMerges) merges.addArray().add(p[0]).add(p[1]);
      else merges.add(line);
    }
    TokenizerFixtures.JSON.writeValue(out.toFile(), root);
    return out;
  }

  private static int[] expectedIds(String text) {
    return cases.stream().filter(c -> c.text().equals(text)).findFirst()
        .orElseThrow(() -> new IllegalStateException("no golden case for " + quote(text))).ids();
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    s.codePoints().forEach(cp -> {
      if (cp >= 0x20 && cp < 0x7F) b.appendCodePoint(cp);
      else b.append(String.format("\\u{%X}", cp));
    });
    return b.append('"').toString();
  }
}
