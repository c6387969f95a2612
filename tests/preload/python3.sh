#!/bin/sh
# python3 (Debian's, with PYTHONMALLOC=malloc so that every object comes
# from malloc) on dicts, JSON, regular expressions and sqlite3 under kmem
# run; and under a budget, where it must fail with a MemoryError.
name=preload_python3
. "$(dirname "$0")/common.sh"
py=/usr/bin/python3
need $py
export PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1

with_glibc work $py "$here/workload.py"
[ $glibc_rc -eq 0 ] || fail "workload fails under glibc: $(tail -5 "$tmp/work.glibc.err")"
with_kmem work -- $py "$here/workload.py"
same work
names work '^ *(lib)?python3\.[0-9]+(\.so[.0-9]*)? +[0-9]+ ' "python's own type"
names work '^ *libc\.so\.6 +[0-9]+ ' "libc.so.6"
names work '^map: kmem_size ' "the map"

with_kmem hog --limit 8M -- $py "$here/hog.py"
budget_hit hog 8M
grep -q "MemoryError" "$tmp/hog.kmem" "$tmp/hog.kmem.err" ||
	fail "hog: no MemoryError under --limit 8M: $(tail -5 "$tmp/hog.kmem.err")"
finish
