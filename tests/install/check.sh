#!/bin/sh
# Installs kmem into a scratch prefix and builds the README's example
# against it with pkg-config, both against the shared and the static
# library, then runs them.  Usage: tests/install/check.sh BUILD_DIR
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/kmem/kmem.h include/kmem/vmem.h include/kmem/uma.h include/kmem/malloc.h include/kmem/memstat.h; do
	[ -f "$tmp/prefix/$f" ] || { echo "install: $f missing" >&2; exit 1; }
done
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -1)
for f in libkmem.so libkmem.a pkgconfig/kmem.pc; do
	[ -e "$libdir/$f" ] || { echo "install: lib/$f missing" >&2; exit 1; }
done
for m in vmem.3 kmem_malloc.3 uma.3 kmalloc.3 memstat.3 kmem_report.3 vmem_xalloc.3 uma_zalloc.3 kfree.3 memstat_get_count.3; do
	[ -f "$tmp/prefix/share/man/man3/$m" ] || { echo "install: man3/$m missing" >&2; exit 1; }
done

# The example is the first C block of the README.
awk '/^```c$/ {on=1; next} /^```$/ {if (on) exit} on' "$top/README.md" > "$tmp/example.c"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -Wall -Wextra -Werror -o "$tmp/example" "$tmp/example.c" $(pkg-config --cflags --libs kmem)
LD_LIBRARY_PATH="$libdir" "$tmp/example" > "$tmp/out"
grep -q "kmem map kmem_map:" "$tmp/out" || { echo "install: example printed no report" >&2; exit 1; }
cc -Wall -o "$tmp/example-static" "$tmp/example.c" $(pkg-config --cflags kmem) \
	"$libdir/libkmem.a" -lpthread
"$tmp/example-static" > /dev/null
MANPATH="$tmp/prefix/share/man" man -P cat kmem_report 2>/dev/null | grep -q "kmem_report" ||
	{ echo "install: man kmem_report does not show the page" >&2; exit 1; }

# Every program in the EXAMPLES of a manual page builds and runs.
n=0
for page in "$top"/man/*.3; do
	awk -v out="$tmp/manex" '
		/^\.Sh / { ex = ($2 == "EXAMPLES") }
		ex && /^\.Bd -literal/ { on = 1; k++; f = out "-" k ".c"; next }
		on && /^\.Ed/ { on = 0; next }
		on { print > f }' "$page"
	for f in "$tmp"/manex-*.c; do
		[ -e "$f" ] || continue
		sed -i 's/\\e/\\/g; s/\\&//g' "$f"
		if grep -q 'main(' "$f"; then
			# A whole program: build it and run it.
			cc -Wall -Werror -o "$tmp/manex" "$f" $(pkg-config --cflags --libs kmem) ||
				{ echo "install: the example in $(basename "$page") does not build" >&2; exit 1; }
			LD_LIBRARY_PATH="$libdir" "$tmp/manex" > /dev/null ||
				{ echo "install: the example in $(basename "$page") fails" >&2; exit 1; }
		elif grep -q '#include' "$f"; then
			# A fragment: it must at least compile.
			cc -Wall -Werror -Wno-missing-prototypes -c -o "$tmp/manex.o" "$f" $(pkg-config --cflags kmem) ||
				{ echo "install: the example in $(basename "$page") does not compile" >&2; exit 1; }
		else
			rm -f "$f"
			continue
		fi
		n=$((n + 1))
		rm -f "$f"
	done
done
[ "$n" -ge 3 ] || { echo "install: expected at least 3 manual page examples, found $n" >&2; exit 1; }
echo "install: headers, libraries, kmem.pc, manual pages, the README example and $n manual page examples: ok"
