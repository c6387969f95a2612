#!/bin/sh
# The cost of each debugging mode: bench/debug.sh BUILD_DIR [--quick]
#
# Runs BUILD_DIR/bench/kmalloc_bench --kmem --st 64 (kmalloc(64, M_BENCH)
# + kfree() on the type "bench") and BUILD_DIR/bench/uma_bench --kmem --st
# (uma_zalloc() + uma_zfree() on the 64-byte zone "bench64") under each
# debugging mode of kmem_debug(3), set in KMEM_OPTIONS, and prints a
# Markdown table of pairs per second beside the plain run:
#
#   plain                   no tunable (the baseline)
#   trash=1                 junk fill and check of free items
#   redzone=1               guards around kmalloc blocks (not zones)
#   memguard=bench|bench64  pages and a guard page per block and item
#   failure_rate=1000       every 1000th M_NOWAIT request fails; the
#                           programs run with --nowait, ask again on NULL,
#                           and are compared with a plain --nowait run;
#                           and once with M_WAITOK, which never fails but
#                           may still take a slower path
#
# Method (as bench/kmalloc.sh): one thread pinned to CPU 0 with taskset -c
# 0, a ring of 1000 live blocks; the runs of every mode are interleaved
# round by round (the order of the modes reversed every other round, so
# that drift favours none), one warm-up round that is not counted, then 5
# counted rounds; each figure is the median of its 5 runs with the min-max
# range beside it, and "x plain" the ratio of the medians.  Each mode runs
# for a number of pairs that keeps a run near half a second.
#
# --quick (the smoke run of `make check`): one short run of each, no
# warm-up and no medians.
set -eu
build=${1:-build}
build=${build%/}
quick=${2:-}
km=$build/bench/kmalloc_bench
um=$build/bench/uma_bench
for p in "$km" "$um"; do
	if [ ! -x "$p" ]; then
		echo "bench/debug.sh: $p is missing; run make first" >&2
		exit 1
	fi
done
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"

if [ -n "$quick" ]; then
	warm=0 rounds=1 div=20
else
	warm=1 rounds=5 div=1
fi

# The modes: "NAME|KMEM_OPTIONS|NOWAIT|KMALLOC_OPS|UMA_OPS|BASELINE", one a
# line; ';' stands for the '|' of memguard's list.
modes='plain||0|20000000|20000000|plain
trash=1|trash=1|0|3000000|4000000|plain
redzone=1|redzone=1|0|100000|20000000|plain
memguard=bench;bench64|memguard=bench;bench64|0|20000|20000|plain
plain, M_NOWAIT||1|20000000|20000000|plain, M_NOWAIT
failure_rate=1000, M_NOWAIT|failure_rate=1000|1|10000000|20000000|plain, M_NOWAIT
failure_rate=1000, M_WAITOK|failure_rate=1000|0|10000000|20000000|plain'
nmodes=$(echo "$modes" | wc -l)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/debug_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
res=$tmp/results # lines "PROG<TAB>MODE<TAB>VALUE"
: >"$res"

# field LINE N: the Nth field of a mode line.
field() {
	echo "$1" | cut -d'|' -f"$2" | tr ';' '|'
}

# one PROG LINE: runs one mode of one program; prints pairs/s.
one() {
	prog=$1
	opts=$(field "$2" 2)
	nowait=""
	[ "$(field "$2" 3)" = 1 ] && nowait=--nowait
	if [ "$prog" = kmalloc ]; then
		ops=$(($(field "$2" 4) / div))
		# shellcheck disable=SC2086
		KMEM_OPTIONS=$opts $pin "$km" --kmem $nowait --st 64 "$ops"
	else
		ops=$(($(field "$2" 5) / div))
		# shellcheck disable=SC2086
		KMEM_OPTIONS=$opts $pin "$um" --kmem $nowait --st "$ops"
	fi
}

round=0
while [ "$round" -lt $((warm + rounds)) ]; do
	i=1
	while [ "$i" -le "$nmodes" ]; do
		n=$i
		[ $((round % 2)) = 1 ] && n=$((nmodes + 1 - i))
		line=$(echo "$modes" | sed -n "${n}p")
		for prog in kmalloc uma; do
			if ! v=$(one "$prog" "$line"); then
				echo "bench/debug.sh: $prog in mode $(field "$line" 1) failed" >&2
				exit 1
			fi
			[ "$round" -ge "$warm" ] &&
			    printf '%s\t%s\t%s\n' "$prog" "$(field "$line" 1)" "$v" >>"$res"
		done
		i=$((i + 1))
	done
	round=$((round + 1))
done

# stats PROG MODE: "MEDIAN MIN MAX" of its runs.
stats() {
	awk -F '\t' -v p="$1" -v m="$2" '$1 == p && $2 == m { print $3 }' "$res" |
		sort -g | awk '{ v[NR] = $1 } END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print m, v[1], v[NR]
		}'
}

echo "## Debugging modes: the cost of each against the plain run"
echo
if [ -n "$quick" ]; then
	echo "Quick smoke run: one short run per mode, no medians; not a measurement."
else
	echo "One thread pinned to CPU 0, a ring of 1000 live blocks; median of $rounds runs interleaved after a warm-up round, min-max beside; *x plain*: the ratio of the medians to the baseline named."
fi
echo
echo "*kmalloc*: \`kmalloc(64, M_BENCH, flags)\` + \`kfree()\` (type \`bench\`); *uma*: \`uma_zalloc(zone, flags)\` + \`uma_zfree()\` (64-byte zone \`bench64\`); Mpairs/s."
echo
echo "| mode (KMEM_OPTIONS) | kmalloc | min-max | x plain | uma | min-max | x plain | baseline |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
echo "$modes" | while IFS= read -r line; do
	name=$(field "$line" 1)
	base=$(field "$line" 6)
	# A '|' in a cell is escaped (GitHub tables).
	row="| \`$(echo "$name" | sed 's/|/\\|/g')\` |"
	for prog in kmalloc uma; do
		# shellcheck disable=SC2046
		set -- $(stats "$prog" "$name") $(stats "$prog" "$base")
		row="$row $(awk -v m="$1" -v lo="$2" -v hi="$3" -v b="$4" -v runs="$rounds" 'BEGIN {
			r = runs > 1 ? sprintf("%.3g-%.3g", lo / 1e6, hi / 1e6) : "-"
			printf "%.3g | %s | %.3g |", m / 1e6, r, m / b
		}')"
	done
	echo "$row $base |"
done
echo
echo "redzone=1 guards kmalloc blocks only: zones run as in the plain build.  failure_rate counts M_NOWAIT requests only; with M_WAITOK nothing fails, but kmalloc() is sent to its slow path all the same (zones keep their fast path for M_WAITOK).  With --nowait a failed request is asked again, so every pair counted succeeded.  memguard maps, protects and unmaps pages for every pair."
echo
