#!/bin/sh
# smoke.sh SHIM -- real programs exit 0 with the same output with and
# without the shim.
set -u
so=$1
fail=0
run() { # name command...
	name=$1
	shift
	want=$("$@" 2>&1)
	wrc=$?
	got=$(LD_PRELOAD=$so "$@" 2>&1)
	grc=$?
	if [ $grc -ne 0 ] || [ $grc -ne $wrc ] || [ "$got" != "$want" ]; then
		echo "smoke: $name: exit $grc (without the shim $wrc); output differs:" >&2
		printf '%s\n' "$got" | head -20 >&2
		fail=1
	else
		echo "smoke: $name: ok"
	fi
}
if [ -x /usr/bin/python3 ]; then
	PYTHONMALLOC=malloc run python3 /usr/bin/python3 -c '
import json, re, sqlite3
c = sqlite3.connect(":memory:")
c.execute("create table t (k integer primary key, v text)")
c.executemany("insert into t values (?, ?)", ((i, "v%d" % i * 5) for i in range(20000)))
rows = c.execute("select k, v from t where k % 997 = 0").fetchall()
d = {str(k): re.sub(r"v(\d)", r"<\1>", v) for k, v in rows}
s = json.dumps(d, sort_keys=True)
print(len(s), json.loads(s)["997"][:20], sum(k for k, _ in rows))
'
fi
if command -v sqlite3 >/dev/null; then
	run sqlite3 sqlite3 :memory: "create table t(a); insert into t values(1),(2),(3); with recursive c(x) as (select 1 union all select x+1 from c where x < 50000) select count(*), sum(x), group_concat(x) like '1,2,3%' from c; select sum(a) from t;"
fi
command -v git >/dev/null && run git git --version
run ls ls -R /usr/include
[ $fail -eq 0 ]
exit $fail
