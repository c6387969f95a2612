/*
 * test_security.c -- no allocator metadata in the items (docs/SECURITY.md):
 * every byte of every item, in use or free, can be overwritten, and the
 * zone and kmalloc still hand out exactly the items they had, each once,
 * with exact counts and consistent slabs.  An allocator that kept a free
 * list pointer or a header in its items would hand out the scribble.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>

MALLOC_DEFINE(M_SCRIBBLE, "scribble", "items overwritten whole");

#define NITEMS 640 /* ten full slabs of 64-byte items */
#define ISIZE 64

static int
ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * The NITEMS pointers of again[] are all in had[] (sorted) and none twice.
 */
static void
same_items(void **had, void **again)
{
	void *sorted[NITEMS];

	memcpy(sorted, again, sizeof(sorted));
	qsort(sorted, NITEMS, sizeof(void *), ptr_cmp);
	for (int i = 0; i < NITEMS; i++) {
		KT_CHECK(bsearch(&sorted[i], had, NITEMS, sizeof(void *),
		    ptr_cmp) != NULL);
		if (i > 0)
			KT_CHECK(sorted[i] != sorted[i - 1]);
	}
}

static void
zone_child(void *arg)
{
	static void *had[NITEMS], *again[NITEMS];

	(void)arg;
	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("scribble", ISIZE, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < NITEMS; i++) {
		had[i] = uma_zalloc(z, M_WAITOK);
		KT_CHECK(had[i] != NULL);
		memset(had[i], 0xff, ISIZE); /* in use: all of it is the caller's */
	}
	/*
	 * Every other item goes back to its slab (whose other items stay in
	 * use, so the slab stays too), the rest stay in the caches.
	 */
	for (int i = 0; i < NITEMS; i += 2)
		uma_zfree(z, had[i]);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	KT_EQ(kt_zone_stats(z).zs_free_slab, NITEMS / 2); /* slabs full */
	for (int i = 1; i < NITEMS; i += 2)
		uma_zfree(z, had[i]);
	/* Free: nothing of the allocator's is in them either. */
	for (int i = 0; i < NITEMS; i++)
		memset(had[i], 0xa5, ISIZE);
	qsort(had, NITEMS, sizeof(void *), ptr_cmp);
	for (int i = 0; i < NITEMS; i++) {
		again[i] = uma_zalloc(z, M_WAITOK);
		KT_CHECK(again[i] != NULL);
	}
	same_items(had, again);
	for (int i = 0; i < NITEMS; i++)
		uma_zfree(z, again[i]);
	/* Every free is checked against the free bitsets on the way back. */
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	kt_zone_consistent(z);
	KT_EQ(kt_zone_stats(z).zs_used, 0);
	uma_zdestroy(z);
}

static void
test_zone_items_hold_no_metadata(void **state)
{
	(void)state;
	KT_NEEDS_NO_ASAN(); /* it writes to free items on purpose */
	kt_assert_child_ok(zone_child, NULL);
}

static void
kmalloc_child(void *arg)
{
	static void *had[NITEMS], *again[NITEMS];
	size_t usable[NITEMS];

	(void)arg;
	kt_map_setup("16M");
	for (int i = 0; i < NITEMS; i++) {
		had[i] = kmalloc(ISIZE, M_SCRIBBLE, M_WAITOK);
		usable[i] = kmalloc_usable_size(had[i]);
		KT_CHECK(usable[i] >= ISIZE);
		memset(had[i], 0xff, usable[i]);
	}
	for (int i = 0; i < NITEMS; i++)
		kfree(had[i], M_SCRIBBLE);
	/*
	 * The type tags are out of band: a scribble cannot fake one.  Bytes
	 * 8..15 of a free block hold the free-item key, whose loss is caught
	 * (kmalloc_scribbled_key_child); the rest is nobody's.
	 */
	for (int i = 0; i < NITEMS; i++) {
		memset(had[i], 0xa5, 8);
		memset((char *)had[i] + 16, 0xa5, usable[i] - 16);
	}
	qsort(had, NITEMS, sizeof(void *), ptr_cmp);
	for (int i = 0; i < NITEMS; i++) {
		again[i] = kmalloc(ISIZE, M_SCRIBBLE, M_WAITOK);
		KT_CHECK(again[i] != NULL);
	}
	same_items(had, again);
	for (int i = 0; i < NITEMS; i++)
		kfree(again[i], M_SCRIBBLE);
	struct kt_tstat st = kt_stat_of(ALLOCATOR_MALLOC, "scribble");
	KT_EQ(st.count, 0);
	KT_EQ(st.numallocs, 2 * NITEMS);
	KT_EQ(st.numfrees, 2 * NITEMS);
}

static void
test_kmalloc_items_hold_no_metadata(void **state)
{
	(void)state;
	KT_NEEDS_NO_ASAN(); /* it writes to free items on purpose */
	kt_assert_child_ok(kmalloc_child, NULL);
}

/*
 * A write into a freed block, or past the end of a block into a free
 * neighbour, overwrites the free-item key, and the allocation that would
 * hand the block out again aborts: from the fast path (the thread's cache)
 * and from the slow one (a bucket the thread took over from the zone).
 */
static void
kmalloc_scribbled_key_child(void *arg)
{
	int how = *(int *)arg;

	kt_map_setup("16M");
	uint64_t *p = kmalloc(ISIZE, M_SCRIBBLE, M_WAITOK);
	KT_CHECK(p != NULL);
	if (how == 2) {
		/* over the end of p onto its free neighbour in the cache */
		uint64_t *q = kmalloc(ISIZE, M_SCRIBBLE, M_WAITOK);
		KT_CHECK(q == p + ISIZE / 8 || q == p - ISIZE / 8);
		uint64_t *lo = q < p ? q : p, *hi = q < p ? p : q;
		kfree(hi, M_SCRIBBLE);
		memset(lo, 0x5a, ISIZE + 16); /* 16 bytes past the end of lo */
	} else {
		kfree(p, M_SCRIBBLE);
		p[1] = 42;
	}
	if (how == 1) /* the slow path: M_ZERO takes it */
		(void)kmalloc(ISIZE, M_SCRIBBLE, M_WAITOK | M_ZERO);
	else
		(void)kmalloc(ISIZE, M_SCRIBBLE, M_WAITOK);
	KT_CHECK(!"the scribbled block was handed out");
}

static void
test_kmalloc_write_after_free(void **state)
{
	static const int how[] = {0, 1, 2};
	char msg[128];

	(void)state;
	KT_NEEDS_NO_ASAN(); /* it writes to free items on purpose */
	if (!KT_ZONE_CACHES)
		skip();
	for (int i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "written after it was freed (zone %d: "
		    "its bytes 8..15 are %s", ISIZE, i == 2 ? "0x5a5a5a5a5a5a5a5a" :
		    "0x2a,");
		kt_assert_death(kmalloc_scribbled_key_child, (void *)&how[i],
		    SIGABRT, msg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_items_hold_no_metadata),
		cmocka_unit_test(test_kmalloc_items_hold_no_metadata),
		cmocka_unit_test(test_kmalloc_write_after_free),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
