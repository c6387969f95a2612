#!/bin/sh
# death.sh SHIM BADFREE -- each misuse of free() aborts with kmem's one line.
set -u
so=$1
prog=$2
fail=0
expect() { # mode message
	err=$(LD_PRELOAD=$so "$prog" "$1" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 134 ] || ! printf '%s\n' "$err" | grep -q "$2"; then
		echo "death: $1: exit $rc, stderr: $err (expected SIGABRT and '$2')" >&2
		fail=1
	fi
}
expect interior "^kmem: free: 0x[0-9a-f]*: interior pointer into the 112-byte block at 0x[0-9a-f]* (zone 112)$"
expect double "^kmem: free: 0x[0-9a-f]*: double free (zone 112)$"
expect foreign "^kmem: free: 0x[0-9a-f]*: not the start of a kmalloc allocation; it is not an address kmem gave$"
expect large-interior "^kmem: free: 0x[0-9a-f]*: not the start of a kmalloc allocation; it is inside a large kmalloc allocation$"
expect realloc-freed "^kmem: realloc: 0x[0-9a-f]*: a free block (use after free) (zone 112)$"
[ $fail -eq 0 ] && echo "death: ok"
exit $fail
