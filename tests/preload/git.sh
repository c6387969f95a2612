#!/bin/sh
# git init, add, commit and log on a scratch repository under kmem run,
# with fixed names and dates, so the commits hash the same as without
# kmem.
name=preload_git
. "$(dirname "$0")/common.sh"
need /usr/bin/git git
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=kmem \
	GIT_AUTHOR_EMAIL=kmem@example.org GIT_COMMITTER_NAME=kmem \
	GIT_COMMITTER_EMAIL=kmem@example.org \
	GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" \
	GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
mkdir -p "$HOME"

# The session: a repository with 3 commits of 200 files, then its log,
# with the git command $1.
session() {
	git=$1
	repo=$2
	$git init -q -b main "$repo" || return 1
	for c in 1 2 3; do
		i=0
		while [ $i -lt 200 ]; do
			printf 'file %d, commit %d\n' $i $c > "$repo/f$i.txt"
			i=$((i + 1))
		done
		$git -C "$repo" add -A || return 1
		$git -C "$repo" commit -q -m "commit $c" || return 1
	done
	$git -C "$repo" log --format='%H %s'
	$git -C "$repo" count-objects -v | grep -v size
}

# Under kmem, each git command of the session runs under kmem run
# through this wrapper.
mkdir -p "$tmp/wrap"
cat > "$tmp/wrap/git" <<SH
#!/bin/sh
exec "$kmem" run --report "$tmp/git.\$\$.report" -n 20 -- /usr/bin/git "\$@"
SH
chmod +x "$tmp/wrap/git"

with_glibc log session /usr/bin/git "$tmp/glibc"
[ $glibc_rc -eq 0 ] || fail "git fails under glibc: $(tail -5 "$tmp/log.glibc.err")"
session "$tmp/wrap/git" "$tmp/kmem" > "$tmp/log.kmem" 2> "$tmp/log.kmem.err"
kmem_rc=$?
same log
[ "$(wc -l < "$tmp/log.kmem")" -ge 3 ] || fail "log: $(cat "$tmp/log.kmem")"
# Every git run was summarized, none killed by a signal.
n=$(ls "$tmp"/git.*.report 2>/dev/null | wc -l)
[ "$n" -ge 8 ] || fail "only $n git runs were summarized"
cat "$tmp"/git.*.report > "$tmp/all.report"
grep -E 'killed by signal' "$tmp/all.report" && fail "a git run was killed"
grep -Eq '^==== kmem run: /usr/bin/git \(pid [0-9]+\) exited with status 0' "$tmp/all.report" ||
	fail "no git run exited 0: $(head -5 "$tmp/all.report")"
grep -Eq '^ *git +[0-9]+ ' "$tmp/all.report" ||
	fail "the summaries do not name git's own type:
$(head -20 "$tmp/all.report")"
grep -Eq '^ *libc\.so\.6 +[0-9]+ ' "$tmp/all.report" ||
	fail "the summaries do not name libc.so.6"
finish
