package io.influence.core.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * GPT-2 style byte-level BPE tokenizer for the engine's {@code text} columns.
 *
 * <p>Written here in Java rather than taken from a library: DJL's HF tokenizers binding ships a
 * native library per platform (an extra JNI dependency on every Spark executor), and jtokkit only
 * knows OpenAI's fixed encodings (r50k_base etc.) and cannot load an arbitrary tokenizer.json,
 * while the project's own small models use small vocabularies trained by {@link BpeTrainer}. The
 * algorithm is small: byte-to-symbol mapping, the GPT-2 pre-tokenisation regex, then merges by
 * rank (see {@code ByteLevel} and {@code ByteLevelBpe}). Tests compare it id for id with the
 * independent JavaScript port of OpenAI's encoder (npm {@code gpt-3-encoder}).
 *
 * <p>Special tokens: {@link #encode(String)} treats text such as {@code "<|endoftext|>"} as
 * ordinary characters, exactly like OpenAI's encoder.py and gpt-3-encoder (so training text can
 * never inject an end-of-text token). {@link #encode(String, boolean)} with {@code true} instead
 * turns every occurrence of an added/special token's content into its id, like Hugging Face
 * tokenizers do by default.
 *
 * <p>Instances are immutable apart from a bounded internal cache and are safe to share between
 * threads.
 */
public interface Tokenizer {

  /**
   * Loads a Hugging Face {@code tokenizer.json} whose model is BPE ({@code model.type "BPE"},
   * {@code model.vocab}, {@code model.merges} as {@code "a b"} strings or {@code ["a","b"]}
   * pairs) with a ByteLevel pre-tokenizer, plus its {@code added_tokens}.
   *
   * @throws TokenizerFormatException if the file is not such a tokenizer (message names the
   *     file, the field and a HINT)
   * @throws IOException if the file cannot be read
   */
  static Tokenizer fromTokenizerJson(Path tokenizerJson) throws IOException {
    return TokenizerFiles.readTokenizerJson(tokenizerJson);
  }

  /**
   * Loads GPT-2's original pair of files: {@code encoder.json} / {@code vocab.json} (token to id)
   * and {@code vocab.bpe} / {@code merges.txt} (one merge "a b" per line, ranked by line, an
   * optional {@code #version} first line). {@code <|endoftext|>}, if in the vocabulary, is the
   * special end-of-text token.
   *
   * @throws TokenizerFormatException if a file is malformed
   * @throws IOException if a file cannot be read
   */
  static Tokenizer fromVocabAndMerges(Path vocabJson, Path mergesTxt) throws IOException {
    return TokenizerFiles.readVocabAndMerges(vocabJson, mergesTxt);
  }

  /**
   * Token ids of {@code text}; special-token text is encoded as ordinary characters. An unpaired
   * UTF-16 surrogate is encoded as U+FFFD (as JavaScript's TextEncoder does), so it does not
   * survive a round trip; all other text does: {@code decode(encode(s)).equals(s)}.
   */
  int[] encode(String text);

  /**
   * Token ids of {@code text}. If {@code parseSpecialTokens}, each occurrence of an added token's
   * content (for example {@code <|endoftext|>}) becomes that token's id (leftmost match first,
   * longest content on ties) and the text between them is encoded as by {@link #encode(String)}.
   */
  int[] encode(String text, boolean parseSpecialTokens);

  /**
   * Text of the token ids. Bytes that do not form valid UTF-8 (a sequence cut inside a
   * multi-byte character) become U+FFFD.
   *
   * @throws IllegalArgumentException for an id outside [0, vocabSize()) or not in the vocabulary
   */
  String decode(int[] ids);

  /** One past the largest token id (model vocabulary plus added tokens). */
  int vocabSize();

  /**
   * Id of the end-of-sequence token: the first of {@code <|endoftext|>}, {@code </s>},
   * {@code <eos>} present in the vocabulary or added tokens.
   */
  OptionalInt eosTokenId();

  /** Id of a token given in its byte-level spelling (e.g. {@code "Ġthe"}), if present. */
  OptionalInt tokenId(String token);
}
