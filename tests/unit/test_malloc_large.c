/*
 * test_malloc_large.c -- freed large kmalloc blocks kept for reuse: the same
 * pages serve the next request of that size or of up to a quarter less (the
 * smallest block that fits), M_ZERO still zeroes, a block kept too long
 * goes back to the map, a kept
 * block is free to kfree() (double free), the types' figures do not count
 * it, and a map that runs short gets every kept block back before a
 * request fails.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "kt.h"
#include "kmem/kmem_int.h"

MALLOC_DEFINE(M_LG, "lg", "large blocks");

#define KB ((size_t)1 << 10)
#define MB ((size_t)1 << 20)

static void
child_reuse(void *arg)
{
	(void)arg;
	kt_map_setup("16M"); /* keeps up to 2 MiB */
	unsigned char *p = kmalloc(100 * KB, M_LG, M_WAITOK);
	KT_CHECK(p != NULL);
	memset(p, 0xa5, 100 * KB);
	size_t inuse = kmem_map_size();
	kfree(p, M_LG);
	/* Kept: the map still holds the pages, the type does not. */
	KT_EQ(kmem_map_size(), inuse);
	struct kt_tstat st = kt_stat_of(1, "lg");
	KT_EQ(st.count, 0);
	KT_EQ(st.bytes, 0);

	/* The same number of pages: the same block, dirty unless M_ZERO. */
	unsigned char *q = kmalloc(100 * KB - 100, M_LG, M_WAITOK);
	KT_CHECK(q == p);
	KT_EQ(q[0], 0xa5);
	kfree(q, M_LG);
	q = kmalloc(100 * KB, M_LG, M_WAITOK | M_ZERO);
	KT_CHECK(q == p);
	for (size_t i = 0; i < 100 * KB; i++)
		KT_EQ(q[i], 0);
	st = kt_stat_of(1, "lg");
	KT_EQ(st.count, 1);
	KT_EQ(st.bytes, 100 * KB);

	/* Another size does not take it. */
	void *r = kmalloc(200 * KB, M_LG, M_WAITOK);
	KT_CHECK(r != p);
	kfree(r, M_LG);
	kfree(q, M_LG);
}

static void
test_reuse(void **state)
{
	(void)state;
	kt_assert_child_ok(child_reuse, NULL);
}

/*
 * A request takes the smallest kept block of its pages up to a quarter
 * more, and is charged for all of it; a block larger than that stays kept.
 */
static void
child_reuse_larger(void *arg)
{
	(void)arg;
	kt_map_setup("16M");
	unsigned char *a = kmalloc(100 * KB, M_LG, M_WAITOK); /* 25 pages */
	unsigned char *b = kmalloc(92 * KB, M_LG, M_WAITOK);  /* 23 pages */
	KT_CHECK(a != NULL && b != NULL);
	memset(a, 0x5a, 100 * KB);
	memset(b, 0x5a, 92 * KB);
	kfree(a, M_LG);
	kfree(b, M_LG);
	size_t held = kmem_map_size();

	/* 18 pages: 25 and 23 are more than a quarter larger. */
	unsigned char *c = kmalloc(72 * KB, M_LG, M_WAITOK);
	KT_CHECK(c != a && c != b);
	KT_EQ(kmalloc_usable_size(c), 72 * KB);
	kfree(c, M_LG);
	/* 22 pages: both fit, the smaller is taken, and all of it charged. */
	c = kmalloc(88 * KB, M_LG, M_WAITOK);
	KT_CHECK(c == b);
	KT_EQ(kmalloc_usable_size(c), 92 * KB);
	struct kt_tstat st = kt_stat_of(1, "lg");
	KT_EQ(st.count, 1);
	KT_EQ(st.bytes, 92 * KB);
	/* 21 pages, M_ZERO: the 25-page block, zeroed to its end. */
	unsigned char *d = kmalloc(84 * KB, M_LG, M_WAITOK | M_ZERO);
	KT_CHECK(d == a);
	KT_EQ(kmalloc_usable_size(d), 100 * KB);
	for (size_t i = 0; i < 100 * KB; i++)
		KT_EQ(d[i], 0);
	st = kt_stat_of(1, "lg");
	KT_EQ(st.bytes, 192 * KB);
	kfree(c, M_LG);
	kfree(d, M_LG);
	KT_CHECK(kmem_map_size() <= held + 72 * KB);
}

static void
test_reuse_larger(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_reuse_larger, NULL);
}

/* A block kept for more than two seconds goes back at the next keep. */
static void
child_age(void *arg)
{
	(void)arg;
	kt_map_setup("16M");
	void *a = kmalloc(100 * KB, M_LG, M_WAITOK);
	void *b = kmalloc(200 * KB, M_LG, M_WAITOK);
	KT_CHECK(a != NULL && b != NULL);
	size_t base = kmem_map_size();
	kfree(a, M_LG);
	KT_EQ(kmem_map_size(), base); /* kept */
	usleep(2200 * 1000);
	kfree(b, M_LG);
	/* b is kept; a, older than two seconds, went back. */
	KT_EQ(kmem_map_size(), base - 100 * KB);
	void *c = kmalloc(100 * KB, M_LG, M_WAITOK);
	KT_CHECK(c != NULL);
	kfree(c, M_LG);
}

static void
test_age(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_age, NULL);
}

/*
 * A block too large to keep (over 32 MiB) leaves its pages committed in the
 * map's free space: the next allocations that fall on them find them
 * resident (zeroed for kmem_malloc() and M_ZERO, as they were for
 * kmalloc() without), and a purge gives back what is left.
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

	/* The smallest free range that fits is the hole p left. */
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
	kmem_dirty_purge();
	KT_EQ(kmem_dirty_bytes(), 0);
}

static void
test_dirty(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	KT_NEEDS_NO_ASAN(); /* there the map frees at once */
	kt_assert_child_ok(child_dirty, NULL);
}

/*
 * A dirty range not taken within two seconds goes back at the next free.
 * (A 128 MiB map keeps blocks of 16 MiB at most, the map's eighth.)
 */
static void
child_dirty_age(void *arg)
{
	(void)arg;
	kt_map_setup("128M");
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
	/* At most 64 MiB stay dirty: the oldest ranges go back first. */
	void *c[4];
	for (int i = 0; i < 4; i++)
		KT_CHECK((c[i] = kmalloc(20 * MB, M_LG, M_WAITOK)) != NULL);
	for (int i = 0; i < 4; i++)
		kfree(c[i], M_LG);
	KT_EQ(kmem_dirty_bytes(), 60 * MB);
}

static void
test_dirty_age(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	KT_NEEDS_NO_ASAN();
	kt_assert_child_ok(child_dirty_age, NULL);
}

/* A kept block is a free one: freeing it again is a double free. */
static void
child_double_free_kept(void *arg)
{
	(void)arg;
	kt_map_setup("16M");
	void *p = kmalloc(100 * KB, M_LG, M_WAITOK);
	kfree(p, M_LG);
	kfree(p, M_LG);
}

static void
test_double_free_kept(void **state)
{
	(void)state;
	kt_assert_death(child_double_free_kept, NULL, SIGABRT,
	    "double free or never allocated: the page is free");
}

static void
child_interior_kept(void *arg)
{
	(void)arg;
	kt_map_setup("16M");
	char *p = kmalloc(100 * KB, M_LG, M_WAITOK);
	kfree(p, M_LG);
	kfree(p + 8 * KB, M_LG);
}

static void
test_interior_kept(void **state)
{
	(void)state;
	kt_assert_death(child_interior_kept, NULL, SIGABRT, "the page is free");
}

/*
 * Keep 1000 KiB of 100 KiB blocks, then fill the map with 128 KiB blocks until
 * it says no: the low-memory handler has given the kept blocks back, so the
 * fill gets them too.
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
	KT_EQ(kmem_map_size(), held); /* all ten kept */
	size_t free_before = kmem_map_free();
	size_t got = 0;
	int n = 0;
	while (n < 256 && (fill[n] = kmalloc(128 * KB, M_LG, M_NOWAIT)) != NULL) {
		got += 128 * KB;
		n++;
	}
	KT_CHECK(n < 256);
	/* Everything but what page-granular fragments leave. */
	KT_LE(free_before + 1000 * KB - 4 * 128 * KB, got);
	struct kt_tstat st = kt_stat_of(1, "lg");
	KT_EQ(st.failures, 1);
	for (int i = 0; i < n; i++)
		kfree(fill[i], M_LG);
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
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_reuse_larger),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_dirty),
		cmocka_unit_test(test_dirty_age),
		cmocka_unit_test(test_double_free_kept),
		cmocka_unit_test(test_interior_kept),
		cmocka_unit_test(test_flush_on_shortage),
		cmocka_unit_test(test_peak_on_failure),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
