# bench/peers.sh -- sourced by the benchmark scripts: finds the peer
# allocators (Debian's jemalloc, mimalloc and tcmalloc; glibc is always
# there) and says how to run a program as each of them.
#
#   $peers    glibc and the peers found;   $missing   the peers not found
#   $allocs   $peers and kmem
#   preload A    the environment assignment that makes a program use A
#   kflag A      the option that makes a benchmark program use kmem

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
