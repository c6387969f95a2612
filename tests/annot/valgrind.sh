#!/bin/sh
# valgrind.sh ANNOT ANNOT.C HAVE_VALGRIND -- runs the modes of annot.c under
# valgrind's memcheck and checks its reports (kmem_debug(3), VALGRIND): a
# write after kfree() or uma_zfree() names the write and the free, a
# read of an uninitialised block is reported, a block never freed is
# definitely lost where kmalloc() was called, and a program that uses kmem
# correctly (threads, zones with ctor and init, krealloc, kzfree, the
# statistics thread and file, trash and redzones) has no error.  Exits 77
# (skipped) without valgrind.
set -u
prog=$1
src=$2
have=$3
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind.sh: valgrind is not installed: skipped"
	exit 77
fi
case $have in
ON | 1 | TRUE | YES) ;;
*)
	echo "valgrind.sh: kmem was built without valgrind/memcheck.h: skipped"
	exit 77
	;;
esac
tmp=${TMPDIR:-/tmp}/kmem-annot-vg.$$
trap 'rm -f "$tmp"' EXIT
fail=0

# The line of annot.c marked "SITE NAME".
site() {
	grep -n "SITE $1 \*/" "$src" | cut -d: -f1
}

# run MODE [OPTIONS]: memcheck's report of annot MODE in $tmp, status in $rc.
run() {
	opts=${KMEM_OPTIONS:-}
	[ -n "${2:-}" ] && opts=${opts:+$opts,}$2
	KMEM_OPTIONS=$opts valgrind --tool=memcheck --error-exitcode=99 \
	    --leak-check=full --errors-for-leak-kinds=definite \
	    --show-leak-kinds=definite "$prog" "$1" >"$tmp" 2>&1
	rc=$?
}

bad() {
	echo "valgrind.sh: $mode: $*"
	echo "--- memcheck:"
	cat "$tmp"
	fail=1
}

# has TEXT: the report holds a line containing TEXT.
has() {
	grep -qF -- "$1" "$tmp"
}

# section FROM TO TEXT: a line containing TEXT between the first line
# containing FROM and the next one containing TO.
section() {
	awk -v a="$1" -v b="$2" 'index($0, a) { on = 1; next }
	    on && index($0, b) { exit } on' "$tmp" | grep -qF -- "$3"
}

# use_after_free MODE FN SIZE: a write after the free in FN.
use_after_free() {
	mode=$1
	run "$1"
	[ "$rc" -eq 99 ] || bad "exit status $rc, expected 99 (errors)"
	has "Invalid write of size 1" || bad "no \"Invalid write\""
	section "Invalid write of size 1" "Address" "$2 (annot.c:$(site "$1-write"))" ||
		bad "the write is not at annot.c:$(site "$1-write")"
	has "inside a block of size $3 free'd" || bad "not inside a freed block of $3 bytes"
	section "free'd" "Block was alloc'd" "$2 (annot.c:$(site "$1"))" ||
		bad "the free's stack lacks annot.c:$(site "$1")"
	echo "valgrind.sh: $mode: ok"
}

use_after_free kfree kfree_uaf 64
use_after_free kfree-large kfree_large_uaf 100,000
use_after_free zfree zfree_uaf 48

mode=uninit
run uninit
[ "$rc" -eq 99 ] || bad "exit status $rc, expected 99 (errors)"
section "depends on uninitialised value" "HEAP SUMMARY" \
	"uninit (annot.c:$(site uninit-read))" ||
	bad "no uninitialised read at annot.c:$(site uninit-read)"
echo "valgrind.sh: $mode: ok"

mode=leak
run leak
[ "$rc" -eq 99 ] || bad "exit status $rc, expected 99 (a definite leak)"
section "200 bytes in 1 blocks are definitely lost" "LEAK SUMMARY" \
	"leak (annot.c:$(site leak))" ||
	bad "no definite leak of 200 bytes allocated at annot.c:$(site leak)"
echo "valgrind.sh: $mode: ok"

for o in "" "trash=1,redzone=1"; do
	mode="clean${o:+ ($o)}"
	run clean "$o"
	[ "$rc" -eq 0 ] || bad "exit status $rc, expected 0"
	has "ERROR SUMMARY: 0 errors" || bad "errors reported"
	has "definitely lost: 0 bytes" || has "All heap blocks were freed" ||
		bad "a block is lost"
	echo "valgrind.sh: $mode: ok"
done
exit $fail
