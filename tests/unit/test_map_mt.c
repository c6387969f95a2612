/*
 * test_map_mt.c -- the map across threads: an M_WAITOK request blocks while
 * the map is full and wakes when another thread frees; the "waiting" line;
 * many threads allocating and freeing against a small map.  KT_THREADED.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include "platform/prim.h"

#define MB ((size_t)1 << 20)

static atomic_int got;
static void *waited;

static void *
waiter_main(void *arg)
{
	waited = kmem_malloc(MB, M_WAITOK);
	atomic_store(&got, 1);
	return (NULL);
}

static void
child_waitok(void *arg)
{
	void *v[16];
	int n = 0;
	pthread_t t;

	KT_CHECK(kmem_setopt("kmem_size", "8M") == 0);
	KT_CHECK(kmem_setopt("wait_warn_ms", "100") == 0);
	KT_CHECK(kmem_init() == 0);
	while (n < 16 && (v[n] = kmem_malloc(MB, M_NOWAIT)) != NULL)
		n++;
	KT_CHECK(n == 7);
	KT_CHECK(pthread_create(&t, NULL, waiter_main, NULL) == 0);
	kp_sleep_ns(400u * 1000 * 1000);
	/* Still blocked: nothing was freed. */
	KT_CHECK(atomic_load(&got) == 0);
	KT_CHECK(atomic_load(&kmem_map_store.km_map.kr_nwaits) >= 1);
	kmem_free(v[2], MB);
	pthread_join(t, NULL);
	KT_CHECK(atomic_load(&got) == 1);
	KT_CHECK(waited == v[2]);
	KT_CHECK(atomic_load(&kmem_map_store.km_map.kr_nfailures) == 1);
	for (int i = 0; i < n; i++)
		if (i != 2)
			kmem_free(v[i], MB);
	kmem_free(waited, MB);
}

static void
test_waitok_blocks_and_wakes(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	struct kt_result r;

	kt_child(child_waitok, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	/* The rate-limited line names the request, the map and the owners. */
	assert_non_null(strstr(r.kr_err, "kmem: kmem_malloc(1048576): waiting "));
	assert_non_null(strstr(r.kr_err, " s for memory in kmem_map ("));
	assert_non_null(strstr(r.kr_err, "largest owners: direct (kmem_malloc) "
	    "7.00 MiB, metadata "));
}

#define NTHREADS 4
#define ITERS 3000

struct worker {
	int id;
	int flags;
	uint64_t seed;
	uint64_t nulls;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	size_t ps = kmem_page_size();
	struct {
		unsigned char *p;
		size_t n;
	} held[8] = {{0}};

	for (int i = 0; i < ITERS; i++) {
		int slot = (int)(kt_rand(&w->seed) % 8);
		if (held[slot].p != NULL) {
			/* Contents survive: the pattern of its owner. */
			KT_CHECK(held[slot].p[0] == (unsigned char)w->id);
			KT_CHECK(held[slot].p[held[slot].n - 1] == (unsigned char)w->id);
			kmem_free(held[slot].p, held[slot].n);
			held[slot].p = NULL;
			continue;
		}
		size_t n = (1 + kt_rand(&w->seed) % 64) * ps;
		unsigned char *p = kmem_malloc(n, w->flags);
		if (p == NULL) {
			KT_CHECK(w->flags == M_NOWAIT);
			w->nulls++;
			continue;
		}
		p[0] = p[n - 1] = (unsigned char)w->id;
		held[slot].p = p;
		held[slot].n = n;
	}
	for (int i = 0; i < 8; i++)
		if (held[i].p != NULL)
			kmem_free(held[i].p, held[i].n);
	return (NULL);
}

static void
child_many(void *arg)
{
	pthread_t t[NTHREADS];
	struct worker w[NTHREADS];

	/*
	 * 4 threads x 8 slots x up to 256 KiB = 8 MiB can be asked for.  The
	 * two M_WAITOK threads hold at most 2 x 7 x 256 KiB while they wait,
	 * which leaves a free extent of 256 KiB in 8 MiB however it is cut:
	 * they can always proceed once the M_NOWAIT threads are done.
	 */
	KT_CHECK(kmem_setopt("kmem_size", "8M") == 0);
	KT_CHECK(kmem_setopt("wait_warn_ms", "0") == 0);
	KT_CHECK(kmem_init() == 0);
	size_t base = kmem_map_size();
	for (int i = 0; i < NTHREADS; i++) {
		w[i].id = i + 1;
		w[i].flags = i % 2 == 0 ? M_NOWAIT : M_WAITOK;
		w[i].seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
		w[i].nulls = 0;
		KT_CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	/* Everything came back except what metadata grew by. */
	KT_CHECK(kmem_map_size() - base <=
	    atomic_load(&kmem_map_store.km_class_bytes[KMC_META]));
	KT_CHECK(atomic_load(&kmem_map_store.km_class_bytes[KMC_DIRECT]) == 0);
}

static void
test_many_threads(void **state)
{
	kt_assert_child_ok(child_many, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waitok_blocks_and_wakes),
		cmocka_unit_test(test_many_threads),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
