#!/bin/sh
# errors.sh BUILD_DIR DOC -- matrix.sh's errors, each with its one line:
# bad arguments, a build without the preload library or the programs, a
# document without the table, and a table that claims more than kmem
# detects (a detection kmem does not make, another signal, a row left out).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$1
doc=$2
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kmem-misuse-errors.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

# expect STATUS PATTERN ARGS...: matrix.sh ARGS exits STATUS and its
# standard error has a line matching PATTERN.
expect() {
	want=$1 pat=$2
	shift 2
	sh "$here/matrix.sh" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne "$want" ] || ! grep -q -- "$pat" "$tmp/err"; then
		echo "errors: matrix.sh $*: exit $rc, expected $want and '$pat'; stderr:" >&2
		cat "$tmp/err" >&2
		fail=1
	fi
}

expect 2 '^usage: matrix.sh \[--check DOC\] BUILD_DIR$'
expect 2 '^matrix.sh: --check needs the document' --check
expect 2 "^matrix.sh: $tmp/none: no such build directory$" "$tmp/none"
mkdir "$tmp/empty"
expect 2 "^matrix.sh: $tmp/empty/libkmem-preload.so: the preload library is not built$" \
    "$tmp/empty"
cp "$build/libkmem-preload.so" "$tmp/empty/"
expect 2 "^matrix.sh: $tmp/empty/tests/misuse/misuse_overflow_24_by1: the program is not built$" \
    "$tmp/empty"
expect 2 "^matrix.sh: $tmp/none.md: cannot read the document" \
    --check "$tmp/none.md" "$build"
echo "# no table here" >"$tmp/notable.md"
expect 1 "^matrix.sh: $tmp/notable.md: no misuse table with kmem's columns" \
    --check "$tmp/notable.md" "$build"

# A table that claims too much: kmem by default does not see a 1-byte
# overflow, its double free is SIGABRT, and a row is missing.
awk '
	index($0, "| `overflow_24_by1` |") == 1 {
		print "| `overflow_24_by1` | x | silent | silent | silent | silent | SIGABRT | silent | SIGABRT | silent |"
		next
	}
	index($0, "| `double_free_other` |") == 1 { gsub(/SIGABRT/, "SIGBUS") }
	index($0, "| `realloc_freed` |") == 1 { next }
	{ print }' "$doc" >"$tmp/claims.md"
sh "$here/matrix.sh" --check "$tmp/claims.md" "$build" >"$tmp/out" 2>"$tmp/err"
rc=$?
for pat in \
    "^matrix.sh: $tmp/claims.md:[0-9]*: overflow_24_by1 under kmem: silent, but the table says SIGABRT$" \
    "^matrix.sh: $tmp/claims.md:[0-9]*: double_free_other under kmem: SIGABRT, but the table says SIGBUS$" \
    "^matrix.sh: $tmp/claims.md: no row for realloc_freed$"; do
	if [ $rc -ne 1 ] || ! grep -q -- "$pat" "$tmp/err"; then
		echo "errors: a table claiming too much: exit $rc, expected 1 and '$pat'; stderr:" >&2
		cat "$tmp/err" >&2
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "errors: ok"
exit $fail
