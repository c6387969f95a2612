#!/bin/sh
# demo.sh -- `make demo`: a leak hunt with kmemstat, as on the FreeBSD router
# whose kernel ran out of kmem_map because libalias leaked, then the map
# filling up without a crash (examples/map_demo).
#
#   a. examples/router runs in the background: a limited mbuf_cluster zone
#      that refuses packets in bursts, a connection table that comes and
#      goes, a route cache flushed every 5 s, scratch buffers, and aliasing
#      links of which a few a second never expire;
#   b. kmemstat -m, -z and -s read it live (vmstat -m, vmstat -z, the map);
#   c. kmemstat --leaks samples it for 12 s and must name libalias, and
#      none of the types and zones that only fluctuate, plateau or fall;
#   d. the same samples drawn in an SVG file;
#   e. kill -9, then kmemstat -M reads the statistics file the dead
#      process left: libalias is there, larger than in b.
#   f. examples/map_demo.
#
# usage: sh scripts/demo.sh [BUILD_DIR]   (default: build)
# Uses BUILD_DIR/examples/router, BUILD_DIR/tools/kmemstat (or $KMEMSTAT)
# and BUILD_DIR/examples/map_demo; leaves its outputs in BUILD_DIR/demo.
# Takes about 25 s.  Exits 0 when every step worked, 1 when one failed.
set -u

BUILD=${1:-build}
ROUTER=$BUILD/examples/router
MAPDEMO=$BUILD/examples/map_demo
KMEMSTAT=${KMEMSTAT:-$BUILD/tools/kmemstat}
OUT=$BUILD/demo
SAMPLES=12
LEAK=libalias
NOT_LEAKS="conntab rtcache temp ifnet mbuf mbuf_cluster"

# The router's statistics file is to be at the default place.
unset KMEM_OPTIONS

start=$(date +%s)
pid=""

step() {
	printf '\n=== %s\n\n' "$*"
}

fail() {
	printf '\ndemo: FAILED: %s\n' "$*" >&2
	exit 1
}

cleanup() {
	if [ -n "$pid" ]; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rm -f "/dev/shm/kmem.$pid"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The "type" of every entry of the "leaks" array of kmemstat --leaks --json,
# one a line.
leak_names() {
	awk '
	{ doc = doc $0 "\n" }
	END {
		i = index(doc, "\"leaks\"")
		if (i == 0)
			exit 1
		s = substr(doc, i + 7)
		i = index(s, "[")
		if (i == 0)
			exit 1
		s = substr(s, i + 1)
		depth = 1; instr = 0; esc = 0; arr = ""
		for (k = 1; k <= length(s) && depth > 0; k++) {
			c = substr(s, k, 1)
			if (instr) {
				if (esc) esc = 0
				else if (c == "\\") esc = 1
				else if (c == "\"") instr = 0
			} else if (c == "\"") instr = 1
			else if (c == "[" || c == "{") depth++
			else if (c == "]" || c == "}") depth--
			if (depth > 0)
				arr = arr c
		}
		while (match(arr, /"type"[ \t\n]*:[ \t\n]*"[^"]*"/)) {
			m = substr(arr, RSTART, RLENGTH)
			sub(/^"type"[ \t\n]*:[ \t\n]*"/, "", m)
			sub(/"$/, "", m)
			print m
			arr = substr(arr, RSTART + RLENGTH)
		}
	}' "$1"
}

# InUse of a malloc type in kmemstat -m output (vmstat -m columns).
inuse() {
	awk -v t="$1" '$1 == t { print $2; exit }' "$2"
}

[ -x "$ROUTER" ] || fail "$ROUTER is not built (make build)"
[ -x "$KMEMSTAT" ] || fail "$KMEMSTAT is not built: the demo needs kmemstat (tools/kmemstat.c)"
mkdir -p "$OUT" || fail "cannot make $OUT"
rm -f "$OUT/router.svg" "$OUT/router.log" "$OUT"/leaks.*

step "a. A router that leaks: examples/router in the background"
"$ROUTER" -t 60 >"$OUT/router.log" 2>&1 &
pid=$!
n=0
while [ ! -s "/dev/shm/kmem.$pid" ]; do
	kill -0 "$pid" 2>/dev/null || fail "the router exited: $(cat "$OUT/router.log")"
	n=$((n + 1))
	[ $n -le 100 ] || fail "no statistics file /dev/shm/kmem.$pid after 10 s"
	sleep 0.1
done
head -n 1 "$OUT/router.log"
echo "statistics file: /dev/shm/kmem.$pid; its lines go to $OUT/router.log"
echo "zones: mbuf, mbuf_cluster (limit 512, bursts of 1024 packets every 3 s)"
echo "types: conntab (comes and goes), libalias (NAT links), rtcache (flushed"
echo "       every 5 s), temp (scratch buffers), ifnet (fixed)"
sleep 4
kill -0 "$pid" 2>/dev/null || fail "the router died: $(cat "$OUT/router.log")"
grep -v '^kmem:' "$OUT/router.log" | tail -n 2
grep '^kmem:' "$OUT/router.log" | head -n 2

step "b. kmemstat -p $pid -m: its malloc types, as vmstat -m"
"$KMEMSTAT" -p "$pid" -m >"$OUT/live-m.txt" || fail "kmemstat -p $pid -m"
cat "$OUT/live-m.txt"
step "   kmemstat -p $pid -z: its zones, as vmstat -z"
"$KMEMSTAT" -p "$pid" -z >"$OUT/live-z.txt" || fail "kmemstat -p $pid -z"
# The zones never used (most kmalloc sizes) are left out here; the whole
# table is in the file.
awk -F, 'NF < 8 || $5 + 0 > 0' "$OUT/live-z.txt"
echo "(zones never used left out; all of them: $OUT/live-z.txt)"
refused=$(awk -F, '$1 ~ /^ *mbuf_cluster:/ { print $6 + 0; exit }' "$OUT/live-z.txt")
[ "${refused:-0}" -gt 0 ] ||
    fail "kmemstat -z shows no failures of mbuf_cluster at its limit"
echo "check: mbuf_cluster refused $refused packets at its limit (FAIL): ok"
step "   kmemstat -p $pid -s: where its kmem map is"
"$KMEMSTAT" -p "$pid" -s || fail "kmemstat -p $pid -s"
live_inuse=$(inuse "$LEAK" "$OUT/live-m.txt")
[ -n "$live_inuse" ] || fail "kmemstat -m shows no $LEAK"

step "c. kmemstat -p $pid --leaks -w 1 -c $SAMPLES: which type leaks? ($SAMPLES s)"
# The JSON verdict, to check, from a second reader over the same seconds.
"$KMEMSTAT" -p "$pid" --leaks --json -w 1 -c "$SAMPLES" \
    >"$OUT/leaks.json" 2>"$OUT/leaks.json.err" &
jpid=$!
t0=$(date +%s)
{
	"$KMEMSTAT" -p "$pid" --leaks --plot "$OUT/router.svg" -w 1 -c "$SAMPLES" 2>&1
	echo $? >"$OUT/leaks.rc"
} | tee "$OUT/leaks.txt"
if [ "$(cat "$OUT/leaks.rc")" != 0 ]; then
	if grep -q -- "--leaks: not built" "$OUT/leaks.txt"; then
		fail "this kmemstat has no --leaks (tools/kmemstat.c)"
	fi
	if [ $(($(date +%s) - t0)) -gt 2 ]; then
		fail "kmemstat --leaks --plot"
	fi
	# This kmemstat takes --leaks and --plot one at a time: plot in the
	# background over the same seconds.
	echo "(--leaks and --plot one at a time)"
	"$KMEMSTAT" -p "$pid" --plot "$OUT/router.svg" -w 1 -c "$SAMPLES" \
	    >"$OUT/plot.txt" 2>&1 &
	plotpid=$!
	"$KMEMSTAT" -p "$pid" --leaks -w 1 -c "$SAMPLES" >"$OUT/leaks.txt" 2>&1 ||
	    fail "kmemstat --leaks: $(cat "$OUT/leaks.txt")"
	cat "$OUT/leaks.txt"
	wait "$plotpid" || fail "kmemstat --plot: $(cat "$OUT/plot.txt")"
fi
wait "$jpid" || fail "kmemstat --leaks --json: $(cat "$OUT/leaks.json.err")"
leak_names "$OUT/leaks.json" >"$OUT/leaks.names" ||
    fail "no \"leaks\" array in $OUT/leaks.json"
grep -qx "$LEAK" "$OUT/leaks.names" ||
    fail "kmemstat --leaks did not name $LEAK (it named: $(tr '\n' ' ' <"$OUT/leaks.names"))"
grep -q "$LEAK" "$OUT/leaks.txt" || fail "the --leaks report does not show $LEAK"
for t in $NOT_LEAKS; do
	if grep -qx "$t" "$OUT/leaks.names"; then
		fail "kmemstat --leaks named $t, which only fluctuates or plateaus"
	fi
done
echo
echo "check: --leaks named $LEAK; not $(echo "$NOT_LEAKS" | sed 's/ /, /g'): ok"
others=$(grep -vx "$LEAK" "$OUT/leaks.names" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
if [ -n "$others" ]; then
	echo "(also named: $others -- kmem's zones that serve $LEAK's"
	echo " blocks grow with it: vmstat -z counts the same bytes again)"
fi

step "d. The same samples, drawn"
[ -s "$OUT/router.svg" ] || fail "no plot in $OUT/router.svg"
grep -q "$LEAK" "$OUT/router.svg" || fail "$OUT/router.svg does not show $LEAK"
echo "plot: $(cd "$OUT" && pwd)/router.svg ($LEAK drawn as the suspected leak)"

step "e. kill -9 $pid; kmemstat -M /dev/shm/kmem.$pid -m: post mortem"
tail -n 1 "$OUT/router.log"
kill -9 "$pid" || fail "kill -9 $pid"
wait "$pid" 2>/dev/null
echo "killed; the statistics file survives:"
ls -l "/dev/shm/kmem.$pid" || fail "no /dev/shm/kmem.$pid after kill -9"
echo
"$KMEMSTAT" -M "/dev/shm/kmem.$pid" -m >"$OUT/dead-m.txt" ||
    fail "kmemstat -M /dev/shm/kmem.$pid -m"
cat "$OUT/dead-m.txt"
dead_inuse=$(inuse "$LEAK" "$OUT/dead-m.txt")
[ -n "$dead_inuse" ] || fail "the dead router's file shows no $LEAK"
[ "$dead_inuse" -gt "$live_inuse" ] ||
    fail "$LEAK: $dead_inuse in use at the end, $live_inuse at step b"
echo
echo "check: $LEAK held $live_inuse links at step b and $dead_inuse when the router died: ok"
rm -f "/dev/shm/kmem.$pid"
pid=""

if [ -x "$MAPDEMO" ]; then
	step "f. The map filling up, and nobody crashing: examples/map_demo"
	"$MAPDEMO" || fail "map_demo"
fi

printf '\ndemo: every step passed in %ds\n' $(($(date +%s) - start))
