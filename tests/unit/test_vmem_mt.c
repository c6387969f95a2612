/*
 * test_vmem_mt.c -- vmem across threads (KT_THREADED: also run under
 * ThreadSanitizer).  An M_WAITOK request sleeps until another thread frees;
 * a child arena waiting on an exhausted parent retries its import when the
 * parent is freed into; threads allocate and free concurrently with every
 * policy and constraint, checked for overlap; the tag pool grows through
 * nested meta-ops allocations from several threads at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kt.h"
#include "vmem/vmem_int.h"

static void
wait_for_sleepers(vmem_t *vm, uint64_t n)
{
	struct vmem_stats st;

	for (;;) {
		vmem_get_stats(vm, &st);
		if (st.vs_nwaits >= n)
			return;
		kp_sleep_ns(1000000);
	}
}

/* ---- M_WAITOK wakes on a free -------------------------------------------- */

struct waiter {
	vmem_t *w_vm;         /* arena to allocate from */
	vmem_size_t w_size;   /* size */
	vmem_addr_t w_addr;   /* what it got */
	int w_error;          /* what vmem_alloc returned */
	atomic_int w_done;    /* set when it returned */
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->w_error = vmem_alloc(w->w_vm, w->w_size, M_WAITOK, &w->w_addr);
	atomic_store(&w->w_done, 1);
	return (NULL);
}

static atomic_int reclaims;

static void
count_reclaim(vmem_t *vm, int flags)
{
	atomic_fetch_add(&reclaims, 1);
}

static void
test_waitok_wakes(void **state)
{
	vmem_t *vm = vmem_create("full", 0x10000, 0x4000, 0x1000, 0, M_WAITOK);
	struct waiter w = {.w_vm = vm, .w_size = 0x2000};
	struct vmem_stats st;
	vmem_addr_t a[4];
	pthread_t t;

	assert_non_null(vm);
	vmem_set_reclaim(vm, count_reclaim);
	for (int i = 0; i < 4; i++)
		assert_int_equal(vmem_alloc(vm, 0x1000, M_NOWAIT, &a[i]), 0);
	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	wait_for_sleepers(vm, 1);
	assert_true(atomic_load(&reclaims) >= 1); /* called before sleeping */
	assert_int_equal(atomic_load(&w.w_done), 0);
	vmem_free(vm, a[1], 0x1000); /* not enough: 0x1000 free */
	vmem_free(vm, a[2], 0x1000); /* now 0x2000 adjacent */
	pthread_join(t, NULL);
	assert_int_equal(w.w_error, 0);
	assert_int_equal(w.w_addr, a[1]);
	vmem_get_stats(vm, &st);
	assert_true(st.vs_nwaits >= 1);
	vmem_free(vm, w.w_addr, 0x2000);
	vmem_free(vm, a[0], 0x1000);
	vmem_free(vm, a[3], 0x1000);
	vmem_check(vm);
	vmem_destroy(vm);
}

/* A vmem_add() wakes the sleeper too. */
static void
test_waitok_add_wakes(void **state)
{
	vmem_t *vm = vmem_create("grows", 0, 0, 0x1000, 0, M_WAITOK);
	struct waiter w = {.w_vm = vm, .w_size = 0x3000};
	pthread_t t;

	assert_non_null(vm);
	/* With no span at all the request can never fit: ENOMEM at once. */
	assert_int_equal(vmem_alloc(vm, 0x1000, M_WAITOK, &w.w_addr), ENOMEM);
	assert_int_equal(vmem_add(vm, 0x10000, 0x2000, M_WAITOK), 0);
	/* 0x3000 > every span: still ENOMEM at once. */
	assert_int_equal(vmem_alloc(vm, 0x3000, M_WAITOK, &w.w_addr), ENOMEM);
	/* A span that could hold it, but busy: now it waits. */
	assert_int_equal(vmem_add(vm, 0x40000, 0x4000, M_WAITOK), 0);
	vmem_addr_t big;
	assert_int_equal(vmem_alloc(vm, 0x4000, M_NOWAIT, &big), 0);
	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	wait_for_sleepers(vm, 1);
	assert_int_equal(vmem_add(vm, 0x80000, 0x3000, M_NOWAIT), 0);
	pthread_join(t, NULL);
	assert_int_equal(w.w_error, 0);
	assert_int_equal(w.w_addr, 0x80000);
	vmem_free(vm, w.w_addr, 0x3000);
	vmem_free(vm, big, 0x4000);
	vmem_check(vm);
	vmem_destroy(vm);
}

/* ---- a child importing from an exhausted parent -------------------------- */

static int
nowait_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	/* Never sleeps in the parent: the child's timed wait retries. */
	return (vmem_xalloc(arg, size, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT, addrp));
}

static void
parent_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	vmem_xfree(arg, addr, size);
}

static void
test_import_retry(void **state)
{
	vmem_t *parent = vmem_create("parent", 0x100000, 0x8000, 0x1000, 0,
	    M_WAITOK);
	vmem_t *child = vmem_create("child", 0, 0, 0x1000, 0, M_WAITOK);
	vmem_t *other = vmem_create("other", 0, 0, 0x1000, 0, M_WAITOK);
	struct waiter w = {.w_vm = child, .w_size = 0x4000};
	vmem_addr_t o;
	pthread_t t;

	vmem_set_import(child, nowait_import, parent_release, parent, 0);
	vmem_set_import(other, nowait_import, parent_release, parent, 0);
	/* Another arena holds the whole parent. */
	assert_int_equal(vmem_alloc(other, 0x8000, M_NOWAIT, &o), 0);
	assert_int_equal(vmem_alloc(child, 0x1000, M_NOWAIT, &w.w_addr),
	    ENOMEM);
	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	wait_for_sleepers(child, 1);
	/* Freed into the other arena, released to the parent. */
	vmem_free(other, o, 0x8000);
	pthread_join(t, NULL);
	assert_int_equal(w.w_error, 0);
	assert_int_equal(vmem_size(parent, VMEM_ALLOC), 0x4000);
	vmem_free(child, w.w_addr, 0x4000);
	assert_int_equal(vmem_size(parent, VMEM_ALLOC), 0);
	vmem_check(child);
	vmem_check(parent);
	vmem_destroy(other);
	vmem_destroy(child);
	vmem_destroy(parent);
}

/* ---- concurrent allocation and free -------------------------------------- */

#define NTHREADS 4
#define ARENA_Q 16
#define ARENA_NQ 8192
#define ARENA_BASE 0x40000

static vmem_t *shared;
static atomic_uchar owner[ARENA_NQ]; /* 0 or thread + 1, per quantum */
static atomic_int overlaps;

static void
claim(vmem_addr_t a, vmem_size_t size, unsigned char who)
{
	size_t i0 = (a - ARENA_BASE) / ARENA_Q, n = size / ARENA_Q;

	for (size_t i = i0; i < i0 + n; i++) {
		unsigned char expect = 0;
		if (!atomic_compare_exchange_strong(&owner[i], &expect, who))
			atomic_fetch_add(&overlaps, 1);
	}
}

static void
unclaim(vmem_addr_t a, vmem_size_t size, unsigned char who)
{
	size_t i0 = (a - ARENA_BASE) / ARENA_Q, n = size / ARENA_Q;

	for (size_t i = i0; i < i0 + n; i++) {
		unsigned char expect = who;
		if (!atomic_compare_exchange_strong(&owner[i], &expect, 0))
			atomic_fetch_add(&overlaps, 1);
	}
}

static void *
stress_main(void *arg)
{
	static const int policies[] = {0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT};
	enum { NLIVE = 64, NOPS = 20000 };
	unsigned char who = (unsigned char)((uintptr_t)arg + 1);
	uint64_t seed = 0x1234567ull * who;
	vmem_addr_t addr[NLIVE];
	vmem_size_t size[NLIVE];
	bool x[NLIVE];
	int n = 0;

	for (int op = 0; op < NOPS; op++) {
		uint64_t r = kt_rand(&seed);
		if (n < NLIVE && (n == 0 || r % 100 < 55)) {
			vmem_size_t sz = ARENA_Q * (1 + (r >> 8) % 16);
			int flags = M_NOWAIT | policies[(r >> 16) % 4];
			vmem_addr_t a;
			int error;

			x[n] = (r >> 20) % 3 == 0;
			if (x[n]) {
				vmem_size_t align =
				    (vmem_size_t)ARENA_Q << ((r >> 24) % 4);
				error = vmem_xalloc(shared, sz, align, 0,
				    (r >> 28) % 2 ? 0 : 256, VMEM_ADDR_MIN,
				    VMEM_ADDR_MAX, flags, &a);
				if (error == 0 && (a % align != 0 ||
				    ((r >> 28) % 2 == 0 &&
				    a / 256 != (a + sz - 1) / 256)))
					atomic_fetch_add(&overlaps, 1000);
			} else {
				error = vmem_alloc(shared, sz, flags, &a);
			}
			if (error != 0)
				continue;
			claim(a, sz, who);
			addr[n] = a;
			size[n] = sz;
			n++;
		} else {
			int k = (int)((r >> 8) % (uint64_t)n);
			unclaim(addr[k], size[k], who);
			if (x[k])
				vmem_xfree(shared, addr[k], size[k]);
			else
				vmem_free(shared, addr[k], size[k]);
			n--;
			addr[k] = addr[n];
			size[k] = size[n];
			x[k] = x[n];
		}
	}
	while (n-- > 0) {
		unclaim(addr[n], size[n], who);
		if (x[n])
			vmem_xfree(shared, addr[n], size[n]);
		else
			vmem_free(shared, addr[n], size[n]);
	}
	return (NULL);
}

static void
test_concurrent(void **state)
{
	pthread_t t[NTHREADS];
	struct vmem_stats st;

	shared = vmem_create("shared", ARENA_BASE, ARENA_NQ * ARENA_Q,
	    ARENA_Q, 0, M_WAITOK);
	assert_non_null(shared);
	for (uintptr_t i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, stress_main,
		    (void *)i), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&overlaps), 0);
	vmem_check(shared);
	vmem_get_stats(shared, &st);
	assert_int_equal(st.vs_nbusy, 0);
	assert_int_equal(st.vs_nfree, 1);
	assert_int_equal(st.vs_nallocs, st.vs_nfrees);
	assert_true(st.vs_nallocs > NTHREADS * 1000);
	vmem_destroy(shared);
}

/* ---- the tag pool grows through nested meta ops, from many threads ------- */

#define META_PAGES 2048
static _Alignas(4096) unsigned char meta_buf[META_PAGES * 4096];
static vmem_t meta_arena;

static void *
meta_alloc(size_t size, int flags)
{
	vmem_addr_t a;

	if (vmem_xalloc(&meta_arena, size, 0, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT, &a) != 0)
		return (NULL);
	return ((void *)a);
}

static void
meta_free(void *p, size_t size)
{
	vmem_xfree(&meta_arena, (vmem_addr_t)p, size);
}

static const struct vmem_meta_ops test_meta_ops = {
	.vmo_alloc = meta_alloc,
	.vmo_free = meta_free,
};

static pthread_barrier_t grow_barrier;

static void *
grow_main(void *arg)
{
	enum { N = 6000 };
	vmem_t *vm = arg;
	static _Thread_local vmem_addr_t a[N];

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++)
			KT_CHECK(vmem_alloc(vm, 1, i % 2 ? M_NOWAIT : M_WAITOK,
			    &a[i]) == 0);
		/* Everyone holds N segments at once here. */
		pthread_barrier_wait(&grow_barrier);
		for (int i = 0; i < N; i++)
			vmem_free(vm, a[i], 1);
	}
	return (NULL);
}

static void
child_nested_mt(void *arg)
{
	vmem_t *vm[NTHREADS];
	pthread_t t[NTHREADS];
	struct vmem_bt_stats bs0, bs1;

	(void)arg;
	KT_CHECK(vmem_init(&meta_arena, "metamap", (vmem_addr_t)meta_buf,
	    sizeof(meta_buf), 4096, 0, M_NOWAIT) == &meta_arena);
	vmem_set_meta_ops(&test_meta_ops);
	vmem_bt_stats(&bs0);
	KT_CHECK(pthread_barrier_init(&grow_barrier, NULL, NTHREADS) == 0);
	for (int i = 0; i < NTHREADS; i++) {
		vm[i] = vmem_create("ids", 1, 1 << 20, 1, 0, M_WAITOK);
		KT_CHECK(vm[i] != NULL);
	}
	for (int i = 0; i < NTHREADS; i++)
		KT_CHECK(pthread_create(&t[i], NULL, grow_main, vm[i]) == 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	vmem_bt_stats(&bs1);
	/* Tags for NTHREADS x 6000 segments were made, and given back. */
	KT_CHECK((bs1.vbs_grows - bs0.vbs_grows) * (kp_page_size() / 64 - 1) >=
	    NTHREADS * 6000);
	KT_CHECK(bs1.vbs_shrinks > bs0.vbs_shrinks);
	for (int i = 0; i < NTHREADS; i++) {
		struct vmem_stats st;

		vmem_check(vm[i]);
		vmem_get_stats(vm[i], &st);
		KT_CHECK(st.vs_nfree == 1 && st.vs_nbusy == 0);
		KT_CHECK(st.vs_hashsize > VMEM_HASHSIZE_MIN);
		vmem_destroy(vm[i]);
	}
	vmem_check(&meta_arena);
	vmem_set_meta_ops(NULL);
}

static void
test_nested_meta_mt(void **state)
{
	kt_assert_child_ok(child_nested_mt, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waitok_wakes),
		cmocka_unit_test(test_waitok_add_wakes),
		cmocka_unit_test(test_import_retry),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_nested_meta_mt),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
