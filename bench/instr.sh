#!/bin/sh
# Instructions per operation from callgrind, as the difference of two loop
# lengths so that start-up and set-up cancel:
#   bench/instr.sh PROGRAM ARGS-BEFORE-OPS -- OPS1 OPS2
# prints the instructions per operation (a decimal number).
set -eu
args=""
while [ "$1" != "--" ]; do args="$args $1"; shift; done
shift
n1=$1 n2=$2
count() {
	# shellcheck disable=SC2086
	valgrind --tool=callgrind --callgrind-out-file=/dev/null $args "$1" 2>&1 |
		sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
c1=$(count "$n1")
c2=$(count "$n2")
[ -n "$c1" ] && [ -n "$c2" ] || { echo "instr.sh: callgrind gave no count" >&2; exit 1; }
awk -v a="$c1" -v b="$c2" -v x="$n1" -v y="$n2" 'BEGIN { printf "%.1f\n", (b - a) / (y - x) }'
