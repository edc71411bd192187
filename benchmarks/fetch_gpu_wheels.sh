#!/usr/bin/env bash
# Download the wheels of benchmarks/gpu_wheels.txt for a Python 3.12 x86_64 Linux GPU machine
# into benchmarks/gpu_wheels/ (run where pip's index is reachable; the GPU machine has none).
# antlr4-python3-runtime 4.9.3 (Hydra's parser runtime) exists only as a source archive: it is
# built into a pure-Python wheel here.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf gpu_wheels && mkdir gpu_wheels
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
mapfile -t PINS < <(grep -v '^#' gpu_wheels.txt | grep -v '^antlr4' | sed '/^$/d')
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]}" -d gpu_wheels "${PINS[@]}"
python3 -m pip wheel -q --no-deps -w gpu_wheels "$(grep '^antlr4' gpu_wheels.txt)"
echo "$(ls gpu_wheels | wc -l) wheels, $(du -sh gpu_wheels | cut -f1), in benchmarks/gpu_wheels/"
