/**
 * GPT-2 style byte-level BPE tokenisation, written here so that every executor needs no native
 * library.
 *
 * <ul>
 *   <li>{@link io.influence.core.tokenizer.Tokenizer}: the public type, loaded with
 *       {@link io.influence.core.tokenizer.Tokenizer#fromTokenizerJson} (a Hugging Face
 *       {@code tokenizer.json} with a BPE model and a ByteLevel pre-tokenizer) or
 *       {@link io.influence.core.tokenizer.Tokenizer#fromVocabAndMerges} (GPT-2's
 *       {@code encoder.json} + {@code vocab.bpe}); encode, decode, vocabulary size, end-of-text id.</li>
 *   <li>{@link io.influence.core.tokenizer.BpeTrainer}: trains a small vocabulary on a corpus and
 *       writes it as a {@code tokenizer.json}.</li>
 *   <li>{@link io.influence.core.tokenizer.TokenizerFormatException}: every problem with a
 *       tokenizer file, naming the file, the field or line, and a HINT.</li>
 * </ul>
 * Package-private behind them: the byte alphabet and pre-tokeniser regex ({@code ByteLevel}), the
 * merge loop ({@code ByteLevelBpe} with {@code MergeTable}, {@code LongHeap}, {@code IntBuffer}),
 * the readers ({@code TokenizerFiles}) and the writer ({@code TokenizerJsonWriter}).
 */
package io.influence.core.tokenizer;
