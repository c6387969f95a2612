#!/bin/sh
# run.sh FUZZER CORPUS WORKDIR -- runs a libFuzzer harness for FUZZ_SECONDS
# seconds (60 unless set) over a copy of its seed corpus in WORKDIR, so
# that the inputs it finds never dirty the tree.  Fails if it crashed,
# leaked or hung, naming the file that holds the input.
set -u

fuzzer=$1
corpus=$2
work=$3
secs=${FUZZ_SECONDS:-60}
name=$(basename "$fuzzer")

case $secs in
'' | *[!0-9]*)
	echo "run.sh: FUZZ_SECONDS must be a number of seconds, not '$secs'" >&2
	exit 2
	;;
esac
if [ ! -d "$corpus" ]; then
	echo "run.sh: $name: no seed corpus at $corpus" >&2
	exit 2
fi

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts" || exit 2
cp "$corpus"/* "$work/corpus/" 2>/dev/null
log=$work/fuzz.log

"$fuzzer" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1
rc=$?
tail -n 25 "$log"
if [ $rc -ne 0 ]; then
	found=$(ls "$work"/artifacts/ 2>/dev/null | head -n 5)
	echo "run.sh: $name failed (exit $rc); log: $log"
	for f in $found; do
		echo "run.sh: $name: input that fails: $work/artifacts/$f" \
		    "(replay: $fuzzer $work/artifacts/$f)"
	done
	exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
echo "run.sh: $name: ${runs:-?} inputs in ${secs} s, no failure"
exit 0
