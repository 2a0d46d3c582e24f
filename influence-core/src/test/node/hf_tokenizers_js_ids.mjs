// Loads a tokenizer.json with Hugging Face's own JavaScript tokenizers (npm @huggingface/tokenizers)
// and writes the ids it gives for every string of a golden file. HfTokenizersJsTest compares
// io.influence.core.tokenizer.Tokenizer#encode(text, true) (special tokens parsed, as Hugging
// Face does by default) with these ids. Usage (see src/test/resources/tokenizer/trained/README.md):
//   node hf_tokenizers_js_ids.mjs <node_modules dir> <tokenizer.json> <strings json> <output json>
// If <tokenizer.json> is a folder, it must hold GPT-2's encoder.json and vocab.bpe, and GPT-2's
// tokenizer.json (the layout Hugging Face publishes for "gpt2") is built from them in memory.
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';

const [modulesDir, tokenizerFile, stringsFile, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node hf_tokenizers_js_ids.mjs <node_modules dir> <tokenizer.json> <strings json> <output json>');
  process.exit(2);
}
const entry = path.resolve(modulesDir, '@huggingface/tokenizers/dist/tokenizers.mjs');
const { Tokenizer } = await import(pathToFileURL(entry).href);
const tokenizer = new Tokenizer(
  fs.statSync(tokenizerFile).isDirectory() ? gpt2TokenizerJson(tokenizerFile) : JSON.parse(fs.readFileSync(tokenizerFile, 'utf-8')),
  {});
const texts = JSON.parse(fs.readFileSync(stringsFile, 'utf-8')).map((c) => c.text);
const out = texts.map((text) => ({ text, ids: tokenizer.encode(text).ids }));
fs.writeFileSync(outFile, '[\n' + out.map((c) => JSON.stringify(c)).join(',\n') + '\n]\n');
console.log(`wrote ${out.length} cases to ${outFile}`);

function gpt2TokenizerJson(folder) {
  const vocab = JSON.parse(fs.readFileSync(path.join(folder, 'encoder.json'), 'utf-8'));
  const merges = fs.readFileSync(path.join(folder, 'vocab.bpe'), 'utf-8').split('\n').slice(1).filter((l) => l.length > 0);
  const byteLevel = (addPrefixSpace, trimOffsets) =>
    ({ type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: trimOffsets, use_regex: true });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false,
      normalized: true, special: true }],
    normalizer: null, pre_tokenizer: byteLevel(false, true), post_processor: byteLevel(true, false),
    decoder: byteLevel(true, true),
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}
