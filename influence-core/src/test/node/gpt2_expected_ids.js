// Writes the GPT-2 token ids that the npm package `gpt-3-encoder` (an independent JavaScript
// port of OpenAI's encoder.py) produces for a fixed list of strings. The Java test
// GptEncoderGoldenTest compares io.influence.core.tokenizer.Tokenizer against this file.
//
// Usage (see influence-core/src/test/resources/tokenizer/gpt2/README.md):
//   node gpt2_expected_ids.js <path to node_modules/gpt-3-encoder> <corpus dir> <output json>
//
// The list is deterministic: hand-written edge cases, every non-empty line of the corpus .txt
// files, and strings drawn with a fixed-seed generator from a mixed alphabet. A few strings hold
// unpaired UTF-16 surrogates, which TextEncoder encodes as U+FFFD.
'use strict';
const fs = require('fs');
const path = require('path');

const [encoderDir, corpusDir, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node gpt2_expected_ids.js <gpt-3-encoder dir> <corpus dir> <output json>');
  process.exit(2);
}
const { encode, decode } = require(path.resolve(encoderDir));

const cases = [
  '', ' ', '  ', '\t', '\n', '\r\n', ' \n ', '\n\n\n', 'a', 'A', '0', '!',
  'Hello world', 'Hello, world!', ' Hello world ', '  leading two spaces', 'trailing two spaces  ',
  'multiple   spaces   inside', 'tab\tseparated\tvalues', 'line one\nline two\n', 'mixed \t\n whitespace \n\t end',
  "It's", "it's", "IT'S", "we're", "they've", "I'm", "you'll", "he'd", "don't", "can't", "o'clock",
  "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "''", "'''s", "rock'n'roll", "James's",
  'CamelCaseWordsTogether', 'snake_case_identifier', 'kebab-case-words', 'MiXeD CaSe TeXt', 'ALL CAPS SENTENCE HERE',
  '1', '12', '123', '1234', '12345', '3.14159', '1,000,000', '2026-11-24', '0x7fffffff', 'v1.2.3-rc4', '1st 2nd 3rd 4th',
  '!!!', '???', '...', '…', '—', '--', '---', '!?!?', '(parenthesised)', '[brackets]', '{braces}', '<angle>',
  '"double quotes"', '“curly quotes”', '‘single curly’', '«guillemets»', 'a+b=c', '100%', '$5.00', '€20', '£3', '¥1000',
  'email@example.com', 'https://example.com/path?query=1&x=y#frag', '/usr/local/bin', 'C:\\Windows\\System32',
  'café', 'naïve', 'résumé', 'Zürich', 'São Paulo', 'Ångström', 'Œuvre', 'straße', 'İstanbul', 'Łódź', 'Dvořák',
  'cafe\u0301', 'n\u0303', 'a\u0308\u0304', 'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA',
  '日本語のテキスト', '中文文本测试', '한국어 텍스트', 'ひらがな カタカナ 漢字', '東京都 2026年', '你好，世界！',
  'Привет, мир!', 'Съешь же ещё этих мягких французских булок', 'Ελληνικά γράμματα', 'Україна',
  'مرحبا بالعالم', 'العربية ١٢٣', 'שלום עולם', 'हिन्दी भाषा', 'বাংলা', 'ภาษาไทย', 'Tiếng Việt có dấu',
  '😀', '😀😀😀', 'hi 😀', '😀 hi', '👍🏽', '👍🏿👍🏻', '👨‍👩‍👧‍👦', '👩🏽‍💻', '🏳️‍🌈', '❤️', '🇺🇸🇫🇷', '1️⃣',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𝐀𝐁𝐂 𝟏𝟐𝟑', '𠜎𠜱𠝹', 'ℵ₀', '²³¹', 'Ⅻ', '½ ¾', '①②③', '٣٤٥', '߀߁',
  '\u00a0', 'a\u00a0b', 'a\u2003b', 'a\u3000b', 'a\u2028b', 'a\u2029b', 'a\u0085b', 'a\ufeffb', '\u200b', 'a\u200db',
  'a\u000bb', 'a\u000cb', '\u00a0\u00a0x', 'x\u00a0\u00a0', ' \u00a0 x',
  'x'.repeat(200), 'ab'.repeat(150), 'supercalifragilisticexpialidocious', 'Pneumonoultramicroscopicsilicovolcanoconiosis',
  'a'.repeat(1000), ' '.repeat(100) + 'x', '\n'.repeat(50), '!'.repeat(300), '9'.repeat(120), '日'.repeat(100),
  '<|endoftext|>', 'text<|endoftext|>more', 'text', 'more', ' <|endoftext|> ', '<|endoftext', 'endoftext|>',
  'def f(x):\n    return x ** 2\n', 'for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}', '{"key": [1, 2, 3], "nested": {"a": null}}',
  'SELECT * FROM t WHERE x = 1;', '<html><body class="x">Hi</body></html>', '#!/bin/bash\necho "$HOME"',
  'a\ud800b', '\udc00', 'x\ud83d', '\ud83d\ude00\ude00', ' \udfff ',
  ' the', ' The', 'the', 'The', ' a', 'a ', ' ,', ', ', ' .', 'Ġ', 'Ċ', 'ĠĠ', '\u0100', '\u0120\u010a',
];

for (const file of fs.readdirSync(corpusDir).filter((f) => f.endsWith('.txt')).sort()) {
  for (const line of fs.readFileSync(path.join(corpusDir, file), 'utf-8').split('\n')) {
    if (line.trim().length > 0) cases.push(line);
  }
}

// Fixed-seed generator (mulberry32) over a mixed alphabet of code points.
let seed = 20261124;
function rand() {
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const alphabet = Array.from(
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789     \t\n\r.,;:!?'\"-_()[]{}<>/\\@#$%^&*+=~`|" +
  'éèêëàâäôöûüçñßøåæœÉÀÇÑ' + 'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД' + 'αβγδεζηθλμπσω' +
  '日本語中文字한국어ひらがなカタカナ' + 'مرحباשלוםहिन्दी' + '١٢٣४५६' + '\u0301\u0308\u0327\u200d\ufe0f' +
  '\u00a0\u2003\u3000\u0085\ufeff\u2028' + '😀👍🏽🏻👨👩👧💻🌈🇺🇸𝔘𝐀𝟏𠜎' + "'s're've'll'd'm't");
for (let n = 0; n < 200; n++) {
  const len = 1 + Math.floor(rand() * 40);
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  cases.push(s);
}

const out = [];
for (const text of cases) {
  const ids = encode(text);
  if (ids.some((id) => id === undefined)) throw new Error('gpt-3-encoder produced an undefined id for ' + JSON.stringify(text));
  out.push({ text, ids, roundTrips: decode(ids) === text });
}
fs.writeFileSync(outFile, '[\n' + out.map((c) => JSON.stringify(c)).join(',\n') + '\n]\n');
console.log(`wrote ${out.length} cases to ${outFile}`);
