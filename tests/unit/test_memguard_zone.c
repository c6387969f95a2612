/*
 * test_memguard_zone.c -- memguard for zones (uma_int.h, section 10): each
 * item of a zone named in memguard has pages of its own ending at a guard
 * page (or starting after one); an overflow, an underflow and a use after
 * free fault with one line naming the zone; the item stays a zone item for
 * everything else: ctor, dtor, init and fini, statistics, limits, the
 * checks of uma_zfree().
 *
 * Every test runs in a child of its own, whose tunables it sets before kmem
 * is first used.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>

#include "kt.h"
#include "kt_memguard.h"
#include "kmem/kmem_int.h"

MALLOC_DEFINE(M_TMGZ, "tmgz", "not guarded");

/* ---- ctor, dtor, init, fini: counted, and checked on the item ------------ */

static int n_ctor, n_dtor, n_init, n_fini;

static int
t_ctor(void *mem, int size, void *arg, int flags)
{
	(void)arg;
	(void)flags;
	KT_EQ(size, 100);
	memset(mem, 'c', (size_t)size);
	n_ctor++;
	return (0);
}

static void
t_dtor(void *mem, int size, void *arg)
{
	(void)arg;
	KT_EQ(((char *)mem)[size - 1], 'c');
	n_dtor++;
}

static int
t_init(void *mem, int size, int flags)
{
	(void)flags;
	memset(mem, 'i', (size_t)size);
	n_init++;
	return (0);
}

static void
t_fini(void *mem, int size)
{
	/* The item is still there when fini runs. */
	((volatile char *)mem)[size - 1] = 'f';
	n_fini++;
}

/* ---- faults --------------------------------------------------------------- */

static void
child_overflow_by_one(void *arg)
{
	(void)arg;
	setup_opts("tother|tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 96, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	volatile char *p = uma_zalloc(z, M_WAITOK | M_ZERO);
	KT_CHECK(p != NULL);
	/* The item ends where its page does. */
	KT_EQ(((uintptr_t)p + 96) % kmem_page_size(), 0);
	for (int i = 0; i < 96; i++)
		KT_EQ(p[i], 0);
	fprintf(stderr, "at %p\n", (void *)p);
	for (int i = 0; i < 96; i++)
		p[i] = 'x';
	p[96] = 'x';
	exit(2);
}

static void
test_overflow_by_one(void **state)
{
	(void)state;
	assert_fault(child_overflow_by_one, "memguard: overflow past ",
	    " (96 bytes, zone tpkt) by 1 bytes");
}

/* 100 bytes aligned to 8: the item is 104 bytes, its end at the guard. */
static void
child_overflow_rounded(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 100, NULL, NULL, NULL, NULL, 7, 0);
	KT_CHECK(z != NULL);
	volatile char *p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ((uintptr_t)p % 8, 0);
	KT_EQ(((uintptr_t)p + 104) % kmem_page_size(), 0);
	p[103] = 1;
	fprintf(stderr, "at %p\n", (void *)p);
	(void)p[104];
	exit(2);
}

static void
test_overflow_rounded(void **state)
{
	(void)state;
	assert_fault(child_overflow_rounded, "memguard: overflow past ",
	    " (100 bytes, zone tpkt) by 5 bytes");
}

static void
child_underflow(void *arg)
{
	(void)arg;
	setup_opts("tpkt", "1", NULL);
	uma_zone_t z = uma_zcreate("tpkt", 5000, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_CACHE, 0);
	KT_CHECK(z != NULL);
	volatile char *p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ((uintptr_t)p % kmem_page_size(), 0);
	p[0] = 1;
	p[4999] = 1;
	fprintf(stderr, "at %p\n", (void *)p);
	p[-1] = 1;
	exit(2);
}

static void
test_underflow_before(void **state)
{
	(void)state;
	assert_fault(child_underflow, "memguard: underflow before ",
	    " (5000 bytes, zone tpkt) by 1 bytes");
}

static void
child_use_after_free(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 100, t_ctor, t_dtor, t_init, t_fini,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	volatile char *p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(p[0], 'c');
	fprintf(stderr, "at %p\n", (void *)p);
	uma_zfree(z, (void *)p);
	KT_EQ(n_dtor, 1);
	KT_EQ(n_fini, 1);
	(void)p[40];
	exit(2);
}

static void
test_use_after_free(void **state)
{
	(void)state;
	assert_fault(child_use_after_free, "memguard: use after free of ",
	    " (100 bytes, zone tpkt) at ");
	assert_fault(child_use_after_free, "(100 bytes, zone tpkt) at ", "+40");
}

/* A secondary zone shares its primary's keg, and so its guard. */
static void
child_secondary(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 64, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_t z2 = uma_zsecond_create("tpkt2", t_ctor, t_dtor, NULL, NULL,
	    z);
	KT_CHECK(z != NULL && z2 != NULL);
	(void)z2;
	volatile char *p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(((uintptr_t)p + 64) % kmem_page_size(), 0);
	fprintf(stderr, "at %p\n", (void *)p);
	(void)p[64];
	exit(2);
}

static void
test_secondary(void **state)
{
	(void)state;
	assert_fault(child_secondary, "memguard: overflow past ",
	    " (64 bytes, zone tpkt) by 1 bytes");
}

/* ---- still a zone item ------------------------------------------------------ */

static void
child_hooks(void *arg)
{
	enum { N = 20 };
	void *items[N];

	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 100, t_ctor, t_dtor, t_init, t_fini,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < N; i++) {
		items[i] = uma_zalloc(z, M_WAITOK);
		KT_CHECK(items[i] != NULL);
		/* init made it, then ctor. */
		KT_EQ(((char *)items[i])[99], 'c');
	}
	KT_EQ(n_init, N);
	KT_EQ(n_ctor, N);
	for (int i = 0; i < N; i++)
		uma_zfree(z, items[i]);
	/* Every free runs dtor and fini: a freed item is never reused. */
	KT_EQ(n_dtor, N);
	KT_EQ(n_fini, N);
	void *p = uma_zalloc(z, M_WAITOK | M_ZERO);
	KT_CHECK(p != NULL);
	KT_EQ(n_init, N + 1);
	for (int i = 0; i < 100; i++)
		KT_EQ(((char *)p)[i], 0);
	((char *)p)[99] = 'c';
	uma_zfree(z, p);
	uma_zdestroy(z);
}

static void
test_hooks_run(void **state)
{
	(void)state;
	kt_assert_child_ok(child_hooks, NULL);
}

static void
child_stats(void *arg)
{
	enum { N = 50, KEEP = 17 };
	void *items[N];
	struct kt_tstat t;

	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 200, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < N; i++)
		KT_CHECK((items[i] = uma_zalloc(z, M_NOWAIT)) != NULL);
	for (int i = KEEP; i < N; i++)
		uma_zfree(z, items[i]);
	t = kt_stat_of(ALLOCATOR_UMA, "tpkt");
	KT_CHECK(t.found);
	KT_EQ(t.count, KEEP);
	KT_EQ(t.numallocs, N);
	KT_EQ(t.numfrees, N - KEEP);
	KT_EQ(t.failures, 0);
	KT_EQ(t.size, 200);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_used, KEEP);
	KT_EQ(st.zs_free, 0);
	KT_EQ(st.zs_ipers, 1);
	KT_EQ(st.zs_slabs, KEEP);
	KT_EQ(st.zs_slab_pages, 2);
	KT_EQ(uma_zone_get_cur(z), KEEP);
	kt_zone_consistent(z);

	/* The limit applies; a refusal is a failure. */
	uma_zone_set_max(z, KEEP + 2);
	void *a = uma_zalloc(z, M_NOWAIT);
	void *b = uma_zalloc(z, M_NOWAIT);
	KT_CHECK(a != NULL && b != NULL);
	KT_CHECK(uma_zalloc(z, M_NOWAIT) == NULL);
	t = kt_stat_of(ALLOCATOR_UMA, "tpkt");
	KT_EQ(t.count, KEEP + 2);
	KT_EQ(t.failures, 1);
	KT_EQ(t.countlimit, KEEP + 2);
	KT_EQ(t.numallocs, N + 2);
	uma_zfree(z, a);
	KT_CHECK((a = uma_zalloc(z, M_NOWAIT)) != NULL);
	uma_zfree(z, a);
	uma_zfree(z, b);
	for (int i = 0; i < KEEP; i++)
		uma_zfree(z, items[i]);
	t = kt_stat_of(ALLOCATOR_UMA, "tpkt");
	KT_EQ(t.count, 0);
	KT_EQ(t.numallocs, t.numfrees);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_stats_and_limit(void **state)
{
	(void)state;
	kt_assert_child_ok(child_stats, NULL);
}

/* Reaching the limit with M_WAITOK waits for a free, as in any zone. */
static void
child_prealloc_reserve(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 300, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	uma_prealloc(z, 4);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_free, 4);
	KT_EQ(st.zs_slabs, 4);
	uma_zone_reserve(z, 2);
	void *a = uma_zalloc(z, M_NOWAIT);
	void *b = uma_zalloc(z, M_NOWAIT);
	KT_CHECK(a != NULL && b != NULL);
	/* Preallocated items are guarded items too. */
	KT_EQ(((uintptr_t)a + 304) % kmem_page_size(), 0);
	st = kt_zone_stats(z);
	KT_EQ(st.zs_used, 2);
	KT_EQ(st.zs_free, 2);
	void *r = uma_zalloc(z, M_NOWAIT | M_USE_RESERVE);
	KT_CHECK(r != NULL);
	uma_zfree(z, r);
	uma_zfree(z, a);
	uma_zfree(z, b);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_prealloc_reserve(void **state)
{
	(void)state;
	kt_assert_child_ok(child_prealloc_reserve, NULL);
}

/* Freed items stay out of reuse for memguard_delay frees, then go back. */
static void
child_delay(void *arg)
{
	enum { DELAY = 8, ROUNDS = 200 };
	static void *seen[ROUNDS];

	(void)arg;
	setup_opts("tpkt", NULL, "8");
	uma_zone_t z = uma_zcreate("tpkt", 3000, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < 2 * DELAY; i++)
		uma_zfree(z, uma_zalloc(z, M_WAITOK));
	size_t before = kmem_map_size();
	for (int i = 0; i < ROUNDS; i++) {
		seen[i] = uma_zalloc(z, M_WAITOK);
		KT_CHECK(seen[i] != NULL);
		for (int j = i - DELAY; j < i; j++)
			if (j >= 0)
				KT_CHECK(seen[j] != seen[i]);
		uma_zfree(z, seen[i]);
	}
	KT_LE(kmem_map_size(), before + 4 * kmem_page_size());
	int reused = 0;
	for (int i = DELAY; i < ROUNDS && !reused; i++)
		for (int j = 0; j < i - DELAY; j++)
			if (seen[j] == seen[i])
				reused = 1;
	KT_CHECK(reused);
}

static void
test_delayed_reuse(void **state)
{
	(void)state;
	kt_assert_child_ok(child_delay, NULL);
}

/*
 * Zones and malloc types share the FIFO; destroying a zone gives back its
 * freed items still waiting there, and the others keep waiting.
 */
static void
child_destroy(void *arg)
{
	(void)arg;
	setup_opts("tpkt|tmgz", NULL, "64");
	uma_zone_t z = uma_zcreate("tpkt", 1000, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	/* A live item, and a freed block on the FIFO, before counting. */
	void *live = uma_zalloc(z, M_WAITOK);
	KT_CHECK(live != NULL);
	kfree(kmalloc(100, M_TMGZ, M_WAITOK), M_TMGZ);
	size_t before = kmem_map_size();
	for (int i = 0; i < 10; i++) {
		void *p = uma_zalloc(z, M_WAITOK);
		KT_CHECK(p != NULL);
		uma_zfree(z, p);
	}
	KT_CHECK(kmem_map_size() >= before + 20 * kmem_page_size());
	uma_zdestroy(z);
	/* The zone's pages are back, the live item's too. */
	KT_LE(kmem_map_size(), before);
	char *m = kmalloc(100, M_TMGZ, M_WAITOK);
	kfree(m, M_TMGZ);
	uma_zone_t z2 = uma_zcreate("tpkt", 1000, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z2 != NULL);
	for (int i = 0; i < 200; i++)
		uma_zfree(z2, uma_zalloc(z2, M_WAITOK));
	uma_zdestroy(z2);
}

static void
test_destroy_purges(void **state)
{
	(void)state;
	kt_assert_child_ok(child_destroy, NULL);
}

/* ---- bad frees -------------------------------------------------------------- */

static void
child_double_free(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	/* The dtor would touch the freed item: the check comes first. */
	uma_zone_t z = uma_zcreate("tpkt", 100, t_ctor, t_dtor, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	void *p = uma_zalloc(z, M_WAITOK);
	fprintf(stderr, "at %p\n", p);
	uma_zfree(z, p);
	uma_zfree(z, p);
}

static void
child_interior(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	char *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p + 8);
}

static void
child_foreign(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zfree(z, kmalloc(100, M_TMGZ, M_WAITOK));
}

static void
child_other_zone(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_t y = uma_zcreate("tplain", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zfree(z, uma_zalloc(y, M_WAITOK));
}

static void
child_kfree(void *arg)
{
	(void)arg;
	setup_opts("tpkt", NULL, NULL);
	uma_zone_t z = uma_zcreate("tpkt", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	kfree(uma_zalloc(z, M_WAITOK), M_TMGZ);
}

static void
test_bad_frees(void **state)
{
	struct kt_result r;
	void *addr = NULL;
	char want[128];

	(void)state;
	kt_child(child_double_free, NULL, &r);
	assert_int_equal(r.kr_exited, 0);
	assert_int_equal(r.kr_status, SIGABRT);
	assert_int_equal(sscanf(r.kr_err, "at %p", &addr), 1);
	snprintf(want, sizeof(want), "uma_zfree: %p: double free in zone tpkt",
	    addr);
	if (strstr(r.kr_err, want) == NULL)
		fail_msg("expected \"%s\" in:\n%s", want, r.kr_err);
	kt_assert_death(child_interior, NULL, SIGABRT,
	    "is not an item of zone tpkt (interior pointer");
	kt_assert_death(child_foreign, NULL, SIGABRT,
	    "was not allocated from zone tpkt");
	kt_assert_death(child_other_zone, NULL, SIGABRT,
	    "was not allocated from zone tpkt");
	kt_assert_death(child_kfree, NULL, SIGABRT,
	    "not a kmalloc allocation; it is an item of zone tpkt");
}

/* ---- what is not guarded ------------------------------------------------------ */

static void
child_unguarded(void *arg)
{
	(void)arg;
	/* "64" is the name of a kmalloc zone: malloc types are guarded, not
	   kmalloc's zones; "nosuch" names nothing. */
	setup_opts("tpkt|64|nosuch|tnofree", NULL, NULL);
	uma_zone_t g = uma_zcreate("tpkt", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_t u = uma_zcreate("tplain", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_t nf = uma_zcreate("tnofree", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, UMA_ZONE_NOFREE);
	KT_CHECK(g != NULL && u != NULL && nf != NULL);
	struct uma_zone_stats st = kt_zone_stats(u);
	void *a = uma_zalloc(u, M_WAITOK);
	void *b = uma_zalloc(u, M_WAITOK);
	KT_CHECK(a != NULL && b != NULL);
	st = kt_zone_stats(u);
	KT_CHECK(st.zs_ipers > 1);
	KT_EQ(st.zs_slab_pages, 1);
	/* Both come from one slab, and a freed item comes back. */
	KT_CHECK(KPT_PTR(kmem_pt_get(a)) == KPT_PTR(kmem_pt_get(b)));
	uma_zfree(u, b);
	KT_CHECK(uma_zalloc(u, M_WAITOK) == b);
	st = kt_zone_stats(nf);
	void *c = uma_zalloc(nf, M_WAITOK);
	st = kt_zone_stats(nf);
	KT_CHECK(st.zs_ipers > 1);
	uma_zfree(nf, c);
	void *k = kmalloc(50, M_TMGZ, M_WAITOK);
	KT_CHECK(KPT_IS_SLAB(kmem_pt_get(k)));
	KT_EQ(kmalloc_usable_size(k), 64);
	kfree(k, M_TMGZ);
	st = kt_zone_stats(g);
	void *d = uma_zalloc(g, M_WAITOK);
	st = kt_zone_stats(g);
	KT_EQ(st.zs_ipers, 1);
	uma_zfree(g, d);
}

static void
test_unguarded(void **state)
{
	(void)state;
	kt_assert_child_ok(child_unguarded, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overflow_by_one),
		cmocka_unit_test(test_overflow_rounded),
		cmocka_unit_test(test_underflow_before),
		cmocka_unit_test(test_use_after_free),
		cmocka_unit_test(test_secondary),
		cmocka_unit_test(test_hooks_run),
		cmocka_unit_test(test_stats_and_limit),
		cmocka_unit_test(test_prealloc_reserve),
		cmocka_unit_test(test_delayed_reuse),
		cmocka_unit_test(test_destroy_purges),
		cmocka_unit_test(test_bad_frees),
		cmocka_unit_test(test_unguarded),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
