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
