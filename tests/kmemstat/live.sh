#!/bin/sh
# kmemstat(1) on a live kmem process (-p), then on the statistics file it
# leaves when it is killed (-M), then on a process that exited normally.
#
# Usage: live.sh KMEMSTAT LIVE
set -u
kmemstat=$1
live=$2
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export TZ=UTC LC_ALL=C
failed=0
row='       kslive     3     1K        3  112'

fail() {
	echo "kmemstat live: $*" >&2
	failed=1
}

. "$(dirname "$0")/lib.sh"

ks_start "$live"
"$kmemstat" -p "$pid" -m > "$tmp/m" 2> "$tmp/err" || fail "-p $pid -m: $(cat "$tmp/err")"
grep -qx -- "$row" "$tmp/m" || fail "-p $pid -m: no row '$row' in: $(cat "$tmp/m")"
"$kmemstat" -p "$pid" -s > "$tmp/s" 2> "$tmp/err" || fail "-p $pid -s: $(cat "$tmp/err")"
grep -q "^kmem map of pid $pid (.*), running, alive$" "$tmp/s" || fail "-p $pid -s: header: $(head -1 "$tmp/s")"
"$kmemstat" -p "$pid" -m -z -s --json -c 2 -w 0.05 > "$tmp/j" 2> "$tmp/err" || fail "-p $pid --json: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/j")" -eq 2 ] || fail "-p $pid --json -c 2: not two documents"
python3 - "$tmp/j" "$pid" <<'PY' || fail "-p $pid --json: contents"
import json, sys
for line in open(sys.argv[1]):
    doc = json.loads(line)
    t = [m for m in doc["malloc-statistics"]["memory"] if m["type"] == "kslive"]
    assert t == [{"type": "kslive", "in-use": 3, "memory-use": 1, "requests": 3,
                  "size": [112], "large": False}], t
    zones = {z["name"]: z for z in doc["memory-zone-statistics"]["zone"]}
    assert zones["112"]["malloc-backed"], zones.get("112")
    assert zones["112"]["used"] >= 3
    m = doc["kmem-map-statistics"]
    assert m["pid"] == int(sys.argv[2]) and m["live"] and m["state"] == "running"
    parts = ("malloc", "large", "zone-used", "zone-cached", "zone-slab-free",
             "direct", "submaps", "metadata", "free")
    assert sum(m[k] for k in parts) == m["kmem-size"], m
PY

# Killed: the file stays, with the last snapshot.
kill -9 "$pid"
wait "$pid" 2>/dev/null
exec 3>&-
dead=$pid
pid=
"$kmemstat" -M "$tmp/kmem.$dead" -m > "$tmp/m" 2> "$tmp/err" || fail "-M after kill: $(cat "$tmp/err")"
grep -qx -- "$row" "$tmp/m" || fail "-M after kill: no row '$row' in: $(cat "$tmp/m")"
"$kmemstat" -M "$tmp/kmem.$dead" -s > "$tmp/s" 2> "$tmp/err" || fail "-M after kill -s: $(cat "$tmp/err")"
grep -q "^kmem map of pid $dead (.*), running, process gone$" "$tmp/s" || fail "-M after kill -s: header: $(head -1 "$tmp/s")"
"$kmemstat" -p "$dead" -m > /dev/null 2> "$tmp/err"
[ $? -eq 1 ] && [ "$(cat "$tmp/err")" = "kmemstat: -p $dead: No such process or statistics file" ] ||
	fail "-p of a dead process: '$(cat "$tmp/err")'"

# A normal exit removes the file.
ks_start "$live"
exec 3>&-
wait "$pid"
gone=$pid
pid=
[ ! -e "$tmp/kmem.$gone" ] || fail "the file of a process that exited normally stayed"

if [ $failed -ne 0 ]; then
	echo "kmemstat live: FAILED" >&2
	exit 1
fi
echo "kmemstat live: as expected"
