#!/bin/sh
# Unmodified programs on the preload shim: bench/preload.sh BUILD_DIR [--quick]
#
# Runs allocation-heavy programs that link nothing of kmem, each as every
# allocator in turn: kmem (LD_PRELOAD of BUILD_DIR/libkmem-preload.so, one
# malloc type per calling object, the default preload_types=library),
# glibc malloc (no preload), jemalloc, mimalloc and tcmalloc (LD_PRELOAD of
# the Debian library; a peer that is not installed is left out, with a
# note), and kmem again with KMEM_OPTIONS=preload_types=single (one type for
# everything), which is the baseline for the cost of per-library typing.
# The programs:
#
#   python   /usr/bin/python3 with PYTHONMALLOC=malloc on
#            bench/workloads/pywork.py (dicts, lists of small objects,
#            string building, a JSON round trip, sorting, object churn);
#   larson, xthread, tree, strings, large
#            BUILD_DIR/bench/mallocwork MODE (bench/workloads/mallocwork.c
#            says what each does; xthread is the only one with two
#            threads).
#
# Each run is timed from the shell (date +%s%N around the run) and its
# peak resident memory is read from /usr/bin/time -f %M.  Every program
# prints a digest of its results: a run that fails, or whose digest is not
# glibc's, is reported and makes the script fail (this holds in --quick
# too); a missed target does not.
#
# Method (as bench/uma.sh).  Runs are interleaved allocator by allocator
# (kmem, glibc, the peers, kmem-single, then the next program), one
# warm-up round that is not counted, then 5 counted rounds; odd rounds go
# through the allocators in the reverse order, so that drift favours none.
# Figures are medians of the 5 runs with the min-max range beside.
# Single-threaded programs are pinned to CPU 0; xthread is not, and its
# differences under 30% are noise on two shared cores.  "Best peer" is
# whichever of glibc, jemalloc, mimalloc and tcmalloc does best on that
# figure in this run.  The cost of per-library typing is the median, per
# program, of the ratio kmem / kmem-single within each round.
#
# --quick (the smoke run of `make check`): one run of each program at small
# sizes, no warm-up and no medians; not a measurement.
set -eu
build=${1:-build}
build=${build%/}
quick=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
prog=$build/bench/mallocwork
shim=$build/libkmem-preload.so
py=/usr/bin/python3
script=$here/workloads/pywork.py
for f in "$prog" "$shim"; do
	if [ ! -e "$f" ]; then
		echo "bench/preload.sh: $f is missing; run make first" >&2
		exit 1
	fi
done
if [ ! -x /usr/bin/time ]; then
	echo "bench/preload.sh: /usr/bin/time is missing (scripts/setup installs time)" >&2
	exit 1
fi
shim=$(cd "$(dirname "$shim")" && pwd)/$(basename "$shim")

if [ -n "$quick" ]; then
	warm=0 rounds=1 cscale=1 pyscale=3
else
	warm=1 rounds=5 cscale=16 pyscale=20
fi
works="larson xthread tree strings large"
[ -x "$py" ] && works="python $works"

# For python3 (harmless to the others).  The preload must be the last
# exec before the program: the shim takes itself out of LD_PRELOAD for the
# process's children.
export PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1

# shellcheck source=bench/peers.sh
. "$here/peers.sh"
whos="kmem $peers kmem-single"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/preload_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
res=$tmp/results # lines "FIGURE WORKLOAD WHO VALUE"
: >"$res"
bad=$tmp/bad # the runs that failed or gave a wrong result
: >"$bad"

# The environment assignments that make a program allocator $1.
assign() {
	case $1 in
	kmem) echo "LD_PRELOAD=$shim" ;;
	kmem-single) echo "LD_PRELOAD=$shim KMEM_OPTIONS=preload_types=single" ;;
	*) preload "$1" ;;
	esac
}

# measure WHO WORKLOAD ROUND KEEP: one run; "time", "rss" and the ratio's
# inputs to $res if KEEP is 1.
measure() {
	who=$1 w=$2 r=$3 keep=$4
	pin=$pin1
	case $w in
	python) set -- "$py" "$script" "$pyscale" ;;
	xthread) pin=""; set -- "$prog" "$w" "$cscale" ;;
	*) set -- "$prog" "$w" "$cscale" ;;
	esac
	out=$tmp/out.$w.$who
	t0=$(date +%s%N)
	# shellcheck disable=SC2046,SC2086
	if $pin /usr/bin/time -f '%e %M' -o "$tmp/time" env -u KMEM_OPTIONS \
	    $(assign "$who") "$@" >"$out" 2>"$tmp/err"; then
		rc=0
	else
		rc=$?
	fi
	t1=$(date +%s%N)
	if [ $rc != 0 ]; then
		echo "$w $who: exit status $rc: $(tail -3 "$tmp/err" | tr '\n' ' ')" >>"$bad"
		echo "bench/preload.sh: $w as $who failed (status $rc): $*" >&2
		tail -5 "$tmp/err" >&2
		return
	fi
	if [ "$who" != glibc ] && [ -f "$tmp/out.$w.glibc" ] &&
	    ! cmp -s "$out" "$tmp/out.$w.glibc"; then
		echo "$w $who: wrong result: $(head -c 200 "$out" | tr '\n' ' ') (glibc: $(head -c 200 "$tmp/out.$w.glibc" | tr '\n' ' '))" >>"$bad"
		echo "bench/preload.sh: $w as $who gives a result other than glibc's" >&2
	fi
	[ "$keep" = 1 ] || return 0
	echo "time $w $who $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }') $r" >>"$res"
	echo "rss $w $who $(tail -1 "$tmp/time" | awk '{ print $2 }') $r" >>"$res"
}

# glibc first in the first round: its digests are the reference.
round=0
while [ "$round" -lt $((warm + rounds)) ]; do
	keep=1
	[ "$round" -lt "$warm" ] && keep=0
	order=$whos
	[ $((round % 2)) = 1 ] && order=$(echo "$whos" | tr ' ' '\n' | sed '1!G;h;$!d' | tr '\n' ' ')
	for w in $works; do
		[ "$round" = 0 ] && measure glibc "$w" "$round" "$keep"
		for who in $order; do
			[ "$round" = 0 ] && [ "$who" = glibc ] && continue
			measure "$who" "$w" "$round" "$keep"
		done
	done
	round=$((round + 1))
done

# med FIGURE WORKLOAD WHO: "MEDIAN MIN MAX", or nothing.
med() {
	awk -v f="$1" -v w="$2" -v a="$3" '$1 == f && $2 == w && $3 == a { print $4 }' "$res" |
		sort -g | awk '{ v[NR] = $1 } END {
			if (NR == 0) exit
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print m, v[1], v[NR]
		}'
}
verdict() { # verdict VALUE TARGET: "met" if VALUE <= TARGET, "missed"
	awk -v v="$1" -v t="$2" 'BEGIN { print v <= t ? "met" : "missed" }'
}

# The medians, one line per workload and allocator: "WORKLOAD WHO TIME
# TMIN TMAX RSS_KB"; and the per-round library / single ratios' medians.
med_all=$tmp/med
: >"$med_all"
for w in $works; do
	for who in $whos; do
		t=$(med time "$w" "$who")
		m=$(med rss "$w" "$who")
		[ -n "$t" ] && [ -n "$m" ] && echo "$w $who $t ${m%% *}" >>"$med_all"
	done
	awk -v w="$w" '$1 == "time" && $2 == w && $3 == "kmem" { k[$5] = $4 }
		$1 == "time" && $2 == w && $3 == "kmem-single" { s[$5] = $4 }
		END { for (r in k) if (r in s) print "typing", w, "r", k[r] / s[r] }' \
	    "$res" >>"$res"
done

echo "## Programs on the preload shim"
echo
if [ -n "$missing" ]; then
	echo "Peers not installed, left out:$missing."
	echo
fi
if [ -n "$quick" ]; then
	echo "Quick smoke run: one run of each program at small sizes, no medians; not a measurement."
else
	echo "Median of $rounds runs interleaved after a warm-up round, min-max beside; python3 $pyscale rounds of bench/workloads/pywork.py, mallocwork at scale $cscale.  Single-threaded programs pinned to CPU 0; *xthread* (2 threads) is not, and its differences under 30% are noise.  *kmem*: the shim with a malloc type per calling object (preload_types=library); *kmem-single*: preload_types=single."
fi
echo

# ---- time -------------------------------------------------------------------

hdr="| program |"
sep="|---|"
for who in $whos; do hdr="$hdr $who |"; sep="$sep---:|"; done
echo "### Wall time, seconds"
echo
echo "$hdr best peer | kmem / best peer | kmem / glibc |"
echo "$sep---|---:|---:|"
# table FIELD: the rows of one figure; the last row is the geometric means.
# FIELD 3 is the time (with min-max from 4 and 5), 6 the peak RSS in KB.
table() {
	awk -v fld="$1" -v whos="$whos" -v peers=" $peers " -v runs="$rounds" \
	    -v works="$works" -v res="$tmp/geo.$1" '
		function cell(v, lo, hi) {
			if (fld == 6)
				return sprintf("%.1f", v * 1024 / 1e6)
			return runs > 1 ? sprintf("%.3f (%.3f-%.3f)", v, lo, hi) : sprintf("%.3f", v)
		}
		{ v[$1, $2] = $fld; lo[$1, $2] = $4; hi[$1, $2] = $5 }
		END {
			nw = split(works, W, " ")
			na = split(whos, A, " ")
			for (i = 1; i <= nw; i++) {
				w = W[i]
				if (!((w, "kmem") in v))
					continue
				row = "| " w (w == "xthread" ? " (2 threads)" : "") " |"
				best = ""
				for (j = 1; j <= na; j++) {
					a = A[j]
					if (!((w, a) in v)) {
						row = row " - |"
						continue
					}
					row = row " " cell(v[w, a], lo[w, a], hi[w, a]) " |"
					lg[a] += log(v[w, a]); ng[a]++
					if (index(peers, " " a " ") && (best == "" || v[w, a] < v[w, best]))
						best = a
				}
				k = v[w, "kmem"]
				if (fld == 6)
					row = row " " ((w, "jemalloc") in v ? sprintf("%.2f", k / v[w, "jemalloc"]) : "-") " |"
				else
					row = row sprintf(" %s | %.2f | %.2f |", best, k / v[w, best], k / v[w, "glibc"])
				print row
			}
			row = "| geometric mean |"
			best = ""
			for (j = 1; j <= na; j++) {
				a = A[j]
				if (ng[a] == 0) {
					row = row " - |"
					continue
				}
				g[a] = exp(lg[a] / ng[a])
				row = row " " (fld == 6 ? sprintf("%.1f", g[a] * 1024 / 1e6) : sprintf("%.3f", g[a])) " |"
				if (index(peers, " " a " ") && (best == "" || g[a] < g[best]))
					best = a
				print a, g[a] >res
			}
			if (fld == 6)
				row = row " " (ng["jemalloc"] ? sprintf("%.2f", g["kmem"] / g["jemalloc"]) : "-") " |"
			else
				row = row sprintf(" %s | %.2f | %.2f |", best, g["kmem"] / g[best], g["kmem"] / g["glibc"])
			print "best", best, g[best] >res
			print row
		}' "$med_all"
}
table 3
echo

# ---- memory -----------------------------------------------------------------

echo "### Peak resident memory, MB"
echo
echo "Maximum resident set size of the process (/usr/bin/time %M; MB of 10^6 bytes), median of the runs."
echo
echo "$hdr kmem / jemalloc |"
echo "$sep---:|"
table 6
echo

# ---- per-library typing -------------------------------------------------------

echo "### The cost of per-library typing: kmem (preload_types=library) / kmem-single"
echo
echo "| program | kmem, s | kmem-single, s | per-round ratio, median (min-max) |"
echo "|---|---:|---:|---:|"
for w in $works; do
	set -- $(med typing "$w" r)
	[ $# = 3 ] || continue
	echo "typing $w $1" >>"$tmp/typing"
	awk -v w="$w" -v r="$1" -v lo="$2" -v hi="$3" -v runs="$rounds" \
	    -v k="$(med time "$w" kmem | awk '{ print $1 }')" \
	    -v s="$(med time "$w" kmem-single | awk '{ print $1 }')" 'BEGIN {
		printf "| %s | %.3f | %.3f | %.3f%s |\n", w, k, s, r,
		    (runs > 1 ? sprintf(" (%.3f-%.3f)", lo, hi) : "")
	}'
done
typing=$(awk '{ l += log($3); n++ } END { if (n) printf "%.3f", exp(l / n) }' "$tmp/typing" 2>/dev/null || true)
echo "| geometric mean | | | $typing |"
echo

# ---- the targets --------------------------------------------------------------

gk() { awk -v a="$2" '$1 == a { print $2 }' "$tmp/geo.$1"; }
set -- $(awk '$1 == "best" { print $2, $3 }' "$tmp/geo.3")
tbest=$1 tbestv=$2
tk=$(gk 3 kmem)
tg=$(gk 3 glibc)
r1=$(awk -v k="$tk" -v b="$tbestv" 'BEGIN { printf "%.2f", k / b }')
r2=$(awk -v k="$tk" -v g="$tg" 'BEGIN { printf "%.2f", k / g }')
echo "Time, geometric mean over the $(echo "$works" | wc -w) programs: kmem $(printf '%.3f' "$tk") s = $r1 x the best peer ($tbest, $(printf '%.3f' "$tbestv") s); target <= 1.00: $(verdict "$r1" 1.0)."
echo
echo "Time, geometric mean: kmem = $r2 x glibc ($(printf '%.3f' "$tg") s); target <= 0.80: $(verdict "$r2" 0.8)."
echo
mk=$(gk 6 kmem)
mj=$(gk 6 jemalloc)
if [ -n "$mj" ]; then
	r3=$(awk -v k="$mk" -v j="$mj" 'BEGIN { printf "%.2f", k / j }')
	echo "Peak RSS, geometric mean: kmem $(awk -v k="$mk" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }') MB = $r3 x jemalloc ($(awk -v k="$mj" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }') MB); target <= 1.00: $(verdict "$r3" 1.0)."
else
	echo "Peak RSS against jemalloc: jemalloc is not installed, no verdict."
fi
echo
if grep -q '^python kmem ' "$med_all"; then
	set -- $(awk '$1 == "python" { print $2, $3 }' "$med_all" | awk -v peers=" $peers " '
		$1 == "kmem" { k = $2 }
		$1 == "glibc" { g = $2 }
		index(peers, " " $1 " ") && (b == "" || $2 < bv) { b = $1; bv = $2 }
		END { print k, b, bv, g }')
	r4=$(awk -v k="$1" -v b="$3" 'BEGIN { printf "%.2f", k / b }')
	echo "python3 (PYTHONMALLOC=malloc): kmem $(printf '%.3f' "$1") s = $r4 x the best peer ($2, $(printf '%.3f' "$3") s; glibc $(printf '%.3f' "$4") s, kmem / glibc $(awk -v k="$1" -v g="$4" 'BEGIN { printf "%.2f", k / g }')); target <= 1.00: $(verdict "$r4" 1.0)."
	echo
fi
if [ -n "$typing" ]; then
	echo "Per-library typing, geometric mean of the per-program medians: $typing x preload_types=single; target <= 1.05: $(verdict "$typing" 1.05)."
	echo
fi

if [ -s "$bad" ]; then
	echo "**Runs that failed or gave a result other than glibc's:**"
	echo
	sed 's/^/- /' "$bad"
	echo
	echo "bench/preload.sh: $(wc -l <"$bad") run(s) failed or gave a wrong result" >&2
	exit 1
fi
