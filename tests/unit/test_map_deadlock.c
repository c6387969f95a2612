/*
 * test_map_deadlock.c -- an M_WAITOK wait that no thread can ever end: when
 * every thread of the process waits for memory and nothing is freed for
 * wait_deadlock_ms, kmem prints the map report and aborts.  A thread
 * blocked elsewhere keeps the verdict away, and wait_deadlock_ms=0 waits
 * for ever.  Each case runs in a process of its own.  (Not under
 * ThreadSanitizer: its runtime has a thread of its own, which counts as one
 * of the process's that could free, so the verdict never comes there.)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include "platform/prim.h"
#include <kmem/malloc.h>
#include <kmem/uma.h>

MALLOC_DEFINE(M_DLTEST, "dltest", "test_map_deadlock");

#define MB ((size_t)1 << 20)
#define PAGE ((size_t)4096)
#define DEADLINE_S 15.0 /* the abort must come well within this */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * Takes every page the map has with M_NOWAIT (an injected failure is one
 * NULL; the map is full after several in a row).  Returns the pages held.
 */
static size_t
fill_map(size_t chunk)
{
	size_t held = 0;
	int misses = 0;

	while (chunk >= PAGE) {
		if (kmem_malloc(chunk, M_NOWAIT) != NULL) {
			held += chunk;
			misses = 0;
		} else if (++misses == 4) {
			chunk /= 2;
			misses = 0;
		}
	}
	return (held);
}

static void
setup(const char *deadlock_ms)
{
	KT_CHECK(kmem_setopt("kmem_size", "8M") == 0);
	KT_CHECK(kmem_setopt("wait_warn_ms", "0") == 0);
	KT_CHECK(kmem_setopt("wait_deadlock_ms", deadlock_ms) == 0);
	KT_CHECK(kmem_init() == 0);
}

/* One thread holds the whole map and asks for one more page. */
static void
child_single(void *arg)
{
	setup("300");
	KT_CHECK(fill_map(MB) > 6 * MB);
	(void)kmem_malloc(PAGE, M_WAITOK);
	kt_child_fail(__FILE__, __LINE__, "the M_WAITOK request returned");
}

static void
expect_deadlock(void (*fn)(void *), const char *first)
{
	struct kt_result r;
	double t0 = now_s();

	kt_child(fn, NULL, &r);
	double took = now_s() - t0;
	if (r.kr_exited || r.kr_status != SIGABRT)
		fail_msg("child %s %d, expected SIGABRT; stderr:\n%s",
		    r.kr_exited ? "exited with" : "killed by signal", r.kr_status,
		    r.kr_err);
	if (strstr(r.kr_err, first) == NULL)
		fail_msg("stderr lacks \"%s\":\n%s", first, r.kr_err);
	/* The report follows, then the fatal line. */
	assert_non_null(strstr(r.kr_err, "waited "));
	assert_non_null(strstr(r.kr_err, "kmem map kmem_map: "));
	assert_non_null(strstr(r.kr_err, ": aborting: no thread is left to "
	    "free memory in "));
	if (took > DEADLINE_S)
		fail_msg("the abort took %.1f s", took);
}

static void
test_single_thread(void **state)
{
	expect_deadlock(child_single, "kmem: kmem_malloc(4096): every thread "
	    "is waiting for memory in kmem_map and none can free it: deadlock\n");
}

/* Four threads, each holding a share of the map, all wait for more. */
static pthread_barrier_t filled;

static void *
waiter_main(void *arg)
{
	size_t *held = arg;

	*held = fill_map(MB);
	pthread_barrier_wait(&filled);
	(void)kmem_malloc(MB, M_WAITOK);
	return (NULL);
}

static void
child_four(void *arg)
{
	pthread_t t[3];
	size_t held[4];

	setup("300");
	pthread_barrier_init(&filled, NULL, 4);
	for (int i = 0; i < 3; i++)
		KT_CHECK(pthread_create(&t[i], NULL, waiter_main, &held[i]) == 0);
	waiter_main(&held[3]);
	kt_child_fail(__FILE__, __LINE__, "an M_WAITOK request returned");
}

static void
test_four_threads(void **state)
{
	expect_deadlock(child_four, "every thread is waiting for memory in "
	    "kmem_map and none can free it: deadlock\n");
}

/* The one thread sleeps on a zone's limit it holds every item of. */
static void
child_zone(void *arg)
{
	uma_zone_t z;
	int n = 0, misses = 0;

	setup("300");
	z = uma_zcreate("dl_limited", 128, NULL, NULL, NULL, NULL, UMA_ALIGN_PTR,
	    0);
	KT_CHECK(z != NULL);
	uma_zone_set_max(z, 10);
	while (misses < 4)
		if (uma_zalloc(z, M_NOWAIT) != NULL)
			n++;
		else
			misses++;
	KT_CHECK(n >= 10);
	(void)uma_zalloc(z, M_WAITOK);
	kt_child_fail(__FILE__, __LINE__, "the M_WAITOK request returned");
}

static void
test_zone_limit(void **state)
{
	expect_deadlock(child_zone, "kmem: uma_zalloc(128): every thread is "
	    "waiting for memory in zone dl_limited (limit ");
}

/*
 * Not a deadlock: a thread blocked in read(2) frees once the alarm's
 * handler writes to its pipe, well after wait_deadlock_ms.
 */
static int pipefd[2];
static void *victim;

static void
on_alarm(int sig)
{
	char c = 'x';

	(void)write(pipefd[1], &c, 1);
}

static void *
reader_main(void *arg)
{
	char c;

	while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
		;
	kmem_free(victim, MB);
	return (NULL);
}

static void
child_blocked_elsewhere(void *arg)
{
	pthread_t t;
	struct sigaction sa;

	setup("200");
	KT_CHECK(pipe(pipefd) == 0);
	victim = kmem_malloc(MB, M_WAITOK);
	KT_CHECK(victim != NULL);
	fill_map(MB);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	KT_CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	KT_CHECK(pthread_create(&t, NULL, reader_main, NULL) == 0);
	alarm(1); /* five times the grace period */
	void *p = kmem_malloc(MB, M_WAITOK);
	KT_CHECK(p == victim);
	pthread_join(t, NULL);
}

static void
test_blocked_elsewhere(void **state)
{
	kt_assert_child_ok(child_blocked_elsewhere, NULL);
}

/* wait_deadlock_ms=0: the lone waiter waits for ever (here, until the
 * alarm ends the process). */
static void
on_alarm_exit(int sig)
{
	_exit(3);
}

static void
child_disabled(void *arg)
{
	struct sigaction sa;

	setup("0");
	fill_map(MB);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm_exit;
	KT_CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	alarm(1);
	(void)kmem_malloc(MB, M_WAITOK);
	kt_child_fail(__FILE__, __LINE__, "the M_WAITOK request returned");
}

static void
test_disabled(void **state)
{
	struct kt_result r;

	kt_child(child_disabled, NULL, &r);
	if (!r.kr_exited || r.kr_status != 3)
		fail_msg("child %s %d, expected exit 3 from the alarm; stderr:\n%s",
		    r.kr_exited ? "exited with" : "killed by signal", r.kr_status,
		    r.kr_err);
	assert_null(strstr(r.kr_err, "deadlock"));
}

/* The thread count leaves out kmem's own statistics thread. */
static void
child_count(void *arg)
{
	KT_CHECK(kmem_setopt("kmem_size", "8M") == 0);
	KT_CHECK(kmem_init() == 0);
	KT_CHECK(kmalloc(100, M_DLTEST, M_WAITOK) != NULL);
	/*
	 * Until the statistics thread runs it counts as the program's (the
	 * safe side: a count too high only delays the verdict); then not.
	 */
	int n = kp_app_threads();
	for (int i = 0; i < 500 && n != 1; i++) {
		KT_CHECK(n == 2);
		usleep(10 * 1000);
		n = kp_app_threads();
	}
	KT_EQ(n, 1);
}

static void
test_thread_count(void **state)
{
	kt_assert_child_ok(child_count, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_count),
		cmocka_unit_test(test_single_thread),
		cmocka_unit_test(test_four_threads),
		cmocka_unit_test(test_zone_limit),
		cmocka_unit_test(test_blocked_elsewhere),
		cmocka_unit_test(test_disabled),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
