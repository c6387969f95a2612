#!/bin/sh
# kmemstat -t -p PID on a real terminal: kmemstat runs in a detached tmux
# session of a fixed size watching kmemstat/leaky.c; the screen must show
# the process and its types, then its zones after z, and q must end it
# with exit 0.  Every wait polls the screen with a time limit (a test skips
# with 77 without tmux).
#
# Usage: top.sh KMEMSTAT LEAKY
set -u
kmemstat=$1
leaky=$2
command -v tmux >/dev/null 2>&1 || { echo "SKIP: no tmux"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kmemstat-top.XXXXXX")
sock=$tmp/tmux.sock
pid=
LIMIT=10 # seconds for one wait

cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export TZ=UTC LC_ALL=C

fail() {
	echo "kmemstat top: FAIL: $*" >&2
	if [ -s "$tmp/screen" ]; then
		echo "--- the screen:" >&2
		cat "$tmp/screen" >&2
		echo "---" >&2
	fi
	[ -s "$tmp/exit" ] && cat "$tmp/exit" >&2
	exit 1
}

tm() {
	tmux -S "$sock" "$@"
}

capture() {
	tm capture-pane -p -t top > "$tmp/screen.new" 2>/dev/null &&
	    mv "$tmp/screen.new" "$tmp/screen"
}

# wait_for ERE...: every ERE matches a line of one capture of the screen,
# within LIMIT seconds.
wait_for() {
	end=$(($(date +%s) + LIMIT))
	while :; do
		[ -s "$tmp/exit" ] && { capture; fail "kmemstat ended while waiting for $*"; }
		if capture; then
			ok=1
			for re in "$@"; do
				grep -Eq -- "$re" "$tmp/screen" || { ok=0; break; }
			done
			[ $ok -eq 1 ] && return 0
		fi
		[ "$(date +%s)" -le "$end" ] || fail "nothing matches $*"
		sleep 0.1
	done
}

. "$(dirname "$0")/lib.sh"
ks_start "$leaky"

tm -f /dev/null new-session -d -s top -x 120 -y 40 \
    "'$kmemstat' -t -p $pid -w 0.3; echo EXIT=\$? > '$tmp/exit'"
wait_for '^kmemstat .*refresh 300ms' '^Type +InUse +MemUse' '^ks_leak +[0-9]+ ' \
    '^ks_fluct ' '^ks_plateau ' '^ks_saw '
tm send-keys -t top z
wait_for '^Zone +Size' '^ks_leakzone +192 ' '^ks_churnzone +128 '
tm send-keys -t top q
end=$(($(date +%s) + LIMIT))
while [ ! -s "$tmp/exit" ]; do
	[ "$(date +%s)" -le "$end" ] || fail "still running after q"
	sleep 0.1
done
grep -qx 'EXIT=0' "$tmp/exit" || fail "exit status: $(cat "$tmp/exit")"
echo "kmemstat top: as expected"
