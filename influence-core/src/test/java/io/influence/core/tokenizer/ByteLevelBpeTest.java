package io.influence.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two merge loops of ByteLevelBpe (linear scan, heap) against a direct string port of
 * OpenAI's encoder.py bpe() written here, on random pieces of up to a few hundred bytes, for
 * GPT-2's merges, a trained vocabulary, and a hand-made merge list where two merges build the same
 * token (the case where merge order inside a round matters).
 */
class ByteLevelBpeTest {
  private static final int RANDOM_PIECES = 400;
  private static final String ALPHABET = "aaaaabbbcccdeeeeefghiilmnnoorrsstttuéö日本😀 ";

  @TempDir Path dir;

  @Test
  void bpe_randomPiecesWithGpt2Merges_bothLoopsEqualEncoderPy() throws IOException {
    checkRandomPieces(TokenizerFixtures.gpt2Vocab(), TokenizerFixtures.gpt2Merges(), null, 1);
  }

  @Test
  void bpe_randomPiecesWithTrainedMerges_bothLoopsEqualEncoderPy() throws IOException {
    checkRandomPieces(null, null, TokenizerFixtures.resource("trained/tokenizer-512.json"), 2);
  }

  @Test
  void bpe_twoMergesBuildSameToken_bothLoopsEqualEncoderPy() throws IOException {
    // ranks: a b, b c, ab c -> abc, a bc -> abc (same token), abc ab (only reachable mid-round)
    ObjectNode root = TokenizerFixtures.JSON.createObjectNode();
    root.putObject("pre_tokenizer").put("type", "ByteLevel");
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    ObjectNode vocab = model.putObject("vocab");
    for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]), b);
    String[] tokens = {"ab", "bc", "abc", "abcab", "cc"};
    for (int i = 0; i < tokens.length; i++) vocab.put(tokens[i], 256 + i);
    ArrayNode merges = model.putArray("merges");
    merges.add("c c").add("a b").add("b c").add("abc ab").add("ab c").add("a bc");
    Path f = dir.resolve("t.json");
    TokenizerFixtures.JSON.writeValue(f.toFile(), root);
    ByteLevelBpe t = (ByteLevelBpe) Tokenizer.fromTokenizerJson(f);
    EncoderPy ref = EncoderPy.of(f);
    Random rnd = new Random(7);
    for (int n = 0; n < RANDOM_PIECES; n++) {
      StringBuilder s = new StringBuilder();
      for (int i = 0, len = 1 + rnd.nextInt(120); i < len; i++) s.append("abc".charAt(rnd.nextInt(3)));
      assertAllEqual(t, ref, s.toString());
    }
  }

  private void checkRandomPieces(Path vocab, Path mergesTxt, Path tokenizerJson, long seed) throws IOException {
    ByteLevelBpe t = (ByteLevelBpe) (tokenizerJson == null
        ? TokenizerFixtures.gpt2() : Tokenizer.fromTokenizerJson(tokenizerJson));
    EncoderPy ref = tokenizerJson == null ? EncoderPy.of(vocab, mergesTxt) : EncoderPy.of(tokenizerJson);
    Random rnd = new Random(seed);
    int[] cps = ALPHABET.codePoints().toArray();
    for (int n = 0; n < RANDOM_PIECES; n++) {
      StringBuilder s = new StringBuilder();
      for (int i = 0, len = 1 + rnd.nextInt(n % 4 == 0 ? 300 : 30); i < len; i++) {
        s.appendCodePoint(cps[rnd.nextInt(cps.length)]);
      }
      assertAllEqual(t, ref, s.toString());
    }
  }

  private static void assertAllEqual(ByteLevelBpe t, EncoderPy ref, String piece) {
    int[] bytes = byteIds(t, piece);
    int[] expected = ref.bpe(piece);
    assertArrayEquals(expected, t.bpeLinear(bytes.clone()), () -> "linear loop, piece \"" + piece + "\"");
    assertArrayEquals(expected, t.bpeHeap(bytes.clone()), () -> "heap loop, piece \"" + piece + "\"");
    assertArrayEquals(expected, t.bpe(piece), () -> "bpe, piece \"" + piece + "\"");
  }

  private static int[] byteIds(Tokenizer t, String piece) {
    byte[] b = piece.getBytes(StandardCharsets.UTF_8);
    int[] ids = new int[b.length];
    for (int i = 0; i < b.length; i++) {
      ids[i] = t.tokenId(String.valueOf(ByteLevel.BYTE_TO_CHAR[b[i] & 0xFF])).orElseThrow();
    }
    return ids;
  }

  /** OpenAI encoder.py's bpe() on strings: rank of "a b" pairs, merge all occurrences per round. */
  record EncoderPy(Map<String, Integer> vocab, Map<String, Integer> ranks) {
    static EncoderPy of(Path vocabJson, Path mergesTxt) throws IOException {
      Map<String, Integer> vocab = new HashMap<>();
      TokenizerFixtures.JSON.readTree(vocabJson.toFile()).fields()
          .forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
      Map<String, Integer> ranks = new HashMap<>();
      List<String> lines = java.nio.file.Files.readAllLines(mergesTxt, StandardCharsets.UTF_8);
      for (String line : lines.subList(1, lines.size())) if (!line.isEmpty()) ranks.put(line, ranks.size());
      return new EncoderPy(vocab, ranks);
    }

    static EncoderPy of(Path tokenizerJson) throws IOException {
      JsonNode model = TokenizerFixtures.JSON.readTree(tokenizerJson.toFile()).get("model");
      Map<String, Integer> vocab = new HashMap<>();
      model.get("vocab").fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
      Map<String, Integer> ranks = new HashMap<>();
      for (JsonNode m : model.get("merges")) ranks.put(m.asText(), ranks.size());
      return new EncoderPy(vocab, ranks);
    }

    int[] bpe(String piece) {
      List<String> word = new ArrayList<>();
      for (byte b : piece.getBytes(StandardCharsets.UTF_8)) word.add(String.valueOf(ByteLevel.BYTE_TO_CHAR[b & 0xFF]));
      while (word.size() > 1) {
        String best = null;
        int bestRank = Integer.MAX_VALUE;
        for (int i = 0; i + 1 < word.size(); i++) {
          Integer r = ranks.get(word.get(i) + " " + word.get(i + 1));
          if (r != null && r < bestRank) {
            bestRank = r;
            best = word.get(i) + " " + word.get(i + 1);
          }
        }
        if (best == null) break;
        String first = best.substring(0, best.indexOf(' ')), second = best.substring(best.indexOf(' ') + 1);
        List<String> merged = new ArrayList<>();
        for (int i = 0; i < word.size(); ) {
          if (i + 1 < word.size() && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
            merged.add(first + second);
            i += 2;
          } else {
            merged.add(word.get(i++));
          }
        }
        word = merged;
      }
      return word.stream().mapToInt(vocab::get).toArray();
    }
  }

  @Test
  void encode_fromFourThreadsSharingOneTokenizer_sameIdsAsGolden() throws Exception {
    Tokenizer t = TokenizerFixtures.gpt2();
    List<TokenizerFixtures.GoldenCase> cases = TokenizerFixtures.goldenCases();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      List<java.util.concurrent.Future<Integer>> results = new ArrayList<>();
      for (int w = 0; w < 4; w++) {
        int offset = w * 97;
        results.add(pool.submit(() -> {
          int bad = 0;
          for (int k = 0; k < 3 * cases.size(); k++) {
            TokenizerFixtures.GoldenCase c = cases.get((offset + k) % cases.size());
            if (!java.util.Arrays.equals(c.ids(), t.encode(c.text()))) bad++;
          }
          return bad;
        }));
      }
      for (java.util.concurrent.Future<Integer> r : results) assertEquals(0, r.get());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void encode_200kLetterRunWithoutBoundary_roundTripsAndMatchesLinearLoop() throws IOException {
    Tokenizer t = TokenizerFixtures.gpt2();
    Random rnd = new Random(3);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 200_000; i++) s.append((char) ('a' + rnd.nextInt(26)));
    int[] ids = t.encode(s.toString()); // one piece: the heap loop (the linear one is quadratic)
    assertEquals(s.toString(), t.decode(ids));
    String head = s.substring(0, 5000);
    assertArrayEquals(((ByteLevelBpe) t).bpeLinear(byteIds(t, head)), t.encode(head));
  }
}
