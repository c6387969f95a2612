/*
 * test_platform.c -- the platform layer (src/platform/prim_linux.c): pages,
 * failure injection, the figures the map is sized from, locks, threads,
 * clock and messages.  KT_THREADED: also run under ThreadSanitizer.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt.h"
#include "platform/prim.h"

static void
test_pages(void **state)
{
	size_t ps = kp_page_size();
	void *p = NULL;
	unsigned char *c;

	assert_true(ps >= 4096 && (ps & (ps - 1)) == 0);
	assert_int_equal(kp_reserve(16 * ps, 0, &p), 0);
	assert_non_null(p);
	c = p;
	assert_int_equal(kp_commit(c + 4 * ps, 4 * ps), 0);
	for (size_t i = 0; i < 4 * ps; i++)
		assert_int_equal(c[4 * ps + i], 0);
	memset(c + 4 * ps, 0xa5, 4 * ps);
	assert_int_equal(kp_decommit(c + 4 * ps, 4 * ps), 0);
	assert_int_equal(kp_commit(c + 4 * ps, 4 * ps), 0);
	/* Memory given back reads zero when committed again. */
	for (size_t i = 0; i < 4 * ps; i++)
		assert_int_equal(c[4 * ps + i], 0);
	assert_int_equal(kp_release(p, 16 * ps), 0);
}

static void
test_bad_arguments(void **state)
{
	size_t ps = kp_page_size();
	void *p = NULL;

	assert_int_equal(kp_reserve(0, 0, &p), EINVAL);
	assert_int_equal(kp_reserve(ps + 1, 0, &p), EINVAL);
	assert_int_equal(kp_reserve(ps, 3 * ps, &p), EINVAL);
	assert_int_equal(kp_reserve(4 * ps, 0, &p), 0);
	assert_int_equal(kp_commit((char *)p + 1, ps), EINVAL);
	assert_int_equal(kp_commit(p, ps - 1), EINVAL);
	assert_int_equal(kp_commit(p, 0), EINVAL);
	assert_int_equal(kp_decommit((char *)p + 1, ps), EINVAL);
	assert_int_equal(kp_protect(p, ps, 8), EINVAL);
	assert_int_equal(kp_release((char *)p + 3, ps), EINVAL);
	assert_int_equal(kp_release(p, 4 * ps), 0);
}

static void
test_aligned_reserve(void **state)
{
	size_t align = (size_t)1 << 21;
	void *p = NULL;

	for (int i = 0; i < 8; i++) {
		assert_int_equal(kp_reserve(3 * kp_page_size(), align, &p), 0);
		assert_int_equal((uintptr_t)p & (align - 1), 0);
		assert_int_equal(kp_commit(p, 3 * kp_page_size()), 0);
		memset(p, 1, 3 * kp_page_size());
		assert_int_equal(kp_release(p, 3 * kp_page_size()), 0);
	}
}

static void
child_touch_reserved(void *arg)
{
	void *p = NULL;

	KT_CHECK(kp_reserve(kp_page_size(), 0, &p) == 0);
	*(volatile char *)p = 1; /* not committed: must fault */
}

static void
child_write_readonly(void *arg)
{
	void *p = NULL;

	KT_CHECK(kp_reserve(kp_page_size(), 0, &p) == 0);
	KT_CHECK(kp_commit(p, kp_page_size()) == 0);
	*(volatile char *)p = 1;
	KT_CHECK(kp_protect(p, kp_page_size(), KP_PROT_READ) == 0);
	KT_CHECK(*(volatile char *)p == 1);
	*(volatile char *)p = 2; /* read-only: must fault */
}

static void
child_touch_decommitted(void *arg)
{
	void *p = NULL;

	KT_CHECK(kp_reserve(kp_page_size(), 0, &p) == 0);
	KT_CHECK(kp_commit(p, kp_page_size()) == 0);
	*(volatile char *)p = 1;
	KT_CHECK(kp_decommit(p, kp_page_size()) == 0);
	*(volatile char *)p = 2; /* given back: must fault */
}

static void
test_protection(void **state)
{
	kt_assert_death(child_touch_reserved, NULL, SIGSEGV, NULL);
	kt_assert_death(child_write_readonly, NULL, SIGSEGV, NULL);
	kt_assert_death(child_touch_decommitted, NULL, SIGSEGV, NULL);
}

static void
test_inject(void **state)
{
	size_t ps = kp_page_size();
	void *p = NULL, *q = NULL;
	uint64_t before = kp_injected(KP_OP_COMMIT);

	assert_int_equal(kp_reserve(4 * ps, 0, &p), 0);
	kp_inject(KP_OP_COMMIT, 1, 2);
	assert_int_equal(kp_commit(p, ps), 0);            /* skipped */
	assert_int_equal(kp_commit(p, ps), ENOMEM);       /* injected */
	assert_int_equal(kp_commit((char *)p + ps, ps), ENOMEM);
	assert_int_equal(kp_commit((char *)p + ps, ps), 0); /* spent */
	assert_int_equal(kp_injected(KP_OP_COMMIT) - before, 2);

	kp_inject(KP_OP_RESERVE, 0, 1);
	assert_int_equal(kp_reserve(ps, 0, &q), ENOMEM);
	assert_int_equal(kp_reserve(ps, 0, &q), 0);
	assert_int_equal(kp_release(q, ps), 0);

	kp_inject(KP_OP_COMMIT, 0, 5);
	kp_inject(KP_OP_COMMIT, 0, 0); /* cancelled */
	assert_int_equal(kp_commit((char *)p + 2 * ps, ps), 0);
	assert_int_equal(kp_release(p, 4 * ps), 0);
}

static void
test_figures(void **state)
{
	uint64_t phys = kp_figure(KP_FIG_PHYSMEM);
	long pages = sysconf(_SC_PHYS_PAGES);

	assert_int_equal(phys, (uint64_t)pages * (uint64_t)kp_page_size());
	assert_string_equal(kp_figure_source(KP_FIG_PHYSMEM),
	    "sysconf(_SC_PHYS_PAGES)");

	uint64_t cg = kp_figure(KP_FIG_CGROUP);
	assert_true(cg > 0);
	const char *src = kp_figure_source(KP_FIG_CGROUP);
	assert_true(strncmp(src, "cgroup v", 8) == 0 ||
	    strcmp(src, "no cgroup memory limit") == 0);
	if (cg == KP_UNLIMITED)
		assert_string_equal(src, "no cgroup memory limit");

	kp_figure_override(KP_FIG_PHYSMEM, 123456789);
	kp_figure_override(KP_FIG_CGROUP, 42);
	assert_int_equal(kp_figure(KP_FIG_PHYSMEM), 123456789);
	assert_int_equal(kp_figure(KP_FIG_CGROUP), 42);
	assert_string_equal(kp_figure_source(KP_FIG_CGROUP), "substituted");
	kp_figure_reset(KP_FIG_PHYSMEM);
	kp_figure_reset(KP_FIG_CGROUP);
	assert_int_equal(kp_figure(KP_FIG_PHYSMEM), phys);
	assert_int_equal(kp_figure(KP_FIG_CGROUP), cg);
}

static void
child_rlimit(void *arg)
{
	struct rlimit rl;
	uint64_t before = kp_figure(KP_FIG_AS_FREE);

	KT_CHECK(before == KP_UNLIMITED ||
	    strncmp(kp_figure_source(KP_FIG_AS_FREE), "RLIMIT_AS", 9) == 0);
	/* Allow about 1 GiB more than is mapped now. */
	char buf[64] = {0};
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long vm = 0;
	KT_CHECK(f != NULL && fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	vm = strtoul(buf, NULL, 10) * (unsigned long)kp_page_size();
	rl.rlim_cur = rl.rlim_max = vm + (1ul << 30);
	KT_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
	uint64_t as = kp_figure(KP_FIG_AS_FREE);
	KT_CHECK(as <= (UINT64_C(1) << 30));
	KT_CHECK(as >= (UINT64_C(1) << 29));
	KT_CHECK(strncmp(kp_figure_source(KP_FIG_AS_FREE), "RLIMIT_AS ", 10) == 0);
}

static void
test_rlimit(void **state)
{
	kt_assert_child_ok(child_rlimit, NULL);
}

struct waker {
	kp_mutex_t m;
	kp_cond_t c;
	int flag;
	uint32_t tid;
};

static void *
waker_main(void *arg)
{
	struct waker *w = arg;

	w->tid = kp_thread_id();
	kp_sleep_ns(20 * 1000 * 1000);
	kp_mutex_lock(&w->m);
	w->flag = 1;
	kp_cond_signal(&w->c);
	kp_mutex_unlock(&w->m);
	return (NULL);
}

static void
test_locks_and_threads(void **state)
{
	struct waker w;
	pthread_t t;
	uint64_t t0, t1;

	kp_mutex_init(&w.m);
	kp_cond_init(&w.c);
	w.flag = 0;

	/* A timed wait with nobody signalling times out, not before time. */
	kp_mutex_lock(&w.m);
	t0 = kp_clock_ns();
	assert_false(kp_cond_timedwait(&w.c, &w.m, 30 * 1000 * 1000));
	t1 = kp_clock_ns();
	kp_mutex_unlock(&w.m);
	assert_true(t1 - t0 >= 29 * 1000 * 1000);

	assert_int_equal(pthread_create(&t, NULL, waker_main, &w), 0);
	kp_mutex_lock(&w.m);
	while (w.flag == 0)
		(void)kp_cond_timedwait(&w.c, &w.m, 5ull * 1000 * 1000 * 1000);
	kp_mutex_unlock(&w.m);
	pthread_join(t, NULL);
	assert_int_equal(w.flag, 1);
	assert_true(w.tid != 0);
	assert_true(w.tid != kp_thread_id());
	assert_int_equal(kp_thread_id(), (uint32_t)getpid());

	assert_true(kp_mutex_trylock(&w.m));
	kp_mutex_unlock(&w.m);
	kp_cond_destroy(&w.c);
	kp_mutex_destroy(&w.m);
}

static void
child_fork_tid(void *arg)
{
	uint32_t parent = kp_thread_id();
	pid_t pid = fork();

	if (pid == 0)
		_exit(kp_thread_id() == (uint32_t)getpid() &&
		    kp_thread_id() != parent ? 0 : 1);
	int st;
	KT_CHECK(waitpid(pid, &st, 0) == pid);
	KT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_fork_thread_id(void **state)
{
	kt_assert_child_ok(child_fork_tid, NULL);
}

static void
child_log(void *arg)
{
	kp_log("hello %d %s", 42, "world");
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	kp_log("%s", big);
}

static void
child_fatal(void *arg)
{
	kp_fatal("kmem_free: %p: bad", (void *)0x1000);
}

static void
test_messages(void **state)
{
	struct kt_result r;

	kt_child(child_log, NULL, &r);
	assert_int_equal(r.kr_status, 0);
	assert_true(strncmp(r.kr_err, "kmem: hello 42 world\nkmem: xxx", 30) == 0);
	/* The long line is cut to 1023 bytes with its newline. */
	char *second = strchr(r.kr_err, '\n') + 1;
	assert_int_equal(strlen(second), 1023);
	assert_int_equal(second[1022], '\n');

	kt_assert_death(child_fatal, NULL, SIGABRT, "kmem: kmem_free: 0x1000: bad\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_aligned_reserve),
		cmocka_unit_test(test_protection),
		cmocka_unit_test(test_inject),
		cmocka_unit_test(test_figures),
		cmocka_unit_test(test_rlimit),
		cmocka_unit_test(test_locks_and_threads),
		cmocka_unit_test(test_fork_thread_id),
		cmocka_unit_test(test_messages),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
