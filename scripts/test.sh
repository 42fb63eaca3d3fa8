#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: setup (idempotent), build, test.
set -uo pipefail
cd "$(dirname "$0")/.."
set -e
bash scripts/setup.sh
dotnet build DeepSeekV3.slnx -c Release -v q -nologo
set +e
dotnet test tests/DeepSeekV3.Tests/DeepSeekV3.Tests.csproj -c Release --no-build -nologo \
  --logger "console;verbosity=normal" --blame-hang-timeout 10m "$@" | tee artifacts/test.log
status=${PIPESTATUS[0]}
# The plain closing line CI reads ("N passed, N failed"), from the runner's own totals.
awk '/^ +Passed: +[0-9]+/{p=$2} /^ +Failed: +[0-9]+/{f=$2} /^ +Skipped: +[0-9]+/{s=$2}
     END{printf "%d passed, %d failed, %d skipped\n", p, f, s}' artifacts/test.log
exit "$status"
