/*
 * test_malloc_large.c -- freed large kmalloc blocks left committed ("dirty")
 * in the map's free space: the map places the next allocation on them
 * first, of any size, even where best fit would go elsewhere, its pages
 * still resident; partly dirty
 * free ranges are used from their dirty start; M_ZERO and kmem_malloc(3)
 * still get zeros; what stays dirty is bounded by the recent peak of the
 * live bytes and by age; a freed block is free to kfree() (double free);
 * the types' figures do not count it; and a map that runs short gets every
 * dirty range back before a request fails.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "kt.h"
#include "kmem/kmem_int.h"

MALLOC_DEFINE(M_LG, "lg", "large blocks");

#define KB ((size_t)1 << 10)
#define MB ((size_t)1 << 20)

/* Pages of [p, p + n) resident now (n a multiple of the page size). */
static size_t
resident(const void *p, size_t n)
{
	static unsigned char vec[4096];
	size_t ps = kmem_page_size(), got = 0;

	KT_CHECK(n / ps <= sizeof(vec));
	KT_CHECK(mincore((void *)p, n, vec) == 0);
	for (size_t i = 0; i < n / ps; i++)
		got += vec[i] & 1;
	return (got);
}

/*
 * A clean hole that fits exactly and a larger dirty one: the request goes
 * to the dirty one, keeps its contents (no M_ZERO), needs no page fault,
 * and is charged to its type; M_ZERO gets zeros there.
 */
static void
child_dirty_first(void *arg)
{
	(void)arg;
	kt_map_setup("256M");
	kfree(kmalloc(100 * KB, M_LG, M_WAITOK), M_LG); /* records, metadata */
	kmem_dirty_purge();
	unsigned char *x = kmem_malloc(600 * KB, M_WAITOK);
	unsigned char *s1 = kmalloc(64 * KB, M_LG, M_WAITOK);
	unsigned char *a = kmalloc(MB, M_LG, M_WAITOK);
	unsigned char *s2 = kmalloc(64 * KB, M_LG, M_WAITOK);
	KT_CHECK(x != NULL && s1 != NULL && a != NULL && s2 != NULL);
	memset(a, 0xa5, MB);
	kmem_free(x, 600 * KB);  /* a clean hole of 600 KiB */
	kfree(a, M_LG);          /* a dirty one of 1 MiB */
	KT_EQ(kmem_dirty_bytes(), MB);
	struct kt_tstat st = kt_stat_of(1, "lg");
	KT_EQ(st.count, 2);
	KT_EQ(st.bytes, 128 * KB);

	unsigned char *q = kmalloc(600 * KB, M_LG, M_WAITOK);
	KT_CHECK(q == a); /* best fit alone would take x's hole */
	KT_EQ(resident(q, 600 * KB), 600 * KB / kmem_page_size());
	KT_EQ(q[0], 0xa5);
	KT_EQ(q[600 * KB - 1], 0xa5);
	KT_EQ(kmem_dirty_bytes(), 424 * KB);
	KT_EQ(kmalloc_usable_size(q), 600 * KB);
	st = kt_stat_of(1, "lg");
	KT_EQ(st.count, 3);
	KT_EQ(st.bytes, 728 * KB);

	/* M_ZERO on the same dirty pages: zeros. */
	kfree(q, M_LG);
	KT_EQ(kmem_dirty_bytes(), MB);
	q = kmalloc(600 * KB, M_LG, M_WAITOK | M_ZERO);
	KT_CHECK(q == a);
	for (size_t i = 0; i < 600 * KB; i++)
		KT_EQ(q[i], 0);
	/* kmem_malloc() too: the rest of the dirty hole, zeroed. */
	unsigned char *z = kmem_malloc(400 * KB, M_WAITOK);
	KT_CHECK(z == a + 600 * KB);
	for (size_t i = 0; i < 400 * KB; i++)
		KT_EQ(z[i], 0);
	KT_EQ(kmem_dirty_bytes(), 24 * KB);
	kmem_free(z, 400 * KB);
	kfree(q, M_LG);
	kfree(s1, M_LG);
	kfree(s2, M_LG);
	kmem_dirty_purge();
	KT_EQ(kmem_dirty_bytes(), 0);
	st = kt_stat_of(1, "lg");
	KT_EQ(st.count, 0);
	KT_EQ(st.bytes, 0);
}

static void
test_dirty_first(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_dirty_first, NULL);
}

/*
 * A free range whose first MiB is dirty and whose second is not, and a
 * clean hole of exactly the request elsewhere: the request starts on the
 * dirty MiB, which keeps its contents; the rest is fresh, zero pages.
 */
static void
child_dirty_partly(void *arg)
{
	(void)arg;
	kt_map_setup("256M");
	kfree(kmalloc(100 * KB, M_LG, M_WAITOK), M_LG);
	kmem_dirty_purge();
	unsigned char *c = kmem_malloc(1536 * KB, M_WAITOK);
	unsigned char *s1 = kmalloc(64 * KB, M_LG, M_WAITOK);
	unsigned char *a = kmalloc(MB, M_LG, M_WAITOK);
	unsigned char *b = kmem_malloc(MB, M_WAITOK);
	unsigned char *s2 = kmalloc(64 * KB, M_LG, M_WAITOK);
	KT_CHECK(c != NULL && s1 != NULL && a != NULL && s2 != NULL);
	KT_CHECK(b == a + MB);
	memset(a, 0xa5, MB);
	memset(b, 0x5a, MB);
	kmem_free(c, 1536 * KB);
	kmem_free(b, MB);
	kfree(a, M_LG);
	KT_EQ(kmem_dirty_bytes(), MB);

	unsigned char *p = kmalloc(1536 * KB, M_LG, M_WAITOK);
	KT_CHECK(p == a);
	/* The dirty MiB is resident, b's half MiB went back: fresh. */
	KT_EQ(resident(p, 1536 * KB), MB / kmem_page_size());
	KT_EQ(p[0], 0xa5);
	KT_EQ(p[MB - 1], 0xa5);
	KT_EQ(p[MB], 0);
	KT_EQ(kmem_dirty_bytes(), 0);
	kfree(p, M_LG);
	kfree(s1, M_LG);
	kfree(s2, M_LG);
	kmem_dirty_purge();
	KT_EQ(kmem_dirty_bytes(), 0);
}

static void
test_dirty_partly(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_dirty_partly, NULL);
}

/*
 * A large block freed leaves its pages committed in the map's free space:
 * the next allocations that fall on them find them resident (zeroed for
 * kmem_malloc() and M_ZERO, as they were for kmalloc() without), and a
 * purge gives back what is left.
 */
static void
child_dirty(void *arg)
{
	(void)arg;
	kt_map_setup("256M");
	unsigned char *p = kmalloc(40 * MB, M_LG, M_WAITOK);
	KT_CHECK(p != NULL);
	memset(p, 0xa5, 40 * MB);
	size_t inuse = kmem_map_size();
	kfree(p, M_LG);
	KT_EQ(kmem_dirty_bytes(), 40 * MB);
	KT_EQ(kmem_map_size(), inuse - 40 * MB); /* free in the map */

	/* The dirty range p left serves the next requests, from its start. */
	unsigned char *z = kmem_malloc(MB, M_WAITOK);
	KT_CHECK(z == p);
	for (size_t i = 0; i < MB; i += 512)
		KT_EQ(z[i], 0);
	KT_EQ(kmem_dirty_bytes(), 39 * MB);
	unsigned char *q = kmalloc(30 * MB, M_LG, M_WAITOK);
	KT_CHECK(q == p + MB);
	KT_EQ(q[0], 0xa5); /* not cleared: kmalloc without M_ZERO */
	KT_EQ(kmem_dirty_bytes(), 9 * MB);
	unsigned char *r = kmalloc(5 * MB, M_LG, M_WAITOK | M_ZERO);
	KT_CHECK(r == p + 31 * MB);
	for (size_t i = 0; i < 5 * MB; i += 512)
		KT_EQ(r[i], 0);
	KT_EQ(kmem_dirty_bytes(), 4 * MB);
	kmem_dirty_purge();
	KT_EQ(kmem_dirty_bytes(), 0);
	kmem_free(z, MB);
	kfree(q, M_LG);
	kfree(r, M_LG);
	KT_EQ(kmem_dirty_bytes(), 35 * MB);
	kmem_dirty_purge();
	KT_EQ(kmem_dirty_bytes(), 0);
	KT_EQ(kmem_map_size(), inuse - 40 * MB);
}

static void
test_dirty(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_dirty, NULL);
}

/*
 * What stays dirty: a range not taken within two seconds goes back at the
 * next free; at most 64 MiB stay, the oldest ranges going back first; and
 * at most KMEM_DIRTY_FLOOR more than the live bytes fell from their recent
 * peak.
 */
static void
child_dirty_age(void *arg)
{
	(void)arg;
	kt_map_setup("256M");
	void *a = kmalloc(24 * MB, M_LG, M_WAITOK);
	void *b = kmalloc(20 * MB, M_LG, M_WAITOK);
	KT_CHECK(a != NULL && b != NULL);
	kfree(a, M_LG);
	KT_EQ(kmem_dirty_bytes(), 24 * MB);
	usleep(2200 * 1000);
	kfree(b, M_LG);
	KT_EQ(kmem_dirty_bytes(), 20 * MB); /* a went back, b is dirty */
	kmem_dirty_purge();
	KT_EQ(kmem_dirty_bytes(), 0);

	/* 80 MiB live, then none: 64 MiB stay. */
	void *c[4];
	for (int i = 0; i < 4; i++)
		KT_CHECK((c[i] = kmalloc(20 * MB, M_LG, M_WAITOK)) != NULL);
	for (int i = 0; i < 4; i++)
		kfree(c[i], M_LG);
	KT_EQ(kmem_dirty_bytes(), 60 * MB);
	kmem_dirty_purge();

	/*
	 * 20 MiB freed, then 30 MiB that cannot fall on them: the live bytes
	 * were 30 MiB at most, so 16 + 30 MiB may stay when none are live,
	 * and the older 20 go back.
	 */
	usleep(2200 * 1000); /* a new period of the peak ... */
	kfree(kmalloc(4096 * 20, M_LG, M_WAITOK), M_LG);
	usleep(2200 * 1000); /* ... and another: the 80 MiB are forgotten */
	kmem_dirty_purge();
	unsigned char *d = kmalloc(20 * MB, M_LG, M_WAITOK);
	void *guard = kmalloc(64 * KB, M_LG, M_WAITOK);
	kfree(d, M_LG);
	KT_EQ(kmem_dirty_bytes(), 20 * MB);
	unsigned char *e = kmalloc(30 * MB, M_LG, M_WAITOK);
	KT_CHECK(e >= d + 20 * MB || e + 30 * MB <= d);
	kfree(e, M_LG);
	KT_EQ(kmem_dirty_bytes(), 30 * MB);
	kfree(guard, M_LG);
}

static void
test_dirty_age(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_dirty_age, NULL);
}

/* A freed block is a free one: freeing it again is a double free. */
static void
child_double_free_dirty(void *arg)
{
	(void)arg;
	kt_map_setup("16M");
	void *p = kmalloc(100 * KB, M_LG, M_WAITOK);
	kfree(p, M_LG);
	kfree(p, M_LG);
}

static void
test_double_free_dirty(void **state)
{
	(void)state;
	kt_assert_death(child_double_free_dirty, NULL, SIGABRT,
	    "double free or never allocated: the page is free");
}

static void
child_interior_dirty(void *arg)
{
	(void)arg;
	kt_map_setup("16M");
	char *p = kmalloc(100 * KB, M_LG, M_WAITOK);
	kfree(p, M_LG);
	kfree(p + 8 * KB, M_LG);
}

static void
test_interior_dirty(void **state)
{
	(void)state;
	kt_assert_death(child_interior_dirty, NULL, SIGABRT, "the page is free");
}

/*
 * Leave 1000 KiB of 100 KiB blocks dirty, then fill the map with 128 KiB
 * blocks until it says no: the fill gets all of it, the dirty ranges too.
 */
static void *fill[256];

static void
child_flush_on_shortage(void *arg)
{
	void *p[10];

	(void)arg;
	kt_map_setup("16M");
	for (int i = 0; i < 10; i++) {
		p[i] = kmalloc(100 * KB, M_LG, M_NOWAIT);
		KT_CHECK(p[i] != NULL);
	}
	size_t held = kmem_map_size();
	for (int i = 0; i < 10; i++)
		kfree(p[i], M_LG);
	KT_EQ(kmem_map_size(), held - 1000 * KB);
	KT_EQ(kmem_dirty_bytes(), 1000 * KB); /* all ten dirty */
	size_t free_before = kmem_map_free();
	size_t got = 0;
	int n = 0;
	while (n < 256 && (fill[n] = kmalloc(128 * KB, M_LG, M_NOWAIT)) != NULL) {
		got += 128 * KB;
		n++;
	}
	KT_CHECK(n < 256);
	/* Everything but what page-granular fragments leave. */
	KT_LE(free_before - 4 * 128 * KB, got);
	KT_EQ(kmem_dirty_bytes(), 0);
	struct kt_tstat st = kt_stat_of(1, "lg");
	KT_EQ(st.failures, 1);
	for (int i = 0; i < n; i++)
		kfree(fill[i], M_LG);
	kmem_dirty_purge();
	KT_EQ(kmem_dirty_bytes(), 0);
	/* The fill's records took a page of metadata or so. */
	KT_LE(kmem_map_size(), held - 1000 * KB + 16 * KB);
}

static void
test_flush_on_shortage(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_flush_on_shortage, NULL);
}

/*
 * The high-water mark sees the moment an allocation fails, not only the
 * statistics snapshots (none here: stats=0): who held the most when memory
 * ran out is known.
 */
MALLOC_DEFINE(M_PEAK, "peak", "held when memory ran out");

static void
child_peak_on_failure(void *arg)
{
	static void *p[1000];

	(void)arg;
	KT_CHECK(kmem_setopt("stats", "0") == 0);
	kt_map_setup("16M");
	for (int i = 0; i < 1000; i++)
		p[i] = kmalloc(64, M_PEAK, M_WAITOK);
	KT_CHECK(kmalloc((size_t)1 << 30, M_LG, M_NOWAIT) == NULL);
	for (int i = 0; i < 1000; i++)
		kfree(p[i], M_PEAK);
	struct kt_tstat st = kt_stat_of(1, "peak");
	KT_EQ(st.bytes, 0);
	KT_LE(64000, st.highbytes);
	KT_EQ(kt_stat_of(1, "lg").failures, 1);
}

static void
test_peak_on_failure(void **state)
{
	(void)state;
	kt_assert_child_ok(child_peak_on_failure, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dirty_first),
		cmocka_unit_test(test_dirty_partly),
		cmocka_unit_test(test_dirty),
		cmocka_unit_test(test_dirty_age),
		cmocka_unit_test(test_double_free_dirty),
		cmocka_unit_test(test_interior_dirty),
		cmocka_unit_test(test_flush_on_shortage),
		cmocka_unit_test(test_peak_on_failure),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
