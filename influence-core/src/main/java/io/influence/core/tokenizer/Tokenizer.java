package io.influence.core.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * BPE tokenizer for the engine's {@code text} columns: GPT-2 style byte-level BPE, and the Hugging
 * Face {@code tokenizer.json} files of Llama 2 / TinyLlama (SentencePiece-style BPE with byte
 * fallback), Llama 3 and Qwen 2/3 (byte-level BPE with their own split regex).
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
   * pairs), plus its {@code added_tokens}, and the {@code tokenizer_config.json} beside it when there
   * is one (BOS / EOS, see {@link #encodeWithSpecialTokens}). Supported besides GPT-2's scheme:
   * normalizers Sequence, Prepend, Replace, NFC/NFD/NFKC/NFKD; pre-tokenizers Split (its Oniguruma
   * regex translated to java.util.regex), ByteLevel, Metaspace, Sequence, or none; {@code byte_fallback},
   * {@code unk_token}, {@code fuse_unk}, {@code ignore_merges}; post-processors TemplateProcessing,
   * ByteLevel, RobertaProcessing, BertProcessing, Sequence; decoders ByteLevel, Replace, ByteFallback,
   * Fuse, Strip, Metaspace, Sequence. Anything else (a WordPiece or Unigram model, another
   * normalizer, a regex construct without a faithful translation) is refused, never approximated.
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
   * What Hugging Face's {@code tokenizer(text)["input_ids"]} returns (add_special_tokens=True):
   * {@link #encode(String, boolean) encode(text, true)} (added tokens in the text parsed) with the
   * tokens the tokenizer adds around a text: BOS for Llama 2 ({@code <s>}), nothing for Qwen, and
   * for Llama 3 what its post-processor says (newer files add {@code <|begin_of_text|>}, the first
   * release's file adds nothing). {@code tokenizer_config.json}'s {@code add_bos_token} /
   * {@code add_eos_token} decide when it sets either, else tokenizer.json's {@code post_processor}.
   * For GPT-2 style files without such settings (the project's own) this is
   * {@code encode(text, true)}, which equals {@code encode(text)} for text without special-token text.
   */
  int[] encodeWithSpecialTokens(String text);

  /**
   * A training document or query as the engine feeds it to the model: the tokens the tokenizer adds
   * before a text (Llama 2's BOS), {@link #encode(String) encode(text)} with special-token text kept
   * as ordinary characters (so corpus text cannot inject a control token), then the tokens it adds
   * after a text (EOS when {@code add_eos_token} is set). For the project's GPT-2 tokenizers this is
   * {@code encode(text)}.
   */
  default int[] encodeDocument(String text) {
    IntBuffer ids = new IntBuffer(16);
    ids.addAll(specialPrefix());
    ids.addAll(encode(text));
    ids.addAll(specialSuffix());
    return ids.toArray();
  }

  /** The tokens Hugging Face adds before a single text (e.g. BOS); empty for GPT-2 style files. */
  default int[] specialPrefix() {
    return new int[0];
  }

  /** The tokens Hugging Face adds after a single text (e.g. EOS when configured); usually empty. */
  default int[] specialSuffix() {
    return new int[0];
  }

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
   * Id of the end-of-sequence token: {@code tokenizer_config.json}'s {@code eos_token} when it has
   * the key, else the last token the post-processor appends, else the first of
   * {@code <|endoftext|>}, {@code </s>}, {@code <eos>} present in the vocabulary or added tokens.
   */
  OptionalInt eosTokenId();

  /**
   * Id of the beginning-of-sequence token: {@code tokenizer_config.json}'s {@code bos_token} when it
   * has the key (Llama 3: {@code <|begin_of_text|>} even where it is not added), else the first token
   * the post-processor prepends (Llama 2: {@code <s>}), else none (GPT-2, Qwen).
   */
  OptionalInt bosTokenId();

  /**
   * Id of a token given as spelled in the vocabulary (byte-level {@code "Ġthe"}, SentencePiece
   * {@code "▁the"}) or an added token's content, if present.
   */
  OptionalInt tokenId(String token);
}
