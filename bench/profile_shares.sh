#!/usr/bin/env bash
# profile_shares.sh - where `shadowmmu run` spends its instructions on a
# workload: the trace reader, the executor, the software vCPU and the
# shadow MMU, as shares of the run loop (exec_run), counted by callgrind.
#
#   bench/profile_shares.sh [-b BUILD_DIR] WORKLOAD [gen options...]
#   e.g. bench/profile_shares.sh pingpong --size 0.5
#
# Instruction counts, not time: they are repeatable on a shared machine
# and need no performance counters (this project's machines expose none
# to perf).  BUILD_DIR must hold a shadowmmu built with -g (default
# build-prof: cmake -DCMAKE_BUILD_TYPE=Release
# -DCMAKE_C_FLAGS_RELEASE="-O3 -DNDEBUG -g").  Needs valgrind.
#
# Attribution, by inclusive cost of the entry points:
#   reader   trace_read (binary decoding and record checks)
#   mmu      the vCPU's calls into the MMU: op_page_fault, op_cr3_changed,
#            op_cr_changed, op_invlpg, op_tlb_flush (src/vm.c)
#   vcpu     smmu_vcpu_* minus the MMU calls they make (TLB, shadow walks,
#            guest data access)
#   executor the rest of exec_run (dispatch, expectation checks)
set -euo pipefail

build=build-prof
if [ "${1:-}" = "-b" ]; then
	build=$2
	shift 2
fi
if [ $# -lt 1 ]; then
	sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
cd "$(dirname "$0")/.."
cli=$build/shadowmmu
[ -x "$cli" ] || { echo "profile_shares: no $cli (see the comment at the top)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "profile_shares: needs valgrind" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
workload=$1
shift
"$cli" gen "$workload" "$@" --binary -o "$tmp/trace.bin"
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$cli" run "$tmp/trace.bin" \
	>"$tmp/run.txt" 2>"$tmp/valgrind.txt"
callgrind_annotate --inclusive=yes --threshold=100 "$tmp/cg.out" 2>/dev/null >"$tmp/incl.txt"

awk -v workload="$workload" '
function cost(s) { gsub(",", "", s); return s + 0 }
{
	# "COST (PCT%)  FILE:FUNCTION [binary]": the percentage may hold a blank.
	name = ""
	for (i = 2; i <= NF; i++)
		if ($i ~ /^src\/.*:/) { name = $i; break }
	if (name == "") next
	split(name, a, ":"); fn = a[2]
	if (fn == "exec_run") total = cost($1)
	else if (fn == "trace_read") reader = cost($1)
	else if (fn ~ /^op_(page_fault|cr3_changed|cr_changed|invlpg|tlb_flush)$/ && a[1] == "src/vm.c") mmu += cost($1)
	else if (fn ~ /^smmu_vcpu_/ && a[1] == "src/vm.c") vcpu += cost($1)
}
END {
	if (!total) { print "profile_shares: no exec_run in the profile" > "/dev/stderr"; exit 1 }
	vcpu -= mmu
	exec = total - reader - vcpu - mmu
	printf "%s: %.0f M instructions in the run loop\n", workload, total / 1e6
	printf "  reader   %5.1f %%\n", 100 * reader / total
	printf "  executor %5.1f %%\n", 100 * exec / total
	printf "  vcpu     %5.1f %%\n", 100 * vcpu / total
	printf "  mmu      %5.1f %%\n", 100 * mmu / total
}' "$tmp/incl.txt"
