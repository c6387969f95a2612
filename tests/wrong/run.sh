#!/bin/sh
# run.sh PROGRAM SIGNAL [PREFIX] -- runs one misuse program of tests/wrong.
# It must die of SIGNAL (a number) and its standard error must hold, as a
# whole line, the line it printed on standard output (with PREFIX: the
# line must start with it, the rest of the line may differ: call stacks).
prog=$1
sig=$2
tmp=${TMPDIR:-/tmp}/kmem-wrong.$$
trap 'rm -f "$tmp.out" "$tmp.err"' EXIT
"$prog" >"$tmp.out" 2>"$tmp.err"
rc=$?
want=$(head -n 1 "$tmp.out")
if [ "$rc" -ne $((128 + sig)) ]; then
	echo "$prog: exit status $rc, expected death by signal $sig"
	echo "--- stderr:"; cat "$tmp.err"
	exit 1
fi
if [ -z "$want" ]; then
	echo "$prog: printed no expected line"
	exit 1
fi
if [ "${3:-}" = prefix ]; then
	# A call stack: the frames kmem itself shows depend on the build
	# (inlining, sanitizers); the caller's frame must be there.
	case $want in
	*"allocated at "*)
		frame=${want##*allocated at }
		want=${want%%allocated at *}"allocated at "
		if ! grep -F -- "$want" "$tmp.err" | grep -qF -- "$frame"; then
			echo "$prog: stderr lacks the line starting:"; echo "$want ... $frame"
			echo "--- stderr:"; cat "$tmp.err"
			exit 1
		fi
		echo "$prog: ok"
		exit 0
		;;
	esac
	if ! grep -qF -- "$want" "$tmp.err"; then
		echo "$prog: stderr lacks the line starting:"; echo "$want"
		echo "--- stderr:"; cat "$tmp.err"
		exit 1
	fi
elif ! grep -qxF -- "$want" "$tmp.err"; then
	echo "$prog: stderr lacks the line:"; echo "$want"
	echo "--- stderr:"; cat "$tmp.err"
	exit 1
fi
echo "$prog: ok"
