#!/bin/sh
# early.sh SHIM EARLY PROG -- a library preloaded before and after the shim
# allocates, calls dlsym() and makes a thread from its constructor; PROG
# (the semantics test) still passes.
set -u
so=$1
early=$2
prog=$3
fail=0
for order in "$early:$so" "$so:$early"; do
	out=$(LD_PRELOAD=$order "$prog" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || ! printf '%s\n' "$out" | grep -q '^early: ok$'; then
		echo "early: LD_PRELOAD=$order: exit $rc: $out" >&2
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "early: ok"
exit $fail
