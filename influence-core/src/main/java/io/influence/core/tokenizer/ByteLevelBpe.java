package io.influence.core.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;

/*
 * Byte-level BPE encoder/decoder (Sennrich et al. 2016, "Neural Machine Translation of Rare
 * Words with Subword Units"; GPT-2's byte-level variant, see ByteLevel).
 *
 * Encoding: the text is cut into pieces by ByteLevel.PRE_TOKENIZER; each piece's UTF-8 bytes
 * become the ids of their byte symbols; then, as in OpenAI's encoder.py, the adjacent pair with
 * the lowest merge rank is found and all its non-overlapping occurrences are merged left to
 * right, until no adjacent pair has a rank. Merges never cross piece boundaries.
 *
 * Layout: a merge is looked up by the pair of ids packed in a long (left << 32 | right) in an
 * open-addressing table (MergeTable) whose value packs (rank << 32 | merged id), so the inner loop
 * does no allocation and no string work. Pieces up to LINEAR_MAX bytes (nearly all words) run
 * rounds of a linear scan, O(n * rounds); longer pieces (a long run with no letter/digit/space
 * boundary, where the scan would be quadratic) use a linked list and a min-heap (LongHeap),
 * O(n log n). Both give
 * encoder.py's result, including for merge lists where two merges produce the same token.
 *
 * Cache: piece -> ids in a ConcurrentHashMap of at most CACHE_LIMIT entries, cleared when full
 * (a crude but lock-free bound; only pieces up to CACHE_MAX_PIECE chars are cached).
 */
final class ByteLevelBpe implements Tokenizer {
  private static final int CACHE_LIMIT = 1 << 16;
  private static final int CACHE_MAX_PIECE = 64;
  /** Pieces of more bytes than this use the heap variant of the merge loop. */
  static final int LINEAR_MAX = 64;
  private static final List<String> EOS_NAMES = List.of("<|endoftext|>", "</s>", "<eos>");

  /** An added token (special or not) whose text is matched before pre-tokenisation on request. */
  record AddedToken(int id, String content, boolean special) {}

  private final Map<String, Integer> vocab;
  private final byte[][] idToBytes;
  private final int[] byteToId = new int[256];
  private final MergeTable merges;
  private final List<AddedToken> added;
  private final boolean addPrefixSpace;
  private final int vocabSize;
  private final OptionalInt eos;
  /** BOS/EOS from tokenizer_config.json / post_processor, or null (fromVocabAndMerges, BpeTrainer). */
  private final SpecialTokens special;
  private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

  /**
   * @param vocab byte-level token string -> id
   * @param mergePairs merges in rank order, each {left id, right id, merged id}
   * @param added added tokens (their ids may or may not be in {@code vocab})
   * @param byteToId id of each byte's single-symbol token
   */
  ByteLevelBpe(
      Map<String, Integer> vocab,
      List<int[]> mergePairs,
      List<AddedToken> added,
      int[] byteToId,
      boolean addPrefixSpace) {
    this(vocab, mergePairs, added, byteToId, addPrefixSpace, null);
  }

  /** As above, with the special tokens that {@link #encodeWithSpecialTokens} adds ({@code null}: none). */
  ByteLevelBpe(
      Map<String, Integer> vocab,
      List<int[]> mergePairs,
      List<AddedToken> added,
      int[] byteToId,
      boolean addPrefixSpace,
      SpecialTokens special) {
    this.special = special;
    this.vocab = Map.copyOf(vocab);
    int max = -1;
    for (int id : vocab.values()) max = Math.max(max, id);
    for (AddedToken t : added) max = Math.max(max, t.id());
    this.vocabSize = max + 1;
    this.idToBytes = new byte[vocabSize][];
    for (Map.Entry<String, Integer> e : vocab.entrySet()) {
      byte[] b = ByteLevel.toBytes(e.getKey());
      idToBytes[e.getValue()] = b != null ? b : e.getKey().getBytes(StandardCharsets.UTF_8);
    }
    for (AddedToken t : added) idToBytes[t.id()] = t.content().getBytes(StandardCharsets.UTF_8);
    System.arraycopy(byteToId, 0, this.byteToId, 0, 256);
    this.merges = new MergeTable(mergePairs.size());
    for (int rank = 0; rank < mergePairs.size(); rank++) {
      int[] m = mergePairs.get(rank);
      merges.put(m[0], m[1], rank, m[2]);
    }
    List<AddedToken> sorted = new ArrayList<>(added);
    sorted.sort(Comparator.comparingInt((AddedToken t) -> -t.content().length()));
    this.added = List.copyOf(sorted);
    this.addPrefixSpace = addPrefixSpace;
    this.eos = defaultEos(this::idOf);
  }

  /** The first of {@code <|endoftext|>}, {@code </s>}, {@code <eos>} that {@code idOf} knows. */
  static OptionalInt defaultEos(java.util.function.Function<String, OptionalInt> idOf) {
    for (String name : EOS_NAMES) {
      OptionalInt id = idOf.apply(name);
      if (id.isPresent()) return id;
    }
    return OptionalInt.empty();
  }

  private OptionalInt idOf(String content) {
    for (AddedToken t : added) if (t.content().equals(content)) return OptionalInt.of(t.id());
    Integer id = vocab.get(content);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  @Override
  public int[] encode(String text) {
    return encode(text, false);
  }

  @Override
  public int[] encode(String text, boolean parseSpecialTokens) {
    if (text == null) throw new IllegalArgumentException("text must not be null");
    text = replaceLoneSurrogates(text);
    IntBuffer out = new IntBuffer(Math.max(16, text.length() / 3));
    if (addPrefixSpace && !text.isEmpty() && text.charAt(0) != ' ') text = " " + text;
    if (!parseSpecialTokens || added.isEmpty()) {
      encodeOrdinary(text, 0, text.length(), out);
      return out.toArray();
    }
    int pos = 0;
    while (pos < text.length()) {
      int bestAt = -1;
      AddedToken best = null;
      for (AddedToken t : added) { // longest first, so ties at one position keep the longest
        int at = text.indexOf(t.content(), pos);
        if (at >= 0 && (bestAt < 0 || at < bestAt)) {
          bestAt = at;
          best = t;
        }
      }
      if (best == null) {
        encodeOrdinary(text, pos, text.length(), out);
        break;
      }
      encodeOrdinary(text, pos, bestAt, out);
      out.add(best.id());
      pos = bestAt + best.content().length();
    }
    return out.toArray();
  }

  /**
   * Unpaired UTF-16 surrogates become U+FFFD, as JavaScript's TextEncoder does (String.getBytes
   * would write '?'); both are "other" characters for the pre-tokeniser, so pieces do not move.
   */
  static String replaceLoneSurrogates(String text) {
    StringBuilder b = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!Character.isSurrogate(c)) continue;
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++;
        continue;
      }
      if (b == null) b = new StringBuilder(text);
      b.setCharAt(i, '\uFFFD');
    }
    return b == null ? text : b.toString();
  }

  private void encodeOrdinary(String text, int from, int to, IntBuffer out) {
    if (from >= to) return;
    Matcher m = ByteLevel.PRE_TOKENIZER.matcher(text).region(from, to);
    while (m.find()) {
      String piece = m.group();
      int[] ids = piece.length() <= CACHE_MAX_PIECE ? cache.get(piece) : null;
      if (ids == null) {
        ids = bpe(piece);
        if (piece.length() <= CACHE_MAX_PIECE) {
          if (cache.size() >= CACHE_LIMIT) cache.clear();
          cache.put(piece, ids);
        }
      }
      out.addAll(ids);
    }
  }

  /** Merges of one pre-tokenised piece, lowest rank first, as in encoder.py's bpe(). */
  int[] bpe(String piece) {
    byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
    int[] s = new int[bytes.length];
    for (int i = 0; i < s.length; i++) s[i] = byteToId[bytes[i] & 0xFF];
    return s.length <= LINEAR_MAX ? bpeLinear(s) : bpeHeap(s);
  }

  /** Rounds of "find the lowest rank by a scan, merge all its occurrences": O(n) per round. */
  int[] bpeLinear(int[] s) {
    int n = s.length;
    while (n > 1) {
      long best = Long.MAX_VALUE;
      int bestAt = -1;
      for (int i = 0; i + 1 < n; i++) {
        long v = merges.get(s[i], s[i + 1]);
        if (v < best) { // v packs rank in the high bits, so the smallest v is the lowest rank
          best = v;
          bestAt = i;
        }
      }
      if (bestAt < 0) break;
      int a = s[bestAt], b = s[bestAt + 1], merged = (int) best;
      int w = bestAt, r = bestAt;
      while (r < n) {
        if (r + 1 < n && s[r] == a && s[r + 1] == b) {
          s[w++] = merged;
          r += 2;
        } else {
          s[w++] = s[r++];
        }
      }
      n = w;
    }
    return n == s.length ? s : Arrays.copyOf(s, n);
  }

  /**
   * The same rounds with a linked list of symbols and a min-heap of (rank, position) keys:
   * O(n log n) for a piece of n bytes. A round pops every entry of the lowest rank in position
   * order and merges those still valid (the node is alive and its pair still has that rank), which
   * is encoder.py's left-to-right, non-overlapping merge of all occurrences; pairs created by the
   * round enter the heap only after it, as encoder.py recomputes pairs after each round.
   */
  int[] bpeHeap(int[] s) {
    int n = s.length;
    int[] next = new int[n];
    int[] prev = new int[n];
    for (int i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    LongHeap heap = new LongHeap(n);
    for (int i = 0; i + 1 < n; i++) {
      long v = merges.get(s[i], s[i + 1]);
      if (v != Long.MAX_VALUE) heap.push((v >>> 32) << 32 | i);
    }
    int[] touched = new int[n];
    while (!heap.isEmpty()) {
      long rank = heap.peek() >>> 32;
      int nTouched = 0;
      while (!heap.isEmpty() && heap.peek() >>> 32 == rank) {
        int at = (int) heap.pop();
        int right = next[at];
        if (s[at] < 0 || right < 0) continue;
        long v = merges.get(s[at], s[right]);
        if (v >>> 32 != rank || v == Long.MAX_VALUE) continue; // stale entry
        s[at] = (int) v;
        s[right] = -1;
        next[at] = next[right];
        if (next[right] >= 0) prev[next[right]] = at;
        touched[nTouched++] = at;
      }
      for (int k = 0; k < nTouched; k++) {
        int at = touched[k];
        if (s[at] < 0) continue;
        if (prev[at] >= 0) {
          long v = merges.get(s[prev[at]], s[at]);
          if (v != Long.MAX_VALUE) heap.push((v >>> 32) << 32 | prev[at]);
        }
        if (next[at] >= 0) {
          long v = merges.get(s[at], s[next[at]]);
          if (v != Long.MAX_VALUE) heap.push((v >>> 32) << 32 | at);
        }
      }
    }
    int count = 0;
    for (int i = 0; i >= 0; i = next[i]) s[count++] = s[i];
    return Arrays.copyOf(s, count);
  }

  @Override
  public String decode(int[] ids) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length * 4);
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      if (id < 0 || id >= vocabSize || idToBytes[id] == null) {
        throw new IllegalArgumentException(
            "token id "
                + id
                + " at position "
                + i
                + " is not in the vocabulary (size "
                + vocabSize
                + "). HINT: decode ids produced by this tokenizer.");
      }
      bytes.writeBytes(idToBytes[id]);
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public int[] encodeWithSpecialTokens(String text) {
    int[] ids = encode(text, true);
    return special == null ? ids : special.wrap(ids);
  }

  @Override
  public OptionalInt eosTokenId() {
    return special == null ? eos : special.eos();
  }

  @Override
  public OptionalInt bosTokenId() {
    return special == null ? OptionalInt.empty() : special.bos();
  }

  @Override
  public OptionalInt tokenId(String token) {
    return idOf(token);
  }
}
