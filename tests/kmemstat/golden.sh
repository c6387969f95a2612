#!/bin/sh
# kmemstat(1) against golden outputs: writes the fixture statistics file
# (tests/stats/mkstatfile.c), runs kmemstat -M on it in every mode and
# compares each output byte for byte with tests/golden/NAME.  JSON outputs
# must also parse (python3 -m json.tool) and carry the escaped names.
#
# Usage: golden.sh KMEMSTAT MKSTATFILE GOLDEN_DIR
# With KMEMSTAT_UPDATE_GOLDEN=1 the outputs are written to GOLDEN_DIR
# instead (then read them before committing them).
set -u
kmemstat=$1
mkstatfile=$2
golden=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TZ=UTC LC_ALL=C
failed=0

fail() {
	echo "kmemstat golden: $*" >&2
	failed=1
}

"$mkstatfile" "$tmp/fixture" || { echo "kmemstat golden: mkstatfile failed" >&2; exit 1; }

# NAME ARGS...: one golden case.
case_() {
	name=$1
	shift
	"$kmemstat" -M "$tmp/fixture" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
	rc=$?
	if [ "${KMEMSTAT_UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$tmp/$name.out" "$golden/$name"
		echo "kmemstat golden: wrote $golden/$name (exit $rc)"
		return
	fi
	if [ $rc -ne 0 ]; then
		fail "$name (kmemstat $*): exit $rc: $(cat "$tmp/$name.err")"
		return
	fi
	if [ -s "$tmp/$name.err" ]; then
		fail "$name (kmemstat $*): wrote to stderr: $(cat "$tmp/$name.err")"
	fi
	if [ ! -f "$golden/$name" ]; then
		fail "$name: no golden file $golden/$name"
		return
	fi
	if ! cmp -s "$golden/$name" "$tmp/$name.out"; then
		fail "$name (kmemstat $*) differs from $golden/$name:"
		diff -u "$golden/$name" "$tmp/$name.out" >&2
	fi
}

case_ malloc -m
case_ zone -z
case_ map -s
case_ all -m -z -s
case_ default
case_ sort_memuse -m --sort memuse
case_ sort_name -m --sort name
case_ sort_size_m -m --sort SIZE
case_ sort_used -z --sort used
case_ sort_size_z -z --sort size
case_ sort_requests -m -z --sort requests
case_ repeat -m -c 2 -w 0.01
case_ json -m -z -s --json
case_ json_default --json
case_ json_sort -z --json --sort fail
case_ json_repeat -z --json -c 2 -w 0.01

[ "${KMEMSTAT_UPDATE_GOLDEN:-0}" = 1 ] && exit 0

# Every JSON output: one document a line, each one valid JSON.
for name in json json_default json_sort json_repeat; do
	[ -s "$tmp/$name.out" ] || { fail "$name: no output"; continue; }
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		printf '%s\n' "$line" | python3 -m json.tool > /dev/null 2> "$tmp/json.err" ||
			fail "$name: line $n is not valid JSON: $(cat "$tmp/json.err")"
	done < "$tmp/$name.out"
done
[ "$(wc -l < "$tmp/json_repeat.out")" -eq 2 ] ||
	fail "json_repeat: not one document per sample"

# The names come back as they were written, and only the current snapshot.
python3 - "$tmp/json.out" <<'EOF' || fail "json: contents"
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
types = {m["type"]: m for m in doc["malloc-statistics"]["memory"]}
want = {"devbuf", "packet", "temp", 'q"uote\\back', "tab\there", "bigbuf",
        "a_type_name_of_31_characters_x", "caf\u00e9", "bad\ufffdname"}
assert set(types) == want, sorted(types)
assert types["packet"]["size"] == [1536] and types["packet"]["large"]
assert types["bigbuf"]["size"] == [] and types["bigbuf"]["large"]
assert types["devbuf"]["size"] == [16, 64, 512]
assert types["devbuf"]["memory-use"] == 19      # 19200 bytes, rounded up
assert types['q"uote\\back']["memory-use"] == 2  # 1280 bytes
zones = {z["name"]: z for z in doc["memory-zone-statistics"]["zone"]}
assert "stale-zone" not in zones
assert zones["conn"]["limit"] == 10000 and zones["conn"]["fail"] == 42
assert zones["conn"]["sleep"] == 7 and zones["conn"]["xdomain"] == 0
assert zones["16"]["malloc-backed"] and not zones["conn"]["malloc-backed"]
total = doc["memory-zone-statistics"]["total"]
zone_bytes = sum(z["used"] * z["size"] for z in zones.values()
                 if not z["malloc-backed"])
assert total["zone-bytes"] == zone_bytes, total
assert total["used-bytes"] == total["zone-bytes"] + total["malloc-bytes"]
m = doc["kmem-map-statistics"]
parts = ("malloc", "large", "zone-used", "zone-cached", "zone-slab-free",
         "direct", "submaps", "metadata", "free")
assert sum(m[k] for k in parts) == m["kmem-size"] == 80 << 20
assert m["pid"] == 99999999 and m["command"] == "fixture"
EOF

# -s: the lines of the map add up to kmem_size.
awk '/^owner / { on = 1; next }
     on && /^$/ { exit }
     on && /^(malloc types|zones|kmem_malloc pages|submaps|metadata|free) / { s += $(NF-3) }
     on && /^total \(kmem_size\)/ { t = $(NF-3) }
     END { exit !(s == t && t == 83886080) }' "$tmp/map.out" ||
	fail "map: the owners do not add up to kmem_size"

if [ $failed -ne 0 ]; then
	echo "kmemstat golden: FAILED" >&2
	exit 1
fi
echo "kmemstat golden: all outputs match"
