#!/bin/sh
# kmemstat --leaks and --plot on a live process (kmemstat/leaky.c) whose
# type ks_leak and zone ks_leakzone leak while ks_fluct fluctuates,
# ks_plateau fills to a plateau, ks_saw rises and falls and ks_churnzone
# goes up and down: exactly the two leaks are named, in text and JSON; the
# plot is a well-formed SVG naming the leak; a process that dies midway is
# judged on what was sampled; a dead process's file gives no verdict.
#
# Usage: leaks.sh KMEMSTAT LEAKY
set -u
kmemstat=$1
leaky=$2
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export TZ=UTC LC_ALL=C
failed=0

fail() {
	echo "kmemstat leaks: $*" >&2
	failed=1
}

. "$(dirname "$0")/lib.sh"

# kill9: the process dies at once, leaving its statistics file.
kill9() {
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	exec 3>&-
	dead=$pid
	pid=
}

ks_start "$leaky"
# The text with a plot, and JSON, from two runs at the same time (about 4 s).
"$kmemstat" -p "$pid" --leaks -w 0.2 -c 20 --plot "$tmp/plot.svg" > "$tmp/text" 2> "$tmp/text.err" &
tpid=$!
"$kmemstat" -p "$pid" --leaks --json -w 0.2 -c 20 > "$tmp/json" 2> "$tmp/json.err"
jrc=$?
wait $tpid
trc=$?

[ $trc -eq 0 ] || fail "--leaks --plot: exit $trc: $(cat "$tmp/text.err")"
[ -s "$tmp/text.err" ] && fail "--leaks --plot: stderr: $(cat "$tmp/text.err")"
grep -Eq "^pid $pid \(kmemstat_leaky\): 20 samples over [0-9.]+ s, [0-9]+ types and [0-9]+ zones\$" "$tmp/text" ||
	fail "--leaks: no header line in: $(cat "$tmp/text")"
grep -Eq '^Name +Kind +Rate +Confidence +InUse$' "$tmp/text" ||
	fail "--leaks: no table heading in: $(cat "$tmp/text")"
# The table: the two leaks, nothing else.
sed -n '/^Name /,/^leak/p' "$tmp/text" | sed '1d;$d' | awk '{ print $1, $2 }' > "$tmp/rows"
printf 'ks_leak type\nks_leakzone zone\n' > "$tmp/want"
cmp -s "$tmp/want" "$tmp/rows" || fail "--leaks: rows '$(cat "$tmp/rows")', not ks_leak and ks_leakzone: $(cat "$tmp/text")"
grep -Eq '^ks_leak +type +\+[0-9.]+K/s +0\.99[0-9] +[0-9.]+K$' "$tmp/text" ||
	fail "--leaks: the ks_leak row: $(cat "$tmp/text")"
tail -1 "$tmp/text" | grep -Eqx 'leaks suspected: type ks_leak, \+[0-9.]+K/s \(confidence 0\.99[0-9]\); zone ks_leakzone, \+[0-9.]+K/s \(confidence 0\.99[0-9]\)' ||
	fail "--leaks: verdict line: $(tail -1 "$tmp/text")"

[ $jrc -eq 0 ] || fail "--leaks --json: exit $jrc: $(cat "$tmp/json.err")"
[ "$(wc -l < "$tmp/json")" -eq 1 ] || fail "--leaks --json: not one line"
python3 - "$tmp/json" "$pid" <<'PY' || fail "--leaks --json: contents: $(cat "$tmp/json")"
import json, sys
doc = json.load(open(sys.argv[1]))
leaks = doc["leaks"]
assert [(l["type"], l["allocator"]) for l in leaks] == [
    ("ks_leak", "malloc"), ("ks_leakzone", "uma")], leaks
for l in leaks:
    assert set(l) >= {"type", "allocator", "rate", "confidence", "bytes"}, l
    assert 0.99 <= l["confidence"] <= 1 and isinstance(l["bytes"], int), l
# ks_leak: 4000 bytes a tick of 50 ms (80000/s); ks_leakzone: 8 x 192.
rate = {l["type"]: l["rate"] for l in leaks}
assert 40000 < rate["ks_leak"] < 100000, rate
assert 15000 < rate["ks_leakzone"] < 40000, rate
assert doc["pid"] == int(sys.argv[2]) and doc["command"] == "kmemstat_leaky"
assert doc["samples"] == 20 and doc["complete"] is True
assert 3.0 < doc["seconds"] < 10.0, doc["seconds"]
assert doc["types"] >= 4 and doc["zones"] >= 2
PY

# The plot: well-formed, the leak named and marked, the process named.
[ -s "$tmp/plot.svg" ] || fail "--plot: no file"
ls "$tmp" | grep -q 'plot\.svg\.' && fail "--plot: a temporary file stayed: $(ls "$tmp")"
if command -v xmllint > /dev/null 2>&1; then
	xmllint --noout "$tmp/plot.svg" || fail "--plot: not well-formed XML"
else
	python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$tmp/plot.svg" ||
		fail "--plot: not well-formed XML"
fi
for want in ks_leak 'ks_leakzone (zone)' 'suspected leak' ks_fluct "pid $pid (kmemstat_leaky)"; do
	grep -qF "$want" "$tmp/plot.svg" || fail "--plot: no '$want' in the SVG"
done

# --plot alone, to a file that cannot be written: at once, one line, 1.
"$kmemstat" -p "$pid" --plot "$tmp/nodir/x.svg" -w 0.2 -c 20 > "$tmp/out" 2> "$tmp/err"
rc=$?
[ $rc -eq 1 ] && [ "$(cat "$tmp/err")" = "kmemstat: --plot $tmp/nodir/x.svg: No such file or directory" ] ||
	fail "--plot to a missing directory: exit $rc, '$(cat "$tmp/err")'"

# The process dies midway: the samples taken are judged, and it says so.
"$kmemstat" -p "$pid" --leaks -w 0.1 -c 40 > "$tmp/text" 2> "$tmp/err" &
tpid=$!
sleep 2.5
kill9
wait $tpid
rc=$?
[ $rc -eq 0 ] || fail "--leaks, process killed midway: exit $rc: $(cat "$tmp/err")"
[ "$(cat "$tmp/err")" = "kmemstat: -p $dead: No such process or statistics file" ] ||
	fail "--leaks, process killed midway: stderr '$(cat "$tmp/err")'"
grep -Eq '^sampling stopped after [0-9]+ of 40 samples: the statistics could no longer be read; judged on those$' "$tmp/text" ||
	fail "--leaks, process killed midway: does not say so: $(cat "$tmp/text")"
tail -1 "$tmp/text" | grep -q '^leaks suspected: type ks_leak, .*; zone ks_leakzone, ' ||
	fail "--leaks, process killed midway: verdict: $(cat "$tmp/text")"

# Post mortem: one snapshot cannot show a trend; at once, one line, 1.
for mode in --leaks "--plot $tmp/pm.svg"; do
	# shellcheck disable=SC2086
	"$kmemstat" -M "$tmp/kmem.$dead" $mode -w 0.2 -c 20 > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ $rc -eq 1 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] &&
	    grep -q "^kmemstat: -M $tmp/kmem.$dead: the last snapshot of pid $dead (kmemstat_leaky), which is gone: one snapshot cannot show a trend" "$tmp/err" ||
		fail "-M of a dead process $mode: exit $rc, '$(cat "$tmp/err")' '$(cat "$tmp/out")'"
done
[ -e "$tmp/pm.svg" ] && fail "-M of a dead process --plot: wrote the file"
ls "$tmp" | grep -q 'pm\.svg\.' && fail "-M of a dead process --plot: a temporary file stayed"

if [ $failed -ne 0 ]; then
	echo "kmemstat leaks: FAILED" >&2
	exit 1
fi
echo "kmemstat leaks: as expected"
