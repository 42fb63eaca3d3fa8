#!/usr/bin/env bash
# The main job on the bundled default: set up, build, describe the bundled model (models/default: a 17.7M-parameter
# DeepSeek-V3 trained by scripts/train-default-model.sh) and generate text from it, sampled and with MTP speculative
# decoding.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The build's log goes to a file and is shown only when the build fails, so the job's output is the model's.
if ! dotnet build src/DeepSeekV3.Cli -c Release -v q -nologo -clp:NoSummary > artifacts/build.log 2>&1; then
  cat artifacts/build.log >&2
  exit 1
fi
dsv3() { dotnet "src/DeepSeekV3.Cli/bin/Release/net10.0/dsv3.dll" "$@"; }
model=models/default
dsv3 info "$model"
echo
echo "== sampled: temperature 0.8, top-p 0.95, seed 1"
dsv3 generate --model "$model" --prompt "The jury said that" --max-tokens 60 --temperature 0.8 --top-p 0.95 --seed 1 --stream
dsv3 generate --model "$model" --prompt "春風" --max-tokens 40 --temperature 0.8 --top-p 0.95 --seed 1 --stream
echo
echo "== greedy, with MTP speculative decoding"
dsv3 generate --model "$model" --prompt "In the morning, the old man" --max-tokens 40 --speculative mtp --stream
