#!/bin/sh
# The sqlite3 shell on a scripted workload (create, 10^4 rows, an index,
# queries) under kmem run; and under a budget, where it must say "out of
# memory" and fail cleanly.
name=preload_sqlite3
. "$(dirname "$0")/common.sh"
sq=/usr/bin/sqlite3
need $sq

with_glibc work $sq -bail -batch -init /dev/null :memory: ".read $here/workload.sql"
[ $glibc_rc -eq 0 ] || fail "workload fails under glibc: $(tail -5 "$tmp/work.glibc.err")"
with_kmem work -- $sq -bail -batch -init /dev/null :memory: ".read $here/workload.sql"
same work
names work '^ *libsqlite3\.so\.0 +[0-9]+ ' "libsqlite3.so.0"

# Rows until the budget is spent: sqlite3 reports the failure and exits
# with an error of its own.
with_kmem hog --limit 8M -- $sq -bail -batch -init /dev/null :memory: ".read $here/hog.sql"
budget_hit hog 8M
grep -Eqi "out of memory|malloc" "$tmp/hog.kmem.err" ||
	fail "hog: sqlite3 did not report running out: $(tail -5 "$tmp/hog.kmem.err")"
finish
