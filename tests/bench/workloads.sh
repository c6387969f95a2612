#!/bin/sh
# The benchmark workloads and report scripts of bench/preload.sh:
# mallocwork's modes give the same digest on glibc and on the preload
# shim and print their final resident memory; bad command lines get one
# line naming what was wrong; bench/report.awk's medians, ranges, ratios
# and geometric means; bench/svgchart.awk's bars and its errors.
#
# Usage: workloads.sh MALLOCWORK SHIM SRCDIR
set -u
prog=$1
shim=$2
src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C
failed=0

fail() {
	echo "bench workloads: $*" >&2
	failed=1
}

# ---- mallocwork: bad command lines ------------------------------------------

modes="larson|prodcons|tree|strings|large|frag|threads|huge|thrash|scratch"
usage="usage: mallocwork $modes SCALE"

# bad WANT ARGS...: mallocwork ARGS exits 1 with the one line WANT.
bad() {
	want=$1
	shift
	"$prog" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 1 ] || fail "mallocwork $*: exit $rc, not 1"
	[ -s "$tmp/out" ] && fail "mallocwork $*: wrote to stdout: $(head -2 "$tmp/out")"
	printf '%s\n' "$want" >"$tmp/want"
	cmp -s "$tmp/want" "$tmp/err" || fail "mallocwork $*: stderr is \"$(cat "$tmp/err")\", not \"$want\""
}
bad "mallocwork: $usage"
bad "mallocwork: $usage" tree
bad "mallocwork: $usage" tree 1 2
bad "mallocwork: unknown mode \"forest\"; modes: $modes" forest 1
for s in 0 x 1x -1 "" 100001 99999999999999999999999; do
	bad "mallocwork: SCALE must be a whole number from 1 to 100000, not \"$s\"" tree "$s"
done

# ---- mallocwork: every mode, glibc and the shim -----------------------------

for m in $(echo "$modes" | tr '|' ' '); do
	for who in glibc kmem; do
		pre=""
		[ $who = kmem ] && pre="LD_PRELOAD=$shim"
		# shellcheck disable=SC2086
		env -u KMEM_OPTIONS $pre "$prog" "$m" 1 >"$tmp/$m.$who" 2>"$tmp/$m.$who.err"
		rc=$?
		[ $rc -eq 0 ] || fail "$m as $who: exit $rc: $(tail -2 "$tmp/$m.$who.err")"
		grep -Eqx "$m [0-9a-f]{16}" "$tmp/$m.$who" ||
			fail "$m as $who: no digest line: $(head -2 "$tmp/$m.$who")"
		kb=$(sed -n 's/^final-rss \([0-9][0-9]*\)$/\1/p' "$tmp/$m.$who.err")
		# Above 100 KiB and below 1 GiB: a number read from statm.
		[ -n "$kb" ] && [ "$kb" -gt 100 ] && [ "$kb" -lt 1048576 ] ||
			fail "$m as $who: no plausible final-rss line: $(cat "$tmp/$m.$who.err")"
	done
	cmp -s "$tmp/$m.glibc" "$tmp/$m.kmem" ||
		fail "$m: digest $(cat "$tmp/$m.kmem") on the shim, $(cat "$tmp/$m.glibc") on glibc"
done
# A larger scale does more work: another digest.
"$prog" tree 2 >"$tmp/tree2" 2>/dev/null
cmp -s "$tmp/tree2" "$tmp/tree.glibc" && fail "tree: scale 2 gives scale 1's digest"

# ---- report.awk ---------------------------------------------------------------

# Two workloads, three allocators; w2 is threaded; c has no w2 figure, so
# the geometric means are over w1 alone.
cat >"$tmp/res" <<'EOF2'
time w1 a 1.0 1
time w1 a 3.0 2
time w1 a 2.0 3
time w1 mimalloc 1.0 1
time w1 mimalloc 1.0 2
time w1 mimalloc 1.0 3
time w1 c 0.5 1
time w1 c 0.5 2
time w1 c 0.5 3
time w2 a 4.0 1
time w2 a 4.0 2
time w2 mimalloc 2.0 1
time w2 mimalloc 2.0 2
rss w1 a 1000 1
EOF2
awk -f "$src/bench/report.awk" -v fig=time -v works="w1 w2" \
    -v whos="a mimalloc c" -v ref=mimalloc -v threaded=w2 \
    -v chart="$tmp/chart" "$tmp/res" >"$tmp/report"
cat >"$tmp/want" <<'EOF2'
Median (min-max), s:

| workload | a | mimalloc | c |
|---|---:|---:|---:|
| w1 | 2.000 (1.000-3.000) | 1.000 (1.000-1.000) | 0.500 (0.500-0.500) |
| w2 * | 4.000 (4.000-4.000) | 2.000 (2.000-2.000) | - |
| geometric mean | 2.000 | 1.000 | 0.500 |

Ratio to mimalloc (below 1: less than mimalloc):

| workload | a | mimalloc | c |
|---|---:|---:|---:|
| w1 | 2.00 | 1.00 | 0.50 |
| w2 * | 2.00 | 1.00 | - |
| geometric mean | 2.00 | 1.00 | 0.50 |
EOF2
cmp -s "$tmp/want" "$tmp/report" || {
	fail "report.awk: the tables differ:"
	diff -u "$tmp/want" "$tmp/report" >&2
}
cat >"$tmp/want" <<'EOF2'
w1 a 2.0000
w1 mimalloc 1.0000
w1 c 0.5000
w2* a 2.0000
w2* mimalloc 1.0000
geo-mean a 2.0000
geo-mean mimalloc 1.0000
geo-mean c 0.5000
EOF2
cmp -s "$tmp/want" "$tmp/chart" || {
	fail "report.awk: the chart data differ:"
	diff -u "$tmp/want" "$tmp/chart" >&2
}
# Memory in MB of 10^6 bytes (KiB in the results); the values table only.
awk -f "$src/bench/report.awk" -v fig=rss -v works="w1" -v whos="a" \
    -v ref=a -v values_only=1 "$tmp/res" >"$tmp/report"
grep -qx '| w1 | 1.0 |' "$tmp/report" || fail "report.awk: rss: $(cat "$tmp/report")"
grep -q 'Ratio' "$tmp/report" && fail "report.awk: values_only printed the ratios"

# ---- svgchart.awk -------------------------------------------------------------

chart() {
	awk -f "$src/bench/svgchart.awk" -v ref=mimalloc -v title="T <&>" "$@"
}
chart "$tmp/chart" >"$tmp/svg" 2>"$tmp/err" || fail "svgchart: exit $?: $(cat "$tmp/err")"
head -1 "$tmp/svg" | grep -q '^<svg ' || fail "svgchart: no <svg> element"
tail -1 "$tmp/svg" | grep -qx '</svg>' || fail "svgchart: not closed"
# One bar per ratio but the reference's: a in 3 groups, c in 2.
n=$(grep -c '<rect x=.*<title>' "$tmp/svg")
[ "$n" = 5 ] || fail "svgchart: $n bars, not 5"
grep -q '<title>w1, a: 2.00 x mimalloc</title>' "$tmp/svg" || fail "svgchart: no bar for w1, a"
grep -q 'T &lt;&amp;&gt;' "$tmp/svg" || fail "svgchart: the title is not escaped"
# The bars of 2 and 0.5 are of one length, on either side of the line at 1.
h2=$(sed -n 's/.*height="\([0-9.]*\)" fill="[^"]*"><title>w1, a:.*/\1/p' "$tmp/svg")
h5=$(sed -n 's/.*height="\([0-9.]*\)" fill="[^"]*"><title>w1, c:.*/\1/p' "$tmp/svg")
[ -n "$h2" ] && [ "$h2" = "$h5" ] || fail "svgchart: bars of 2 and 1/2 are $h2 and $h5 high"
if command -v xmllint >/dev/null 2>&1; then
	xmllint --noout "$tmp/svg" 2>"$tmp/err" || fail "svgchart: not well-formed: $(head -3 "$tmp/err")"
fi

# chart_error WANT LINE: svgchart on LINE exits 1 with WANT.
chart_error() {
	printf '%s\n' "$2" >"$tmp/data"
	chart "$tmp/data" >"$tmp/svg" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 1 ] || fail "svgchart on \"$2\": exit $rc, not 1"
	printf '%s\n' "$1" >"$tmp/want"
	cmp -s "$tmp/want" "$tmp/err" || fail "svgchart on \"$2\": stderr is \"$(cat "$tmp/err")\", not \"$1\""
}
chart_error "svgchart: $tmp/data:1: want \"GROUP ALLOCATOR RATIO\", got \"w1 kmem\"" "w1 kmem"
chart_error "svgchart: $tmp/data:1: ratio \"fast\" is not a positive number" "w1 kmem fast"
chart_error "svgchart: $tmp/data:1: ratio \"0\" is not a positive number" "w1 kmem 0"
chart_error "svgchart: $tmp/data: no ratios to draw" "w1 mimalloc 1"

exit $failed
