#!/bin/sh
# matrix.sh [--check DOC] BUILD_DIR -- the misuse matrix.
#
# Runs every misuse program of tests/misuse (built in BUILD_DIR/tests/misuse)
# under glibc's malloc, the peer allocators Debian provides (jemalloc,
# mimalloc, tcmalloc: the ones bench/peers.sh finds) and kmem's preload
# library BUILD_DIR/libkmem-preload.so, in its default mode and with
# trash=1, redzone=1 and memguard=<the program's type>, and prints the
# results as a Markdown table.  A cell says how the misuse was detected:
# the signal that killed the program and the first line the allocator
# wrote on standard error (addresses as ADDR), "reported" for a line
# written by an allocator that let the program go on; or "silent" when the
# program ran to its end as if nothing had happened.
#
# With --check DOC, DOC (docs/SECURITY.md) holds the table as measured
# before; the run fails when a kmem column detects less than it says
# (or by another signal), when a misuse is detected by none of trash=1,
# redzone=1 and memguard, or when a program and the table disagree on
# the rows.  The peers' columns are printed, never checked.
set -u
here=$(cd "$(dirname "$0")" && pwd)
me=matrix.sh

check=""
if [ "${1:-}" = --check ]; then
	if [ $# -lt 2 ]; then
		echo "$me: --check needs the document that holds the table" >&2
		exit 2
	fi
	check=$2
	shift 2
fi
if [ $# -ne 1 ]; then
	echo "usage: $me [--check DOC] BUILD_DIR" >&2
	exit 2
fi
build=$1
if [ ! -d "$build" ]; then
	echo "$me: $build: no such build directory" >&2
	exit 2
fi
shim=$build/libkmem-preload.so
if [ ! -f "$shim" ]; then
	echo "$me: $shim: the preload library is not built" >&2
	exit 2
fi
if [ -n "$check" ] && [ ! -r "$check" ]; then
	echo "$me: $check: cannot read the document to check against" >&2
	exit 2
fi

# The rows, in order, and what each does.
rows="overflow_24_by1 overflow_32_by1 overflow_32_by16 underflow_1
write_after_free read_after_free double_free double_free_other
interior_free foreign_stack foreign_global foreign_mmap realloc_freed
large_double_free large_use_after_free large_overflow"
what() {
	case $1 in
	overflow_24_by1) echo "1 byte past malloc(24)" ;;
	overflow_32_by1) echo "1 byte past malloc(32)" ;;
	overflow_32_by16) echo "16 bytes past malloc(32)" ;;
	underflow_1) echo "1 byte before malloc(32)" ;;
	write_after_free) echo "8 bytes written into a freed 32-byte block" ;;
	read_after_free) echo "a freed 32-byte block read" ;;
	double_free) echo "free(a); free(a)" ;;
	double_free_other) echo "free(a); free(b); free(a)" ;;
	interior_free) echo "free(p + 16), p = malloc(64)" ;;
	foreign_stack) echo "free() of a local array" ;;
	foreign_global) echo "free() of a global array" ;;
	foreign_mmap) echo "free() of a pointer into an mmap()ed page" ;;
	realloc_freed) echo "realloc() of a freed block" ;;
	large_double_free) echo "a 1 MiB block freed twice" ;;
	large_use_after_free) echo "a freed 1 MiB block written and read" ;;
	large_overflow) echo "1 byte past malloc(1 MiB)" ;;
	esac
}
for r in $rows; do
	if [ ! -x "$build/tests/misuse/misuse_$r" ]; then
		echo "$me: $build/tests/misuse/misuse_$r: the program is not built" >&2
		exit 2
	fi
done
for p in "$build"/tests/misuse/misuse_*; do
	n=${p##*/misuse_}
	case " $(echo $rows) " in
	*" $n "*) ;;
	*)
		echo "$me: $p: a program with no row in $me" >&2
		exit 2
		;;
	esac
done

# shellcheck source=../../bench/peers.sh
. "$here/../../bench/peers.sh"
cols="$peers kmem kmem_trash kmem_redzone kmem_memguard"
title() {
	case $1 in
	kmem) echo "kmem" ;;
	kmem_trash) echo "kmem trash=1" ;;
	kmem_redzone) echo "kmem redzone=1" ;;
	kmem_memguard) echo "kmem memguard" ;;
	*) echo "$1" ;;
	esac
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kmem-misuse.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
ulimit -c 0 2>/dev/null

# The table of DOC: "LINE ROW COLUMN CELL" for kmem's columns.
[ -n "$check" ] && awk -F '|' '
	function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
	index($0, "| misuse | what |") == 1 {
		intable = 1
		for (i = 2; i < NF; i++) {
			t = trim($i)
			col[i] = ""
			if (t == "kmem")
				col[i] = "kmem"
			else if (t == "kmem trash=1")
				col[i] = "kmem_trash"
			else if (t == "kmem redzone=1")
				col[i] = "kmem_redzone"
			else if (t == "kmem memguard")
				col[i] = "kmem_memguard"
		}
		next
	}
	intable && index($0, "|---") == 1 { next }
	intable && substr($0, 1, 1) != "|" { exit }
	intable {
		r = trim($2)
		gsub(/`/, "", r)
		for (i = 3; i < NF; i++)
			if (col[i] != "")
				print NR, r, col[i], trim($i)
	}' "$check" >"$tmp/doc"
if [ -n "$check" ] && [ ! -s "$tmp/doc" ]; then
	echo "$me: $check: no misuse table with kmem's columns (a line starting '| misuse | what |')" >&2
	exit 1
fi

shellsays='^(Segmentation fault|Aborted|Bus error|Illegal instruction|Killed|Trace/breakpoint trap|Floating point exception)( \(core dumped\))?$'

# run COLUMN ROW: runs the program, writes its cell to $tmp/ROW.COLUMN.
run() {
	c=$1 r=$2
	prog=$build/tests/misuse/misuse_$r
	case $c in
	glibc) set -- ;;
	kmem) set -- "LD_PRELOAD=$shim" "KMEM_OPTIONS=stats=0" ;;
	kmem_trash) set -- "LD_PRELOAD=$shim" "KMEM_OPTIONS=stats=0,trash=1" ;;
	kmem_redzone) set -- "LD_PRELOAD=$shim" "KMEM_OPTIONS=stats=0,redzone=1" ;;
	kmem_memguard)
		set -- "LD_PRELOAD=$shim" "KMEM_OPTIONS=stats=0,memguard=misuse_$r"
		;;
	*) set -- "LD_PRELOAD=$(peer_lib "$c")" ;;
	esac
	timeout 20 env "$@" "$prog" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	# The first line on stderr, less the shell's own word on the signal.
	msg=$(grep -v -E -e '^[[:space:]]*$' -e "$shellsays" "$tmp/err" |
	    head -n 1 |
	    sed -e 's/0x[0-9a-fA-F]*/ADDR/g' -e 's/[`|]/ /g' |
	    cut -c 1-64)
	[ -n "$msg" ] && msg=" \`$msg\`"
	if [ $rc -eq 124 ]; then
		cell="hang"
	elif [ $rc -gt 128 ]; then
		cell="SIG$(kill -l $((rc - 128)))$msg"
	elif [ $rc -eq 0 ] && grep -q '^ran to the end$' "$tmp/out"; then
		if [ -n "$msg" ]; then
			cell="reported$msg"
		else
			cell="silent"
			grep -q '(the old contents)' "$tmp/out" &&
			    cell="silent (old data read)"
			grep -q '(changed)' "$tmp/out" &&
			    cell="silent (changed data read)"
		fi
	else
		cell="exit $rc$msg"
	fi
	printf '%s\n' "$cell" >"$tmp/$r.$c"
}

for r in $rows; do
	for c in $cols; do
		run "$c" "$r"
	done
done

# The table.
line="| misuse | what |"
sep="|---|---|"
for c in $cols; do
	line="$line $(title "$c") |"
	sep="$sep---|"
done
echo "$line"
echo "$sep"
for r in $rows; do
	line="| \`$r\` | $(what "$r") |"
	for c in $cols; do
		line="$line $(cat "$tmp/$r.$c") |"
	done
	echo "$line"
done
[ -n "$missing" ] && echo && echo "Not installed, left out:$missing."

[ -z "$check" ] && exit 0

# detected CELL: whether a cell says the misuse was detected.
detected() {
	case $1 in
	silent* | hang | "") return 1 ;;
	*) return 0 ;;
	esac
}
fail=0
for r in $rows; do
	if ! grep -q "^[0-9]* $r " "$tmp/doc"; then
		echo "$me: $check: no row for $r" >&2
		fail=1
	fi
	any=0
	for c in kmem_trash kmem_redzone kmem_memguard; do
		detected "$(cat "$tmp/$r.$c")" && any=1
	done
	if [ $any -eq 0 ]; then
		echo "$me: $r: detected by none of trash=1, redzone=1 and memguard" >&2
		fail=1
	fi
done
while read -r n r c want; do
	if [ ! -f "$tmp/$r.kmem" ]; then
		echo "$me: $check:$n: row $r names no misuse program" >&2
		fail=1
		continue
	fi
	got=$(cat "$tmp/$r.$c")
	# A detection the table marks "(placement)" is measured, not promised.
	case $want in
	*"(placement)"*) continue ;;
	esac
	detected "$want" || continue
	if ! detected "$got"; then
		echo "$me: $check:$n: $r under $(title "$c"): $got, but the table says $want" >&2
		fail=1
	elif [ "${want%% *}" != "${got%% *}" ]; then
		echo "$me: $check:$n: $r under $(title "$c"): ${got%% *}, but the table says ${want%% *}" >&2
		fail=1
	fi
done <"$tmp/doc"
[ $fail -eq 0 ] && echo "$me: kmem detects what $check says"
exit $fail
