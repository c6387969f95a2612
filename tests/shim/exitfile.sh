#!/bin/sh
# exitfile.sh SHIM -- a preloaded program that leaves by _exit() (as dash
# does, or a child after a failed exec) removes its statistics file like one
# that calls exit(); with stats_keep=1 it keeps it; the exit status passes.
set -u
so=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0

# dash ends with _exit; python's os._exit is _exit too.
KMEM_OPTIONS="stats_file=$dir/kmem.%p" LD_PRELOAD=$so sh -c 'echo hello >/dev/null; exit 3'
st=$?
[ $st -eq 3 ] || { echo "exitfile: sh exited $st, expected 3" >&2; fail=1; }
KMEM_OPTIONS="stats_file=$dir/kmem.%p" LD_PRELOAD=$so /usr/bin/python3 -c 'import os; x = [str(i) for i in range(10000)]; os._exit(5)'
st=$?
[ $st -eq 5 ] || { echo "exitfile: python3 exited $st, expected 5" >&2; fail=1; }
left=$(ls "$dir")
[ -z "$left" ] || { echo "exitfile: files left behind: $left" >&2; fail=1; }

KMEM_OPTIONS="stats_file=$dir/kept.%p,stats_keep=1" LD_PRELOAD=$so sh -c 'exit 0'
n=$(ls "$dir" | grep -c '^kept\.')
[ "$n" -eq 1 ] || { echo "exitfile: stats_keep=1 kept $n files, expected 1" >&2; fail=1; }

[ $fail -eq 0 ] && echo "exitfile: ok"
exit $fail
