package io.influence.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BpeTrainer against a brute-force trainer written here (recounts every pair of every piece at
 * each step, no incremental bookkeeping), plus round trips, requested size and compression on
 * real English text (the committed licence texts).
 */
class BpeTrainerTest {
  /** Trained on the corpus it is measured on, 1024 ids must at least halve the token count. */
  private static final double MAX_TOKENS_PER_BYTE = 0.5;

  @TempDir Path dir;

  @Test
  void train_smallCorpus_mergesEqualBruteForce() throws IOException {
    List<String> texts = TokenizerFixtures.corpusLines().subList(0, 60);
    int vocabSize = 256 + 150 + 1;
    BpeTrainer.train(texts, vocabSize, dir.resolve("t.json"));
    JsonNode model = TokenizerFixtures.JSON.readTree(dir.resolve("t.json").toFile()).get("model");
    List<String> merges = new ArrayList<>();
    model.get("merges").forEach(m -> merges.add(m.asText()));
    List<String> expected = bruteForceMerges(texts, vocabSize - 1);
    assertEquals(expected, merges);
  }

  @Test
  void train_englishCorpus_sizeRoundTripAndCompression() throws IOException {
    Tokenizer t = BpeTrainer.train(TokenizerFixtures.corpusDocuments(), 1024, dir.resolve("t.json"));
    assertEquals(1024, t.vocabSize());
    assertEquals(1023, t.eosTokenId().orElseThrow());
    long bytes = 0, tokens = 0;
    for (String doc : TokenizerFixtures.corpusDocuments()) {
      int[] ids = t.encode(doc);
      assertEquals(doc, t.decode(ids));
      bytes += doc.getBytes(StandardCharsets.UTF_8).length;
      tokens += ids.length;
    }
    System.out.printf("[BpeTrainerTest] 1024-token BPE: %d bytes -> %d tokens (%.3f tokens/byte)%n", bytes, tokens,
        (double) tokens / bytes);
    assertTrue(tokens <= MAX_TOKENS_PER_BYTE * bytes, tokens + " tokens for " + bytes + " bytes");
    for (TokenizerFixtures.GoldenCase c : TokenizerFixtures.goldenCases()) { // unseen Unicode text
      assertEquals(TokenizerFixtures.wellFormed(c.text()), t.decode(t.encode(c.text())));
    }
  }

  @Test
  void train_twice_identicalFiles() throws IOException {
    List<String> docs = TokenizerFixtures.corpusDocuments();
    BpeTrainer.train(docs, 600, dir.resolve("a.json"));
    List<String> reversed = new ArrayList<>(docs);
    Collections.reverse(reversed);
    BpeTrainer.train(reversed, 600, dir.resolve("b.json"));
    assertArrayEquals(Files.readAllBytes(dir.resolve("a.json")), Files.readAllBytes(dir.resolve("b.json")));
  }

  @Test
  void train_specialTokenInText_notLearnedAndEncodedOnRequest() throws IOException {
    List<String> texts = Collections.nCopies(100, "yz<|endoftext|>yz");
    Tokenizer t = BpeTrainer.train(texts, 258, dir.resolve("t.json"));
    int yz = t.tokenId("yz").orElseThrow();
    assertEquals(256, yz);
    assertArrayEquals(new int[] {yz, 257, yz}, t.encode("yz<|endoftext|>yz", true));
  }

  @Test
  void train_vocabSizeTooSmall_throwsWithHint() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BpeTrainer.train(List.of("abc"), 256, dir.resolve("t.json")));
    assertTrue(e.getMessage().contains("HINT: ask for at least 257"), e.getMessage());
  }

  @Test
  void train_corpusTooSmallForVocab_throwsWithHint() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BpeTrainer.train(List.of("abab"), 300, dir.resolve("t.json")));
    assertTrue(e.getMessage().contains("HINT: train on more text"), e.getMessage());
    assertTrue(Files.notExists(dir.resolve("t.json")));
  }

  /**
   * Plain BPE training: tokens are byte-level strings; each step recounts all adjacent pairs,
   * takes the most frequent (ties: smaller left bytes, then smaller right bytes) and merges it
   * everywhere, until the model vocabulary (256 bytes + new tokens) has {@code modelSize} entries.
   */
  private static List<String> bruteForceMerges(List<String> texts, int modelSize) {
    Map<String, Long> pieces = new HashMap<>();
    for (String text : texts) {
      Matcher m = ByteLevel.PRE_TOKENIZER.matcher(text);
      while (m.find()) pieces.merge(m.group(), 1L, Long::sum);
    }
    List<List<String>> words = new ArrayList<>();
    List<Long> freq = new ArrayList<>();
    pieces.forEach((p, c) -> {
      List<String> w = new ArrayList<>();
      for (byte b : p.getBytes(StandardCharsets.UTF_8)) w.add(String.valueOf(ByteLevel.BYTE_TO_CHAR[b & 0xFF]));
      words.add(w);
      freq.add(c);
    });
    Map<String, Boolean> vocab = new HashMap<>();
    for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]), true);
    List<String> merges = new ArrayList<>();
    while (vocab.size() < modelSize) {
      Map<List<String>, Long> counts = new LinkedHashMap<>();
      for (int w = 0; w < words.size(); w++) {
        List<String> word = words.get(w);
        for (int i = 0; i + 1 < word.size(); i++) counts.merge(List.of(word.get(i), word.get(i + 1)), freq.get(w), Long::sum);
      }
      List<String> best = null;
      long bestCount = 0;
      for (Map.Entry<List<String>, Long> e : counts.entrySet()) {
        if (e.getValue() > bestCount || (e.getValue() == bestCount && lexLess(e.getKey(), best))) {
          best = e.getKey();
          bestCount = e.getValue();
        }
      }
      String a = best.get(0), b = best.get(1);
      merges.add(a + " " + b);
      vocab.put(a + b, true);
      for (List<String> word : words) {
        for (int i = 0; i + 1 < word.size(); i++) {
          if (word.get(i).equals(a) && word.get(i + 1).equals(b)) {
            word.set(i, a + b);
            word.remove(i + 1);
          }
        }
      }
    }
    return merges;
  }

  private static boolean lexLess(List<String> x, List<String> y) {
    int c = Arrays.compareUnsigned(ByteLevel.toBytes(x.get(0)), ByteLevel.toBytes(y.get(0)));
    if (c != 0) return c < 0;
    return Arrays.compareUnsigned(ByteLevel.toBytes(x.get(1)), ByteLevel.toBytes(y.get(1))) < 0;
  }
}
