#!/bin/sh
# kmem run on bad command lines and commands that cannot run: one line on
# stderr naming what was wrong (usage errors add the usage line), nothing
# on stdout, exit 2 for usage, 1 for kmem's own failures, 127 for a
# command not found and 126 for one that cannot be executed.
#
# Usage: errors.sh KMEM STANDIN NULL_PRELOAD
set -u
kmem=$1
standin=$2
export KMEM_PRELOAD=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C
failed=0
usage='usage: kmem run [-q] [-n N] [-o name=value]... [--limit SIZE] [--report FILE] -- CMD [ARGS...]'
usage_main="$usage
       kmem --help | kmem run --help"

fail() {
	echo "launcher_errors: $*" >&2
	failed=1
}

run() {
	"$kmem" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ -s "$tmp/out" ] && fail "kmem $*: wrote to stdout: $(head -3 "$tmp/out")"
}

# usage_error MESSAGE USAGE ARGS...: exit 2, MESSAGE and USAGE on stderr.
usage_error() {
	msg=$1
	use=$2
	shift 2
	run "$@"
	[ $rc -eq 2 ] || fail "kmem $*: exit $rc, not 2"
	printf '%s\n%s\n' "$msg" "$use" > "$tmp/want"
	cmp -s "$tmp/want" "$tmp/err" || {
		fail "kmem $*: stderr differs:"
		diff -u "$tmp/want" "$tmp/err" >&2
	}
}

# error STATUS PATTERN ARGS...: exit STATUS, one line matching PATTERN.
error() {
	want=$1
	pat=$2
	shift 2
	run "$@"
	[ $rc -eq "$want" ] || fail "kmem $*: exit $rc, not $want"
	[ "$(wc -l < "$tmp/err")" -eq 1 ] ||
		fail "kmem $*: not one line on stderr: $(cat "$tmp/err")"
	grep -Eqx -- "$pat" "$tmp/err" ||
		fail "kmem $*: stderr '$(cat "$tmp/err")' does not match '$pat'"
}

usage_error "kmem: no subcommand" "$usage_main"
usage_error "kmem: unknown subcommand 'walk'" "$usage_main" walk -- true
usage_error "kmem: unknown option --bogus" "$usage_main" --bogus
usage_error "kmem: no command: give it after --" "$usage" run
usage_error "kmem: no command after --" "$usage" run --
usage_error "kmem: no command after --" "$usage" run -o verbose=1 --
usage_error "kmem: 'true': the command goes after --" "$usage" run true
usage_error "kmem: 'true': the command goes after --" "$usage" run --limit 8M true
usage_error "kmem: -o verbose: expected name=value" "$usage" run -o verbose -- true
usage_error "kmem: -o =1: expected name=value" "$usage" run -o =1 -- true
usage_error "kmem: -o verbose=1,stats=0: one name=value per -o (no commas)" "$usage" \
	run -o verbose=1,stats=0 -- true
usage_error "kmem: -o: unknown option 'colour'" "$usage" run -o colour=red -- true
usage_error "kmem: -o: kmem_size=lots: bad value (expected a size such as 64M)" "$usage" \
	run -o kmem_size=lots -- true
usage_error "kmem: -o: verbose=maybe: bad value (expected 0 or 1)" "$usage" \
	run -o verbose=maybe -- true
usage_error "kmem: -o stats_file: set by kmem run, which reads the statistics for its summary" \
	"$usage" run -o stats_file=/tmp/x -- true
usage_error "kmem: --limit 8X: not a size (a number with an optional K, M, G or T, above 0)" \
	"$usage" run --limit 8X -- true
usage_error "kmem: --limit 0: not a size (a number with an optional K, M, G or T, above 0)" \
	"$usage" run --limit 0 -- true
usage_error "kmem: --limit -8M: not a size (a number with an optional K, M, G or T, above 0)" \
	"$usage" run --limit -8M -- true
usage_error "kmem: --limit 99999999T: too large" "$usage" run --limit 99999999T -- true
usage_error "kmem: -o kmem_size and --limit exclude each other" "$usage" \
	run -o kmem_size=64M --limit 8M -- true
usage_error "kmem: --limit needs an argument" "$usage" run --limit
usage_error "kmem: unknown option -x" "$usage" run -x -- true
usage_error "kmem: -n many: not a number of types (0 or more)" "$usage" run -n many -- true

# Help goes to stdout and exits 0.
for args in --help "run --help"; do
	# shellcheck disable=SC2086
	"$kmem" $args > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ $rc -eq 0 ] && [ -s "$tmp/out" ] && [ ! -s "$tmp/err" ] ||
		fail "kmem $args: exit $rc, stdout $(wc -c < "$tmp/out") bytes, stderr $(cat "$tmp/err")"
done

# The shim cannot be found.
KMEM_PRELOAD=/nonexistent error 1 \
	'kmem: KMEM_PRELOAD=/nonexistent: No such file or directory' run -- true
KMEM_PRELOAD=/ error 1 'kmem: KMEM_PRELOAD=/: not a regular file' run -- true
# Without KMEM_PRELOAD, beside a copy of the binary that has nothing beside
# it: the error names the places looked at (the build tree's last: it may
# hold the real library, so the message is only checked when it does not).
mkdir -p "$tmp/bin"
cp "$kmem" "$tmp/bin/kmem"
env -u KMEM_PRELOAD "$tmp/bin/kmem" run -- true > "$tmp/out" 2> "$tmp/err"
rc=$?
if [ $rc -ne 0 ]; then
	[ $rc -eq 1 ] || fail "no shim: exit $rc, not 1"
	grep -Eqx "kmem: cannot find the preload library libkmem-preload.so; looked in KMEM_PRELOAD \\(not set\\), $tmp/lib/libkmem-preload.so, .*$tmp/libkmem-preload.so.*; set KMEM_PRELOAD to its path" "$tmp/err" ||
		fail "no shim: stderr '$(cat "$tmp/err")'"
fi

# Commands that cannot run, as a shell says it.
error 127 'kmem: no-such-command-kmem: command not found' run -- no-such-command-kmem
error 127 'kmem: /nonexistent/cmd: No such file or directory' run -- /nonexistent/cmd
printf 'not executable\n' > "$tmp/noexec"
chmod 644 "$tmp/noexec"
if [ "$(id -u)" -ne 0 ] || ! [ -x "$tmp/noexec" ]; then
	error 126 "kmem: $tmp/noexec: Permission denied" run -- "$tmp/noexec"
fi
error 126 "kmem: $tmp: Permission denied" run -- "$tmp"

# --report into a file that cannot be written: before anything runs.
error 1 "kmem: --report /nonexistent/r: No such file or directory" \
	run --report /nonexistent/r -- "$standin" alloc

[ $failed -eq 0 ] && echo "launcher_errors: ok"
exit $failed
