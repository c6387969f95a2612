#!/bin/sh
# Checks that every manual page man/*.[0-9] is valid mdoc: with
# `mandoc -T lint -W warning` when mandoc is installed, otherwise with
# groff (`groff -man -ww -z`, which prints its mdoc complaints on stderr
# but exits 0, so any output counts as a failure).  Exits non-zero on any
# warning or error.  Usage: tests/man/lint.sh [PAGE...]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ $# -eq 0 ]; then
	set -- "$top"/man/*.[0-9]
	if [ ! -f "$1" ]; then
		echo "man lint: no manual pages in $top/man" >&2
		exit 1
	fi
fi

if command -v mandoc >/dev/null 2>&1; then
	tool="mandoc -T lint -W warning"
elif command -v groff >/dev/null 2>&1; then
	tool="groff -man -Tutf8 -ww -z"
else
	echo "man lint: neither mandoc nor groff is installed" >&2
	exit 1
fi

failed=0
for page in "$@"; do
	# mandoc exits 2 on a warning and more on worse; groff always exits 0.
	out=$($tool "$page" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ -n "$out" ]; then
		echo "man lint: $page:" >&2
		[ -n "$out" ] && printf '%s\n' "$out" >&2
		failed=1
	fi
done
if [ $failed -ne 0 ]; then
	echo "man lint: FAILED ($tool)" >&2
	exit 1
fi
echo "man lint: $# page(s) clean ($tool)"
