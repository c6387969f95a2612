/*
 * test_uma.c -- uma zones in one thread: creation, item sizes and alignment,
 * refused arguments, ctor/dtor on every allocation and free, init/fini once
 * per slab life (type-stable memory), failing ctors and inits, ZINIT,
 * NOFREE, NOBUCKET, M_ZERO, destroying a zone that still has items,
 * secondary zones, exact statistics after a random mix, and misuse (double
 * free, wrong zone, interior or foreign pointer, bad flags) ending in
 * abort() with a line naming the zone; double frees caught at the free
 * itself, and the free key never seen in an item handed out.
 *
 * The map is set up once per process, so every test runs in a child of its
 * own (kt_child) with a map of known size, and checks with KT_CHECK.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include "uma/uma_int.h"
#include "uma/uma_stats.h"
#include <kmem/malloc.h>

#define MB ((size_t)1 << 20)

/* Is addr inside a uma slab of the map? */
static int
in_slab(const void *addr)
{
	return (kmem_in_map(addr) &&
	    KPT_CLASS(kmem_pt_get(addr)) == KMC_SLAB);
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return (x < y ? -1 : x > y);
}

/* ---- sizes and alignment ------------------------------------------------- */

static void
child_sizes_align(void *arg)
{
	static const size_t sizes[] = {1, 2, 7, 8, 13, 16, 24, 40, 64, 100,
	    128, 255, 256, 500, 1000, 1024, 2000, 4000, 4096, 5000, 9000,
	    20000};
	static const int aligns[] = {UMA_ALIGN_CHAR, UMA_ALIGN_SHORT,
	    UMA_ALIGN_INT, UMA_ALIGN_PTR, UMA_ALIGN_LONG, UMA_ALIGN_CACHE, 15,
	    255};
	static void *items[400];
	char name[32];

	kt_map_setup("64M");
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		for (size_t ai = 0; ai < sizeof(aligns) / sizeof(aligns[0]); ai++) {
			size_t size = sizes[si];
			int align = aligns[ai];
			uintptr_t mask = align == UMA_ALIGN_CACHE ? 63 :
			    (uintptr_t)align;
			size_t n = MB / size < 400 ? MB / size : 400;

			snprintf(name, sizeof(name), "sz%zu_a%d", size, align);
			uma_zone_t z = uma_zcreate(name, size, NULL, NULL, NULL,
			    NULL, align, 0);
			KT_CHECK(z != NULL);
			KT_CHECK(strcmp(uma_zone_name(z), name) == 0);
			KT_EQ(uma_zone_size(z), size);
			for (size_t i = 0; i < n; i++) {
				unsigned char *p = uma_zalloc(z, M_WAITOK);
				KT_CHECK(p != NULL);
				KT_EQ((uintptr_t)p & mask, 0);
				KT_CHECK(in_slab(p) && in_slab(p + size - 1));
				memset(p, (int)(i * 37 + 11) & 0xff, size);
				items[i] = p;
			}
			/* No item was overwritten by another. */
			for (size_t i = 0; i < n; i++) {
				unsigned char *p = items[i];
				unsigned char c = (unsigned char)((i * 37 + 11) & 0xff);
				KT_CHECK(p[0] == c && p[size / 2] == c &&
				    p[size - 1] == c);
			}
			qsort(items, n, sizeof(items[0]), cmp_ptr);
			for (size_t i = 1; i < n; i++)
				KT_LE((uintptr_t)items[i - 1] + size,
				    (uintptr_t)items[i]);

			struct uma_zone_stats st = kt_zone_stats(z);
			KT_CHECK(strcmp(st.zs_name, name) == 0);
			KT_EQ(st.zs_size, size);
			KT_CHECK(st.zs_rsize >= size);
			KT_EQ(st.zs_rsize & mask, 0);
			KT_EQ(st.zs_used, n);
			KT_EQ(st.zs_requests, n);
			KT_CHECK(st.zs_ipers >= 1);
			KT_CHECK(st.zs_slab_pages >= 1);
			KT_LE(st.zs_ipers * st.zs_rsize,
			    st.zs_slab_pages * kmem_page_size());
			KT_EQ(st.zs_limit, 0);
			KT_CHECK(!st.zs_secondary && !st.zs_internal);
			kt_zone_consistent(z);
			for (size_t i = 0; i < n; i++)
				uma_zfree(z, items[i]);
			st = kt_zone_stats(z);
			KT_EQ(st.zs_used, 0);
			KT_EQ(st.zs_frees, n);
			kt_zone_consistent(z);
			uma_zdestroy(z);
		}
	}
}

static void
test_sizes_align(void **state)
{
	kt_assert_child_ok(child_sizes_align, NULL);
}

/* ---- refused arguments --------------------------------------------------- */

struct bad_args {
	const char *ba_name;
	size_t ba_size;
	int ba_align;
	uint32_t ba_flags;
};

static void
child_bad_args(void *arg)
{
	const struct bad_args *ba = arg;

	kt_map_setup("16M");
	KT_CHECK(uma_zcreate(ba->ba_name, ba->ba_size, NULL, NULL, NULL, NULL,
	    ba->ba_align, ba->ba_flags) == NULL);
	/* The refusal leaves uma usable. */
	uma_zone_t z = uma_zcreate("fine", 64, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	void *p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL);
	uma_zfree(z, p);
	uma_zdestroy(z);
}

static void
test_bad_args(void **state)
{
	static const struct bad_args cases[] = {
		{"size_zero", 0, UMA_ALIGN_PTR, 0},
		{"align_five", 64, 5, 0},
		{"align_six", 64, 6, 0},
		{"align_hundred", 64, 100, 0},
		{"align_minus_two", 64, -2, 0},
		{"flags_high", 64, UMA_ALIGN_PTR, 0x40000000},
		{"flags_mixed", 64, UMA_ALIGN_PTR, UMA_ZONE_NOFREE | 0x10000000},
	};
	struct kt_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_child(child_bad_args, (void *)&cases[i], &r);
		if (!r.kr_exited || r.kr_status != 0)
			fail_msg("%s: child %s %d:\n%s", cases[i].ba_name,
			    r.kr_exited ? "exited with" : "killed by signal",
			    r.kr_status, r.kr_err);
		/* One line naming the zone that was refused. */
		if (strstr(r.kr_err, cases[i].ba_name) == NULL)
			fail_msg("%s: no message naming the zone:\n%s",
			    cases[i].ba_name, r.kr_err);
	}
}

/* ---- names, uma_zfree(NULL) ----------------------------------------------- */

static void
child_free_null(void *arg)
{
	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("nullfree", 48, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	void *p = uma_zalloc(z, M_NOWAIT);
	KT_CHECK(p != NULL);
	struct uma_zone_stats a = kt_zone_stats(z);
	uma_zfree(z, NULL);
	uma_zfree_arg(z, NULL, &a);
	struct uma_zone_stats b = kt_zone_stats(z);
	KT_EQ(b.zs_frees, a.zs_frees);
	KT_EQ(b.zs_used, a.zs_used);
	KT_EQ(b.zs_free, a.zs_free);
	uma_zfree(z, p);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_free_null(void **state)
{
	kt_assert_child_ok(child_free_null, NULL);
}

/* ---- ctor and dtor ------------------------------------------------------- */

#define LIVE 0x4c495645u
#define DEAD 0x44454144u

struct cd_rec {
	int calls;
	void *mem;
	int size;
	void *arg;
	int flags;
};
static struct cd_rec ctor_rec, dtor_rec;
static int fail_tag;

static int
rec_ctor(void *mem, int size, void *arg, int flags)
{
	ctor_rec.calls++;
	ctor_rec.mem = mem;
	ctor_rec.size = size;
	ctor_rec.arg = arg;
	ctor_rec.flags = flags;
	if (arg == &fail_tag)
		return (ENOMEM);
	*(uint32_t *)mem = LIVE;
	return (0);
}

static void
rec_dtor(void *mem, int size, void *arg)
{
	dtor_rec.calls++;
	dtor_rec.mem = mem;
	dtor_rec.size = size;
	dtor_rec.arg = arg;
	/* Every item freed was made live by the ctor, and only once. */
	KT_CHECK(*(uint32_t *)mem == LIVE);
	*(uint32_t *)mem = DEAD;
}

static void
child_ctor_dtor(void *arg)
{
	int tag_a, tag_b;

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("ctordtor", 100, rec_ctor, rec_dtor, NULL,
	    NULL, UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	KT_EQ(ctor_rec.calls, 0);

	void *p = uma_zalloc_arg(z, &tag_a, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(ctor_rec.calls, 1);
	KT_CHECK(ctor_rec.mem == p);
	KT_EQ(ctor_rec.size, 100);
	KT_CHECK(ctor_rec.arg == &tag_a);
	KT_EQ(ctor_rec.flags & (M_WAITOK | M_NOWAIT), M_WAITOK);

	void *q = uma_zalloc(z, M_NOWAIT);
	KT_CHECK(q != NULL && q != p);
	KT_EQ(ctor_rec.calls, 2);
	KT_CHECK(ctor_rec.mem == q);
	KT_CHECK(ctor_rec.arg == NULL);
	KT_EQ(ctor_rec.flags & (M_WAITOK | M_NOWAIT), M_NOWAIT);
	KT_EQ(dtor_rec.calls, 0);

	uma_zfree_arg(z, p, &tag_b);
	KT_EQ(dtor_rec.calls, 1);
	KT_CHECK(dtor_rec.mem == p);
	KT_EQ(dtor_rec.size, 100);
	KT_CHECK(dtor_rec.arg == &tag_b);
	uma_zfree(z, q);
	KT_EQ(dtor_rec.calls, 2);
	KT_CHECK(dtor_rec.mem == q);
	KT_CHECK(dtor_rec.arg == NULL);

	/* Items served from the caches go through the ctor and dtor too. */
	for (int i = 0; i < 1000; i++) {
		void *r = uma_zalloc_arg(z, &tag_a, (i & 1) ? M_NOWAIT : M_WAITOK);
		KT_CHECK(r != NULL);
		KT_CHECK(ctor_rec.mem == r && ctor_rec.arg == &tag_a);
		KT_CHECK(*(uint32_t *)r == LIVE);
		uma_zfree_arg(z, r, &tag_b);
		KT_CHECK(dtor_rec.mem == r && dtor_rec.arg == &tag_b);
	}
	KT_EQ(ctor_rec.calls, 1002);
	KT_EQ(dtor_rec.calls, 1002);
	uma_zfree(z, NULL);
	KT_EQ(dtor_rec.calls, 1002);
	kt_zone_consistent(z);
	/* Destroying a zone with no item out calls no dtor. */
	uma_zdestroy(z);
	KT_EQ(dtor_rec.calls, 1002);
}

static void
test_ctor_dtor(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_ctor_dtor, NULL);
}

/*
 * A ctor that fails makes the allocation return NULL; the item goes back to
 * the zone: it is neither counted as used nor lost, and its dtor is not
 * run (it was never constructed).
 */
static void
child_ctor_fails(void *arg)
{
	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("ctorfail", 200, rec_ctor, rec_dtor, NULL,
	    NULL, UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	void *keep = uma_zalloc(z, M_WAITOK);
	KT_CHECK(keep != NULL);
	void *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p);

	struct uma_zone_stats a = kt_zone_stats(z);
	int dtors = dtor_rec.calls;
	KT_CHECK(uma_zalloc_arg(z, &fail_tag, M_WAITOK) == NULL);
	KT_CHECK(uma_zalloc_arg(z, &fail_tag, M_NOWAIT) == NULL);
	struct uma_zone_stats b = kt_zone_stats(z);
	KT_EQ(b.zs_used, a.zs_used);
	KT_EQ(b.zs_failures, a.zs_failures + 2);
	KT_EQ(dtor_rec.calls, dtors);
	KT_EQ(b.zs_used + b.zs_free, a.zs_used + a.zs_free);

	/* Many failures do not eat the zone's items. */
	for (int i = 0; i < 5000; i++)
		KT_CHECK(uma_zalloc_arg(z, &fail_tag,
		    (i & 1) ? M_NOWAIT : M_WAITOK) == NULL);
	b = kt_zone_stats(z);
	KT_EQ(b.zs_slabs, a.zs_slabs);
	KT_EQ(b.zs_used, a.zs_used);
	KT_EQ(b.zs_failures, a.zs_failures + 5002);
	KT_EQ(dtor_rec.calls, dtors);
	/*
	 * Nothing was allocated or freed: zs_requests counts successful
	 * allocations only, and the item's return is not a free.
	 */
	KT_EQ(b.zs_requests, a.zs_requests);
	KT_EQ(b.zs_frees, a.zs_frees);
	kt_zone_consistent(z);

	/* And the next allocation succeeds. */
	p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL && *(uint32_t *)p == LIVE);
	uma_zfree(z, p);
	uma_zfree(z, keep);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_ctor_fails(void **state)
{
	kt_assert_child_ok(child_ctor_fails, NULL);
}

/* ---- init and fini: type-stable memory ------------------------------------ */

#define INITED 0x494e4954u
#define FINIED 0x46494e49u
#define ISZ 256

static int init_calls, fini_calls, init_fail_at;

static int
tst_init(void *mem, int size, int flags)
{
	uint32_t *w = mem;

	KT_EQ(size, ISZ);
	init_calls++;
	if (init_fail_at != 0 && init_calls == init_fail_at)
		return (ENOMEM);
	/* An item is initialised once in its slab's life. */
	KT_CHECK(w[0] != INITED);
	w[0] = INITED;
	w[ISZ / 4 - 1] = (uint32_t)(uintptr_t)mem;
	return (0);
}

static void
tst_fini(void *mem, int size)
{
	uint32_t *w = mem;

	KT_EQ(size, ISZ);
	/* Only items that init made are finished, each once, still intact. */
	KT_CHECK(w[0] == INITED);
	KT_CHECK(w[ISZ / 4 - 1] == (uint32_t)(uintptr_t)mem);
	w[0] = FINIED;
	fini_calls++;
}

/* init ran for every item of every slab the zone holds, and no more. */
static void
check_inits(uma_zone_t z)
{
	struct uma_zone_stats st = kt_zone_stats(z);

	KT_EQ(init_calls - fini_calls, st.zs_slabs * st.zs_ipers);
}

static void
child_init_fini(void *arg)
{
	static uint32_t *items[4096];

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("typestable", ISZ, NULL, NULL, tst_init,
	    tst_fini, UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	KT_EQ(init_calls, 0);

	uint32_t *p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL && p[0] == INITED);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_slabs, 1);
	KT_EQ(init_calls, st.zs_ipers); /* the whole slab, at once */
	KT_EQ(fini_calls, 0);
	uma_zfree(z, p);

	/* Three slabs' worth; every item initialised, user data written. */
	size_t n = 3 * st.zs_ipers;
	KT_CHECK(n <= 4096);
	for (size_t i = 0; i < n; i++) {
		items[i] = uma_zalloc(z, M_WAITOK);
		KT_CHECK(items[i] != NULL);
		KT_CHECK(items[i][0] == INITED);
		KT_CHECK(items[i][ISZ / 4 - 1] == (uint32_t)(uintptr_t)items[i]);
		memset(&items[i][1], 0x77, ISZ - 8);
	}
	check_inits(z);
	int inits = init_calls;
	for (size_t i = 0; i < n; i++)
		uma_zfree(z, items[i]);
	KT_EQ(fini_calls, 0); /* freeing items does not finish them */
	/* Reallocated items still hold what init wrote, and init did not rerun. */
	for (size_t i = 0; i < n; i++) {
		items[i] = uma_zalloc(z, M_WAITOK);
		KT_CHECK(items[i][0] == INITED);
		KT_CHECK(items[i][ISZ / 4 - 1] == (uint32_t)(uintptr_t)items[i]);
	}
	KT_EQ(init_calls, inits);
	check_inits(z);
	for (size_t i = 0; i < n; i++)
		uma_zfree(z, items[i]);

	/* Slabs given back to the map finish their items. */
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	st = kt_zone_stats(z);
	KT_EQ(st.zs_slabs, 0);
	KT_EQ(st.zs_pages, 0);
	KT_EQ(fini_calls, init_calls);
	check_inits(z);

	/* New slabs are initialised again. */
	p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL && p[0] == INITED);
	check_inits(z);
	KT_CHECK(fini_calls < init_calls);
	uma_zfree(z, p);
	/* Destroying the zone finishes everything. */
	uma_zdestroy(z);
	KT_EQ(fini_calls, init_calls);
}

static void
test_init_fini(void **state)
{
	kt_assert_child_ok(child_init_fini, NULL);
}

/*
 * An init that fails makes the allocation fail cleanly: the slab goes back,
 * the items whose init succeeded are finished, nothing counts as used.
 */
static void
child_init_fails(void *arg)
{
	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("initfail", ISZ, NULL, NULL, tst_init,
	    tst_fini, UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);

	init_fail_at = 3;
	KT_CHECK(uma_zalloc(z, M_WAITOK) == NULL);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_used, 0);
	KT_EQ(st.zs_slabs, 0);
	KT_EQ(st.zs_pages, 0);
	KT_EQ(st.zs_requests, 0);
	KT_EQ(st.zs_failures, 1);
	KT_EQ(init_calls, 3);
	KT_EQ(fini_calls, 2); /* the two whose init succeeded */
	kt_zone_consistent(z);

	init_fail_at = init_calls + 5;
	KT_CHECK(uma_zalloc(z, M_NOWAIT) == NULL);
	st = kt_zone_stats(z);
	KT_EQ(st.zs_slabs, 0);
	KT_EQ(st.zs_failures, 2);
	KT_EQ(fini_calls, init_calls - 2); /* all but the two that failed */

	init_fail_at = 0;
	void *p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL);
	st = kt_zone_stats(z);
	KT_EQ(st.zs_slabs, 1);
	KT_EQ(st.zs_used, 1);
	KT_EQ(init_calls - 2 - fini_calls, st.zs_ipers);
	kt_zone_consistent(z);
	uma_zfree(z, p);
	uma_zdestroy(z);
	KT_EQ(fini_calls, init_calls - 2);
}

static void
test_init_fails(void **state)
{
	kt_assert_child_ok(child_init_fails, NULL);
}

/* ---- ZINIT, M_ZERO --------------------------------------------------------- */

static int
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return (0);
	return (1);
}

static void
child_zinit(void *arg)
{
	static unsigned char *items[2048];

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("zinit", 200, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, UMA_ZONE_ZINIT);
	KT_CHECK(z != NULL);
	KT_EQ(kt_zone_stats(z).zs_flags & UMA_ZONE_ZINIT, UMA_ZONE_ZINIT);
	for (int round = 0; round < 2; round++) {
		/* Items handed out for the first time are zero. */
		for (int i = 0; i < 2048; i++) {
			items[i] = uma_zalloc(z, M_WAITOK);
			KT_CHECK(items[i] != NULL);
			KT_CHECK(all_zero(items[i], 200));
			memset(items[i], 0xee, 200);
		}
		for (int i = 0; i < 2048; i++)
			uma_zfree(z, items[i]);
		/* New slabs next round. */
		uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
		KT_EQ(kt_zone_stats(z).zs_slabs, 0);
	}
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_zinit(void **state)
{
	kt_assert_child_ok(child_zinit, NULL);
}

static void
child_m_zero(void *arg)
{
	static unsigned char *items[500];
	static const uint32_t flags[] = {0, UMA_ZONE_NOBUCKET};

	kt_map_setup("16M");
	for (int f = 0; f < 2; f++) {
		uma_zone_t z = uma_zcreate("mzero", 300, NULL, NULL, NULL, NULL,
		    UMA_ALIGN_PTR, flags[f]);
		KT_CHECK(z != NULL);
		for (int round = 0; round < 3; round++) {
			for (int i = 0; i < 500; i++) {
				items[i] = uma_zalloc(z, M_WAITOK | M_ZERO);
				KT_CHECK(items[i] != NULL);
				KT_CHECK(all_zero(items[i], 300));
				memset(items[i], 0xa5, 300);
			}
			for (int i = 0; i < 500; i++)
				uma_zfree(z, items[i]);
		}
		/* M_NOWAIT | M_ZERO too. */
		unsigned char *p = uma_zalloc(z, M_NOWAIT | M_ZERO);
		KT_CHECK(p != NULL && all_zero(p, 300));
		uma_zfree(z, p);
		kt_zone_consistent(z);
		uma_zdestroy(z);
	}
}

static void
test_m_zero(void **state)
{
	kt_assert_child_ok(child_m_zero, NULL);
}

/* ---- NOFREE ---------------------------------------------------------------- */

static void
child_nofree(void *arg)
{
	static void *items[5000];
	size_t ps = kmem_page_size();

	kt_map_setup("32M");
	uma_zone_t z = uma_zcreate("nofree", 1000, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, UMA_ZONE_NOFREE);
	KT_CHECK(z != NULL);
	KT_EQ(kt_zone_stats(z).zs_flags & UMA_ZONE_NOFREE, UMA_ZONE_NOFREE);
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	size_t m0 = kmem_map_size();
	for (int i = 0; i < 5000; i++) {
		items[i] = uma_zalloc(z, M_WAITOK);
		KT_CHECK(items[i] != NULL);
	}
	struct uma_zone_stats held = kt_zone_stats(z);
	KT_CHECK(held.zs_pages * ps >= 5000 * 1000);
	for (int i = 0; i < 5000; i++)
		uma_zfree(z, items[i]);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	uma_zone_reclaim(z, UMA_RECLAIM_TRIM);

	/* The zone's slabs stay, and so do the map pages under them. */
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_pages, held.zs_pages);
	KT_EQ(st.zs_slabs, held.zs_slabs);
	KT_EQ(st.zs_free, 5000 + held.zs_free);
	KT_CHECK(kmem_map_size() >= m0 + held.zs_pages * ps);
	kt_zone_consistent(z);

	/* They serve the next allocations without new pages. */
	for (int i = 0; i < 5000; i++)
		items[i] = uma_zalloc(z, M_WAITOK);
	KT_EQ(kt_zone_stats(z).zs_pages, held.zs_pages);
	for (int i = 0; i < 5000; i++)
		uma_zfree(z, items[i]);
	kt_zone_consistent(z);
}

static void
test_nofree(void **state)
{
	kt_assert_child_ok(child_nofree, NULL);
}

/* ---- NOBUCKET -------------------------------------------------------------- */

static void
child_nobucket(void *arg)
{
	static void *slot[500];
	uint64_t seed = 0x1234567ull, allocs = 0, frees = 0;

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("nobucket", 64, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, UMA_ZONE_NOBUCKET);
	KT_CHECK(z != NULL);
	KT_EQ(kt_zone_stats(z).zs_flags & UMA_ZONE_NOBUCKET, UMA_ZONE_NOBUCKET);
	for (int i = 0; i < 20000; i++) {
		int k = (int)(kt_rand(&seed) % 500);
		if (slot[k] != NULL) {
			KT_EQ(*(uint64_t *)slot[k], (uintptr_t)slot[k]);
			uma_zfree(z, slot[k]);
			slot[k] = NULL;
			frees++;
		} else {
			slot[k] = uma_zalloc(z, M_NOWAIT);
			KT_CHECK(slot[k] != NULL);
			*(uint64_t *)slot[k] = (uintptr_t)slot[k];
			allocs++;
		}
		if (i % 250 == 0) {
			struct uma_zone_stats st = kt_zone_stats(z);
			/* No caches in front of the zone. */
			KT_EQ(st.zs_free_cache, 0);
			KT_EQ(st.zs_free_bucket, 0);
			KT_EQ(st.zs_used, allocs - frees);
			kt_zone_consistent(z);
		}
	}
	for (int k = 0; k < 500; k++)
		if (slot[k] != NULL) {
			uma_zfree(z, slot[k]);
			frees++;
		}
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_free_cache, 0);
	KT_EQ(st.zs_free_bucket, 0);
	KT_EQ(st.zs_used, 0);
	KT_EQ(st.zs_requests, allocs);
	KT_EQ(st.zs_frees, frees);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_nobucket(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_nobucket, NULL);
}

/* ---- destroying a zone with items out --------------------------------------- */

static void
child_destroy_leaky(void *arg)
{
	static void *items[200];
	size_t ps = kmem_page_size();

	kt_map_setup("16M");
	/* Set uma up, then measure with every cache drained. */
	uma_zone_t other = uma_zcreate("other", 32, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zfree(other, uma_zalloc(other, M_WAITOK));
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	size_t m0 = kmem_map_size();

	uma_zone_t z = uma_zcreate("leaky_zone", 4000, NULL, NULL, NULL,
	    NULL, UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < 200; i++)
		items[i] = uma_zalloc(z, M_WAITOK);
	for (int i = 0; i < 50; i++)
		uma_zfree(z, items[i]);
	KT_CHECK(kmem_map_size() >= m0 + 150 * 4000);
	uma_zdestroy(z);
	/* The items' memory went back anyway. */
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	KT_LE(kmem_map_size(), m0 + 16 * ps);
	uma_zdestroy(other);
}

static void
test_destroy_leaky(void **state)
{
	struct kt_result r;

	kt_child(child_destroy_leaky, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("child %s %d:\n%s",
		    r.kr_exited ? "exited with" : "killed by signal",
		    r.kr_status, r.kr_err);
	/* A line naming the zone and how many items were still out. */
	const char *l = strstr(r.kr_err, "uma_zdestroy: zone leaky_zone: 150 "
	    "items (600000 bytes) still allocated");
	if (l == NULL)
		fail_msg("no line naming leaky_zone and its 150 items:\n%s",
		    r.kr_err);
	/* Only that zone is reported: "other" had no item out. */
	if (strstr(strstr(l, "still allocated") + 1, "still allocated") != NULL)
		fail_msg("more than one zone reported:\n%s", r.kr_err);
}

/* ---- secondary zones ------------------------------------------------------- */

/*
 * The primary's init/fini run when slabs are made and given back; the
 * secondary's zinit/zfini when an item passes from the primary's keg into
 * the secondary and back; each zone's ctor/dtor only for its own
 * allocations.  Word 0 is the primary's mark, word 1 the secondary's.
 */
#define PMARK 0x50524d59u
#define SMARK 0x53454344u
#define SSZ 128

static int p_init, p_fini, p_ctor, p_dtor;
static int s_init, s_fini, s_ctor, s_dtor;

static int
prim_init(void *mem, int size, int flags)
{
	uint32_t *w = mem;

	KT_EQ(size, SSZ);
	w[0] = PMARK;
	w[1] = 0;
	p_init++;
	return (0);
}

static void
prim_fini(void *mem, int size)
{
	uint32_t *w = mem;

	/* The secondary gave its items back before the slab went. */
	KT_CHECK(w[0] == PMARK && w[1] == 0);
	p_fini++;
}

static int
prim_ctor(void *mem, int size, void *arg, int flags)
{
	uint32_t *w = mem;

	KT_CHECK(w[0] == PMARK && w[1] == 0);
	p_ctor++;
	return (0);
}

static void
prim_dtor(void *mem, int size, void *arg)
{
	p_dtor++;
}

static int
sec_init(void *mem, int size, int flags)
{
	uint32_t *w = mem;

	KT_EQ(size, SSZ);
	KT_CHECK(w[0] == PMARK && w[1] == 0);
	w[1] = SMARK;
	s_init++;
	return (0);
}

static void
sec_fini(void *mem, int size)
{
	uint32_t *w = mem;

	KT_CHECK(w[0] == PMARK && w[1] == SMARK);
	w[1] = 0;
	s_fini++;
}

static int
sec_ctor(void *mem, int size, void *arg, int flags)
{
	uint32_t *w = mem;

	KT_EQ(size, SSZ);
	KT_CHECK(w[0] == PMARK && w[1] == SMARK);
	KT_CHECK(arg == (void *)&s_ctor);
	s_ctor++;
	return (0);
}

static void
sec_dtor(void *mem, int size, void *arg)
{
	uint32_t *w = mem;

	KT_CHECK(w[0] == PMARK && w[1] == SMARK);
	KT_CHECK(arg == (void *)&s_dtor);
	s_dtor++;
}

static void
child_secondary(void *arg)
{
	static uint32_t *items[300];

	kt_map_setup("16M");
	uma_zone_t pz = uma_zcreate("primary", SSZ, prim_ctor, prim_dtor,
	    prim_init, prim_fini, UMA_ALIGN_PTR, 0);
	KT_CHECK(pz != NULL);
	uma_zone_t sz = uma_zsecond_create("secondary", sec_ctor, sec_dtor,
	    sec_init, sec_fini, pz);
	KT_CHECK(sz != NULL);
	KT_CHECK(strcmp(uma_zone_name(sz), "secondary") == 0);
	KT_EQ(uma_zone_size(sz), SSZ);
	KT_CHECK(kt_zone_stats(sz).zs_secondary);
	KT_CHECK(!kt_zone_stats(pz).zs_secondary);

	for (int i = 0; i < 300; i++) {
		items[i] = uma_zalloc_arg(sz, &s_ctor, M_WAITOK);
		KT_CHECK(items[i] != NULL);
		KT_CHECK(items[i][0] == PMARK && items[i][1] == SMARK);
		KT_CHECK(in_slab(items[i]));
	}
	KT_EQ(s_ctor, 300);
	KT_EQ(p_ctor, 0);
	KT_CHECK(s_init >= 300);
	KT_CHECK(p_init >= s_init);
	KT_EQ(uma_zone_get_cur(sz), 300);
	KT_EQ(kt_zone_stats(sz).zs_used, 300);
	KT_EQ(kt_zone_stats(sz).zs_requests, 300);

	/* The primary hands out other items of the same slabs. */
	uint32_t *pi = uma_zalloc(pz, M_WAITOK);
	KT_CHECK(pi != NULL && pi[0] == PMARK && pi[1] == 0);
	KT_EQ(p_ctor, 1);
	for (int i = 0; i < 300; i++)
		KT_CHECK(pi != items[i]);

	/* Free all but one to the secondary. */
	for (int i = 1; i < 300; i++)
		uma_zfree_arg(sz, items[i], &s_dtor);
	KT_EQ(s_dtor, 299);
	KT_EQ(p_dtor, 0);
	KT_EQ(kt_zone_stats(sz).zs_used, 1);
	KT_EQ(kt_zone_stats(sz).zs_frees, 299);

	/* Reclaiming the secondary hands its cached items back through zfini. */
	uma_zone_reclaim(sz, UMA_RECLAIM_DRAIN_CPU);
	KT_EQ(s_init - s_fini, 1);
	/* Then the primary's slabs can go, finishing their items. */
	uma_zfree(pz, pi);
	KT_EQ(p_dtor, 1);
	uma_zone_reclaim(pz, UMA_RECLAIM_DRAIN_CPU);
	/* Only the slab of the item still out is left, with all its items. */
	struct uma_zone_stats pst = kt_zone_stats(pz);
	KT_EQ(pst.zs_slabs, 1);
	KT_EQ(p_init - p_fini, pst.zs_ipers);

	/* The item still out keeps its marks; free it and drain everything. */
	KT_CHECK(items[0][0] == PMARK && items[0][1] == SMARK);
	uma_zfree_arg(sz, items[0], &s_dtor);
	uma_zone_reclaim(sz, UMA_RECLAIM_DRAIN_CPU);
	uma_zone_reclaim(pz, UMA_RECLAIM_DRAIN_CPU);
	KT_EQ(s_init, s_fini);
	KT_EQ(p_init, p_fini);
	KT_EQ(kt_zone_stats(pz).zs_slabs, 0);
	KT_EQ(kt_zone_stats(sz).zs_used, 0);

	/* Both work again, then go away. */
	items[0] = uma_zalloc_arg(sz, &s_ctor, M_NOWAIT);
	KT_CHECK(items[0] != NULL && items[0][1] == SMARK);
	uma_zfree_arg(sz, items[0], &s_dtor);
	uma_zdestroy(sz);
	KT_EQ(s_init, s_fini);
	uma_zdestroy(pz);
	KT_EQ(p_init, p_fini);
}

static void
test_secondary(void **state)
{
	kt_assert_child_ok(child_secondary, NULL);
}

/* ---- exact statistics after a random mix ----------------------------------- */

static void
child_stats_random(void *arg)
{
	static void *slot[3000];
	uint64_t seed = 0xdecafbadull;
	uint64_t allocs = 0, frees = 0, live = 0;
	static const int reqs[] = {UMA_RECLAIM_TRIM, UMA_RECLAIM_DRAIN,
	    UMA_RECLAIM_DRAIN_CPU};

	kt_map_setup("32M");
	uma_zone_t z = uma_zcreate("random", 72, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_used, 0);
	KT_EQ(st.zs_requests, 0);
	KT_EQ(st.zs_frees, 0);
	KT_EQ(st.zs_failures, 0);
	KT_EQ(st.zs_sleeps, 0);

	for (int i = 1; i <= 60000; i++) {
		uint64_t r = kt_rand(&seed);
		int k = (int)(r % 3000);
		if (slot[k] != NULL) {
			KT_EQ(*(uint64_t *)slot[k], (uintptr_t)slot[k] ^ 0x5555);
			uma_zfree(z, slot[k]);
			slot[k] = NULL;
			frees++;
			live--;
		} else {
			int flags = (r >> 32) & 1 ? M_NOWAIT : M_WAITOK;
			if ((r >> 33) % 8 == 0)
				flags |= M_ZERO;
			slot[k] = uma_zalloc(z, flags);
			KT_CHECK(slot[k] != NULL);
			*(uint64_t *)slot[k] = (uintptr_t)slot[k] ^ 0x5555;
			allocs++;
			live++;
		}
		if (i % 5000 == 0)
			uma_zone_reclaim(z, reqs[(i / 5000) % 3]);
		if (i % 1000 == 0) {
			st = kt_zone_stats(z);
			KT_EQ(st.zs_used, live);
			KT_EQ(st.zs_requests, allocs);
			KT_EQ(st.zs_frees, frees);
			KT_EQ(st.zs_failures, 0);
			kt_zone_consistent(z);
		}
	}
	for (int k = 0; k < 3000; k++)
		if (slot[k] != NULL) {
			uma_zfree(z, slot[k]);
			frees++;
		}
	st = kt_zone_stats(z);
	KT_EQ(st.zs_used, 0);
	KT_EQ(st.zs_requests, allocs);
	KT_EQ(st.zs_frees, frees);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_stats_random(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_stats_random, NULL);
}

/* ---- refused names --------------------------------------------------------- */

static void
child_bad_names(void *arg)
{
	kt_map_setup("16M");
	KT_CHECK(uma_zcreate(NULL, 64, NULL, NULL, NULL, NULL, UMA_ALIGN_PTR,
	    0) == NULL);
	KT_CHECK(uma_zcreate("", 64, NULL, NULL, NULL, NULL, UMA_ALIGN_PTR,
	    0) == NULL);
	KT_CHECK(uma_zcreate("a_name_of_thirty_two_characters_", 64, NULL,
	    NULL, NULL, NULL, UMA_ALIGN_PTR, 0) == NULL);
	/* 31 characters are fine, and kept whole. */
	uma_zone_t z = uma_zcreate("a_name_of_thirty_one_characters", 64,
	    NULL, NULL, NULL, NULL, UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	KT_CHECK(strcmp(uma_zone_name(z), "a_name_of_thirty_one_characters") == 0);
	KT_CHECK(uma_zsecond_create("", NULL, NULL, NULL, NULL, z) == NULL);
	KT_CHECK(uma_zsecond_create("orphan", NULL, NULL, NULL, NULL,
	    NULL) == NULL);
	uma_zone_t s2 = uma_zsecond_create("second", NULL, NULL, NULL, NULL, z);
	KT_CHECK(s2 != NULL);
	/* A secondary cannot be the primary of another. */
	KT_CHECK(uma_zsecond_create("third", NULL, NULL, NULL, NULL,
	    s2) == NULL);
	uma_zdestroy(s2);
	uma_zdestroy(z);
	/* Too large an item. */
	KT_CHECK(uma_zcreate("huge_items", ((size_t)1 << 30) + 1, NULL, NULL,
	    NULL, NULL, UMA_ALIGN_PTR, 0) == NULL);
}

static void
test_bad_names(void **state)
{
	struct kt_result r;
	static const char *const want[] = {
		"uma_zcreate: a zone name must be 1 to 31 characters",
		"uma_zsecond_create: a zone name must be 1 to 31 characters",
		"uma_zsecond_create(orphan): the primary must be a primary zone",
		"uma_zsecond_create(third): the primary must be a primary zone",
		"uma_zcreate(huge_items): item size 1073741825 must be",
	};

	kt_child(child_bad_names, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("child %s %d:\n%s",
		    r.kr_exited ? "exited with" : "killed by signal",
		    r.kr_status, r.kr_err);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(r.kr_err, want[i]) == NULL)
			fail_msg("no \"%s\" in:\n%s", want[i], r.kr_err);
}

/* ---- misuse: one line naming the zone and the fault, then abort() ---------- */

/*
 * A bad free may sit in a thread's cache until the cache goes back to the
 * slabs; the draining reclaim makes that happen now.
 */
static uma_zone_t
misuse_zone(const char *name, uint32_t flags)
{
	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate(name, 128, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, flags);
	KT_CHECK(z != NULL);
	return (z);
}

static void
child_double_free(void *arg)
{
	uma_zone_t z = misuse_zone("dfz", *(uint32_t *)arg);
	void *keep = uma_zalloc(z, M_WAITOK);
	void *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p);
	uma_zfree(z, p);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	uma_zfree(z, keep);
}

static void
child_wrong_zone(void *arg)
{
	uma_zone_t z = misuse_zone("right_zone", *(uint32_t *)arg);
	uma_zone_t y = uma_zcreate("wrong_zone", 128, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, *(uint32_t *)arg);
	void *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(y, p);
	uma_zone_reclaim(y, UMA_RECLAIM_DRAIN_CPU);
}

static void
child_interior(void *arg)
{
	uma_zone_t z = misuse_zone("interior", *(uint32_t *)arg);
	char *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p + 8);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
}

static void
child_foreign(void *arg)
{
	static uint64_t not_an_item[16];
	uma_zone_t z = misuse_zone("foreign", *(uint32_t *)arg);
	uma_zfree(z, not_an_item);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
}

static void
child_bad_flags(void *arg)
{
	uma_zone_t z = misuse_zone("badflags", 0);
	(void)uma_zalloc(z, *(int *)arg);
}

static void
child_bad_request(void *arg)
{
	uma_zone_t z = misuse_zone("badreq", 0);
	uma_zone_reclaim(z, 7);
}

static void
child_destroy_primary(void *arg)
{
	uma_zone_t z = misuse_zone("has_second", 0);
	KT_CHECK(uma_zsecond_create("its_second", NULL, NULL, NULL, NULL,
	    z) != NULL);
	uma_zdestroy(z);
}

/* ---- double frees: caught at the free itself (uma_int.h, section 11) ------- */

enum { DF_PLAIN, DF_INIT, DF_ZINIT, DF_SECOND_INIT, DF_SECOND_OF_INIT,
    DF_NOBUCKET, DF_CTOR, DF_KINDS };
enum { DF_AGAIN, DF_OTHER, DF_DRAINED, DF_HOWS };

static int
df_init(void *mem, int size, int flags)
{
	((uint64_t *)mem)[1] = 0x1717;
	return (0);
}

static void
df_fini(void *mem, int size)
{
	/* The item is still what init made: nothing wrote into it. */
	KT_EQ(((uint64_t *)mem)[1], 0x1717);
}

static int
df_ctor(void *mem, int size, void *arg, int flags)
{
	return (0);
}

/* Says so on stderr, where the parent counts the dtors that ran. */
static void
df_dtor(void *mem, int size, void *arg)
{
	fprintf(stderr, "dtor ran\n");
}

/* How many times needle occurs in hay. */
static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return (n);
}

/* The zone "dfk" of the kind asked for (a primary of another name). */
static uma_zone_t
df_zone(int kind)
{
	uma_zone_t z, p;

	switch (kind) {
	case DF_INIT:
		return (uma_zcreate("dfk", 64, NULL, NULL, df_init, df_fini,
		    UMA_ALIGN_PTR, 0));
	case DF_ZINIT:
		return (uma_zcreate("dfk", 64, NULL, NULL, NULL, NULL,
		    UMA_ALIGN_PTR, UMA_ZONE_ZINIT));
	case DF_SECOND_INIT:
		p = uma_zcreate("prim", 64, NULL, NULL, NULL, NULL, UMA_ALIGN_PTR,
		    0);
		KT_CHECK(p != NULL);
		return (uma_zsecond_create("dfk", NULL, NULL, df_init, df_fini, p));
	case DF_SECOND_OF_INIT:
		p = uma_zcreate("prim", 64, NULL, NULL, df_init, df_fini,
		    UMA_ALIGN_PTR, 0);
		KT_CHECK(p != NULL);
		return (uma_zsecond_create("dfk", NULL, NULL, NULL, NULL, p));
	case DF_NOBUCKET:
		return (uma_zcreate("dfk", 64, NULL, NULL, NULL, NULL,
		    UMA_ALIGN_PTR, UMA_ZONE_NOBUCKET));
	case DF_CTOR:
		return (uma_zcreate("dfk", 64, df_ctor, df_dtor, NULL, NULL,
		    UMA_ALIGN_PTR, 0));
	default:
		z = uma_zcreate("dfk", 100, NULL, NULL, NULL, NULL, UMA_ALIGN_PTR,
		    0);
		return (z);
	}
}

/*
 * arg: kind * DF_HOWS + how.  The second free must abort: the child
 * returns (exit 0, a failure) if it does not.  keep holds the slab.
 */
static void
child_df(void *arg)
{
	int kind = *(int *)arg / DF_HOWS, how = *(int *)arg % DF_HOWS;

	kt_map_setup("16M");
	uma_zone_t z = df_zone(kind);
	KT_CHECK(z != NULL);
	void *keep = uma_zalloc(z, M_WAITOK);
	void *a = uma_zalloc(z, M_WAITOK);
	void *b = uma_zalloc(z, M_WAITOK);
	KT_CHECK(keep != NULL && a != NULL && b != NULL);
	uma_zfree(z, a);
	if (how == DF_OTHER)
		uma_zfree(z, b);
	if (how == DF_DRAINED) {
		uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
		KT_EQ(kt_zone_stats(z).zs_used, 2);
	}
	uma_zfree(z, a);
	fprintf(stderr, "the double free went unnoticed\n");
}

static void
test_double_free(void **state)
{
	char what[64];

	for (int kind = 0; kind < DF_KINDS; kind++) {
		for (int how = 0; how < DF_HOWS; how++) {
			int arg = kind * DF_HOWS + how;
			struct kt_result r;

			kt_child(child_df, &arg, &r);
			snprintf(what, sizeof(what), "kind %d, case %d", kind, how);
			/* The dtor ran for the good frees, not for the bad one. */
			int dtors = kind != DF_CTOR ? 0 : how == DF_OTHER ? 2 : 1;
			if (r.kr_exited || r.kr_status != SIGABRT ||
			    strstr(r.kr_err, ": double free in zone dfk\n") == NULL ||
			    strstr(r.kr_err, "kmem: uma_zfree: 0x") == NULL ||
			    count_of(r.kr_err, "dtor ran") != dtors)
				fail_msg("%s: %s %d, stderr: %s", what,
				    r.kr_exited ? "exit" : "signal", r.kr_status, r.kr_err);
		}
	}
}

/* The key of zone z, or 0 where its items do not take it. */
static uint64_t
df_key(uma_zone_t z)
{
	return (z->uz_dfkey);
}

static int dfk_ctor_saw_key;

static int
dfk_ctor(void *mem, int size, void *arg, int flags)
{
	if (*(uint64_t *)mem == uma_dfkey)
		dfk_ctor_saw_key++;
	return (0);
}

static int
dfk_sec_init(void *mem, int size, int flags)
{
	if (*(uint64_t *)mem == uma_dfkey)
		dfk_ctor_saw_key++;
	return (0);
}

#define DFK_N 3000

/*
 * No item handed out holds the key, by any path: the alloc bucket, a swap,
 * the zone's bucket cache, a bucket filled from partly free slabs, a zone
 * without caches, M_ZERO, a ctor (which runs after the key went), a
 * secondary zone with an init over the same keg; while every free item of
 * the caches holds it.  The counts stay exact.
 */
static void
child_df_key(void *arg)
{
	static uint64_t *items[DFK_N];

	kt_map_setup("32M");
	uma_zone_t z = uma_zcreate("dfkey", 48, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_t nb = uma_zcreate("dfkey_nb", 48, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, UMA_ZONE_NOBUCKET);
	uma_zone_t ct = uma_zcreate("dfkey_ctor", 48, dfk_ctor, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_t in = uma_zcreate("dfkey_init", 48, NULL, NULL, df_init,
	    df_fini, UMA_ALIGN_PTR, 0);
	uma_zone_t sec = uma_zsecond_create("dfkey_sec", NULL, NULL, dfk_sec_init,
	    NULL, z);
	KT_CHECK(z != NULL && nb != NULL && ct != NULL && in != NULL &&
	    sec != NULL);
	uint64_t key = uma_dfkey;
	KT_CHECK((key & 1) != 0);
	/* Where zones have caches, plain zones take the key, the rest not. */
	KT_EQ(df_key(z), KT_ZONE_CACHES ? key : 0);
	KT_EQ(df_key(nb), KT_ZONE_CACHES ? key : 0);
	KT_EQ(df_key(in), 0);
	KT_EQ(df_key(sec), 0);

	uma_zone_t zones[] = {z, nb, ct};
	for (int zi = 0; zi < 3; zi++) {
		uma_zone_t y = zones[zi];
		for (int round = 0; round < 3; round++) {
			for (int i = 0; i < DFK_N; i++) {
				items[i] = uma_zalloc(y, (i % 7 == 0 ? M_ZERO : 0) |
				    (i & 1 ? M_NOWAIT : M_WAITOK));
				KT_CHECK(items[i] != NULL);
				KT_CHECK(items[i][0] != key);
				/* The program's own data; the free replaces it. */
				items[i][0] = 0x5a5a5a5a5a5a5a5aull;
			}
			for (int i = 0; i < DFK_N; i++) {
				if (round == 2 && i % 10 == 0)
					continue; /* keeps the slabs for the next round */
				uma_zfree(y, items[i]);
				/* A free item of a cache holds the key. */
				if (df_key(y) != 0 && y != nb)
					KT_CHECK(items[i][0] == key);
			}
			if (round >= 1)
				uma_zone_reclaim(y, UMA_RECLAIM_DRAIN_CPU);
		}
		/* Items of partly free slabs, which kept their keys. */
		for (int i = 0; i < DFK_N; i++) {
			if (i % 10 == 0)
				continue;
			items[i] = uma_zalloc(y, M_WAITOK);
			KT_CHECK(items[i][0] != key);
		}
		for (int i = 0; i < DFK_N; i++)
			uma_zfree(y, items[i]);
		kt_zone_consistent(y);
	}
	KT_EQ(dfk_ctor_saw_key, 0);

	/*
	 * A secondary zone with an init takes items freed with the key from
	 * the keg: its init and its callers never see the key.
	 */
	for (int i = 0; i < DFK_N; i++)
		items[i] = uma_zalloc(z, M_WAITOK);
	for (int i = 0; i < DFK_N; i++)
		if (i % 10 != 0)
			uma_zfree(z, items[i]);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	for (int i = 0; i < DFK_N; i++) {
		if (i % 10 == 0)
			continue;
		items[i] = uma_zalloc(sec, M_WAITOK);
		KT_CHECK(items[i] != NULL && items[i][0] != key);
	}
	KT_EQ(dfk_ctor_saw_key, 0);
	for (int i = 0; i < DFK_N; i++)
		uma_zfree(i % 10 == 0 ? z : sec, items[i]);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	kt_zone_consistent(z);

	/* A type-stable zone: nothing written, the state byte counts. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < DFK_N; i++) {
			items[i] = uma_zalloc(in, M_WAITOK);
			KT_CHECK(items[i] != NULL && items[i][1] == 0x1717);
			KT_CHECK(items[i][0] != key);
		}
		for (int i = 0; i < DFK_N; i++)
			uma_zfree(in, items[i]);
	}
	kt_zone_consistent(in);
}

static void
test_df_key(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_df_key, NULL);
}

static void
test_misuse(void **state)
{
	static const uint32_t zflags[] = {0, UMA_ZONE_NOBUCKET};
	static const int badflags[] = {0, M_NOWAIT | M_WAITOK, M_ZERO};

	for (int i = 0; i < 2; i++) {
		kt_assert_death(child_double_free, (void *)&zflags[i], SIGABRT,
		    ": double free in zone dfz");
		kt_assert_death(child_wrong_zone, (void *)&zflags[i], SIGABRT,
		    "was not allocated from zone wrong_zone");
		kt_assert_death(child_interior, (void *)&zflags[i], SIGABRT,
		    "is not an item of zone interior");
		kt_assert_death(child_foreign, (void *)&zflags[i], SIGABRT,
		    "was not allocated from zone foreign");
	}
	for (int i = 0; i < 3; i++)
		kt_assert_death(child_bad_flags, (void *)&badflags[i], SIGABRT,
		    "uma_zalloc: zone badflags: flags");
	kt_assert_death(child_bad_request, NULL, SIGABRT,
	    "uma_zone_reclaim: unknown request 7");
	kt_assert_death(child_destroy_primary, NULL, SIGABRT,
	    "uma_zdestroy: zone has_second still has 1 secondary zones");
}

/*
 * kmalloc slabs: no waste (any address of a slab falls in an item), and
 * as many times the smallest such slab as fit UMA_KMALLOC_SLAB bytes,
 * within the limits of items, pages and header size.  64 bytes: 32 KiB.
 */
MALLOC_DEFINE(M_TSLAB, "tslab", "kmalloc slab sizes");

static void
child_kmalloc_slabs(void *arg)
{
	size_t ps = kmem_page_size();
	static const uint32_t sizes[] = {16, 32, 48, 64, 80, 96, 112, 128, 160,
	    192, 224, 256, 320, 384, 448, 512, 640, 768, 1024, 1280, 2048, 3072,
	    4096, 8192, 16384};

	(void)arg;
	kt_map_setup("256M");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		void *p = kmalloc(sizes[k], M_TSLAB, M_WAITOK);
		KT_CHECK(p != NULL);
		struct uma_slab *slab = uma_item_slab(p);
		struct uma_keg *keg = slab->us_keg;
		uint32_t rsize = keg->uk_rsize, step = 1;
		size_t bytes = (size_t)keg->uk_ppera * ps;
		KT_EQ(rsize, sizes[k]);
		KT_EQ(bytes % rsize, 0);
		KT_EQ(keg->uk_ipers, bytes / rsize);
		KT_LE(keg->uk_ipers, UMA_SLAB_MAXITEMS);
		while ((step * ps) % rsize != 0)
			step++;
		KT_EQ(keg->uk_ppera % step, 0);
		/* It stopped growing at the size, or at a limit. */
		uint32_t next = (uint32_t)((keg->uk_ppera + step) * ps / rsize);
		KT_CHECK(bytes >= UMA_KMALLOC_SLAB ||
		    keg->uk_ppera + step > UMA_SLAB_MAXPAGES ||
		    next > UMA_SLAB_MAXITEMS ||
		    sizeof(struct uma_slab) + (next + 63) / 64 * 8 +
		    (size_t)next * keg->uk_itemmeta > 4096);
		if (sizes[k] == 64 && keg->uk_itemmeta == 2)
			KT_EQ(bytes, 32768);
		kfree(p, M_TSLAB);
	}
}

static void
test_kmalloc_slabs(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_kmalloc_slabs, NULL);
}

/*
 * A kmalloc keg keeps one free slab; the others go back to the map with
 * their pages committed (dirty), their blocks' free-item keys wiped so
 * that whatever the map hands those pages to next cannot read the key.
 */
#define DIRTY_BLOCKS 40

static void
child_kmalloc_dirty(void *arg)
{
	static void *v[DIRTY_BLOCKS];
	size_t ps = kmem_page_size();
	int released = 0;

	(void)arg;
	kt_map_setup("256M");
	for (int i = 0; i < DIRTY_BLOCKS; i++) {
		KT_CHECK((v[i] = kmalloc(4096, M_TSLAB, M_WAITOK)) != NULL);
		memset(v[i], 0x33, 4096);
	}
	for (int i = 0; i < DIRTY_BLOCKS; i++)
		kfree(v[i], M_TSLAB);
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	for (int i = 0; i < DIRTY_BLOCKS; i++) {
		unsigned char in;
		KT_EQ(mincore((void *)((uintptr_t)v[i] & ~(ps - 1)), ps, &in), 0);
		if (kmem_pt_get(v[i]) != 0 || !(in & 1))
			continue; /* still a slab's, or given back to the system */
		released++;
		KT_CHECK(((uint64_t *)v[i])[UMA_MKEY_WORD] != uma_mkey);
	}
	/* 5 slabs of 8: all but the one kept went back dirty. */
	KT_LE(32, released);
}

static void
test_kmalloc_dirty(void **state)
{
	(void)state;
	KT_NEEDS_EVERY_ALLOCATION();
	if (!KT_ZONE_CACHES)
		skip(); /* annotated builds give slabs back as before */
	kt_assert_child_ok(child_kmalloc_dirty, NULL);
}

/*
 * A thread without a cache of its own points at the empty cache, which is
 * in zero pages of its own and read-only once uma has started: a write
 * through it faults.
 */
static void *
empty_tc_thread(void *arg)
{
	struct uma_tcache **tc = arg;

	*tc = uma_tc; /* before this thread's first allocation */
	return (NULL);
}

static void
write_empty_tc(void *arg)
{
	struct uma_tcache *tc = NULL;
	pthread_t t;

	(void)arg;
	kt_map_setup("64M");
	uma_zone_t z = uma_zcreate("emptytc", 64, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	KT_CHECK(pthread_create(&t, NULL, empty_tc_thread, &tc) == 0);
	KT_CHECK(pthread_join(t, NULL) == 0);
	KT_CHECK(tc != NULL);
	KT_EQ(tc->tc_cache[1].uc_acnt, 0);
	fprintf(stderr, "writing\n");
	tc->tc_cache[1].uc_acnt = 1;
	fprintf(stderr, "written\n");
}

static void
test_empty_tcache(void **state)
{
	(void)state;
	kt_assert_death(write_empty_tc, NULL, SIGSEGV, "writing\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_align),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_ctor_dtor),
		cmocka_unit_test(test_ctor_fails),
		cmocka_unit_test(test_init_fini),
		cmocka_unit_test(test_init_fails),
		cmocka_unit_test(test_zinit),
		cmocka_unit_test(test_m_zero),
		cmocka_unit_test(test_nofree),
		cmocka_unit_test(test_nobucket),
		cmocka_unit_test(test_destroy_leaky),
		cmocka_unit_test(test_secondary),
		cmocka_unit_test(test_stats_random),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_double_free),
		cmocka_unit_test(test_df_key),
		cmocka_unit_test(test_kmalloc_slabs),
		cmocka_unit_test(test_kmalloc_dirty),
		cmocka_unit_test(test_empty_tcache),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
