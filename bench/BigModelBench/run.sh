#!/usr/bin/env bash
# The 16B side by side, one engine at a time (both copies of a 16B model do not fit in 24 GB):
#   bench/BigModelBench/run.sh [WORK_DIR] [THREADS]
# makes a random DeepSeek-V2-Lite-shaped FP8 checkpoint (16 GB) and its Q8_0 GGUF (17 GB) in WORK_DIR
# (default .data-big17/, needs ~34 GB free disk), runs llama.cpp then our engine on them, and deletes both.
# BF16/F16 at 16B (32 GB each) do not fit this machine's memory: those are measured on the 276M model only.
set -euo pipefail
work=${1:-.data-big17}
threads=${2:-2}
dsv3="dotnet src/DeepSeekV3.Cli/bin/Release/net10.0/dsv3.dll"
bench="dotnet bench/BigModelBench/bin/Release/net10.0/BigModelBench.dll"
mkdir -p "$work"
trap 'rm -rf "$work/v2lite-fp8" "$work/v2lite-q8_0.gguf"' EXIT
cat /proc/loadavg
$dsv3 init --preset v2-lite --dtype fp8 --seed 1 --out "$work/v2lite-fp8"
$dsv3 export-gguf --model "$work/v2lite-fp8" --type q8_0 --out "$work/v2lite-q8_0.gguf"
cp "$work/v2lite-fp8/config.json" "$work/v2lite-config.json"
$bench --engine llama --config "$work/v2lite-config.json" --gguf "$work/v2lite-q8_0.gguf" --name v2lite-q8_0 --threads "$threads"
$bench --engine ours --model "$work/v2lite-fp8" --name v2lite-fp8 --threads "$threads" || echo "our engine: see the message above"
