#!/usr/bin/env bash
# Stage 2 of the bundled model: chat-tunes the pre-trained base (stage 1, scripts/train-default-model.sh) with
# `dsv3 sft` on data/sft/chat.jsonl (made by scripts/make-chat-data.mjs) with a quarter of the training windows
# replayed from the base's pre-training corpus (--mix-pretrain, so the model keeps its English), then stores the
# result in BF16 as models/default with its generation_config.json (the sampling defaults `dsv3 chat` and the server
# use).
# The base is artifacts/default-base (written by train-default-model.sh); without it, the base bundled before
# chat-tuning is taken from git history (commit 7e5a2fb, the pre-trained model as first committed).
# About 8 minutes on a quiet core, 30-60 on the loaded shared 2-core machine (1 training thread). Same commands, same
# seed: same model.
set -euo pipefail
cd "$(dirname "$0")/.."
base_commit=7e5a2fb
bash scripts/setup.sh
bash scripts/fetch-corpus.sh
dotnet build src/DeepSeekV3.Cli -c Release -v q -nologo
# Run from a copy, so a rebuild during the half-hour run cannot swap the assemblies under it.
rm -rf artifacts/dsv3-bin && cp -r src/DeepSeekV3.Cli/bin/Release/net10.0 artifacts/dsv3-bin
dsv3() { dotnet artifacts/dsv3-bin/dsv3.dll "$@"; }

if [[ ! -s artifacts/default-base/model.safetensors ]]; then
  mkdir -p artifacts/default-base
  for file in config.json model.safetensors tokenizer.json tokenizer_config.json; do
    git show "$base_commit:models/default/$file" > "artifacts/default-base/$file"
  done
fi

node scripts/make-chat-data.mjs
rm -rf artifacts/chat-tune
# 200 steps of 8 windows, 6 of them conversations on average: the same ~1,200 conversation windows (one pass) as
# without the mix, plus ~400 windows of Brown and Tang text.
dsv3 sft --model artifacts/default-base --data data/sft/chat.jsonl --out artifacts/chat-tune \
  --mix-pretrain .data/corpus/brown.jsonl .data/corpus/chinese-poetry.jsonl --mix-ratio 0.25 \
  --steps 200 --seq-len 256 --batch-tokens 2048 --micro-batch 8 --lr 5e-4 --final-lr 5e-5 --warmup 8 \
  --eval-every 50 --save-every 50 --keep 1 --log-every 5 --seed 0 --threads 1 "$@"

rm -rf models/default.tmp
dsv3 convert --model artifacts/chat-tune/model --dtype bf16 --out models/default.tmp
# llama.cpp's sampling defaults; vLLM and our server read this file for requests that leave them out.
cat > models/default.tmp/generation_config.json <<'JSON'
{
  "bos_token_id": 0,
  "eos_token_id": 1,
  "do_sample": true,
  "temperature": 0.8,
  "top_p": 0.95,
  "repetition_penalty": 1.1
}
JSON
rm -rf models/default && mv models/default.tmp models/default
dsv3 info models/default
