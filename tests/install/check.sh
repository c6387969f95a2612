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
for f in include/kmem/kmem.h include/kmem/vmem.h; do
	[ -f "$tmp/prefix/$f" ] || { echo "install: $f missing" >&2; exit 1; }
done
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -1)
for f in libkmem.so libkmem.a pkgconfig/kmem.pc; do
	[ -e "$libdir/$f" ] || { echo "install: lib/$f missing" >&2; exit 1; }
done
for m in vmem.3 kmem_malloc.3; do
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
echo "install: headers, libraries, kmem.pc, manual pages and the README example: ok"
