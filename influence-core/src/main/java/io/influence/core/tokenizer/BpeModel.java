package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/*
 * The BPE model of a Hugging Face tokenizer.json as the tokenizers library applies it (models/bpe
 * in the Rust crate; transformers.js's BPE class is an independent port of the same loop).
 *
 * Initial symbols of a piece: byte-level models (a ByteLevel pre-tokenizer: GPT-2, Llama 3, Qwen)
 * start from the ids of the piece's UTF-8 bytes in the byte alphabet (ByteLevel); character models
 * (Llama 2) start from the id of each code point, and a code point not in the vocabulary becomes,
 * with byte_fallback, the tokens <0xNN> of its UTF-8 bytes (SentencePiece's byte fallback), else
 * unk_token (consecutive unknowns fused into one with fuse_unk). An unpaired surrogate counts as
 * U+FFFD's bytes (JavaScript's TextEncoder), and for character models it is never looked up in
 * the vocabulary, as transformers.js does.
 *
 * ignore_merges (Llama 3): a piece that is itself in the vocabulary is that one token.
 *
 * Merge order: repeatedly the adjacent pair with the lowest merge rank, the leftmost on ties, is
 * merged, one occurrence at a time (a priority queue keyed by rank and the left symbol's original
 * position). This differs from OpenAI's encoder.py (ByteLevelBpe: all occurrences of the lowest
 * rank per round) only for merge lists where a merge creates a pair of lower rank, which converted
 * vocabularies such as Llama 3's can have. Pieces of up to LINEAR_MAX symbols use an O(n^2) scan,
 * longer ones (Llama 2 has no pre-tokenizer: a whole stretch of text is one piece) a heap,
 * O(n log n). A bounded cache maps short pieces to ids.
 */
final class BpeModel {
  private static final int LINEAR_MAX = 64;
  private static final int CACHE_LIMIT = 1 << 16;
  private static final int CACHE_MAX_PIECE = 64;
  private static final byte[] REPLACEMENT_BYTES = "\uFFFD".getBytes(StandardCharsets.UTF_8);

  final Map<String, Integer> vocab;
  private final MergeTable merges;
  private final boolean byteLevel;
  private final int[] byteToId;
  private final int[] fallbackIds;
  private final int unkId;
  private final boolean fuseUnk;
  private final boolean ignoreMerges;
  private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

  private BpeModel(Map<String, Integer> vocab, MergeTable merges, boolean byteLevel, int[] byteToId,
      int[] fallbackIds, int unkId, boolean fuseUnk, boolean ignoreMerges) {
    this.vocab = Map.copyOf(vocab);
    this.merges = merges;
    this.byteLevel = byteLevel;
    this.byteToId = byteToId;
    this.fallbackIds = fallbackIds;
    this.unkId = unkId;
    this.fuseUnk = fuseUnk;
    this.ignoreMerges = ignoreMerges;
  }

  /** Reads {@code model} (type BPE); {@code byteLevel} when the pre-tokenizer ends in ByteLevel. */
  static BpeModel parse(HfJson json, JsonNode model, boolean byteLevel) throws TokenizerFormatException {
    if (model == null || !model.isObject()) {
      throw json.error("model", model, "expected an object.", "pass a Hugging Face tokenizer.json (tokenizer.save()).");
    }
    JsonNode type = model.get("type");
    if (type != null && !"BPE".equals(type.asText())) {
      throw json.error("model.type", type, "only \"BPE\" is supported (not WordPiece, Unigram or WordLevel).",
          "use a BPE tokenizer (GPT-2, Llama 2/3, Qwen style).");
    }
    for (String f : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
      JsonNode v = model.get(f);
      if (v != null && !v.isNull() && !(v.isTextual() && v.asText().isEmpty())) {
        throw json.error("model." + f, v, "only null or \"\" is supported.", "use a tokenizer without subword affixes.");
      }
    }
    JsonNode dropout = model.get("dropout");
    if (dropout != null && !dropout.isNull() && !(dropout.isNumber() && dropout.asDouble() == 0.0)) {
      throw json.error("model.dropout", dropout, "BPE dropout is not supported.", "set \"dropout\": null.");
    }
    JsonNode vocabNode = model.get("vocab");
    if (vocabNode == null || !vocabNode.isObject()) {
      throw json.error("model.vocab", vocabNode, "expected an object.", "model.vocab must map token -> id.");
    }
    Map<String, Integer> vocab = TokenizerFiles.readVocabObject(json.file, vocabNode, "model.vocab");
    JsonNode mergesNode = model.get("merges");
    if (mergesNode == null || !mergesNode.isArray()) {
      throw json.error("model.merges", mergesNode, "expected an array.", "model.merges must list merges in rank order.");
    }
    List<String[]> pairs = TokenizerFiles.readMerges(json.file, mergesNode);
    MergeTable table = new MergeTable(pairs.size());
    for (int i = 0; i < pairs.size(); i++) {
      String[] m = pairs.get(i);
      for (String part : new String[] {m[0], m[1], m[0] + m[1]}) {
        if (!vocab.containsKey(part)) {
          throw json.error("model.merges[" + i + "]", mergesNode.get(i),
              "needs token \"" + part + "\", which is not in model.vocab.", "vocabulary and merges must come from the same tokenizer.");
        }
      }
      table.put(vocab.get(m[0]), vocab.get(m[1]), i, vocab.get(m[0] + m[1]));
    }
    int[] byteToId = new int[256];
    int[] fallbackIds = new int[256];
    for (int b = 0; b < 256; b++) {
      Integer symbol = vocab.get(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
      if (byteLevel && symbol == null) {
        throw json.error("model.vocab", null, "lacks the byte-level symbol \"" + ByteLevel.BYTE_TO_CHAR[b]
            + "\" (byte 0x" + String.format("%02X", b) + "), so some text could not be encoded.",
            "a byte-level BPE vocabulary must contain all 256 byte symbols.");
      }
      byteToId[b] = symbol == null ? -1 : symbol;
      Integer fallback = vocab.get(String.format("<0x%02X>", b));
      fallbackIds[b] = fallback == null ? -1 : fallback;
    }
    int unkId = -1;
    JsonNode unk = model.get("unk_token");
    if (unk != null && !unk.isNull()) {
      if (!unk.isTextual() || !vocab.containsKey(unk.asText())) {
        throw json.error("model.unk_token", unk, "is not a token of model.vocab.", "name the unknown token as spelled in model.vocab.");
      }
      unkId = vocab.get(unk.asText());
    }
    boolean byteFallback = json.bool(model, "byte_fallback", "model", false);
    return new BpeModel(vocab, table, byteLevel, byteToId, byteFallback ? fallbackIds : null, unkId,
        json.bool(model, "fuse_unk", "model", false), json.bool(model, "ignore_merges", "model", false));
  }

  /** Appends the ids of one pre-tokenised piece to {@code out}. */
  void encode(String piece, IntBuffer out) {
    if (piece.isEmpty()) return;
    boolean cacheable = piece.length() <= CACHE_MAX_PIECE;
    int[] ids = cacheable ? cache.get(piece) : null;
    if (ids == null) {
      ids = byteLevel ? encodeBytes(piece) : encodeChars(piece);
      if (cacheable) {
        if (cache.size() >= CACHE_LIMIT) cache.clear();
        cache.put(piece, ids);
      }
    }
    out.addAll(ids);
  }

  private int[] encodeBytes(String piece) {
    byte[] bytes = ByteLevelBpe.replaceLoneSurrogates(piece).getBytes(StandardCharsets.UTF_8);
    if (ignoreMerges) {
      Integer whole = vocab.get(ByteLevel.toSymbols(bytes));
      if (whole != null) return new int[] {whole};
    }
    int[] s = new int[bytes.length];
    for (int i = 0; i < s.length; i++) s[i] = byteToId[bytes[i] & 0xFF];
    return merge(s);
  }

  private int[] encodeChars(String piece) {
    if (ignoreMerges) {
      Integer whole = vocab.get(piece);
      if (whole != null) return new int[] {whole};
    }
    IntBuffer s = new IntBuffer(piece.length() + 4);
    boolean lastUnk = false;
    for (int i = 0; i < piece.length(); ) {
      int cp = piece.codePointAt(i);
      int len = Character.charCount(cp);
      boolean lone = Character.getType(cp) == Character.SURROGATE;
      String ch = piece.substring(i, i + len);
      i += len;
      Integer id = lone ? null : vocab.get(ch);
      if (id != null) {
        s.add(id);
        lastUnk = false;
        continue;
      }
      if (fallbackIds != null && addFallback(lone ? REPLACEMENT_BYTES : ch.getBytes(StandardCharsets.UTF_8), s)) {
        lastUnk = false;
        continue;
      }
      if (unkId < 0) {
        throw new IllegalArgumentException(String.format("character U+%04X is not in the vocabulary and the tokenizer"
            + " has no byte fallback or unk_token. HINT: this tokenizer cannot encode that text.", cp));
      }
      if (!(fuseUnk && lastUnk)) s.add(unkId);
      lastUnk = true;
    }
    return merge(s.toArray());
  }

  private boolean addFallback(byte[] bytes, IntBuffer s) {
    for (byte b : bytes) if (fallbackIds[b & 0xFF] < 0) return false;
    for (byte b : bytes) s.add(fallbackIds[b & 0xFF]);
    return true;
  }

  int[] merge(int[] s) {
    return s.length <= LINEAR_MAX ? mergeLinear(s) : mergeHeap(s);
  }

  /** One merge per scan: the lowest rank, leftmost on ties. */
  int[] mergeLinear(int[] s) {
    int n = s.length;
    while (n > 1) {
      long best = Long.MAX_VALUE;
      int at = -1;
      for (int i = 0; i + 1 < n; i++) {
        long v = merges.get(s[i], s[i + 1]);
        if (v < best) { // rank in the high bits; equal ranks are the same merge, so < keeps the leftmost
          best = v;
          at = i;
        }
      }
      if (at < 0) break;
      s[at] = (int) best;
      System.arraycopy(s, at + 2, s, at + 1, n - at - 2);
      n--;
    }
    return n == s.length ? s : Arrays.copyOf(s, n);
  }

  /** The same order with a linked list and a heap of (rank, original position of the left symbol). */
  int[] mergeHeap(int[] s) {
    int n = s.length;
    int[] next = new int[n];
    int[] prev = new int[n];
    for (int i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    LongHeap heap = new LongHeap(n);
    for (int i = 0; i + 1 < n; i++) push(heap, s[i], s[i + 1], i);
    while (!heap.isEmpty()) {
      long top = heap.pop();
      int at = (int) top;
      int right = next[at];
      if (s[at] < 0 || right < 0) continue;
      long v = merges.get(s[at], s[right]);
      if (v == Long.MAX_VALUE || v >>> 32 != top >>> 32) continue; // stale: the pair changed
      s[at] = (int) v;
      s[right] = -1;
      next[at] = next[right];
      if (next[at] >= 0) prev[next[at]] = at;
      if (prev[at] >= 0) push(heap, s[prev[at]], s[at], prev[at]);
      if (next[at] >= 0) push(heap, s[at], s[next[at]], at);
    }
    int count = 0;
    for (int i = 0; i >= 0; i = next[i]) s[count++] = s[i];
    return Arrays.copyOf(s, count);
  }

  private void push(LongHeap heap, int left, int right, int at) {
    long v = merges.get(left, right);
    if (v != Long.MAX_VALUE) heap.push((v >>> 32) << 32 | at);
  }
}
