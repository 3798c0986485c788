#!/usr/bin/env bash
# test.sh - build and run every test: once in a release build (optimised,
# as users run it), the threaded-vCPU test under ThreadSanitizer, and every
# test under AddressSanitizer + UndefinedBehaviorSanitizer with assertions
# on.  Exits non-zero if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() { # run_suite DIR [cmake args...]
	local dir=$1
	shift
	cmake -S . -B "$dir" "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
	ctest --test-dir "$dir" --output-on-failure -j"$jobs"
}

echo "== release build"
run_suite build-test-release -DCMAKE_BUILD_TYPE=Release
echo "== TSan build (vCPUs on threads)"
cmake -S . -B build-test-tsan -DCMAKE_BUILD_TYPE=Debug -DSMMU_SANITIZE=thread >/dev/null
cmake --build build-test-tsan -j"$jobs" --target test_threads >/dev/null
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	ctest --test-dir build-test-tsan -R '^test_threads$' --output-on-failure
echo "== ASan + UBSan build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-test-asan -DCMAKE_BUILD_TYPE=Debug -DSMMU_SANITIZE=address,undefined
