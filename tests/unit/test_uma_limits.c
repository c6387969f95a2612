/*
 * test_uma_limits.c -- uma zones against bounds, in one thread: item limits
 * with M_NOWAIT (also lowered below what the thread caches), the limit
 * warning and the maxaction callback, reserves and M_USE_RESERVE,
 * uma_prealloc(), reclaim requests giving pages back to the map (and
 * NOFREE zones keeping them), and the map's low-memory path making uma
 * give its cached items back.
 *
 * Every test runs in a child of its own (kt_child) with a map of known size.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include "platform/prim.h"
#include "uma/uma_stats.h"

#define MB ((size_t)1 << 20)

/* Allocates with flags until NULL or max items; returns how many. */
static int
fill(uma_zone_t z, void **v, int max, int flags)
{
	int n = 0;

	while (n < max && (v[n] = uma_zalloc(z, flags)) != NULL)
		n++;
	return (n);
}

/* ---- limits with M_NOWAIT ----------------------------------------------- */

static void
child_limit_nowait(void *arg)
{
	static void *v[2000];

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("limited", 128, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	KT_EQ(uma_zone_get_max(z), 0);
	int r = uma_zone_set_max(z, 100);
	KT_CHECK(r >= 100 && r < 1000);
	KT_EQ(uma_zone_get_max(z), r);
	KT_EQ(kt_zone_stats(z).zs_limit, r);

	/* One thread gets exactly the limit, then NULLs, each counted. */
	int n = fill(z, v, 2000, M_NOWAIT);
	KT_EQ(n, r);
	KT_EQ(uma_zone_get_cur(z), r);
	KT_EQ(kt_zone_stats(z).zs_failures, 1);
	for (int i = 0; i < 9; i++)
		KT_CHECK(uma_zalloc(z, M_NOWAIT) == NULL);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_failures, 10);
	KT_EQ(st.zs_used, r);
	KT_EQ(st.zs_requests, r);
	KT_EQ(st.zs_sleeps, 0);
	kt_zone_consistent(z);

	/* A free makes room for exactly one more. */
	uma_zfree(z, v[7]);
	KT_EQ(uma_zone_get_cur(z), r - 1);
	v[7] = uma_zalloc(z, M_NOWAIT);
	KT_CHECK(v[7] != NULL);
	KT_CHECK(uma_zalloc(z, M_NOWAIT) == NULL);
	KT_EQ(kt_zone_stats(z).zs_failures, 11);
	for (int i = 0; i < n; i++)
		uma_zfree(z, v[i]);
	KT_EQ(uma_zone_get_cur(z), 0);

	/* Again, with the freed items in the caches. */
	n = fill(z, v, 2000, M_NOWAIT);
	KT_EQ(n, r);
	for (int i = 0; i < n; i++)
		uma_zfree(z, v[i]);

	/* 0 lifts the limit. */
	KT_EQ(uma_zone_set_max(z, 0), 0);
	KT_EQ(uma_zone_get_max(z), 0);
	n = fill(z, v, r + 500, M_NOWAIT);
	KT_EQ(n, r + 500);
	KT_EQ(uma_zone_get_cur(z), r + 500);
	for (int i = 0; i < n; i++)
		uma_zfree(z, v[i]);
	kt_zone_consistent(z);

	/* A limit smaller than a slab. */
	uma_zone_t y = uma_zcreate("tiny_limit", 64, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(y != NULL);
	r = uma_zone_set_max(y, 3);
	KT_CHECK(r >= 3);
	KT_EQ(uma_zone_get_max(y), r);
	n = fill(y, v, 2000, M_NOWAIT);
	KT_EQ(n, r);
	KT_EQ(kt_zone_stats(y).zs_failures, 1);
	for (int i = 0; i < n; i++)
		uma_zfree(y, v[i]);
	kt_zone_consistent(y);
	/* Lifted, the limit leaves nothing behind: the caches work again. */
	KT_EQ(uma_zone_set_max(y, 0), 0);
	n = fill(y, v, 50, M_NOWAIT);
	KT_EQ(n, 50);
	for (int i = 0; i < n; i++)
		uma_zfree(y, v[i]);
	KT_CHECK(!KT_ZONE_CACHES || kt_zone_stats(y).zs_free_cache > 0);
	kt_zone_consistent(y);
	uma_zdestroy(y);
	uma_zdestroy(z);
}

static void
test_limit_nowait(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_limit_nowait, NULL);
}

/*
 * A limit set below what the calling thread caches: the cached items go
 * back at once, and no more than the limit can be allocated.
 */
static void
child_limit_lowered(void *arg)
{
	static void *v[100];
	uma_zone_t z = uma_zcreate("lowered", 64, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	int n;

	KT_CHECK(z != NULL);
	KT_EQ(fill(z, v, 100, M_NOWAIT), 100);
	for (int i = 0; i < 100; i++)
		uma_zfree(z, v[i]);
	if (KT_ZONE_CACHES)
		KT_CHECK(kt_zone_stats(z).zs_free_cache > 0);
	KT_EQ(uma_zone_set_max(z, 4), 4);
	KT_EQ(kt_zone_stats(z).zs_free_cache, 0);
	n = fill(z, v, 100, M_NOWAIT);
	KT_EQ(n, 4);
	KT_EQ(uma_zone_get_cur(z), 4);
	for (int i = 0; i < n; i++)
		uma_zfree(z, v[i]);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_limit_lowered(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_limit_lowered, NULL);
}

/* ---- the limit warning ---------------------------------------------------- */

static void
child_limit_warning(void *arg)
{
	static void *v[200];

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("warnz", 256, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	int r = uma_zone_set_max(z, 50);
	uma_zone_set_warning(z, "WARNING warnz is full");
	int n = fill(z, v, 200, M_NOWAIT);
	KT_EQ(n, r);
	for (int i = 0; i < 199; i++)
		KT_CHECK(uma_zalloc(z, M_NOWAIT) == NULL);
	KT_EQ(kt_zone_stats(z).zs_failures, 200);
	for (int i = 0; i < n; i++)
		uma_zfree(z, v[i]);
	uma_zdestroy(z);

	/* A zone without a warning prints nothing at its limit. */
	uma_zone_t q = uma_zcreate("quietz", 256, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(q != NULL);
	uma_zone_set_max(q, 10);
	n = fill(q, v, 200, M_NOWAIT);
	for (int i = 0; i < 20; i++)
		KT_CHECK(uma_zalloc(q, M_NOWAIT) == NULL);
	for (int i = 0; i < n; i++)
		uma_zfree(q, v[i]);
	uma_zdestroy(q);
}

static void
test_limit_warning(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	struct kt_result r;
	int lines = 0;

	kt_child(child_limit_warning, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("child %s %d:\n%s",
		    r.kr_exited ? "exited with" : "killed by signal",
		    r.kr_status, r.kr_err);
	for (const char *p = r.kr_err;
	    (p = strstr(p, "[zone: warnz] WARNING")) != NULL; p++) {
		const char *eol = strchr(p, '\n');
		const char *text = strstr(p, "warnz is full");
		if (text == NULL || (eol != NULL && text > eol))
			fail_msg("warning line without its text:\n%s", r.kr_err);
		lines++;
	}
	/* Printed, but not once per failure: 200 failures in a burst. */
	if (lines < 1 || lines > 3)
		fail_msg("%d warning lines for 200 failures:\n%s", lines,
		    r.kr_err);
	if (strstr(r.kr_err, "quietz") != NULL)
		fail_msg("a zone without a warning printed one:\n%s", r.kr_err);
}

/* ---- maxaction ---------------------------------------------------------- */

static atomic_int max_calls;
static _Atomic(uma_zone_t) max_zone;

static void
count_maxaction(uma_zone_t zone, int unused)
{
	atomic_store(&max_zone, zone);
	atomic_fetch_add(&max_calls, 1);
}

static void
child_maxaction(void *arg)
{
	static void *v[100];

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("maxact", 512, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	int r = uma_zone_set_max(z, 20);
	uma_zone_set_maxaction(z, count_maxaction);
	int n = fill(z, v, r, M_NOWAIT);
	KT_EQ(n, r);
	/* Not called while the zone had room. */
	KT_EQ(atomic_load(&max_calls), 0);
	for (int i = 0; i < 10; i++)
		KT_CHECK(uma_zalloc(z, M_NOWAIT) == NULL);
	/* It may run asynchronously: wait for it (bounded, not timed). */
	for (int i = 0; i < 10000 && atomic_load(&max_calls) == 0; i++)
		kp_sleep_ns(1000000);
	KT_CHECK(atomic_load(&max_calls) >= 1);
	KT_CHECK(atomic_load(&max_calls) <= 11);
	KT_CHECK(atomic_load(&max_zone) == z);
	for (int i = 0; i < n; i++)
		uma_zfree(z, v[i]);
	uma_zdestroy(z);
}

static void
test_maxaction(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_maxaction, NULL);
}

/* ---- reserve ------------------------------------------------------------- */

static void
child_reserve(void *arg)
{
	static void *v[300];
	static const uint32_t flags[] = {0, UMA_ZONE_NOBUCKET};

	kt_map_setup("16M");
	for (int f = 0; f < 2; f++) {
		uma_zone_t z = uma_zcreate("reserved", 256, NULL, NULL, NULL,
		    NULL, UMA_ALIGN_PTR, flags[f]);
		KT_CHECK(z != NULL);
		int r = uma_zone_set_max(z, 64);
		KT_CHECK(r >= 64 && r < 300);
		uma_zone_reserve(z, 8);
		/*
		 * A fresh zone, then with the freed items back in the zone
		 * (in its caches, or in its slabs for NOBUCKET): the last
		 * eight stay kept either way.
		 */
		for (int round = 0; round < 2; round++) {
			int n = fill(z, v, 300, M_NOWAIT);
			KT_EQ(n, r - 8);
			/* Asking again does not help. */
			n += fill(z, v + n, 300 - n, M_NOWAIT);
			KT_EQ(n, r - 8);
			/* M_USE_RESERVE takes the last eight. */
			n += fill(z, v + n, 300 - n, M_NOWAIT | M_USE_RESERVE);
			KT_EQ(n, r);
			KT_EQ(uma_zone_get_cur(z), r);
			KT_CHECK(uma_zalloc(z, M_NOWAIT | M_USE_RESERVE) == NULL);
			KT_CHECK(uma_zalloc(z, M_NOWAIT) == NULL);
			for (int i = 0; i < n; i++)
				uma_zfree(z, v[i]);
			KT_EQ(uma_zone_get_cur(z), 0);
			kt_zone_consistent(z);
		}
		uma_zdestroy(z);
	}
}

static void
test_reserve(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_reserve, NULL);
}

/* ---- prealloc ------------------------------------------------------------- */

static int pre_inits;

static int
pre_init(void *mem, int size, int flags)
{
	pre_inits++;
	return (0);
}

static void
child_prealloc(void *arg)
{
	static void *v[1000];

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("prealloc", 512, NULL, NULL, pre_init,
	    NULL, UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	uma_prealloc(z, 1000);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_CHECK(st.zs_free >= 1000);
	KT_EQ(st.zs_used, 0);
	KT_EQ(st.zs_requests, 0);
	KT_CHECK(st.zs_slabs * st.zs_ipers >= 1000);
	/* The slabs were made, so their items' init ran. */
	KT_EQ(pre_inits, st.zs_slabs * st.zs_ipers);
	KT_CHECK(kmem_map_size() >= st.zs_pages * kmem_page_size());
	kt_zone_consistent(z);

	/* The next 1000 allocations take no page. */
	for (int i = 0; i < 1000; i++) {
		v[i] = uma_zalloc(z, (i & 1) ? M_NOWAIT : M_WAITOK);
		KT_CHECK(v[i] != NULL);
		if (i % 100 == 0)
			KT_EQ(kt_zone_stats(z).zs_pages, st.zs_pages);
	}
	KT_EQ(kt_zone_stats(z).zs_pages, st.zs_pages);
	KT_EQ(kt_zone_stats(z).zs_slabs, st.zs_slabs);
	KT_EQ(pre_inits, st.zs_slabs * st.zs_ipers);
	for (int i = 0; i < 1000; i++)
		uma_zfree(z, v[i]);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_prealloc(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_prealloc, NULL);
}

/* ---- reclaim gives pages back ---------------------------------------------- */

#define NREC 40000

/* Bytes of the map held by uma slabs, of every zone. */
static size_t
slab_bytes(void)
{
	return (atomic_load(&kmem_map_store.km_class_bytes[KMC_SLAB]));
}

static void
shuffle(void **v, int n, uint64_t *seed)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(kt_rand(seed) % (uint64_t)(i + 1));
		void *t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static void
child_reclaim_pages(void *arg)
{
	static void *v[NREC];
	size_t ps = kmem_page_size();
	uint64_t seed = 42;

	kt_map_setup("64M");
	uma_zone_t z = uma_zcreate("reclaim", 256, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	/* uma is set up and this thread has its caches: measure from here. */
	uma_zfree(z, uma_zalloc(z, M_WAITOK));
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	size_t m0 = kmem_map_size();
	size_t s0 = slab_bytes();

	/* uma_zone_reclaim(): this zone's pages go back. */
	for (int i = 0; i < NREC; i++)
		KT_CHECK((v[i] = uma_zalloc(z, M_WAITOK)) != NULL);
	size_t m1 = kmem_map_size();
	KT_CHECK(m1 >= m0 + (size_t)NREC * 256);
	shuffle(v, NREC, &seed);
	for (int i = 0; i < NREC; i++)
		uma_zfree(z, v[i]);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_slabs, 0);
	KT_EQ(st.zs_pages, 0);
	KT_EQ(st.zs_free, 0);
	size_t m2 = kmem_map_size();
	KT_LE(m2 - m0, (m1 - m0) / 10);

	/*
	 * uma_reclaim(): all zones, uma's own (buckets, slab headers)
	 * included.  The slab pages all go; the map keeps only the boundary
	 * tags vmem grew for the slabs (never given back, see vmem(3)).
	 */
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	KT_LE(slab_bytes(), s0 + 4 * ps);
	KT_LE(kmem_map_size() - m0, (m1 - m0) / 20);
	m0 = kmem_map_size();

	/* Again through uma_reclaim() alone. */
	for (int i = 0; i < NREC; i++)
		KT_CHECK((v[i] = uma_zalloc(z, M_WAITOK)) != NULL);
	KT_CHECK(kmem_map_size() >= m0 + (size_t)NREC * 256);
	shuffle(v, NREC, &seed);
	for (int i = 0; i < NREC; i++)
		uma_zfree(z, v[i]);
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	KT_EQ(kt_zone_stats(z).zs_pages, 0);
	KT_LE(slab_bytes(), s0 + 4 * ps);
	KT_LE(kmem_map_size(), m0 + 4 * ps); /* the tags were there already */
	kt_zone_consistent(z);
	uma_zdestroy(z);
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	KT_LE(slab_bytes(), s0);
}

static void
test_reclaim_pages(void **state)
{
	kt_assert_child_ok(child_reclaim_pages, NULL);
}

/*
 * UMA_RECLAIM_DRAIN empties the zone's bucket cache and leaves the
 * per-thread caches; UMA_RECLAIM_DRAIN_CPU empties both.
 */
static void
child_reclaim_drain(void *arg)
{
	static void *v[10000];

	kt_map_setup("32M");
	uma_zone_t z = uma_zcreate("drain", 128, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < 10000; i++)
		KT_CHECK((v[i] = uma_zalloc(z, M_WAITOK)) != NULL);
	for (int i = 0; i < 10000; i++)
		uma_zfree(z, v[i]);
	struct uma_zone_stats a = kt_zone_stats(z);
	if (KT_ZONE_CACHES) {
		KT_CHECK(a.zs_free_bucket > 0); /* full buckets went to the zone */
		KT_CHECK(a.zs_free_cache > 0);  /* and some stayed with the thread */
	}
	kt_zone_consistent(z);

	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN);
	struct uma_zone_stats b = kt_zone_stats(z);
	KT_EQ(b.zs_free_bucket, 0);
	KT_EQ(b.zs_free_cache, a.zs_free_cache);
	KT_EQ(b.zs_used, 0);
	KT_CHECK(b.zs_pages < a.zs_pages);
	kt_zone_consistent(z);

	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	b = kt_zone_stats(z);
	KT_EQ(b.zs_free_bucket, 0);
	KT_EQ(b.zs_free_cache, 0);
	KT_EQ(b.zs_pages, 0);
	kt_zone_consistent(z);

	/* uma_reclaim(UMA_RECLAIM_DRAIN) reaches this zone too. */
	for (int i = 0; i < 10000; i++)
		KT_CHECK((v[i] = uma_zalloc(z, M_WAITOK)) != NULL);
	for (int i = 0; i < 10000; i++)
		uma_zfree(z, v[i]);
	a = kt_zone_stats(z);
	uma_reclaim(UMA_RECLAIM_DRAIN);
	b = kt_zone_stats(z);
	KT_EQ(b.zs_free_bucket, 0);
	KT_EQ(b.zs_free_cache, a.zs_free_cache);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_reclaim_drain(void **state)
{
	kt_assert_child_ok(child_reclaim_drain, NULL);
}

/*
 * UMA_RECLAIM_TRIM gives back at most what lies beyond the working set:
 * never an item in use, never more than the bucket cache held, and the
 * zone keeps working.
 */
static void
child_trim(void *arg)
{
	static uint64_t *v[10000];

	kt_map_setup("32M");
	uma_zone_t z = uma_zcreate("trim", 128, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < 10000; i++) {
		KT_CHECK((v[i] = uma_zalloc(z, M_WAITOK)) != NULL);
		v[i][0] = (uintptr_t)v[i];
		v[i][15] = ~(uintptr_t)v[i];
	}
	/* Keep every tenth; the rest go to the caches. */
	for (int i = 0; i < 10000; i++)
		if (i % 10 != 0)
			uma_zfree(z, v[i]);
	struct uma_zone_stats a = kt_zone_stats(z);
	uma_zone_reclaim(z, UMA_RECLAIM_TRIM);
	struct uma_zone_stats b = kt_zone_stats(z);
	KT_EQ(b.zs_used, 1000);
	KT_LE(b.zs_free_bucket, a.zs_free_bucket);
	KT_LE(b.zs_pages, a.zs_pages);
	kt_zone_consistent(z);
	uma_reclaim(UMA_RECLAIM_TRIM);
	kt_zone_consistent(z);
	KT_LE(kt_zone_stats(z).zs_free_bucket, b.zs_free_bucket);
	/* A steady working set, trimmed between rounds. */
	for (int round = 0; round < 20; round++) {
		for (int i = 1; i < 500; i++)
			KT_CHECK((v[i * 10 + 1] = uma_zalloc(z, M_NOWAIT)) != NULL);
		for (int i = 1; i < 500; i++)
			uma_zfree(z, v[i * 10 + 1]);
		uma_zone_reclaim(z, UMA_RECLAIM_TRIM);
		kt_zone_consistent(z);
	}
	for (int i = 0; i < 10000; i += 10) {
		KT_EQ(v[i][0], (uintptr_t)v[i]);
		KT_EQ(v[i][15], ~(uintptr_t)v[i]);
		uma_zfree(z, v[i]);
	}
	KT_EQ(kt_zone_stats(z).zs_used, 0);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_trim(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_trim, NULL);
}

/* ---- the map's low-memory path ---------------------------------------------- */

/*
 * A zone fills a 16 MiB map and its items are freed into the caches, which
 * keep the pages.  A kmem_malloc() of 2 MiB then finds no free extent large
 * enough; the low-memory handler uma registered drains the caches and the
 * request is met.  Once with small items (2 KiB, many to a page) and once
 * with large ones (64 KiB, slabs of 16 pages).
 */
#define LMMAX 10000
#define LMBIG (2 * MB)

static void
child_lowmem(void *arg)
{
	static void *v[LMMAX];
	size_t size = *(const size_t *)arg;
	int n = 0;

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("lowmem", size, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	while (n < LMMAX && (v[n] = uma_zalloc(z, M_NOWAIT)) != NULL)
		n++;
	KT_CHECK(n < LMMAX);
	KT_CHECK((size_t)n * size >= 12 * MB);
	for (int i = 0; i < n; i++)
		uma_zfree(z, v[i]);
	/* The zone still holds the pages, as cached free items. */
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_used, 0);
	KT_LE(n, st.zs_free);
	uint64_t runs = atomic_load(&kmem_map_store.km_lowmem_runs);
	KT_LE(vmem_size(kmem_map_arena(), VMEM_MAXFREE) + 1, LMBIG);

	void *big = kmem_malloc(LMBIG, M_NOWAIT);
	KT_CHECK(big != NULL);
	KT_CHECK(atomic_load(&kmem_map_store.km_lowmem_runs) > runs);
	struct uma_zone_stats after = kt_zone_stats(z);
	KT_LE(after.zs_pages, st.zs_pages / 4);
	KT_EQ(after.zs_free_bucket, 0);
	kt_zone_consistent(z);
	memset(big, 0x3c, LMBIG);

	/* The zone works on with what is left. */
	for (int i = 0; i < 20; i++)
		KT_CHECK((v[i] = uma_zalloc(z, M_NOWAIT)) != NULL);
	for (int i = 0; i < 20; i++)
		uma_zfree(z, v[i]);
	kmem_free(big, LMBIG);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_lowmem(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	static const size_t sizes[] = {2048, 64 * 1024};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		kt_assert_child_ok(child_lowmem, (void *)&sizes[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_nowait),
		cmocka_unit_test(test_limit_lowered),
		cmocka_unit_test(test_limit_warning),
		cmocka_unit_test(test_maxaction),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_prealloc),
		cmocka_unit_test(test_reclaim_pages),
		cmocka_unit_test(test_reclaim_drain),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_lowmem),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
