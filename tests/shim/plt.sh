#!/bin/sh
# plt.sh SHIM -- the fast paths of malloc() and free() (the entry points and
# kmalloc/kfree_any they jump to, where the link kept them: the shim's link
# drops what its entry points do not reach) make no call through the PLT and
# none to __tls_get_addr; the library exports only the allocation entry
# points.
set -u
so=$1
command -v objdump >/dev/null || { echo "plt: no objdump" >&2; exit 77; }
fail=0
dis=$(objdump -d --no-show-raw-insn "$so")
for fn in malloc free kmalloc kfree_any; do
	body=$(printf '%s\n' "$dis" | awk -v f="<$fn>:" '$2 == f {on=1; next} on && /^$/ {exit} on')
	if [ -z "$body" ]; then
		case $fn in
		malloc | free)
			echo "plt: $fn not found" >&2
			fail=1 ;;
		esac
	elif printf '%s\n' "$body" | grep -E '@plt|__tls_get_addr|call +\*' >/dev/null; then
		echo "plt: $fn calls through the PLT or __tls_get_addr:" >&2
		printf '%s\n' "$body" | grep -E '@plt|__tls_get_addr|call +\*' >&2
		fail=1
	fi
done
if objdump -d "$so" | grep -q '__tls_get_addr'; then
	echo "plt: the library calls __tls_get_addr (TLS must be initial-exec)" >&2
	fail=1
fi
extra=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -vE '^(malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|dlclose|_exit|_Exit|_Zn[wa]m.*|_Zd[la]Pv.*)$')
if [ -n "$extra" ]; then
	echo "plt: exports more than the entry points: $extra" >&2
	fail=1
fi
[ $fail -eq 0 ] && echo "plt: ok"
exit $fail
