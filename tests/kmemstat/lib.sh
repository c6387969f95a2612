# Shared by the kmemstat tests that watch a live kmem process.  Source it
# after setting tmp (a private directory) and defining fail().
#
# ks_start PROGRAM: runs PROGRAM in the background with its statistics file
# in $tmp and its standard input a fifo held open on descriptor 3 (closing
# 3 tells it to exit), and waits, at most 10 s, until it prints "ready".
# Sets pid.
ks_start() {
	rm -f "$tmp/fifo" "$tmp/prog.out"
	mkfifo "$tmp/fifo"
	KMEM_OPTIONS="stats_file=$tmp/kmem.%p" "$1" < "$tmp/fifo" > "$tmp/prog.out" &
	pid=$!
	exec 3> "$tmp/fifo"
	ks_n=0
	until grep -q ready "$tmp/prog.out" 2>/dev/null; do
		ks_n=$((ks_n + 1))
		[ $ks_n -lt 200 ] || { fail "$(basename "$1") never got ready"; exit 1; }
		sleep 0.05
	done
}
