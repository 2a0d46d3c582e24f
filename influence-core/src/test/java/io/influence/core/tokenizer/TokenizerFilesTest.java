package io.influence.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading rules and error messages of tokenizer files, on a hand-built minimal byte-level BPE
 * (256 byte symbols + 3 merges), plus a fuzzer: only TokenizerFormatException may escape.
 */
class TokenizerFilesTest {
  private static final int FUZZ_CASES = 400;

  @TempDir Path dir;

  /** 256 byte symbols with GPT-2's ids, merges "Ġ t", "h e", "Ġt he", added token <|endoftext|>. */
  private static ObjectNode minimal() {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    ObjectNode eot = root.putArray("added_tokens").addObject();
    eot.put("id", 259).put("content", "<|endoftext|>").put("special", true);
    root.putNull("normalizer");
    root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    ObjectNode vocab = model.putObject("vocab");
    // GPT-2's byte order, written out independently of ByteLevel: printable Latin-1 first.
    int id = 0;
    List<Integer> rest = new ArrayList<>();
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      if (printable) vocab.put(String.valueOf((char) b), id++);
      else rest.add(b);
    }
    for (int i = 0; i < rest.size(); i++) vocab.put(String.valueOf((char) (256 + i)), id++);
    vocab.put("Ġt", 256).put("he", 257).put("Ġthe", 258);
    model.putArray("merges").add("Ġ t").add("h e").add("Ġt he");
    return root;
  }

  private Path write(JsonNode root) throws IOException {
    Path f = dir.resolve("tokenizer.json");
    TokenizerFixtures.JSON.writeValue(f.toFile(), root);
    return f;
  }

  private Path writeMutated(Consumer<ObjectNode> change) throws IOException {
    ObjectNode root = minimal();
    change.accept(root);
    return write(root);
  }

  private static void assertFormatError(Path file, ThrowingLoad load, String... fragments) {
    TokenizerFormatException e = assertThrows(TokenizerFormatException.class, load::run);
    assertEquals(file, e.file());
    assertTrue(e.getMessage().contains(file.toString()), () -> "message does not name the file: " + e.getMessage());
    assertTrue(e.getMessage().contains("HINT: "), () -> "message has no HINT: " + e.getMessage());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), () -> "message lacks \"" + f + "\": " + e.getMessage());
    }
  }

  interface ThrowingLoad {
    void run() throws IOException;
  }

  @Test
  void fromTokenizerJson_minimalFile_mergesByRank() throws IOException {
    Tokenizer t = Tokenizer.fromTokenizerJson(write(minimal()));
    // " the" -> Ġ t h e -> (rank 0) Ġt h e -> (rank 1) Ġt he -> (rank 2) Ġthe
    assertArrayEquals(new int[] {258}, t.encode(" the"));
    // "the" has no Ġ: t h e -> t he
    assertArrayEquals(new int[] {'t' - 33, 257}, t.encode("the"));
    assertEquals(260, t.vocabSize());
    assertEquals(259, t.eosTokenId().orElseThrow());
    assertArrayEquals(new int[] {258, 259}, t.encode(" the<|endoftext|>", true));
  }

  @Test
  void fromTokenizerJson_addPrefixSpace_prependsSpace() throws IOException {
    Path f = writeMutated(r -> ((ObjectNode) r.get("pre_tokenizer")).put("add_prefix_space", true));
    Tokenizer t = Tokenizer.fromTokenizerJson(f);
    assertArrayEquals(new int[] {258}, t.encode("the"));
    assertArrayEquals(new int[] {258}, t.encode(" the"));
  }

  @Test
  void fromTokenizerJson_missingVocab_namesFieldWithHint() throws IOException {
    Path f = writeMutated(r -> ((ObjectNode) r.get("model")).remove("vocab"));
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "model.vocab is missing");
  }

  @Test
  void fromTokenizerJson_mergeWithUnknownToken_namesMergeAndToken() throws IOException {
    Path f = writeMutated(r -> ((ArrayNode) r.get("model").get("merges")).add("Ġthe q"));
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "model.merges[3]", "\"Ġtheq\"", "not in the vocabulary");
  }

  @Test
  void fromTokenizerJson_unsupportedModelType_namesType() throws IOException {
    Path f = writeMutated(r -> ((ObjectNode) r.get("model")).put("type", "WordPiece"));
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "\"WordPiece\"", "only \"BPE\"");
  }

  @Test
  void fromTokenizerJson_missingByteSymbol_namesByte() throws IOException {
    Path f = writeMutated(r -> ((ObjectNode) r.get("model").get("vocab")).remove("Ċ"));
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "byte 0x0A");
  }

  @Test
  void fromTokenizerJson_unsupportedPreTokenizer_rejected() throws IOException {
    Path f = writeMutated(r -> r.putObject("pre_tokenizer").put("type", "Whitespace"));
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "pre_tokenizer.type", "\"Whitespace\"");
  }

  @Test
  void fromTokenizerJson_unsupportedNormalizer_rejected() throws IOException {
    Path f = writeMutated(r -> r.putObject("normalizer").put("type", "Lowercase"));
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "normalizer.type", "\"Lowercase\"");
  }

  @Test
  void fromTokenizerJson_subwordSuffix_rejected() throws IOException {
    Path b = writeMutated(r -> ((ObjectNode) r.get("model")).put("end_of_word_suffix", "</w>"));
    assertFormatError(b, () -> Tokenizer.fromTokenizerJson(b), "model.end_of_word_suffix");
  }

  @Test
  void fromTokenizerJson_duplicateId_namesBothTokens() throws IOException {
    Path f = writeMutated(r -> ((ObjectNode) r.get("model").get("vocab")).put("Ġthe", 257));
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "id 257", "\"he\"", "\"Ġthe\"");
  }

  @Test
  void fromTokenizerJson_addedTokenIdTaken_rejected() throws IOException {
    Path f = writeMutated(r -> ((ObjectNode) r.get("added_tokens").get(0)).put("id", 258));
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "added_tokens[0]", "\"Ġthe\"");
  }

  @Test
  void fromTokenizerJson_truncatedOrMissingFile_clearError() throws IOException {
    Path f = dir.resolve("tokenizer.json");
    Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0");
    assertFormatError(f, () -> Tokenizer.fromTokenizerJson(f), "not valid JSON");
    Path missing = dir.resolve("nope.json");
    assertFormatError(missing, () -> Tokenizer.fromTokenizerJson(missing), "does not exist");
  }

  @Test
  void fromVocabAndMerges_badMergeLine_namesLine() throws IOException {
    Path vocab = dir.resolve("vocab.json");
    TokenizerFixtures.JSON.writeValue(vocab.toFile(), minimal().get("model").get("vocab"));
    Path merges = dir.resolve("merges.txt");
    Files.writeString(merges, "#version: 0.2\nĠ t\nh e x\n", StandardCharsets.UTF_8);
    assertFormatError(merges, () -> Tokenizer.fromVocabAndMerges(vocab, merges), "line 3", "\"h e x\"");
    Files.writeString(merges, "#version: 0.2\nĠ t\nh e\nĠt hex\n", StandardCharsets.UTF_8);
    assertFormatError(merges, () -> Tokenizer.fromVocabAndMerges(vocab, merges), "line 4", "\"hex\"",
        vocab.toString());
    Files.writeString(merges, "#version: 0.2\nĠ t\nh e\nĠt he\n", StandardCharsets.UTF_8);
    assertArrayEquals(new int[] {258}, Tokenizer.fromVocabAndMerges(vocab, merges).encode(" the"));
  }

  @Test
  void fromTokenizerJson_fuzzedFiles_onlyFormatExceptionEscapes() throws IOException {
    Random rnd = new Random(20261124);
    String valid = TokenizerFixtures.JSON.writeValueAsString(minimal());
    JsonNode[] junk = {
      JsonNodeFactory.instance.nullNode(), JsonNodeFactory.instance.numberNode(-1),
      JsonNodeFactory.instance.numberNode(1.5), JsonNodeFactory.instance.numberNode(Integer.MAX_VALUE),
      JsonNodeFactory.instance.textNode(""), JsonNodeFactory.instance.textNode("a b c"),
      JsonNodeFactory.instance.arrayNode(), JsonNodeFactory.instance.objectNode(),
      JsonNodeFactory.instance.booleanNode(true)
    };
    int loaded = 0;
    for (int n = 0; n < FUZZ_CASES; n++) {
      Path f = dir.resolve("fuzz.json");
      if (n % 2 == 0) { // text-level: cut, delete or replace characters
        StringBuilder s = new StringBuilder(valid);
        for (int k = 0, edits = 1 + rnd.nextInt(4); k < edits && s.length() > 0; k++) {
          int at = rnd.nextInt(s.length());
          switch (rnd.nextInt(3)) {
            case 0 -> s.setLength(at);
            case 1 -> s.deleteCharAt(at);
            default -> s.setCharAt(at, "{}[]\",:0 9-aĠ".charAt(rnd.nextInt(13)));
          }
        }
        Files.writeString(f, s, StandardCharsets.UTF_8);
      } else { // tree-level: replace or remove a random node
        ObjectNode root = minimal();
        JsonNode parent = randomContainer(root, rnd);
        List<String> keys = new ArrayList<>();
        if (parent.isObject()) for (Iterator<String> it = parent.fieldNames(); it.hasNext(); ) keys.add(it.next());
        if (parent.isObject() && !keys.isEmpty()) {
          String key = keys.get(rnd.nextInt(keys.size()));
          if (rnd.nextBoolean()) ((ObjectNode) parent).remove(key);
          else ((ObjectNode) parent).set(key, junk[rnd.nextInt(junk.length)]);
        } else if (parent.isArray() && parent.size() > 0) {
          ((ArrayNode) parent).set(rnd.nextInt(parent.size()), junk[rnd.nextInt(junk.length)]);
        }
        TokenizerFixtures.JSON.writeValue(f.toFile(), root);
      }
      try {
        Tokenizer t = Tokenizer.fromTokenizerJson(f);
        t.decode(t.encode(" the fuzz"));
        loaded++;
      } catch (TokenizerFormatException e) {
        assertTrue(e.getMessage().contains("HINT: "), e.getMessage());
      } catch (RuntimeException | IOException e) {
        fail("case " + n + ": " + e + " escaped for " + Files.readString(f), e);
      }
    }
    assertTrue(loaded < FUZZ_CASES, "the fuzzer never produced a bad file");
  }

  private static JsonNode randomContainer(JsonNode root, Random rnd) {
    JsonNode node = root;
    for (int depth = 0; depth < 3; depth++) {
      List<JsonNode> children = new ArrayList<>();
      node.elements().forEachRemaining(c -> {
        if (c.isContainerNode() && c.size() > 0) children.add(c);
      });
      if (children.isEmpty() || rnd.nextInt(3) == 0) break;
      node = children.get(rnd.nextInt(children.size()));
    }
    return node;
  }
}
