// Loads a tokenizer.json with Hugging Face's own JavaScript tokenizers (npm @huggingface/tokenizers)
// and writes the ids it gives for every string of a golden file. HfTokenizersJsTest compares
// io.influence.core.tokenizer.Tokenizer#encode(text, true) (special tokens parsed, as Hugging
// Face does by default) with these ids. Usage (see src/test/resources/tokenizer/trained/README.md):
//   node hf_tokenizers_js_ids.mjs <node_modules dir> <tokenizer.json> <strings json> <output json>
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
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerFile, 'utf-8')), {});
const texts = JSON.parse(fs.readFileSync(stringsFile, 'utf-8')).map((c) => c.text);
const out = texts.map((text) => ({ text, ids: tokenizer.encode(text).ids }));
fs.writeFileSync(outFile, '[\n' + out.map((c) => JSON.stringify(c)).join(',\n') + '\n]\n');
console.log(`wrote ${out.length} cases to ${outFile}`);
