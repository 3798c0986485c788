#!/usr/bin/env bash
# main.sh - build shadowmmu (release) and run the main job: the `mix`
# workload of the guest-OS model (fork with copy-on-write, short-lived
# processes, context switches, a large working set, mmap churn) run through
# the shadow MMU with every expectation checked, then the MMU summary.
set -euo pipefail
cd "$(dirname "$0")/.."
# An empty SMMU_SANITIZE: a build/ left configured with sanitizers would skew the timings.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSMMU_SANITIZE= >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
./build/shadowmmu version
./build/shadowmmu run mix
