#!/bin/sh
# Splits callgrind's cost of one operation between the benchmark's own loop
# and the code it calls, and counts the calls that code makes:
#   bench/cgsplit.sh LOOPFN PROGRAM ARGS-BEFORE-OPS -- OPS1 OPS2
# LOOPFN is the (noinline) function that runs the operations.  As in
# bench/instr.sh the program runs twice, with OPS1 and OPS2 operations, and
# every figure is the difference of the two runs over OPS2 - OPS1, so that
# start-up, set-up and tear-down cancel.  Prints one line:
#   LOOP_IR CALLS [CALLEE=RATE ...]
# LOOP_IR: instructions per operation spent in LOOPFN itself (the loop, the
#   argument set-up and, for calls into a shared library, the PLT stubs,
#   which callgrind charges to the caller);
# CALLS: calls per operation made by the code LOOPFN calls (every call
#   below LOOPFN: 0 means the operations made no call at all);
# CALLEE=RATE: the callees behind CALLS, most frequent first (at most 4,
#   rate per operation; names as callgrind gives them).
set -eu
loopfn=$1
shift
args=""
while [ "$1" != "--" ]; do args="$args $1"; shift; done
shift
n1=$1 n2=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgsplit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The profile as "self LOOPFN-self-Ir" and "call CALLER CALLEE COUNT" lines.
# In a callgrind file, fn= opens the cost lines of a function, cfn= names
# the callee of the calls= line that follows, and the cost line right after
# calls= is the call's inclusive cost, which is not self cost.
profile() {
	# shellcheck disable=SC2086
	valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
		--callgrind-out-file="$tmp/cg.$1" $args "$1" >/dev/null 2>&1
	awk -v loopfn="$loopfn" '
		/^fn=/ { fn = substr($0, 4); next }
		/^cfn=/ { cfn = substr($0, 5); next }
		/^calls=/ {
			split(substr($0, 7), f, " ")
			calls[fn "\t" cfn] += f[1]
			skip = 1
			next
		}
		/^[0-9+*-]/ {
			if (skip) { skip = 0; next }
			if (fn == loopfn) self += $2
			next
		}
		END {
			printf "self %d\n", self
			for (k in calls) {
				split(k, p, "\t")
				printf "call %s\t%s\t%d\n", p[1], p[2], calls[k]
			}
		}' "$tmp/cg.$1"
}
profile "$n1" >"$tmp/p1"
profile "$n2" >"$tmp/p2"
grep -q "^self [1-9]" "$tmp/p2" || {
	echo "cgsplit.sh: no cost for $loopfn in the profile" >&2
	exit 1
}
# Calls whose caller is not the loop itself, as a rate per operation.
awk -v n1="$n1" -v n2="$n2" -v loopfn="$loopfn" -F '\t' '
	FNR == 1 { run++ }
	/^self / { split($0, s, " "); self[run] = s[2]; next }
	/^call / {
		caller = substr($1, 6)
		if (caller == loopfn) next
		c[$2] += (run == 1 ? -$3 : $3)
	}
	END {
		d = n2 - n1
		total = 0
		for (k in c) { total += c[k]; r[k] = c[k] / d }
		printf "%.1f %.2f", (self[2] - self[1]) / d, total / d
		for (i = 0; i < 4; i++) {
			best = ""
			for (k in r) if (r[k] >= 0.005 && (best == "" || r[k] > r[best])) best = k
			if (best == "") break
			printf " %s=%.2f", best, r[best]
			delete r[best]
		}
		printf "\n"
	}' "$tmp/p1" "$tmp/p2"
