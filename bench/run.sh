#!/bin/sh
# Runs the benchmarks: bench/run.sh BUILD_DIR [--quick]
# --quick is the smoke run of `make check`: every program runs and prints its
# numbers; nothing is asserted about speed.
set -eu
build=${1:-build}
quick=${2:-}
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
echo "# kmem benchmarks"
echo
echo "machine: $(nproc) cores, ${cpu}, Linux $(uname -r)"
echo
# Single-threaded runs are pinned to one core.
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
for b in vmem_bench map_bench; do
	if [ -x "$build/bench/$b" ]; then
		$pin "$build/bench/$b" $quick
		echo
	else
		echo "bench/run.sh: $build/bench/$b is missing; run make first" >&2
		exit 1
	fi
done

# The work per vmem operation, in instructions (callgrind): flat means
# constant time in the number of live segments.
if [ -z "$quick" ] && command -v valgrind >/dev/null 2>&1; then
	echo "## vmem: instructions per operation (callgrind, instant fit)"
	echo
	echo "| live segments | instructions per free + alloc |"
	echo "|---:|---:|"
	for live in 10 1000 1000000; do
		i=$(sh "$(dirname "$0")/instr.sh" "$build/bench/vmem_bench" --instr "$live" -- 20000 120000)
		echo "| $live | $i |"
	done
	echo
fi

# UMA zones against glibc malloc, jemalloc, mimalloc and tcmalloc: fast
# path, throughput and memory (bench/uma.sh says how it measures).
sh "$(dirname "$0")/uma.sh" "$build" $quick

# Typed malloc against the same peers: fast path, the cost of per-type
# statistics and waste (bench/kmalloc.sh says how it measures).
sh "$(dirname "$0")/kmalloc.sh" "$build" $quick

# Unmodified programs on the preload shim against the same peers: python3
# and allocation-heavy C workloads (bench/preload.sh says how it measures).
sh "$(dirname "$0")/preload.sh" "$build" $quick

# The cost of each debugging mode (trash, redzone, memguard, failure
# injection) against the plain run (bench/debug.sh says how it measures).
sh "$(dirname "$0")/debug.sh" "$build" $quick
