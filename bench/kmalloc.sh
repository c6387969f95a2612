#!/bin/sh
# Typed malloc against general-purpose mallocs: bench/kmalloc.sh BUILD_DIR [--quick]
#
# Runs BUILD_DIR/bench/kmalloc_bench (see the top of bench/kmalloc_bench.c)
# as each allocator in turn: glibc malloc (no preload), jemalloc, mimalloc
# and tcmalloc (LD_PRELOAD of the Debian library; a peer whose library is
# not installed is left out, with a note), and kmem (--kmem:
# kmalloc(size, M_BENCH, M_WAITOK) + kfree(p, M_BENCH), linked statically).
# Prints Markdown tables:
#
#  1. fast path: callgrind instructions per free + allocate pair with 1000
#     live blocks, sizes 16 to 65536, and the calls kmem's pair makes;
#  2. the cost of the per-type statistics: pairs/s of kmem as built in
#     BUILD_DIR against kmem built with -DKMEM_BENCH_NO_TYPE_STATS=ON (in
#     BUILD_DIR-nostats, which this script configures and builds: the bench
#     program only), and the instructions per pair of both;
#  3. waste: resident bytes per requested byte with 200000 live blocks of
#     sizes uniform in 1..4096, and for kmem its own accounting beside.
#
# Method (as bench/uma.sh).  Timed runs are interleaved build by build, one
# warm-up round that is not counted, then 5 counted rounds; each figure is
# the median of its 5 runs with the min-max range beside it.  Instruction
# counts come from callgrind and are deterministic, so they are measured
# once, as the difference of two loop lengths (bench/instr.sh), less the
# benchmark loop's own instructions (bench/cgsplit.sh).  "Best peer" is
# whichever of the peers does best on that figure in this run.
#
# --quick (the smoke run of `make check`): one short run of each figure, no
# warm-up and no medians, and a single short callgrind measurement (kmem's,
# size 64).
set -eu
build=${1:-build}
build=${build%/}
quick=${2:-}
here=$(dirname "$0")
src=$(cd "$here/.." && pwd)
prog=$build/bench/kmalloc_bench
if [ ! -x "$prog" ]; then
	echo "bench/kmalloc.sh: $prog is missing; run make first" >&2
	exit 1
fi

if [ -n "$quick" ]; then
	warm=0 rounds=1
	st_ops=1000000 waste_n=20000
	cg_sizes=64
else
	warm=1 rounds=5
	st_ops=20000000 waste_n=200000
	cg_sizes="16 64 256 1024 4096 65536"
fi
cg_ops1=20000 cg_ops2=220000
ring=1000
[ -n "$quick" ] && cg_ops2=120000

# ---- the allocators -----------------------------------------------------------

# shellcheck source=bench/peers.sh
. "$(dirname "$0")/peers.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kmalloc_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
res=$tmp/results # lines "FIGURE WHO VALUE"
: >"$res"

# stats FIGURE WHO...: "WHO MEDIAN MIN MAX" for each WHO with values.
stats() {
	f=$1
	shift
	for w in "$@"; do
		awk -v f="$f" -v a="$w" '$1 == f && $2 == a { print $3 }' "$res" |
			sort -g | awk -v a="$w" '{ v[NR] = $1 } END {
				if (NR == 0) exit
				m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				print a, m, v[1], v[NR]
			}'
	done
}
verdict() { # verdict VALUE OP TARGET: "met" or "missed"
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
		ok = op == "le" ? v <= t : v >= t
		print ok ? "met" : "missed"
	}'
}

# ---- the build without type statistics ----------------------------------------

nostats=$build-nostats
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
if ! { cmake -S "$src" -B "$nostats" -DCMAKE_BUILD_TYPE="${btype:-RelWithDebInfo}" \
    ${cc:+-DCMAKE_C_COMPILER="$cc"} -DKMEM_BENCH_NO_TYPE_STATS=ON \
    -DKMEM_TESTS=OFF -DKMEM_EXAMPLES=OFF &&
    cmake --build "$nostats" -j "$(nproc 2>/dev/null || echo 2)" \
    --target bench_kmalloc_bench; } >"$tmp/build.log" 2>&1; then
	cat "$tmp/build.log" >&2
	echo "bench/kmalloc.sh: cannot build $nostats" >&2
	exit 1
fi
prog_ns=$nostats/bench/kmalloc_bench

echo "## Typed malloc: kmalloc + kfree against general-purpose mallocs"
echo
if [ -n "$missing" ]; then
	echo "Peers not installed, left out:$missing."
	echo
fi
if [ -n "$quick" ]; then
	echo "Quick smoke run: one run per figure, no medians; not a measurement."
else
	echo "Timed figures: median of $rounds runs interleaved after a warm-up round, min-max beside."
fi
echo

# ---- 1. fast path ------------------------------------------------------------

# cg ALLOC PROGRAM SIZE: "TOTAL LOOP CALLS CALLEES..." per pair.
cg() {
	loopfn=ring_malloc
	[ "$1" = kmem ] && loopfn=ring_kmalloc
	# shellcheck disable=SC2046,SC2086
	t=$(env $(preload "$1") sh "$here/instr.sh" "$2" $(kflag "$1") \
	    --instr "$3" "$ring" -- "$cg_ops1" "$cg_ops2")
	# shellcheck disable=SC2046,SC2086
	s=$(env $(preload "$1") sh "$here/cgsplit.sh" "$loopfn" "$2" \
	    $(kflag "$1") --instr "$3" "$ring" -- "$cg_ops1" "$cg_ops2")
	echo "$t $s"
}

echo "### 1. Fast path: instructions per kfree + kmalloc(size, M_BENCH, M_WAITOK) / free + malloc(size) pair"
echo
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind is not installed: skipped."
	echo
else
	cg_allocs=$allocs
	[ -n "$quick" ] && cg_allocs=kmem
	echo "callgrind, a ring of $ring live blocks, each pair frees the oldest and allocates one of the same size in its place; the difference of $cg_ops1 and $cg_ops2 pairs, less the benchmark loop's own instructions (argument set-up, ring bookkeeping, PLT stubs for the shared peers).  *calls*: every call made below kmalloc/kfree per pair (0.00: none)."
	echo
	hdr="| size |"
	sep="|---:|"
	for a in $cg_allocs; do hdr="$hdr $a |"; sep="$sep---:|"; done
	if [ -z "$quick" ]; then
		hdr="$hdr kmem x best peer | best peer |"
		sep="$sep---:|---|"
	fi
	echo "$hdr kmem loop | kmem calls per pair (callees) |"
	echo "$sep---:|---|"
	for size in $cg_sizes; do
		: >"$tmp/cgrow"
		for a in $cg_allocs; do
			echo "$a $(cg "$a" "$prog" "$size")" >>"$tmp/cgrow"
		done
		awk -v size="$size" -v peers=" $peers " -v res="$res" -v quick="$quick" '
			{
				a[NR] = $1; al[NR] = $2 - $3
				if ($1 == "kmem") {
					kl = $3; kc = $4; who = ""
					for (i = 5; i <= NF; i++) who = who (i > 5 ? ", " : "") $i
					k = NR
				}
				if (index(peers, " " $1 " ") && (best == "" || al[NR] < al[best]))
					best = NR
			}
			END {
				row = "| " size " |"
				for (i = 1; i <= NR; i++) {
					row = row sprintf(" %.1f |", al[i])
					print "cg" size, a[i], al[i] >>res
				}
				if (quick == "")
					row = row sprintf(" %.2f | %s |", al[k] / al[best], a[best])
				row = row sprintf(" %.1f | %.2f%s |", kl, kc,
				    who == "" ? "" : " (" who ")")
				print row
				print "cgcalls" size, "kmem", kc >>res
				if (best != "")
					print "cgbest" size, a[best], al[best] >>res
			}' "$tmp/cgrow"
	done
	echo
	k=$(awk '$1 == "cg64" && $2 == "kmem" { print $3 }' "$res")
	kc=$(awk '$1 == "cgcalls64" && $2 == "kmem" { print $3 }' "$res")
	bl=$(awk '$1 == "cgbest64" { print $2, $3 }' "$res")
	if [ -n "$bl" ]; then
		# shellcheck disable=SC2086
		set -- $bl
		r=$(awk -v k="$k" -v b="$2" 'BEGIN { printf "%.2f", k / b }')
		echo "kmem, size 64: $k instructions per pair = $r x the best peer ($1, $2); target <= 1.00: $(verdict "$r" le 1.0)."
	fi
	if awk -v c="$kc" 'BEGIN { exit !(c < 0.005) }'; then
		echo "kmem's pair at size 64 makes no call below kmalloc/kfree ($kc per pair): uma's fast path is inlined."
	else
		echo "kmem's pair at size 64 makes $kc calls per pair below kmalloc/kfree (see the callees)."
	fi
	echo
	if [ -z "$quick" ] && command -v callgrind_annotate >/dev/null 2>&1; then
		# Self instructions per pair by source file and function
		# (inlined code is charged to the file it comes from).
		for n in $cg_ops1 $cg_ops2; do
			valgrind --tool=callgrind --callgrind-out-file="$tmp/ann.$n" \
			    "$prog" --kmem --instr 64 "$ring" "$n" >/dev/null 2>&1
			callgrind_annotate --inclusive=no --threshold=100 "$tmp/ann.$n" |
				sed -n 's/^ *\([0-9][0-9,]*\) *\(([ 0-9.]*%)\)\{0,1\} *\([^ ]*:[^ ]*\).*/\3 \1/p' |
				tr -d , >"$tmp/fn.$n"
		done
		echo "Where kmem's pair goes at size 64 (callgrind_annotate, self instructions per pair by file:function; code inlined from uma_int.h and kmem_int.h is charged to those files):"
		echo
		echo "| file:function | instructions per pair |"
		echo "|---|---:|"
		awk -v d="$((cg_ops2 - cg_ops1))" '
			FNR == 1 { run++ }
			{ c[$1] += run == 1 ? -$2 : $2 }
			END { for (f in c) if (c[f] / d >= 0.05) printf "%s %.1f\n", f, c[f] / d }' \
			"$tmp/fn.$cg_ops1" "$tmp/fn.$cg_ops2" | sort -k2,2 -g -r |
			awk '{ sub(/^.*\//, "", $1); printf "| %s | %s |\n", $1, $2 }'
		echo
	fi
fi

# ---- timed runs, interleaved ---------------------------------------------------

round=0
while [ "$round" -lt $((warm + rounds)) ]; do
	keep=1
	[ "$round" -lt "$warm" ] && keep=0
	# Alternate which build goes first, so that drift favours neither.
	order="stats nostats"
	[ $((round % 2)) = 1 ] && order="nostats stats"
	for shape in 64 mix; do
		for b in $order; do
			p=$prog
			[ "$b" = nostats ] && p=$prog_ns
			v=$(run kmem "$p" "$pin1" --st "$shape" "$st_ops")
			[ $keep = 1 ] && echo "st$shape $b $v" >>"$res"
			eval "v_$b=\$v"
		done
		# shellcheck disable=SC2154
		[ $keep = 1 ] && awk -v s="$v_stats" -v n="$v_nostats" -v f="st$shape" \
		    'BEGIN { printf "%sratio r %.4f\n", f, s / n }' >>"$res"
	done
	for a in $allocs; do
		out=$(run "$a" "$prog" "$pin1" --waste "$waste_n")
		# shellcheck disable=SC2086
		set -- $out
		if [ $keep = 1 ]; then
			awk -v a="$a" -v q="$1" -v s="$2" -v l="$3" \
			    'BEGIN { printf "waste %s %.4f\nrss %s %d\n", a, (l - s) / q, a, l - s }' >>"$res"
			echo "req x $1" >>"$res"
			if [ "$a" = kmem ]; then
				awk -v q="$1" -v t="$4" -v z="$5" -v m="$6" 'BEGIN {
					printf "ktype x %d\nkzone x %d\nkmap x %d\n", t, z, m
					printf "ktyper x %.4f\nkzoner x %.4f\nkmapr x %.4f\n", t / q, z / q, m / q
				}' >>"$res"
			fi
		fi
	done
	round=$((round + 1))
done

# ---- 2. accounting cost ----------------------------------------------------------

echo "### 2. The cost of per-type statistics: kmem against kmem built with -DKMEM_BENCH_NO_TYPE_STATS=ON"
echo
echo "One thread pinned to CPU 0, a ring of $ring live blocks, $st_ops kfree + kmalloc pairs; *mix*: sizes uniform in 1..1024 (a fixed table).  The two builds run back to back in each round (alternating which goes first); the last column is the ratio within each round."
echo
echo "| size | with statistics, Mpairs/s | min-max | without, Mpairs/s | min-max | with / without (median of medians) | per-round ratio, median (min-max) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for shape in 64 mix; do
	# shellcheck disable=SC2046
	set -- $(stats "st$shape" stats) $(stats "st$shape" nostats) $(stats "st${shape}ratio" r)
	awk -v sh="$shape" -v sm="$2" -v slo="$3" -v shi="$4" -v nm="$6" -v nlo="$7" \
	    -v nhi="$8" -v rm="${10}" -v rlo="${11}" -v rhi="${12}" -v runs="$rounds" 'BEGIN {
		r1 = runs > 1 ? sprintf("%.1f-%.1f", slo / 1e6, shi / 1e6) : "-"
		r2 = runs > 1 ? sprintf("%.1f-%.1f", nlo / 1e6, nhi / 1e6) : "-"
		r3 = runs > 1 ? sprintf(" (%.3f-%.3f)", rlo, rhi) : ""
		printf "| %s | %.1f | %s | %.1f | %s | %.3f | %.3f%s |\n", sh, sm / 1e6,
		    r1, nm / 1e6, r2, sm / nm, rm, r3
	}'
	echo "st${shape} ratio $(awk -v a="$2" -v b="$6" 'BEGIN { printf "%.4f", a / b }')" >>"$res"
done
echo
# The no-stats build is a baseline only if it does less work per pair.
valid=1
if command -v valgrind >/dev/null 2>&1; then
	if [ -z "$quick" ]; then
		k=$(awk '$1 == "cg64" && $2 == "kmem" { print $3 }' "$res")
		# shellcheck disable=SC2046
		set -- $(cg kmem "$prog_ns" 64)
		n=$(awk -v t="$1" -v l="$2" 'BEGIN { printf "%.1f", t - l }')
		nc=$3
		shift 3
		echo "callgrind, size 64, instructions per pair less the loop: with statistics $k, without $n, difference $(awk -v a="$k" -v b="$n" 'BEGIN { printf "%.1f", a - b }'); calls per pair below kmalloc/kfree without statistics: $nc${1:+ ($*)}."
		echo
		if awk -v k="$k" -v n="$n" 'BEGIN { exit !(n > k) }'; then
			valid=0
			echo "**The build without statistics does more work per pair than the normal build, so it is no baseline: the ratios above do not measure the statistics' cost.**"
			echo
		fi
	else
		echo "callgrind comparison of the builds: skipped in the quick run."
		echo
	fi
fi
for shape in 64 mix; do
	r=$(awk -v f="st$shape" '$1 == f && $2 == "ratio" { print $3 }' "$res")
	v=$(verdict "$r" ge 0.95)
	[ $valid = 0 ] && v="no verdict (no valid baseline)"
	echo "size $shape: with statistics = $(awk -v r="$r" 'BEGIN { printf "%.3f", r }') x without; target >= 0.95: $v."
	echo
done

# ---- 3. waste -------------------------------------------------------------------

mb=1000000
req=$(stats req x | awk '{ print $2 }')
echo "### 3. Waste: $waste_n live blocks of sizes uniform in 1..4096 ($(awk -v r="$req" -v mb=$mb 'BEGIN { printf "%.1f", r / mb }') MB requested, fixed seed)"
echo
echo "Resident memory growth (RSS from /proc/self/statm, before the first allocation and with every block live and written over its requested size), per byte requested; MB of 10^6 bytes."
echo
echo "| allocator | RSS growth, MB | RSS / requested | min-max | x best peer |"
echo "|---|---:|---:|---:|---:|"
for a in $allocs; do
	echo "$(stats waste "$a") $(stats rss "$a" | awk '{ print $2 }')"
done | awk -v peers=" $peers " -v runs="$rounds" -v mb=$mb '
	NF == 5 { a[++n] = $1; m[n] = $2; lo[n] = $3; hi[n] = $4; rss[n] = $5
	  if (index(peers, " " $1 " ") && (best == "" || $2 < m[best])) best = n }
	END {
		for (i = 1; i <= n; i++) {
			rng = runs > 1 ? sprintf("%.3f-%.3f", lo[i], hi[i]) : "-"
			printf "| %s | %.1f | %.3f | %s | %.2f |\n", a[i], rss[i] / mb,
			    m[i], rng, best == "" ? 0 : m[i] / m[best]
		}
	}'
echo
if [ -n "$(stats ktype x)" ]; then
	echo "kmem's own accounting with the blocks live (memstat), per byte requested:"
	echo
	echo "| kmem | MB | per byte requested |"
	echo "|---|---:|---:|"
	for f in "ktype:bytes of type M_BENCH (each size rounded up to its class)" \
	    "kzone:kmalloc zones' items, (count + free) x rsize" \
	    "kmap:growth of kmem_map_size() (slab pages, slab headers, all metadata)"; do
		key=${f%%:*}
		echo "| ${f#*:} | $(stats "$key" x | awk -v mb=$mb '{ printf "%.1f", $2 / mb }') | $(stats "${key}r" x | awk '{ printf "%.3f", $2 }') |"
	done
	echo "| RSS growth (above) | $(stats rss kmem | awk -v mb=$mb '{ printf "%.1f", $2 / mb }') | $(stats waste kmem | awk '{ printf "%.3f", $2 }') |"
	echo
fi
