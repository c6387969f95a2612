/*
 * test_map_exhaust.c -- exhaustion under load: eight threads allocate large
 * kmalloc blocks with M_WAITOK against a 16 MiB map while each frees its
 * own; together they ask for twice the map.  Every thread must make
 * progress, none may wait for ever, and the deadlock verdict
 * (wait_deadlock_ms) must not be given, since some thread can always free.
 * KT_THREADED.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include "platform/prim.h"
#include <kmem/malloc.h>
#include <kmem/memstat.h>

MALLOC_DEFINE(M_EXHAUST, "exhaust", "test_map_exhaust");

#define NTHREADS 8
#define HOLD_MAX 16  /* blocks a thread holds at most: 8 x 16 x 160 KiB */
#define HOLD_WAITOK 4 /* below this many blocks, requests are M_WAITOK */
#define RUN_NS (2000ull * 1000 * 1000)

struct worker {
	int w_id;
	uint64_t w_seed;
	_Atomic uint64_t w_progress; /* blocks obtained */
	uint64_t w_waitok;           /* of them, with M_WAITOK */
};

static atomic_bool stop;

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	void *held[HOLD_MAX];
	size_t sizes[HOLD_MAX];
	int n = 0;

	while (!atomic_load(&stop)) {
		/* Sizes 64 KiB + 1 to 256 KiB: large blocks straight from the map. */
		size_t size = 65537 + (size_t)(kt_rand(&w->w_seed) % (192 * 1024));
		int flags = n < HOLD_WAITOK ? M_WAITOK : M_NOWAIT;
		void *p;

		if (n == HOLD_MAX) {
			uint64_t k = kt_rand(&w->w_seed) % (uint64_t)n;
			kfree(held[k], M_EXHAUST);
			held[k] = held[--n];
			sizes[k] = sizes[n];
			continue;
		}
		p = kmalloc(size, M_EXHAUST, flags);
		if (p == NULL) {
			/* Short of memory: give back the oldest block. */
			KT_CHECK(flags == M_NOWAIT);
			kfree(held[0], M_EXHAUST);
			memmove(&held[0], &held[1], (size_t)(n - 1) * sizeof(held[0]));
			memmove(&sizes[0], &sizes[1], (size_t)(n - 1) * sizeof(sizes[0]));
			n--;
			continue;
		}
		memset(p, w->w_id, 64);
		held[n] = p;
		sizes[n++] = size;
		atomic_fetch_add(&w->w_progress, 1);
		if (flags == M_WAITOK)
			w->w_waitok++;
	}
	for (int i = 0; i < n; i++) {
		KT_CHECK(((unsigned char *)held[i])[63] == (unsigned char)w->w_id);
		kfree(held[i], M_EXHAUST);
	}
	return (NULL);
}

static void
child_progress(void *arg)
{
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];

	KT_CHECK(kmem_setopt("kmem_size", "16M") == 0);
	KT_CHECK(kmem_setopt("wait_warn_ms", "0") == 0);
	KT_CHECK(kmem_setopt("wait_deadlock_ms", "300") == 0);
	KT_CHECK(kmem_init() == 0);
	uint64_t waits0 = atomic_load(&kmem_map_store.km_map.kr_nwaits);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < NTHREADS; i++) {
		w[i].w_id = i + 1;
		w[i].w_seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
		KT_CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	}
	kp_sleep_ns(RUN_NS);
	atomic_store(&stop, true);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++) {
		KT_CHECK(atomic_load(&w[i].w_progress) > 0);
		KT_CHECK(w[i].w_waitok > 0);
	}
	/* The map did run short: requests waited. */
	KT_CHECK(atomic_load(&kmem_map_store.km_map.kr_nwaits) > waits0);
	struct kt_tstat s = kt_stat_of(ALLOCATOR_MALLOC, "exhaust");
	KT_EQ(s.count, 0);
	KT_EQ(s.bytes, 0);
	KT_EQ(s.numallocs, s.numfrees);
}

static void
test_progress_under_exhaustion(void **state)
{
	kt_assert_child_ok(child_progress, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_under_exhaustion),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
