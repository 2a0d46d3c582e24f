package io.influence.core.tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.regex.Matcher;

/**
 * Trains a small GPT-2 style byte-level BPE vocabulary on a corpus, so that the project's small
 * models can use 512-2048 tokens instead of GPT-2's 50257.
 *
 * <p>Algorithm (Sennrich et al. 2016, byte-level as in GPT-2): each text is cut at special-token
 * occurrences and then by GPT-2's pre-tokenisation regex; distinct pieces are counted. The
 * vocabulary starts with the 256 byte symbols (ids 0..255 in GPT-2's order, so every input can
 * be encoded); then, repeatedly, the adjacent pair with the highest count over all pieces
 * (weighted by piece frequency) is merged everywhere and added as the next id. Ties are broken by
 * the lexicographically smallest pair, comparing the left token's raw bytes and then the right
 * token's raw bytes as unsigned values, so training is deterministic. Pair counts are kept
 * incrementally: a priority queue with lazy deletion plus, per pair, the pieces that contain it;
 * a merge only revisits those pieces. Special tokens take the last ids (GPT-2 puts
 * {@code <|endoftext|>} last too).
 *
 * <p>The result is written as a Hugging Face style tokenizer.json (see {@code TokenizerJsonWriter})
 * and loaded back with {@link Tokenizer#fromTokenizerJson(Path)}.
 */
public final class BpeTrainer {
  private BpeTrainer() {}

  /** As {@link #train(Iterable, int, List, Path)} with the single special token {@code <|endoftext|>}. */
  public static Tokenizer train(Iterable<String> texts, int vocabSize, Path tokenizerJson) throws IOException {
    return train(texts, vocabSize, List.of("<|endoftext|>"), tokenizerJson);
  }

  /**
   * Trains a vocabulary of exactly {@code vocabSize} ids (256 bytes + merges + special tokens),
   * writes it to {@code tokenizerJson} and returns the tokenizer loaded from that file.
   *
   * @throws IllegalArgumentException if {@code vocabSize} is below 256 + the number of special
   *     tokens, if special tokens are empty or repeated, or if the corpus has too few distinct
   *     adjacent pairs to reach {@code vocabSize}
   */
  public static Tokenizer train(
      Iterable<String> texts, int vocabSize, List<String> specialTokens, Path tokenizerJson) throws IOException {
    if (texts == null || specialTokens == null || tokenizerJson == null) {
      throw new IllegalArgumentException("texts, specialTokens and tokenizerJson must not be null");
    }
    if (new LinkedHashSet<>(specialTokens).size() != specialTokens.size() || specialTokens.contains("")) {
      throw new IllegalArgumentException("special tokens must be distinct and non-empty, got " + specialTokens);
    }
    int numMerges = vocabSize - 256 - specialTokens.size();
    if (numMerges < 0) {
      throw new IllegalArgumentException(
          "vocabSize " + vocabSize + " is below 256 byte symbols + " + specialTokens.size()
              + " special tokens. HINT: ask for at least " + (256 + specialTokens.size()) + ".");
    }
    Map<String, Long> pieceCounts = countPieces(texts, specialTokens);
    LinkedHashMap<String, Integer> vocab = new LinkedHashMap<>();
    List<String[]> merges = learnMerges(pieceCounts, 256 + numMerges, vocabSize, vocab);
    LinkedHashMap<String, Integer> special = new LinkedHashMap<>();
    for (String s : specialTokens) special.put(s, vocab.size() + special.size());
    TokenizerJsonWriter.write(tokenizerJson, vocab, merges, special);
    return Tokenizer.fromTokenizerJson(tokenizerJson);
  }

  private static Map<String, Long> countPieces(Iterable<String> texts, List<String> specialTokens) {
    Map<String, Long> counts = new HashMap<>();
    for (String text : texts) {
      if (text == null) throw new IllegalArgumentException("texts must not contain null");
      text = ByteLevelBpe.replaceLoneSurrogates(text);
      int pos = 0;
      while (pos <= text.length()) {
        int next = text.length();
        int skip = 0;
        for (String s : specialTokens) {
          int at = text.indexOf(s, pos);
          if (at >= 0 && (at < next || (at == next && s.length() > skip))) {
            next = at;
            skip = s.length();
          }
        }
        Matcher m = ByteLevel.PRE_TOKENIZER.matcher(text).region(pos, next);
        while (m.find()) counts.merge(m.group(), 1L, Long::sum);
        if (skip == 0) break;
        pos = next + skip;
      }
    }
    return counts;
  }

  /**
   * The merges, in order, as byte-level token strings {left, right}; fills {@code vocab} (byte
   * symbols then merged tokens, in id order) up to {@code modelSize} entries. Two different merges
   * can produce the same string (a+bc and ab+c); as in Hugging Face's trainer the second one is
   * still a merge but reuses the existing id, so there can be more merges than new tokens.
   */
  private static List<String[]> learnMerges(
      Map<String, Long> pieceCounts, int modelSize, int vocabSize, LinkedHashMap<String, Integer> vocab) {
    // Sort pieces so that piece indices (and everything derived from them) do not depend on
    // HashMap order.
    List<String> pieces = new ArrayList<>(pieceCounts.keySet());
    pieces.sort(null);
    int[][] words = new int[pieces.size()][];
    long[] freq = new long[pieces.size()];
    List<byte[]> tokenBytes = new ArrayList<>();
    int[] byteToId = new int[256];
    for (int b : ByteLevel.ORDER) {
      byteToId[b] = tokenBytes.size();
      tokenBytes.add(new byte[] {(byte) b});
      vocab.put(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]), byteToId[b]);
    }
    Map<Long, Long> pairCount = new HashMap<>();
    Map<Long, Set<Integer>> pairWords = new HashMap<>();
    for (int w = 0; w < pieces.size(); w++) {
      byte[] bytes = pieces.get(w).getBytes(StandardCharsets.UTF_8);
      words[w] = new int[bytes.length];
      for (int i = 0; i < bytes.length; i++) words[w][i] = byteToId[bytes[i] & 0xFF];
      freq[w] = pieceCounts.get(pieces.get(w));
      addPairs(words[w], freq[w], w, pairCount, pairWords, null);
    }
    PriorityQueue<long[]> queue = new PriorityQueue<>((x, y) -> comparePairs(x, y, tokenBytes));
    pairCount.forEach((pair, count) -> queue.add(new long[] {count, pair}));

    List<String[]> merges = new ArrayList<>(modelSize - 256);
    while (vocab.size() < modelSize) {
      long[] top = queue.poll();
      if (top == null) {
        throw new IllegalArgumentException(
            "the corpus has only enough distinct adjacent pairs for " + (vocab.size() - 256)
                + " merged tokens, but vocabSize " + vocabSize + " needs " + (modelSize - 256)
                + ". HINT: train on more text or ask for a smaller vocabSize.");
      }
      long pair = top[1];
      if (pairCount.getOrDefault(pair, 0L) != top[0] || top[0] <= 0) continue; // stale entry
      int left = (int) (pair >>> 32), right = (int) pair;
      byte[] lb = tokenBytes.get(left), rb = tokenBytes.get(right);
      String ls = ByteLevel.toSymbols(lb), rs = ByteLevel.toSymbols(rb);
      Integer existing = vocab.get(ls + rs);
      int merged = existing != null ? existing : tokenBytes.size();
      if (existing == null) {
        byte[] mb = new byte[lb.length + rb.length];
        System.arraycopy(lb, 0, mb, 0, lb.length);
        System.arraycopy(rb, 0, mb, lb.length, rb.length);
        tokenBytes.add(mb);
        vocab.put(ls + rs, merged);
      }
      merges.add(new String[] {ls, rs});

      Set<Long> touched = new HashSet<>();
      Set<Integer> where = pairWords.remove(pair);
      for (int w : where) {
        int[] word = words[w];
        int[] next = mergeWord(word, left, right, merged);
        if (next == word) continue;
        addPairs(word, -freq[w], w, pairCount, null, touched);
        addPairs(next, freq[w], w, pairCount, pairWords, touched);
        words[w] = next;
      }
      for (long p : touched) {
        long c = pairCount.getOrDefault(p, 0L);
        if (c > 0) queue.add(new long[] {c, p});
      }
    }
    return merges;
  }

  private static int[] mergeWord(int[] word, int left, int right, int merged) {
    int n = 0;
    int[] out = null;
    for (int r = 0; r < word.length; ) {
      if (r + 1 < word.length && word[r] == left && word[r + 1] == right) {
        if (out == null) {
          out = new int[word.length - 1];
          System.arraycopy(word, 0, out, 0, r);
          n = r;
        }
        out[n++] = merged;
        r += 2;
      } else {
        if (out != null) out[n++] = word[r];
        r++;
      }
    }
    return out == null ? word : java.util.Arrays.copyOf(out, n);
  }

  private static void addPairs(
      int[] word, long delta, int w, Map<Long, Long> pairCount, Map<Long, Set<Integer>> pairWords, Set<Long> touched) {
    for (int i = 0; i + 1 < word.length; i++) {
      long pair = ((long) word[i] << 32) | (word[i + 1] & 0xFFFFFFFFL);
      long c = pairCount.merge(pair, delta, Long::sum);
      if (c == 0) pairCount.remove(pair);
      if (pairWords != null) pairWords.computeIfAbsent(pair, k -> new HashSet<>()).add(w);
      if (touched != null) touched.add(pair);
    }
  }

  /** Higher count first; then smaller (left bytes, right bytes), unsigned lexicographic. */
  private static int comparePairs(long[] x, long[] y, List<byte[]> tokenBytes) {
    int c = Long.compare(y[0], x[0]);
    if (c != 0) return c;
    c = java.util.Arrays.compareUnsigned(tokenBytes.get((int) (x[1] >>> 32)), tokenBytes.get((int) (y[1] >>> 32)));
    if (c != 0) return c;
    return java.util.Arrays.compareUnsigned(tokenBytes.get((int) x[1]), tokenBytes.get((int) y[1]));
  }
}
