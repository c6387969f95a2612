#!/bin/sh
# exec.sh SHIM -- a program run with the shim keeps it, its children do not
# (the shim takes itself out of LD_PRELOAD), unless KMEM_PRELOAD_INHERIT=1;
# other entries of LD_PRELOAD stay.
set -u
so=$1
fail=0
check() { # what got expected
	if [ "$2" != "$3" ]; then
		echo "exec: $1: got '$2', expected '$3'" >&2
		fail=1
	fi
}
maps='if grep -q libkmem-preload /proc/self/maps; then echo 1; else echo 0; fi'

# The shell itself runs on kmem; the grep it starts does not.
got=$(LD_PRELOAD=$so sh -c "grep -q libkmem-preload /proc/\$\$/maps && echo 1; $maps; echo \"[\$LD_PRELOAD]\"")
check "default" "$(echo $got)" "1 0 []"

got=$(KMEM_PRELOAD_INHERIT=1 LD_PRELOAD=$so sh -c "$maps; echo \"[\$LD_PRELOAD]\"")
check "inherit" "$(echo $got)" "1 [$so]"

# Another preloaded library stays for the children.
other=$(ldd /bin/sh | awk '/libc.so/ {print $3}')
got=$(LD_PRELOAD="$so:$other" sh -c "$maps; echo \"[\$LD_PRELOAD]\"")
check "other entries" "$(echo $got)" "0 [$other]"
got=$(LD_PRELOAD="$other $so" sh -c "echo \"[\$LD_PRELOAD]\"")
check "other entries, shim last" "$got" "[$other]"

[ $fail -eq 0 ] && echo "exec: ok"
exit $fail
