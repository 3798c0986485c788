#!/usr/bin/env bash
# main.sh - build shadowmmu (release) and run the main job: the fork
# conformance trace (copy-on-write faults, write protection, unsync), with
# every expectation checked and the MMU summary printed.
set -euo pipefail
cd "$(dirname "$0")/.."
# An empty SMMU_SANITIZE: a build/ left configured with sanitizers would skew the timings.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSMMU_SANITIZE= >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
./build/shadowmmu version
./build/shadowmmu run tests/conformance/f-fork.trace
