#!/usr/bin/env bash
# Big-model decode/prefill side by side, one engine per process (two copies of a 16B model do not fit in 24 GB):
#   bench/BigModelBench/run.sh [WORK_DIR] [THREADS] [ROUNDS]
# In WORK_DIR (default .data/big17, git-ignored; needs ~34 GB free disk) it makes, unless they exist:
#   - the 276M model of bench/InferenceBench (hidden 1024, 8 layers, 16 experts) stored BF16 and FP8, and its GGUFs
#     F16 and Q8_0 (equal bytes per weight as the stored BF16 / FP8);
#   - a random DeepSeek-V2-Lite-shaped model (15.7B) stored FP8 (16 GB) and its Q8_0 GGUF (17 GB).
# BF16/F16 at 16B (32 GB each) do not fit this machine's memory and are measured on the 276M model only.
# Then ROUNDS (default 3) rounds on the 276M pairs, llama.cpp and ours in turn, and ROUNDS runs alternating on the
# 16B pair (see below), and a summary of ranges (bench/results/bigmodel-summary.json).
# KEEP=1 keeps the model files at the end (they are deleted otherwise).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-.data/big17}
threads=${2:-2}
rounds=${3:-3}
dotnet build -c Release src/DeepSeekV3.Cli >/dev/null
dotnet build -c Release bench/BigModelBench >/dev/null
dsv3="dotnet src/DeepSeekV3.Cli/bin/Release/net10.0/dsv3.dll"
bench="dotnet bench/BigModelBench/bin/Release/net10.0/BigModelBench.dll"
mkdir -p "$work"
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"/m276-* "$work"/v2lite-*' EXIT

# bench/InferenceBench's BenchModel.Config, written as a config.json by the bench itself.
[[ -f "$work/m276-config.json" ]] || $bench --write-config "$work/m276-config.json"
for dtype in bf16 fp8; do
  [[ -f "$work/m276-$dtype/config.json" ]] || $dsv3 init --config "$work/m276-config.json" --dtype $dtype --seed 1 --out "$work/m276-$dtype"
done
[[ -f "$work/m276-f16.gguf" ]] || $dsv3 export-gguf --model "$work/m276-bf16" --type f16 --out "$work/m276-f16.gguf"
[[ -f "$work/m276-q8_0.gguf" ]] || $dsv3 export-gguf --model "$work/m276-fp8" --type q8_0 --out "$work/m276-q8_0.gguf"
[[ -f "$work/v2lite-fp8/config.json" ]] || $dsv3 init --preset v2-lite --dtype fp8 --seed 1 --out "$work/v2lite-fp8"
[[ -f "$work/v2lite-q8_0.gguf" ]] || $dsv3 export-gguf --model "$work/v2lite-fp8" --type q8_0 --out "$work/v2lite-q8_0.gguf"

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
llama() { $bench --engine llama --config "$work/$2/config.json" --gguf "$work/$1" --name "${1%.gguf}" --pair "$2" --threads "$threads" --round "$3"; }
ours() { $bench --engine ours --model "$work/$2" --name "$2" --pair "$2" --threads "$threads" --round "$3"; }
# The 276M files fit in the page cache together: the engines take turns, round by round.
for round in $(seq 1 "$rounds"); do
  echo "== 276M round $round of $rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
  for pair in "m276-f16.gguf m276-bf16" "m276-q8_0.gguf m276-fp8"; do
    llama $pair "$round"
    ours $pair "$round"
  done
done
# The 16B files do not fit in the page cache together (16 + 17 GB in 24 GB). Each 16B run starts cold, as a user's
# first run after a download or a reboot: both files are dropped from the page cache first (dd iflag=nocache count=0),
# so each engine faults its file in its own way (ours advised for 2 MB pages as routing reaches the experts,
# llama.cpp populating its mapping at load) and load and the first prefill include the disk. The engines alternate
# ours, llama.cpp, ours, ... for ROUNDS runs in all, each with its own repeats.
evict() { sync; for file in "$@"; do dd if="$file" iflag=nocache count=0 status=none; done; }
for run in $(seq 1 "$rounds"); do
  echo "== 16B run $run of $rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
  evict "$work"/v2lite-fp8/*.safetensors "$work/v2lite-q8_0.gguf"
  if (( run % 2 == 1 )); then
    ours v2lite-q8_0.gguf v2lite-fp8 "$run"
  else
    llama v2lite-q8_0.gguf v2lite-fp8 "$run"
  fi
done
$bench --summarize "$started"
