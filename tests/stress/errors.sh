#!/bin/sh
# errors.sh STRESS -- every bad argument of the stress program is refused
# with one line naming it, and exit status 2.
prog=$1
name=$(basename "$prog")
fail=0
expect() {
	want=$1
	shift
	err=$("$prog" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne 2 ]; then
		echo "stress $*: exit status $rc, expected 2"
		fail=1
	fi
	if ! printf '%s\n' "$err" | grep -qxF -- "$want"; then
		echo "stress $*: expected the line: $want"
		echo "--- got:"; printf '%s\n' "$err"
		fail=1
	fi
}
expect "$name: -t 0: not a number from 1 to 64" -t 0
expect "$name: -t 65: not a number from 1 to 64" -t 65
expect "$name: -s x1: not a number from 0 to 18446744073709551615" -s x1
expect "$name: -d 2s: not a number from 1 to 604800" -d 2s
expect "$name: -n -5: not a number from 1 to 1099511627776" -n -5
expect "$name: -n 99999999999999999999999: not a number from 1 to 1099511627776" -n 99999999999999999999999
expect "$name: -t needs a value" -t
expect "$name: unknown option -x" -x
expect "$name: unexpected argument extra" -n 10 extra
expect "$name: -d and -n exclude each other" -d 1 -n 10
[ $fail -eq 0 ] && echo "stress errors: ok"
exit $fail
