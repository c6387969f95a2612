#!/bin/sh
# top_test.sh MODE DRIVER -- kmemstat -t (tools/kmemstat_top.c) on a real
# terminal: DRIVER (top_driver) runs in a detached tmux session of a fixed
# size; the script reads the screen with capture-pane and types with
# send-keys.  Every wait polls the screen with a time limit.
#
#   screen         the default view (types by memory use, changes moving),
#                  zones, sorting, reversing, the interval, scrolling,
#                  resizing (and too small), help, q exits 0
#   sampler_fails  a sampler that starts failing: the message shows, the
#                  last data stays, q exits 0
#   no_terminal    without a terminal: a one-line error and a nonzero exit
set -eu

mode=$1
driver=$2
command -v tmux >/dev/null 2>&1 || { echo "SKIP: no tmux"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/kmem-top.XXXXXX")
sock=$dir/tmux.sock
LIMIT=8 # seconds for one wait

cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL ($mode): $*" >&2
	if [ -s "$dir/screen" ]; then
		echo "--- the screen:" >&2
		cat "$dir/screen" >&2
		echo "---" >&2
	fi
	[ -s "$dir/exit" ] && cat "$dir/exit" >&2
	exit 1
}

tm() {
	tmux -S "$sock" "$@"
}

start() {
	tm -f /dev/null new-session -d -s top -x 120 -y 40 \
	    "'$driver' $*; echo EXIT=\$? > '$dir/exit'"
}

# The screen, into $dir/screen.
capture() {
	tm capture-pane -p -t top >"$dir/screen.new" 2>/dev/null &&
	    mv "$dir/screen.new" "$dir/screen"
}

# eventually CHECK...: runs the check on fresh captures of the screen
# until it passes (a capture can catch a screen half drawn), or fails with
# what the check said ($why) after LIMIT seconds.
eventually() {
	end=$(($(date +%s) + LIMIT))
	while :; do
		if [ -s "$dir/exit" ]; then
			capture || true
			fail "the driver ended while waiting: $*"
		fi
		why="$*"
		if capture && "$@"; then
			return 0
		fi
		[ "$(date +%s)" -le "$end" ] || fail "$why"
		sleep 0.1
	done
}

# has ERE: a line of the screen matches.
has() {
	why="nothing matches /$1/"
	grep -Eq -- "$1" "$dir/screen"
}

wait_for() {
	eventually has "$1"
}

keys() {
	tm send-keys -t top "$@"
}

# quit: q, then the driver must exit 0.
quit() {
	keys q
	end=$(($(date +%s) + LIMIT))
	while [ ! -s "$dir/exit" ]; do
		[ "$(date +%s)" -le "$end" ] || fail "still running after q"
		sleep 0.1
	done
	grep -qx 'EXIT=0' "$dir/exit" || fail "exit status: $(cat "$dir/exit")"
}

# column TITLE: the cells of that column on the screen, one a line (the
# titles are on line 3, the rows below them, the status line last).  The
# name column is left-aligned, the others right-aligned under their title.
column() {
	sed '$d' "$dir/screen" | awk -v title="$1" '
	NR == 3 {
		p = index($0, title)
		if (p == 0)
			exit 1
		e = p + length(title) - 1
		if (p == 1) {
			s = 1
			for (e = e + 1; substr($0, e + 1, 1) == " "; e++)
				;
		} else {
			for (s = p - 1; s > 1 && substr($0, s, 1) == " "; s--)
				;
			s++
		}
		next
	}
	NR > 3 && $0 != "" {
		v = substr($0, s, e - s + 1)
		sub(/^ +/, "", v)
		sub(/ +$/, "", v)
		print v
	}'
}

# sorted_bytes TITLE: the column (512B, 12.3K, +4.0M, -1.0K, 0) never grows
# from one row to the next.
sorted_bytes() {
	why="no column $1"
	column "$1" >"$dir/col" || return 1
	why="column $1 is empty"
	[ -s "$dir/col" ] || return 1
	why="column $1 is not largest first: $(awk '
	function bytes(v,  n, u) {
		n = v + 0
		u = substr(v, length(v))
		if (u == "K") n *= 1024
		else if (u == "M") n *= 1048576
		else if (u == "G") n *= 1073741824
		return n
	}
	{ n = bytes($0) }
	NR > 1 && n > last { printf "row %d: %s after %s; ", NR, $0, prev }
	{ last = n; prev = $0 }' "$dir/col")"
	case $why in
	*"row "*) return 1 ;;
	esac
	return 0
}

# sorted_names TITLE [-r]: the name column in strcmp(3) order (-r:
# reversed).
sorted_names() {
	why="column $1 is not in order $*"
	column "$1" >"$dir/names" || return 1
	[ -s "$dir/names" ] || return 1
	if [ "${2:-}" = -r ]; then
		LC_ALL=C sort -r -c "$dir/names" 2>/dev/null
	else
		LC_ALL=C sort -c "$dir/names" 2>/dev/null
	fi
}

# rows_in_order NAME...: these rows are on the screen in this order.
rows_in_order() {
	last=0
	for name in "$@"; do
		n=$(grep -n "^$name " "$dir/screen" | head -1 | cut -d: -f1)
		why="no row $name"
		[ -n "$n" ] || return 1
		why="rows not in the order $*"
		[ "$n" -gt "$last" ] || return 1
		last=$n
	done
}

# The default view: the types, largest memory use first.  The worker
# allocates top_big, top_mid, top_small, then top_churn, which goes up and
# down between top_mid and top_small.
types_ok() {
	has '^kmemstat .* refresh 300ms .*malloc .* zones .*=' &&
	    has '^types: 1-[0-9]+ of [0-9]+  sort: MemUse, largest first' &&
	    has '^Type +InUse +MemUse +HighUse +Requests +Change +Change/s +Size\(s\)$' &&
	    has '^top_churn +[1-9]' &&
	    rows_in_order top_big top_mid top_churn top_small &&
	    sorted_bytes MemUse
}

zones_ok() {
	has '^zones: 1-[0-9]+ of [0-9]+  sort: Memory, largest first' &&
	    has '^Zone +Size +Limit +Used +Free +Requests +Fail +Sleep +Memory +Change +Change/s$' &&
	    has '^top_conn +256 +10000 ' &&
	    has '^top_node +96 +- +' &&
	    sorted_bytes Memory
}

case $mode in
screen)
	start -i 300
	eventually types_ok
	# top_churn's change shows, in bytes and per second.
	wait_for '^top_churn .* [+-][0-9.]+K +[+-][0-9.]+K( |$)'

	keys z
	eventually zones_ok

	# Sorting: s, >, < step through the columns, r reverses; the rows follow.
	keys s
	eventually eval "has 'sort: Change, largest first' && sorted_bytes Change"
	keys s s
	eventually eval "has 'sort: Zone, A-Z' && sorted_names Zone"
	keys r
	eventually eval "has 'sort: Zone, Z-A' && sorted_names Zone -r"
	keys '<'
	wait_for 'sort: Change/s, smallest first'
	keys r '>' '>'
	wait_for 'sort: Size, largest first'

	# Scrolling: a page down, to the end, and back home.
	keys NPage
	wait_for '^zones: ([2-9]|[1-9][0-9]+)-[0-9]+ of '
	keys End
	wait_for '^zones: [0-9]+-([0-9]+) of \1 '
	keys Home
	wait_for '^zones: 1-'

	# The interval.
	keys +
	wait_for 'refresh 500ms'
	keys -
	wait_for 'refresh 200ms'

	# Resizing: narrower (columns go), too small, back.
	tm resize-window -t top -x 80 -y 24
	eventually eval "has '^Zone +Size +Used +Free +Requests +Memory +Change +Change/s\$' &&
	    [ \$(wc -l <'$dir/screen') -eq 24 ]"
	tm resize-window -t top -x 30 -y 4
	wait_for '^terminal too small'
	tm resize-window -t top -x 120 -y 40
	wait_for '^Zone +Size +Limit +Used'

	# Help, and back to the types.
	keys h
	wait_for 'this help'
	keys x
	wait_for '^Zone '
	keys m
	eventually eval "has '^Type +InUse' && rows_in_order top_big top_mid top_churn top_small"
	quit
	;;
sampler_fails)
	# Three good samples, then the statistics are gone: the message, and
	# the last data stays on the screen.
	start -i 200 -f 3
	eventually eval "has 'cannot read the statistics: No such process or statistics file; showing those of [0-9:]+\$' &&
	    has '^kmemstat .* refresh 200ms' && has '^top_big '"
	# Still running: the keys work.
	keys z
	eventually eval "has '^Zone +Size' && has '^top_conn '"
	quit
	;;
no_terminal)
	rc=0
	"$driver" </dev/null >"$dir/out" 2>"$dir/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "exit status 0 without a terminal"
	[ "$(wc -l <"$dir/err")" -eq 1 ] || fail "stderr: $(cat "$dir/err")"
	grep -q 'terminal' "$dir/err" || fail "stderr: $(cat "$dir/err")"
	;;
*)
	echo "usage: top_test.sh screen|sampler_fails|no_terminal DRIVER" >&2
	exit 2
	;;
esac
echo "ok ($mode)"
