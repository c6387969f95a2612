# Sourced by the preload tests: the preload library, the program, and
# running a workload with glibc and with kmem.
#
# The test script sets name (the test's name) and calls need PROGRAM after
# sourcing this with "KMEM BUILD_DIR" as its arguments.
set -u
kmem=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C TZ=UTC
here=$(cd "$(dirname "$0")" && pwd)
failed=0

fail() {
	echo "$name: $*" >&2
	failed=1
}

skip() {
	echo "$name: SKIP: $*"
	exit 77
}

# The preload library of the build tree BUILD_DIR, for kmem run.
shim=
for f in "$build/libkmem-preload.so" "$build/lib/libkmem-preload.so"; do
	[ -f "$f" ] && shim=$f && break
done
[ -n "$shim" ] || skip "libkmem-preload.so is not built in $build"
export KMEM_PRELOAD="$shim"

# need PATH: the program, or a skip naming its Debian package.
need() {
	[ -x "$1" ] || skip "$1 is not installed (scripts/setup installs ${2:-$(basename "$1")})"
}

# with_glibc TAG CMD...: CMD on glibc; stdout in $tmp/TAG.glibc, status in
# glibc_rc.
with_glibc() {
	tag=$1
	shift
	"$@" > "$tmp/$tag.glibc" 2> "$tmp/$tag.glibc.err"
	glibc_rc=$?
}

# with_kmem TAG [KMEM RUN OPTIONS] -- CMD...: the same under kmem run,
# the summary in $tmp/TAG.report; status in kmem_rc.
with_kmem() {
	tag=$1
	shift
	"$kmem" run --report "$tmp/$tag.report" -n 20 "$@" > "$tmp/$tag.kmem" \
		2> "$tmp/$tag.kmem.err"
	kmem_rc=$?
	if [ $kmem_rc -gt 128 ] && [ $kmem_rc -lt 160 ]; then
		fail "$tag: killed by signal $((kmem_rc - 128)) under kmem:
$(tail -20 "$tmp/$tag.kmem.err")
$(cat "$tmp/$tag.report" 2>/dev/null)"
	fi
}

# same TAG: the kmem run printed and exited as the glibc one.
same() {
	[ "$kmem_rc" -eq "$glibc_rc" ] ||
		fail "$1: exit $kmem_rc under kmem, $glibc_rc under glibc:
$(tail -20 "$tmp/$1.kmem.err")"
	cmp -s "$tmp/$1.glibc" "$tmp/$1.kmem" || {
		fail "$1: output differs under kmem (-glibc +kmem):"
		diff -u "$tmp/$1.glibc" "$tmp/$1.kmem" | head -40 >&2
	}
}

# names TAG REGEX WHAT: the summary has a line matching REGEX.
names() {
	grep -Eq -- "$2" "$tmp/$1.report" ||
		fail "$1: the summary does not name $3 (/$2/):
$(cat "$tmp/$1.report")"
}

# budget_hit TAG LIMIT: a clean failure (no signal, non-zero exit) and a
# summary that says the budget was hit.
budget_hit() {
	[ "$kmem_rc" -ne 0 ] || fail "$1: exit 0 under --limit $2"
	grep -Eq -- "budget of $2 hit: [0-9]+ allocations? failed" "$tmp/$1.report" ||
		fail "$1: the summary does not say the budget of $2 was hit:
$(cat "$tmp/$1.report")"
}

finish() {
	[ $failed -eq 0 ] && echo "$name: ok"
	exit $failed
}
