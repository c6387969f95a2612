#!/bin/sh
# kmemstat(1) on bad command lines and unreadable statistics: each error
# is one line on stderr naming what was wrong (usage errors add the usage
# line), nothing on stdout, exit 2 for usage and 1 for reading.
#
# Usage: errors.sh KMEMSTAT MKSTATFILE
set -u
kmemstat=$1
mkstatfile=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TZ=UTC LC_ALL=C
failed=0
usage='usage: kmemstat [-mstvz] [--json] [--sort COLUMN] [--leaks] [--plot FILE.svg] [-w WAIT] [-c COUNT] -p PID | -M FILE'

fail() {
	echo "kmemstat errors: $*" >&2
	failed=1
}

run() {
	"$kmemstat" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ -s "$tmp/out" ]; then
		fail "kmemstat $*: wrote to stdout: $(head -3 "$tmp/out")"
	fi
}

# usage MESSAGE ARGS...: a usage error saying MESSAGE.
usage_error() {
	msg=$1
	shift
	run "$@"
	[ $rc -eq 2 ] || fail "kmemstat $*: exit $rc, not 2"
	printf 'kmemstat: %s\n%s\n' "$msg" "$usage" > "$tmp/want"
	cmp -s "$tmp/want" "$tmp/err" || {
		fail "kmemstat $*: stderr differs:"
		diff -u "$tmp/want" "$tmp/err" >&2
	}
}

# read_error PATTERN ARGS...: a reading error, one line matching PATTERN.
read_error() {
	pat=$1
	shift
	run "$@"
	[ $rc -eq 1 ] || fail "kmemstat $*: exit $rc, not 1"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] ||
		fail "kmemstat $*: not one line on stderr: $(cat "$tmp/err")"
	grep -Eqx -- "$pat" "$tmp/err" ||
		fail "kmemstat $*: stderr '$(cat "$tmp/err")' does not match '$pat'"
}

usage_error "no statistics to read: give -p PID or -M FILE"
usage_error "no statistics to read: give -p PID or -M FILE" -m -z
usage_error "unknown option -x" -x -M f
usage_error "unknown option -x" -mx -M f
usage_error "unknown option --bogus" --bogus=1 -M f
usage_error "-w needs an argument" -M f -w
usage_error "--sort needs an argument" -M f --sort
usage_error "-w abc: not a number of seconds (above 0, at least 0.001)" -w abc -M f
usage_error "-w 0: not a number of seconds (above 0, at least 0.001)" -w 0 -M f
usage_error "-w -1: not a number of seconds (above 0, at least 0.001)" -w -1 -M f
usage_error "-w 1s: not a number of seconds (above 0, at least 0.001)" -w 1s -M f
usage_error "-w nan: not a number of seconds (above 0, at least 0.001)" -w nan -M f
usage_error "-c 0: not a count of samples (1 or more)" -c 0 -M f
usage_error "-c 2x: not a count of samples (1 or more)" -c 2x -M f
usage_error "-p abc: not a process id" -p abc
usage_error "-p 0: not a process id" -p 0
usage_error "-p 99999999999: not a process id" -p 99999999999
usage_error "-p and -M exclude each other" -p 1 -M f
usage_error "unexpected argument 'extra'" -m -M f extra
usage_error "--sort bogus: no such column in -m; valid: name (or type), inuse, memuse, requests, size" --sort bogus -M f
usage_error "--sort used: no such column in -m; valid: name (or type), inuse, memuse, requests, size" -m -z --sort used -M f
usage_error "--sort memuse: no such column in -z; valid: name (or item), size, limit, used, free, req (or requests), fail, sleep, xdomain" -m -z --sort memuse -M f
usage_error "--sort name: -s has no columns to sort; use it with -m or -z" -s --sort name -M f
usage_error "-t and --leaks exclude each other" -t --leaks -M f
usage_error "-t and --plot exclude each other" -t --plot x.svg -M f
usage_error "-m and -t exclude each other (m and z switch the view)" -t -m -M f
usage_error "-s and --leaks exclude each other" --leaks -s -M f
usage_error "--sort and --plot exclude each other" --plot x.svg --sort name -M f
usage_error "--json and -t exclude each other" -t --json -M f
usage_error "--json and --plot exclude each other" --json --plot x.svg -M f
usage_error "-v goes with --leaks" -v -m -M f
usage_error "-c 7: --leaks needs 8 samples or more" --leaks -c 7 -M f

# -h is not an error.
"$kmemstat" -h > "$tmp/out" 2> "$tmp/err"
[ $? -eq 0 ] && [ "$(cat "$tmp/out")" = "$usage" ] && [ ! -s "$tmp/err" ] ||
	fail "kmemstat -h: not the usage line on stdout with exit 0"

# Reading.
read_error "kmemstat: -M $tmp/none: No such process or statistics file" -M "$tmp/none"
read_error "kmemstat: -M $tmp/none: No such process or statistics file" -z --json -M "$tmp/none"
read_error "kmemstat: -p 99999999: No such process or statistics file" -p 99999999
# -t, --leaks and --plot fail at once, before the view or the sampling.
read_error "kmemstat: -M $tmp/none: No such process or statistics file" -t -M "$tmp/none"
read_error "kmemstat: -p 99999999: No such process or statistics file" -t -p 99999999
read_error "kmemstat: -M $tmp/none: No such process or statistics file" --leaks -M "$tmp/none"
read_error "kmemstat: -M $tmp/none: No such process or statistics file" --plot "$tmp/x.svg" --leaks --json -M "$tmp/none"
[ -z "$(ls "$tmp" | grep x.svg)" ] || fail "--plot of no statistics left $(ls "$tmp" | grep x.svg)"
read_error "kmemstat: --plot $tmp/none/x.svg: No such file or directory" --plot "$tmp/none/x.svg" -M "$tmp/none"
for kind in magic version truncated records; do
	"$mkstatfile" -k $kind "$tmp/$kind" || { fail "mkstatfile -k $kind"; continue; }
	case $kind in
	magic) why='Not a kmem statistics file' ;;
	version) why='Version mismatch' ;;
	truncated) why='Statistics file truncated' ;;
	records) why='Data format error' ;;
	esac
	read_error "kmemstat: -M $tmp/$kind: $why" -m -M "$tmp/$kind"
done
"$mkstatfile" "$tmp/fixture" || fail "mkstatfile"
if [ -w /dev/full ]; then
	"$kmemstat" -M "$tmp/fixture" -m > /dev/full 2> "$tmp/err"
	rc=$?
	[ $rc -eq 1 ] && [ "$(cat "$tmp/err")" = "kmemstat: standard output: No space left on device" ] ||
		fail "kmemstat > /dev/full: exit $rc, '$(cat "$tmp/err")'"
fi

if [ $failed -ne 0 ]; then
	echo "kmemstat errors: FAILED" >&2
	exit 1
fi
echo "kmemstat errors: all as expected"
