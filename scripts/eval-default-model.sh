#!/usr/bin/env bash
# Evaluates a model on the shipped task files (data/eval) with `dsv3 eval`, as README's tables report them:
# perplexity on data/eval/text.jsonl; 5-shot choice; exact match on the held-out one-digit sums and the two-digit sums,
# 5-shot as plain text and 0-shot through the chat template. One JSON per run in OUT, then OUT/summary.json.
#   bash scripts/eval-default-model.sh MODEL_DIR OUT_DIR [DSV3_DLL]
set -euo pipefail
cd "$(dirname "$0")/.."
model="$1" out="$2" dll="${3:-src/DeepSeekV3.Cli/bin/Release/net10.0/dsv3.dll}"
mkdir -p "$out"
dsv3() { dotnet "$dll" "$@"; }
# Cheapest first, so a run cut short still has the chat-format rows.
dsv3 eval --model "$model" --task data/eval/text.jsonl --kind perplexity --json "$out/text.json"
for task in sums-heldout arithmetic; do
  dsv3 eval --model "$model" --task "data/eval/$task.jsonl" --kind exact-match --shots 0 --chat --json "$out/$task-chat.json"
done
dsv3 eval --model "$model" --task data/eval/sums-heldout.jsonl --kind exact-match --shots 5 --json "$out/sums-heldout-5shot.json"
dsv3 eval --model "$model" --task data/eval/choice.jsonl --kind choice --shots 5 --json "$out/choice.json"
dsv3 eval --model "$model" --task data/eval/arithmetic.jsonl --kind exact-match --shots 5 --json "$out/arithmetic-5shot.json"
node -e 'const fs = require("fs"), dir = process.argv[1], summary = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "summary.json"))
    summary[f.replace(/\.json$/, "")] = JSON.parse(fs.readFileSync(dir + "/" + f, "utf8")).metrics;
  fs.writeFileSync(dir + "/summary.json", JSON.stringify(summary, null, 2) + "\n");
  console.log(JSON.stringify(summary, null, 2));' "$out"
