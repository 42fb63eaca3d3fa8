#!/usr/bin/env bash
# The main job on the bundled default: set up, build, create a small random DeepSeek-V3 checkpoint (the `small`
# preset, seed 0), print its summary and generate a few greedy tokens from it.
# (Replaced by the trained bundled model once it exists.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dotnet build src/DeepSeekV3.Cli -c Release -v q -nologo
dsv3() { dotnet "src/DeepSeekV3.Cli/bin/Release/net10.0/dsv3.dll" "$@"; }
model=artifacts/default-model
[ -f "$model/config.json" ] || dsv3 init --preset small --seed 0 --out "$model"
dsv3 info "$model"
dsv3 generate --model "$model" --tokens 0,100,200,300 --max-tokens 12
