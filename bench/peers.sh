# bench/peers.sh -- sourced by the benchmark scripts: finds the peer
# allocators (Debian's jemalloc, mimalloc and tcmalloc; glibc is always
# there) and says how to run a program as each of them.
#
#   $peers    glibc and the peers found;   $missing   the peers not found
#   $allocs   $peers and kmem
#   preload A    the environment assignment that makes a program use A
#   kflag A      the option that makes a benchmark program use kmem
#   run A PROGRAM PIN ARGS...   runs PROGRAM as A under PIN ("" or $pin1)
#   $pin1        the command that pins a run to CPU 0, if taskset is there

arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
findlib() {
	for d in "/usr/lib/$arch" /usr/lib /usr/local/lib; do
		if [ -e "$d/$1" ]; then
			echo "$d/$1"
			return
		fi
	done
}
peer_lib() {
	case $1 in
	jemalloc) findlib libjemalloc.so.2 ;;
	mimalloc) findlib libmimalloc.so.2 ;;
	tcmalloc) findlib libtcmalloc_minimal.so.4 ;;
	esac
}
peers="glibc"
missing=""
for p in jemalloc mimalloc tcmalloc; do
	if [ -n "$(peer_lib "$p")" ]; then
		peers="$peers $p"
	else
		missing="$missing $p"
	fi
done
allocs="$peers kmem"

# The environment and option that make the program allocator $1.
preload() {
	case $1 in
	glibc | kmem) echo "" ;;
	*) echo "LD_PRELOAD=$(peer_lib "$1")" ;;
	esac
}
kflag() {
	[ "$1" = kmem ] && echo "--kmem" || echo ""
}

# run ALLOC PROGRAM PIN ARGS...
run() {
	a=$1 p=$2 pin=$3
	shift 3
	# shellcheck disable=SC2046,SC2086
	if ! $pin env $(preload "$a") "$p" $(kflag "$a") "$@"; then
		echo "bench: $p as $a ($*) failed" >&2
		return 1
	fi
}
pin1=""
command -v taskset >/dev/null 2>&1 && pin1="taskset -c 0"
