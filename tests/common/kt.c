/*
 * kt.c -- fork-and-capture helpers for the unit tests; see kt.h.
 */
#include "kt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/memstat.h>

void
kt_child_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	fflush(stderr);
	_exit(1);
}

void
kt_child(void (*fn)(void *), void *arg, struct kt_result *res)
{
	int fds[2];
	pid_t pid;
	size_t got = 0;
	int st;

	memset(res, 0, sizeof(*res));
	fflush(stdout);
	fflush(stderr);
	if (pipe(fds) != 0) {
		fail_msg("pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		fail_msg("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/*
		 * Default dispositions: cmocka catches these in the parent, and
		 * the child must die of them, not return into the runner.
		 */
		signal(SIGABRT, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		signal(SIGILL, SIG_DFL);
		signal(SIGFPE, SIG_DFL);
		close(fds[0]);
		dup2(fds[1], 2);
		close(fds[1]);
		fn(arg);
		fflush(stdout);
		fflush(stderr);
		_exit(0);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], res->kr_err + got,
		    sizeof(res->kr_err) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(res->kr_err) - 1) {
			/* Drain the rest so the child never blocks. */
			char sink[4096];
			while (read(fds[0], sink, sizeof(sink)) > 0)
				;
			break;
		}
	}
	res->kr_err[got] = '\0';
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st)) {
		res->kr_exited = 1;
		res->kr_status = WEXITSTATUS(st);
	} else {
		res->kr_exited = 0;
		res->kr_status = WTERMSIG(st);
	}
}

void
kt_assert_child_ok(void (*fn)(void *), void *arg)
{
	static struct kt_result res;

	kt_child(fn, arg, &res);
	if (!res.kr_exited || res.kr_status != 0) {
		fail_msg("child %s %d; its stderr:\n%s",
		    res.kr_exited ? "exited with" : "killed by signal",
		    res.kr_status, res.kr_err);
	}
}

void
kt_assert_death(void (*fn)(void *), void *arg, int sig, const char *message)
{
	static struct kt_result res;

	kt_child(fn, arg, &res);
	if (res.kr_exited) {
		fail_msg("child exited with %d, expected signal %d; stderr:\n%s",
		    res.kr_status, sig, res.kr_err);
		return;
	}
	if (res.kr_status != sig) {
		fail_msg("child killed by signal %d, expected %d; stderr:\n%s",
		    res.kr_status, sig, res.kr_err);
		return;
	}
	if (message != NULL && strstr(res.kr_err, message) == NULL) {
		fail_msg("child's stderr lacks \"%s\":\n%s", message, res.kr_err);
	}
}

void
kt_cmp_fail(const char *file, int line, const char *a, unsigned long long av,
    const char *op, const char *b, unsigned long long bv)
{
	char what[256];

	fprintf(stderr, "%s:%d: %s = %llu, %s = %llu\n", file, line, a, av, b, bv);
	snprintf(what, sizeof(what), "%s %s %s", a, op, b);
	kt_child_fail(file, line, what);
}

int
kt_failures_injected(void)
{
	static const char *const names[] = {"failure_rate=", "fail_commit=",
	    "fail_reserve="};
	const char *o = getenv("KMEM_OPTIONS");

	if (o == NULL)
		return (0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *f = strstr(o, names[i]);
		if (f == NULL)
			continue;
		f += strlen(names[i]);
		while (*f == '0')
			f++;
		if (*f >= '1' && *f <= '9')
			return (1);
	}
	return (0);
}

void
kt_map_setup(const char *size)
{
	KT_CHECK(kmem_setopt("kmem_size", size) == 0);
	KT_CHECK(kmem_init() == 0);
}

struct uma_zone_stats
kt_zone_stats(struct uma_zone *zone)
{
	struct uma_zone_stats st;

	memset(&st, 0xff, sizeof(st));
	uma_zone_get_stats(zone, &st);
	return (st);
}

void
kt_zone_consistent(struct uma_zone *zone)
{
	struct uma_zone_stats st = kt_zone_stats(zone);

	KT_EQ(st.zs_free, st.zs_free_cache + st.zs_free_bucket + st.zs_free_slab);
	KT_EQ(st.zs_used + st.zs_free, st.zs_ipers * st.zs_slabs);
	KT_EQ(st.zs_pages, st.zs_slabs * st.zs_slab_pages);
	KT_EQ(st.zs_requests - st.zs_frees, st.zs_used);
	KT_EQ(uma_zone_get_cur(zone), st.zs_used);
}

struct kt_tstat
kt_stat_of(int allocator, const char *name)
{
	struct kt_tstat t;
	struct memory_type_list *list = memstat_mtl_alloc();
	struct memory_type *mtp;

	memset(&t, 0, sizeof(t));
	KT_CHECK(list != NULL);
	KT_CHECK(memstat_self_all(list) == 0);
	mtp = memstat_mtl_find(list, allocator, name);
	if (mtp != NULL) {
		t.found = 1;
		t.backed = memstat_get_malloc_backed(mtp);
		t.size = memstat_get_size(mtp);
		t.count = memstat_get_count(mtp);
		t.bytes = memstat_get_bytes(mtp);
		t.highbytes = memstat_get_highbytes(mtp);
		t.numallocs = memstat_get_numallocs(mtp);
		t.numfrees = memstat_get_numfrees(mtp);
		t.failures = memstat_get_failures(mtp);
		t.sizemask = memstat_get_sizemask(mtp);
		t.sleeps = memstat_get_sleeps(mtp);
		t.countlimit = memstat_get_countlimit(mtp);
	}
	memstat_mtl_free(list);
	return (t);
}
