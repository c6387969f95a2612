#!/bin/sh
# UMA zones against general-purpose mallocs: bench/uma.sh BUILD_DIR [--quick]
#
# Runs BUILD_DIR/bench/uma_bench (see the top of bench/uma_bench.c) as each
# allocator in turn: glibc malloc (no preload), jemalloc, mimalloc and
# tcmalloc (LD_PRELOAD of the Debian library; a peer whose library is not
# installed is left out, with a note), and kmem (--kmem: a zone of 64-byte
# items, linked statically).  Prints Markdown tables:
#
#  1. fast path: callgrind instructions per alloc + free pair with 1000 live
#     items, and the calls the allocator makes per pair;
#  2. throughput: pairs/s for one thread (pinned to CPU 0), two threads
#     (CPUs 0 and 1, each on its own items) and a producer/consumer pair;
#  3. resident memory with 10^6 live items and after freeing them.
#
# Method.  The machine is shared and noisy, so timed runs are interleaved
# allocator by allocator (A B C D E A B C D E ...): one warm-up round that
# is not counted, then 5 counted rounds; each figure is the median of its 5
# runs, with the min-max range beside it.  Instruction counts come from
# callgrind and are deterministic, so they are measured once, as the
# difference of two loop lengths (bench/instr.sh) so that start-up cancels.
# "Best peer" is whichever of the peers does best on that figure in this
# run; every allocator's figure is also shown as a ratio to it.
# Multi-threaded figures that differ by less than 30% are within the noise
# of a 2-core machine and are marked so.
#
# --quick (the smoke run of `make check`): one short run of each figure, no
# warm-up and no medians, and a single short callgrind measurement (kmem's).
set -eu
build=${1:-build}
quick=${2:-}
here=$(dirname "$0")
prog=$build/bench/uma_bench
if [ ! -x "$prog" ]; then
	echo "bench/uma.sh: $prog is missing; run make first" >&2
	exit 1
fi

if [ -n "$quick" ]; then
	warm=0 rounds=1
	st_ops=1000000 mt_ops=1000000 pc_ops=1000000
	cg_ops1=20000 cg_ops2=120000
else
	warm=1 rounds=5
	st_ops=30000000 mt_ops=30000000 pc_ops=10000000
	cg_ops1=200000 cg_ops2=1200000
fi
rss_items=1000000
ring=1000

# ---- the allocators -----------------------------------------------------------

# shellcheck source=bench/peers.sh
. "$(dirname "$0")/peers.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/uma_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
res=$tmp/results # lines "FIGURE ALLOCATOR VALUE"
: >"$res"

# stats FIGURE: "ALLOCATOR MEDIAN MIN MAX" per allocator, in table order.
stats() {
	for a in $allocs; do
		awk -v f="$1" -v a="$a" '$1 == f && $2 == a { print $3 }' "$res" |
			sort -g | awk -v a="$a" '{ v[NR] = $1 } END {
				if (NR == 0) exit
				m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				print a, m, v[1], v[NR]
			}'
	done
}

# table FIGURE BETTER SCALE DIGITS NOISE: one row per allocator, "median |
# min-max | x best peer".  BETTER is "high" or "low"; values are divided by
# SCALE and printed with DIGITS decimals; NOISE=1 marks ratios within 30%
# of the best peer as noise.  Also leaves "FIGURE best NAME VALUE" in $res.
table() {
	stats "$1" | awk -v fig="$1" -v better="$2" -v scale="$3" -v dig="$4" \
	    -v noise="$5" -v peers=" $peers " -v res="$res" -v runs="$rounds" '
		{ a[NR] = $1; m[NR] = $2; lo[NR] = $3; hi[NR] = $4 }
		index(peers, " " $1 " ") && (best == "" ||
		    (better == "high" ? $2 > m[best] : $2 < m[best])) { best = NR }
		END {
			if (best == "") exit
			print fig, "best", a[best], m[best] >>res
			for (i = 1; i <= NR; i++) {
				r = m[best] > 0 ? m[i] / m[best] : 0
				mark = ""
				if (noise && i != best && r > 1 / 1.3 && r < 1.3)
					mark = " (noise)"
				rng = runs > 1 ? sprintf("%.*f-%.*f", dig, lo[i] / scale, dig, hi[i] / scale) : "-"
				printf "| %s | %.*f | %s | %.2f%s |\n", a[i], dig,
				    m[i] / scale, rng, r, mark
			}
		}'
}
# median FIGURE ALLOCATOR
median() {
	stats "$1" | awk -v a="$2" '$1 == a { print $2 }'
}
best_of() {
	awk -v f="$1" '$1 == f && $2 == "best" { print $3 }' "$res"
}
verdict() { # verdict VALUE OP TARGET: "met" or "missed"
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
		ok = op == "le" ? v <= t : v >= t
		print ok ? "met" : "missed"
	}'
}

echo "## UMA zone against general-purpose mallocs (64-byte items)"
echo
if [ -n "$missing" ]; then
	echo "Peers not installed, left out:$missing."
	echo
fi
if [ -n "$quick" ]; then
	echo "Quick smoke run: one run per figure, no medians; not a measurement."
else
	echo "Timed figures: median of $rounds runs interleaved allocator by allocator after a warm-up round, min-max beside."
fi
echo

# ---- 1. fast path ------------------------------------------------------------

echo "### 1. Fast path: instructions per uma_zalloc + uma_zfree / malloc(64) + free pair"
echo
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind is not installed: skipped."
	echo
else
	echo "callgrind, a ring of $ring live items, each pair frees the oldest and allocates one in its place; the difference of $cg_ops1 and $cg_ops2 pairs.  *loop* is the benchmark loop's own share (argument set-up, ring bookkeeping, PLT stubs for the shared peers); *allocator* = total - loop, which is the figure compared.  *calls* counts every call made below the loop per pair (0.00: the pair runs without a single call)."
	echo
	echo "| allocator | total | loop | allocator | x best peer | calls per pair | most frequent callees |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	cg_allocs=$allocs
	[ -n "$quick" ] && cg_allocs=kmem
	for a in $cg_allocs; do
		loopfn=ring_malloc
		[ "$a" = kmem ] && loopfn=ring_zone
		# shellcheck disable=SC2046,SC2086
		total=$(env $(preload "$a") sh "$here/instr.sh" "$prog" $(kflag "$a") \
		    --instr "$ring" -- "$cg_ops1" "$cg_ops2")
		# shellcheck disable=SC2046,SC2086
		split=$(env $(preload "$a") sh "$here/cgsplit.sh" "$loopfn" "$prog" \
		    $(kflag "$a") --instr "$ring" -- "$cg_ops1" "$cg_ops2")
		echo "$a $total $split" >>"$tmp/cg"
	done
	awk -v peers=" $peers " -v res="$res" '
		{
			a[NR] = $1; tot[NR] = $2; loop[NR] = $3; calls[NR] = $4
			al[NR] = $2 - $3
			who = ""
			for (i = 5; i <= NF; i++) who = who (i > 5 ? ", " : "") $i
			callees[NR] = who == "" ? "-" : who
			if (index(peers, " " $1 " ") && (best == "" || al[NR] < al[best]))
				best = NR
		}
		END {
			for (i = 1; i <= NR; i++) {
				r = best == "" ? "-" : sprintf("%.2f", al[i] / al[best])
				printf "| %s | %.1f | %.1f | %.1f | %s | %.2f | %s |\n",
				    a[i], tot[i], loop[i], al[i], r, calls[i], callees[i]
				print "cg", a[i], al[i] >>res
				print "cgcalls", a[i], calls[i] >>res
			}
			if (best != "")
				print "cg", "best", a[best], al[best] >>res
		}' "$tmp/cg"
	echo
	k=$(awk '$1 == "cg" && $2 == "kmem" { print $3 }' "$res")
	kc=$(awk '$1 == "cgcalls" && $2 == "kmem" { print $3 }' "$res")
	b=$(best_of cg)
	if [ -n "$b" ]; then
		bv=$(awk '$1 == "cg" && $2 == "best" { print $4 }' "$res")
		r=$(awk -v k="$k" -v b="$bv" 'BEGIN { printf "%.2f", k / b }')
		echo "kmem: $k instructions per pair = $r x the best peer ($b, $bv); target <= 0.80: $(verdict "$r" le 0.8)."
	fi
	if awk -v c="$kc" 'BEGIN { exit !(c < 0.005) }'; then
		echo "kmem's fast path makes no call ($kc calls per pair below uma_zalloc/uma_zfree)."
	else
		echo "kmem's fast path makes calls: $kc per pair below uma_zalloc/uma_zfree (see the callees)."
	fi
	echo
fi

# ---- timed runs, interleaved ---------------------------------------------------

round=0
while [ "$round" -lt $((warm + rounds)) ]; do
	keep=1
	[ "$round" -lt "$warm" ] && keep=0
	# One thread, then two, back to back: their ratio is taken within
	# the round, so that drifting load on the other CPU shows as spread
	# rather than skewing a ratio of medians taken at other times.
	for a in $allocs; do
		v=$(run "$a" "$prog" "$pin1" --st "$st_ops")
		w=$(run "$a" "$prog" "" --mt "$mt_ops")
		if [ $keep = 1 ]; then
			{
				echo "st $a $v"
				echo "mt $a $w"
				awk -v a="$a" -v s="$v" -v m="$w" \
				    'BEGIN { printf "scale %s %.4f\n", a, m / s }'
			} >>"$res"
		fi
	done
	for a in $allocs; do
		v=$(run "$a" "$prog" "" --pc "$pc_ops")
		[ $keep = 1 ] && echo "pc $a $v" >>"$res"
	done
	for a in $allocs; do
		out=$(run "$a" "$prog" "$pin1" --rss "$rss_items")
		# shellcheck disable=SC2086
		set -- $out
		if [ $keep = 1 ]; then
			{
				echo "rss0 $a $1"
				echo "rsslive $a $(($2 - $1))"
				echo "rssafter $a $(($3 - $1))"
				awk -v a="$a" -v s="$1" -v e="$3" \
				    'BEGIN { printf "rssratio %s %.4f\n", a, e / s }'
			} >>"$res"
		fi
	done
	round=$((round + 1))
done

# ---- 2. throughput ------------------------------------------------------------

echo "### 2. Throughput: alloc + free pairs per second, $ring live items per ring"
echo
echo "One thread, pinned to CPU 0 ($st_ops pairs):"
echo
echo "| allocator | Mpairs/s | min-max | x best peer |"
echo "|---|---:|---:|---:|"
table st high 1e6 1 0
echo
echo "Two threads on CPUs 0 and 1, each on its own ring ($mt_ops pairs each); aggregate pairs/s (ratios within 30% of the best peer are marked noise):"
echo
echo "| allocator | Mpairs/s | min-max | x best peer |"
echo "|---|---:|---:|---:|"
table mt high 1e6 1 1
echo
echo "2 threads / 1 thread, each ratio taken from two back-to-back runs of one round:"
echo
echo "| allocator | 2 threads / 1 thread | min-max |"
echo "|---|---:|---:|"
stats scale | awk -v runs="$rounds" '{
	rng = runs > 1 ? sprintf("%.2f-%.2f", $3, $4) : "-"
	printf "| %s | %.2f | %s |\n", $1, $2, rng
}'
echo
echo "Producer/consumer: CPU 0 allocates batches of 1000, CPU 1 frees them ($pc_ops pairs):"
echo
echo "| allocator | Mpairs/s | min-max | x best peer |"
echo "|---|---:|---:|---:|"
table pc high 1e6 2 1
echo
sc=$(awk -v r="$(median scale kmem)" 'BEGIN { printf "%.2f", r }')
echo "kmem: 2 threads / 1 thread = $sc; target >= 1.8: $(verdict "$sc" ge 1.8)."
echo

# ---- 3. memory ----------------------------------------------------------------

mb=1000000
echo "### 3. Resident memory, $rss_items live items of 64 bytes ($((rss_items * 64 / mb)) MB of payload)"
echo
echo "RSS from /proc/self/statm, in MB of 10^6 bytes: at the start, then above the start with the items live and after freeing them all (kmem: then uma_zone_reclaim(UMA_RECLAIM_DRAIN_CPU); the peers: no trim call)."
echo
echo "Above the start with the items live (payload ratio = that / 64 MB):"
echo
echo "| allocator | start | live, above start | min-max | x best peer | payload ratio |"
echo "|---|---:|---:|---:|---:|---:|"
table rsslive low "$mb" 1 0 | while IFS= read -r row; do
	a=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }')
	s=$(median rss0 "$a")
	l=$(median rsslive "$a")
	echo "$row" | awk -v s="$s" -v l="$l" -v mb="$mb" -v p="$((rss_items * 64))" \
	    -F'|' 'BEGIN { OFS = "|" } {
		printf "|%s| %.1f |%s|%s|%s| %.2f |\n", $2, s / mb, $3, $4, $5, l / p
	}'
done
echo
echo "After freeing everything:"
echo
echo "| allocator | above start | min-max | x best peer | after / start |"
echo "|---|---:|---:|---:|---:|"
table rssafter low "$mb" 1 0 | while IFS= read -r row; do
	a=$(echo "$row" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }')
	echo "$row" | awk -v r="$(median rssratio "$a")" '{ printf "%s %.2f |\n", $0, r }'
done
echo
kl=$(median rsslive kmem)
kr=$(awk -v r="$(median rssratio kmem)" 'BEGIN { printf "%.2f", r }')
lr=$(awk -v l="$kl" -v p="$((rss_items * 64))" 'BEGIN { printf "%.2f", l / p }')
echo "kmem: live = $lr x 64 MB; target <= 1.10: $(verdict "$lr" le 1.1).  After free + trim = $kr x the start; target <= 1.10: $(verdict "$kr" le 1.1)."
echo
