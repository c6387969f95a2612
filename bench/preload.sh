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
#   sqlite   the sqlite3 shell on bench/workloads/sqlwork.sql, an
#            in-memory database of 10^5 orders with text memos, indexes,
#            joins, group by, a window sort, updates and deletes;
#   larson, prodcons, tree, strings, large, frag, threads, huge, thrash,
#   scratch
#            BUILD_DIR/bench/mallocwork MODE (bench/workloads/mallocwork.c
#            says what each models).
#
# Three figures per run: the wall time (date +%s%N around the run), the
# peak resident memory (/usr/bin/time -f %M, the child's ru_maxrss) and the
# final resident memory, which each program prints on its standard error
# as "final-rss KB" once it has freed what it frees (sqlite3 through its
# .shell command, which reads the shell's /proc/PID/statm).  Every program
# prints a result that is the same on every allocator: a run that fails,
# prints no final-rss line, or whose standard output is not glibc's is
# reported and makes the script fail (in --quick too).
#
# Method (as bench/uma.sh).  Runs are interleaved allocator by allocator
# (kmem, glibc, the peers, kmem-single, then the next program), one
# warm-up round that is not counted, then 5 counted rounds; odd rounds go
# through the allocators in the reverse order, so that drift favours none.
# Figures are medians of the 5 runs with the min-max range beside, and
# each median's ratio to mimalloc's (glibc's if mimalloc is not
# installed), with geometric means.  Single-threaded programs are pinned
# to CPU 0 (taskset -c 0); the threaded ones (THREADED below) are not,
# and their differences under 30% are noise on two shared cores.  The
# cost of per-library typing is the median, per program, of the ratio
# kmem / kmem-single within each round.
#
# The time ratios go to an SVG chart (bench/svgchart.awk), the peak memory
# ratios to a second one: docs/bench.svg and docs/bench-rss.svg, or with
# --quick BUILD_DIR/bench-quick.svg and BUILD_DIR/bench-quick-rss.svg.
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
sq=/usr/bin/sqlite3
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
	warm=0 rounds=1 cscale=1 pyscale=1 sqrows=2000
	svg=$build/bench-quick.svg svgrss=$build/bench-quick-rss.svg
else
	warm=1 rounds=5 cscale=16 pyscale=10 sqrows=100000
	svg=$(cd "$here/.." && pwd)/docs/bench.svg svgrss=${svg%.svg}-rss.svg
fi
works="larson prodcons tree strings large frag threads huge thrash scratch"
[ -x "$sq" ] && works="sqlite $works"
[ -x "$py" ] && works="python $works"
THREADED="larson prodcons threads thrash scratch"

# For python3 (harmless to the others).  The preload must be the last
# exec before the program: the shim takes itself out of LD_PRELOAD for the
# process's children.
export PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1

# shellcheck source=bench/peers.sh
. "$here/peers.sh"
whos="kmem $peers kmem-single"
ref=mimalloc
case " $peers " in *" mimalloc "*) ;; *) ref=glibc ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/preload_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
res=$tmp/results # lines "FIGURE WORKLOAD WHO VALUE ROUND"
: >"$res"
bad=$tmp/bad # the runs that failed or gave a wrong result
: >"$bad"

# sqlite3's script: the number of rows, the workload, then its resident
# memory on the standard error (.shell runs sh -c, whose parent is sqlite3).
cat >"$tmp/rss.sh" <<'EOF'
read -r size res rest <"/proc/$1/statm"
echo "final-rss $((res * $(getconf PAGESIZE) / 1024))" >&2
EOF
{
	echo "create table scale (rows integer); insert into scale values ($sqrows);"
	cat "$here/workloads/sqlwork.sql"
	echo ".shell sh $tmp/rss.sh \$PPID"
} >"$tmp/sqlwork.sql"

# The environment assignments that make a program allocator $1.
assign() {
	case $1 in
	kmem) echo "LD_PRELOAD=$shim" ;;
	kmem-single) echo "LD_PRELOAD=$shim KMEM_OPTIONS=preload_types=single" ;;
	*) preload "$1" ;;
	esac
}

# measure WHO WORKLOAD ROUND KEEP: one run; its figures to $res if KEEP
# is 1.
measure() {
	who=$1 w=$2 r=$3 keep=$4
	pin=$pin1
	case " $THREADED " in *" $w "*) pin="" ;; esac
	case $w in
	python) set -- "$py" "$here/workloads/pywork.py" "$pyscale" ;;
	sqlite) set -- "$sq" -bail -batch -init /dev/null :memory: ".read $tmp/sqlwork.sql" ;;
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
	frss=$(sed -n 's/^final-rss \([0-9][0-9]*\)$/\1/p' "$tmp/err" | tail -1)
	if [ -z "$frss" ]; then
		echo "$w $who: no \"final-rss KB\" line on the standard error" >>"$bad"
		echo "bench/preload.sh: $w as $who printed no final-rss line" >&2
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
	echo "frss $w $who $frss $r" >>"$res"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
# glibc first in the first round: its results are the reference.
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
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## Programs on the preload shim"
echo
if [ -n "$missing" ]; then
	echo "Peers not installed, left out:$missing."
	echo
fi
if [ -n "$quick" ]; then
	echo "Quick smoke run: one run of each program at small sizes, no medians; not a measurement."
else
	echo "Median of $rounds runs interleaved after a warm-up round, min-max beside, and the ratio of each median to $ref's; python3 $pyscale rounds of bench/workloads/pywork.py, sqlite3 $sqrows rows, mallocwork at scale $cscale."
fi
echo
echo "Single-threaded programs pinned to CPU 0; the threaded ones, marked *, are not pinned, and their differences under 30% are noise.  *kmem*: the shim with a malloc type per calling object (preload_types=library); *kmem-single*: preload_types=single."
echo
echo "Load average (1, 5, 15 min) at the start: $load0; at the end: $load1; $(($(date +%s) - start)) s of runs."
echo

report() { # report FIGURE [CHART]
	awk -f "$here/report.awk" -v fig="$1" -v works="$works" -v whos="$whos" \
	    -v ref="$ref" -v threaded="$THREADED" -v chart="${2:-}" "$res"
}

echo "### Wall time"
echo
report time "$tmp/chart.time"
echo
echo "### Peak resident memory"
echo
echo "Maximum resident set size of the process (/usr/bin/time %M), MB of 10^6 bytes."
echo
report rss "$tmp/chart.rss"
echo
echo "### Final resident memory"
echo
echo "Resident memory when the program has freed what it frees, just before its exit (/proc/self/statm), MB of 10^6 bytes."
echo
report frss
echo

# ---- the charts ---------------------------------------------------------------

what="median of $rounds runs"
[ -n "$quick" ] && what="one quick run, not a measurement"
note="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), Linux $(uname -r); * threaded, not pinned"
if [ -s "$tmp/chart.time" ]; then
	awk -f "$here/svgchart.awk" -v ref="$ref" -v note="$note" \
	    -v title="Wall time / $ref, $what (below 1: faster)" \
	    "$tmp/chart.time" >"$tmp/svg" && mv "$tmp/svg" "$svg"
	awk -f "$here/svgchart.awk" -v ref="$ref" -v note="$note" \
	    -v title="Peak resident memory / $ref, $what (below 1: less)" \
	    "$tmp/chart.rss" >"$tmp/svg" && mv "$tmp/svg" "$svgrss"
	echo "Charts of the ratios: $svg (time), $svgrss (peak resident memory)."
	echo
fi

# ---- per-library typing -------------------------------------------------------

awk '$1 == "time" && $3 == "kmem" { k[$2, $5] = $4 }
	$1 == "time" && $3 == "kmem-single" { s[$2, $5] = $4 }
	END {
		for (x in k)
			if (x in s) {
				split(x, p, SUBSEP)
				print "typing", p[1], "kmem/kmem-single", k[x] / s[x], p[2]
			}
	}' "$res" >"$tmp/typing"
if [ -s "$tmp/typing" ]; then
	echo "### The cost of per-library typing"
	echo
	echo "The ratio of the wall times kmem (preload_types=library) / kmem-single within each round."
	echo
	awk -f "$here/report.awk" -v fig=typing -v works="$works" \
	    -v whos=kmem/kmem-single -v threaded="$THREADED" -v values_only=1 \
	    "$tmp/typing"
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
