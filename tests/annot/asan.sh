#!/bin/sh
# asan.sh ANNOT ANNOT.C MODE -- runs one mode of annot.c in the
# AddressSanitizer build and checks the report (kmem_debug(3),
# ADDRESSSANITIZER): a write after kfree() or uma_zfree() and one byte
# past kmalloc(24) are reported as heap-use-after-free or use-after-poison
# at the line of the access; clean has no report.
set -u
prog=$1
src=$2
mode=$3
tmp=${TMPDIR:-/tmp}/kmem-annot-asan.$$
trap 'rm -f "$tmp"' EXIT

"$prog" "$mode" >"$tmp" 2>&1
rc=$?
if [ "$mode" = clean ]; then
	if [ "$rc" -ne 0 ] || grep -q "ERROR: AddressSanitizer" "$tmp"; then
		echo "asan.sh: clean: exit status $rc, or a report:"
		cat "$tmp"
		exit 1
	fi
	echo "asan.sh: clean: ok"
	exit 0
fi
line=$(grep -n "SITE $mode-write \*/" "$src" | cut -d: -f1)
if [ "$rc" -eq 0 ]; then
	echo "asan.sh: $mode: the program ran to its end: no report"
	cat "$tmp"
	exit 1
fi
if ! grep -Eq "ERROR: AddressSanitizer: (heap-use-after-free|use-after-poison)" "$tmp"; then
	echo "asan.sh: $mode: no heap-use-after-free or use-after-poison report"
	cat "$tmp"
	exit 1
fi
# The first frames of the access's stack: the poke and its caller.
if ! sed -n '/^WRITE of size 1/,/^$/p' "$tmp" | grep -qF "annot.c:$line"; then
	echo "asan.sh: $mode: the access at annot.c:$line is not in the report"
	cat "$tmp"
	exit 1
fi
echo "asan.sh: $mode: ok"
