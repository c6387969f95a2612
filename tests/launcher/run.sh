#!/bin/sh
# kmem run over the stand-in (standin.c) with a preload library that does
# nothing: the child's environment, exit statuses, the summary on stderr
# and in --report, -q, a budget hit, signals, processes the command starts.
#
# Usage: run.sh KMEM STANDIN NULL_PRELOAD
set -u
kmem=$1
standin=$2
export KMEM_PRELOAD=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C
failed=0

fail() {
	echo "launcher_run: $*" >&2
	failed=1
}

# run ARGS...: kmem ARGS, stdout in $tmp/out, stderr in $tmp/err, rc.
run() {
	"$kmem" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
}

has() {
	grep -Eq -- "$2" "$tmp/$1" || fail "$3: $1 lacks '$2':
$(cat "$tmp/$1")"
}

# The child's environment: the preload library in front, the tunables in
# order, the launcher's own last.
cp "$KMEM_PRELOAD" "$tmp/other.so"
LD_PRELOAD=$tmp/other.so KMEM_OPTIONS=verbose=0 run run -q -o wait_warn_ms=5 \
	--limit 64M -- "$standin" env
[ $rc -eq 0 ] || fail "env: exit $rc"
shim=$(cd "$(dirname "$KMEM_PRELOAD")" && pwd -P)/$(basename "$KMEM_PRELOAD")
has out "^LD_PRELOAD=$shim:$tmp/other.so\$" env
has out '^KMEM_OPTIONS=verbose=0,wait_warn_ms=5,kmem_size=64M,stats=1,stats_keep=1,stats_file=[^,]*/kmem-run\.[^/,]*/kmem\.%p$' env
[ -s "$tmp/err" ] && fail "env -q: stderr not empty: $(cat "$tmp/err")"
dir=$(sed -n 's/.*stats_file=\(.*\)\/kmem\.%p$/\1/p' "$tmp/out")
[ -n "$dir" ] && [ -e "$dir" ] && fail "env: $dir left behind"

# A normal run: the summary names the types, the map, nothing failed.
run run -- "$standin" alloc
[ $rc -eq 0 ] || fail "alloc: exit $rc"
has err '^==== kmem run: .*standin \(pid [0-9]+\) exited with status 0 after [0-9.]+ s$' alloc
has err '^ +Type +InUse +MemUse +HighUse +Requests$' alloc
has err '^ +standin_keep +600 +' alloc
has err '^ +standin_tmp +0 +0K +[0-9]+K +64$' alloc
has err '^map: kmem_size .*, 0 requests failed$' alloc
grep -q budget "$tmp/err" && fail "alloc: a budget without --limit"

# -n 1: one type and a line for the rest.
run run -n 1 -- "$standin" alloc
has err '^ +\.\.\. \(1 more type: ' "-n 1"

# The exit status passes through.
run run -- "$standin" exit 42
[ $rc -eq 42 ] || fail "exit 42: exit $rc"
has err 'exited with status 42' "exit 42"

# --report: the summary goes to the file, nothing on stderr.
run run --report "$tmp/report" -- "$standin" alloc
[ $rc -eq 0 ] || fail "--report: exit $rc"
[ -s "$tmp/err" ] && fail "--report: stderr not empty: $(cat "$tmp/err")"
grep -q standin_keep "$tmp/report" || fail "--report: no summary in the file"

# -q: no summary at all.
run run -q -- "$standin" alloc
[ $rc -eq 0 ] && [ ! -s "$tmp/err" ] || fail "-q: exit $rc, stderr $(cat "$tmp/err")"

# A budget: the program gets ENOMEM, handles it, and the summary says
# that the budget was hit and by whom.
run run --limit 8M -- "$standin" hog
[ $rc -eq 3 ] || fail "hog: exit $rc, not 3"
has out '^ENOMEM after [0-9]+ blocks$' hog
has err '^budget of 8M hit: [0-9]+ allocations? failed in standin_hog \([0-9]+\); largest holders: standin_hog \([0-9.]+ [KM]iB\)' hog
has err '^map: kmem_size 8.00 MiB, .* [1-9][0-9]* requests? failed$' hog

# Without --limit nothing says "budget"; with one that is not reached,
# the summary says so.
run run --limit 64M -- "$standin" alloc
has err '^budget of 64M not hit$' "--limit 64M"

# Killed by a signal: 128 + N, and it says so.
run run -- "$standin" kill 9
[ $rc -eq 137 ] || fail "kill 9: exit $rc, not 137"
has err 'killed by signal 9 \(SIGKILL\)' "kill 9"
has err 'statistics of its last snapshot' "kill 9"
has err '^ +standin_keep +600 ' "kill 9"
run run -q -- "$standin" kill 15
[ $rc -eq 143 ] || fail "kill 15 -q: exit $rc, not 143"
has err '^kmem: .*standin killed by signal 15 \(SIGTERM\)$' "kill 15 -q"

# SIGTERM and SIGHUP sent to kmem run reach the command.
for sig in TERM HUP; do
	rm -f "$tmp/ready"
	"$kmem" run -- "$standin" wait "$tmp/ready" > "$tmp/out" 2> "$tmp/err" &
	pid=$!
	i=0
	while [ ! -s "$tmp/ready" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -$sig $pid
	wait $pid
	rc=$?
	case $sig in TERM) want=143 ;; HUP) want=129 ;; esac
	[ $rc -eq $want ] || fail "SIG$sig forwarded: exit $rc, not $want"
	has err "killed by signal [0-9]+ \\(SIG$sig\\)" "SIG$sig forwarded"
done

# Processes the command starts are on kmem too, under the same budget.
run run --limit 8M -- "$standin" spawn
[ $rc -eq 0 ] || fail "spawn: exit $rc"
has err '^processes it started on kmem:$' spawn
has err '^  kmem_run_standi.* \(pid [0-9]+, exited\): most held: standin_hog' spawn
has err '^    in kmem_run_standi.* \(pid [0-9]+\): budget of 8M hit: ' spawn

# Nothing is left behind in /dev/shm.
ls -d /dev/shm/kmem-run.* 2>/dev/null | while read -r d; do
	[ -O "$d" ] && echo "$d"
done > "$tmp/left"
[ -s "$tmp/left" ] && fail "left behind: $(cat "$tmp/left")"

[ $failed -eq 0 ] && echo "launcher_run: ok"
exit $failed
