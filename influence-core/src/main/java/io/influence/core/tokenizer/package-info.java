/**
 * BPE tokenisation (GPT-2 style byte-level BPE, and Hugging Face tokenizer.json files of Llama 2,
 * Llama 3 and Qwen), written here so that every executor needs no native library.
 *
 * <ul>
 *   <li>{@link io.influence.core.tokenizer.Tokenizer}: the public type, loaded with
 *       {@link io.influence.core.tokenizer.Tokenizer#fromTokenizerJson} (a Hugging Face
 *       {@code tokenizer.json} with a BPE model, plus its {@code tokenizer_config.json}) or
 *       {@link io.influence.core.tokenizer.Tokenizer#fromVocabAndMerges} (GPT-2's
 *       {@code encoder.json} + {@code vocab.bpe}); encode, encode with the model's special tokens,
 *       decode, vocabulary size, BOS and EOS ids.</li>
 *   <li>{@link io.influence.core.tokenizer.BpeTrainer}: trains a small vocabulary on a corpus and
 *       writes it as a {@code tokenizer.json}.</li>
 *   <li>{@link io.influence.core.tokenizer.TokenizerFormatException}: every problem with a
 *       tokenizer file, naming the file, the field or line, and a HINT.</li>
 * </ul>
 * Package-private behind them: the byte alphabet and pre-tokeniser regex ({@code ByteLevel}), the
 * GPT-2 merge loop ({@code ByteLevelBpe} with {@code MergeTable}, {@code LongHeap}, {@code IntBuffer}),
 * the readers ({@code TokenizerFiles}) and the writer ({@code TokenizerJsonWriter}); for other
 * tokenizer.json files the pipeline {@code HfTokenizer} of {@code Normalizer}, {@code PreTokenizer}
 * (regexes via {@code OnigRegex}), {@code BpeModel}, {@code SpecialTokens} (with
 * {@code TokenizerConfig}) and {@code Decoder}, read with {@code HfJson}.
 */
package io.influence.core.tokenizer;
