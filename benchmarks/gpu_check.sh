#!/usr/bin/env bash
# The GPU path checked in one command: bash benchmarks/gpu_check.sh [--cpu] [--out DIR] [--budget S]
# (benchmarks/gpu_check.py says what it runs and what it writes; $OUT, when set, gets it all).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 benchmarks/gpu_check.py "$@"
