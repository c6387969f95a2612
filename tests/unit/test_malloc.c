/*
 * test_malloc.c -- typed malloc in one thread: MALLOC_DEFINE types that
 * register themselves, every size class boundary with usable size,
 * alignment and no overlap, kmalloc(0), M_ZERO, M_NOWAIT failures when the
 * map is full and recovery after frees, requests that can never fit, the
 * realloc family and its keep rule, kmallocarray overflow, kzfree, exact
 * per-type statistics after a random mix, the kmalloc zones as memstat
 * sees them, the memstat reader itself, the leak report of a type that
 * goes away holding memory, a type that takes over a reused index, and
 * every bad free ending in abort() with its exact one-line message.
 *
 * The map is set up once per process, so every test runs in a child of its
 * own (kt_child) and checks with KT_CHECK.  A child that must print a
 * message writes the exact line it expects (addresses included) into a
 * page shared with the parent before it makes the call; the parent checks
 * that the child's standard error holds that line.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kt.h"
#include "kt_malloc.h"
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>

#define MB ((size_t)1 << 20)
#define NRTYPES 10

/* The declaration must agree with the definition below. */
MALLOC_DECLARE(M_TA);

MALLOC_DEFINE(M_TA, "ta", "first test type");
MALLOC_DEFINE(M_TB, "tb", "second test type");
MALLOC_DEFINE(M_LEAKY, "leaky", "a type that leaks");
MALLOC_DEFINE(M_IDLE, "idle", "a type that frees everything");
MALLOC_DEFINE(M_R0, "rand0", "random mix 0");
MALLOC_DEFINE(M_R1, "rand1", "random mix 1");
MALLOC_DEFINE(M_R2, "rand2", "random mix 2");
MALLOC_DEFINE(M_R3, "rand3", "random mix 3");
MALLOC_DEFINE(M_R4, "rand4", "random mix 4");
MALLOC_DEFINE(M_R5, "rand5", "random mix 5");
MALLOC_DEFINE(M_R6, "rand6", "random mix 6");
MALLOC_DEFINE(M_R7, "rand7", "random mix 7");
MALLOC_DEFINE(M_R8, "rand8", "random mix 8");
MALLOC_DEFINE(M_R9, "rand9", "random mix 9");

static struct malloc_type *const rtypes[NRTYPES] = {M_R0, M_R1, M_R2, M_R3,
    M_R4, M_R5, M_R6, M_R7, M_R8, M_R9};

/* ---- helpers ---------------------------------------------------------------- */

#define EXPECT_LEN 4096
static char *expect_line; /* MAP_SHARED: the line a child must print */

/* In a child: records the exact message (without "kmem: ") it must print. */
static void __attribute__((format(printf, 1, 2)))
expect_msg(const char *fmt, ...)
{
	va_list ap;
	int n;

	memcpy(expect_line, "kmem: ", 6);
	va_start(ap, fmt);
	n = vsnprintf(expect_line + 6, EXPECT_LEN - 8, fmt, ap);
	va_end(ap);
	KT_CHECK(n > 0 && n < EXPECT_LEN - 8);
}

/*
 * Runs fn in a child; it must die of sig (or exit 0 when sig is 0) and its
 * standard error must hold the line it recorded with expect_msg().
 */
static void
check_child_msg(void (*fn)(void *), void *arg, int sig)
{
	static struct kt_result res;

	memset(expect_line, 0, EXPECT_LEN);
	kt_child(fn, arg, &res);
	if (sig == 0 && (!res.kr_exited || res.kr_status != 0)) {
		fail_msg("child %s %d, expected exit 0; stderr:\n%s",
		    res.kr_exited ? "exited with" : "killed by signal",
		    res.kr_status, res.kr_err);
		return;
	}
	if (sig != 0 && (res.kr_exited || res.kr_status != sig)) {
		fail_msg("child %s %d, expected signal %d; stderr:\n%s",
		    res.kr_exited ? "exited with" : "killed by signal",
		    res.kr_status, sig, res.kr_err);
		return;
	}
	if (expect_line[0] == '\0') {
		fail_msg("child recorded no expected message; stderr:\n%s",
		    res.kr_err);
		return;
	}
	if (strstr(res.kr_err, expect_line) == NULL)
		fail_msg("child's stderr lacks \"%s\":\n%s", expect_line,
		    res.kr_err);
}

static struct kt_tstat
type_stat(struct malloc_type *type)
{
	return (kt_stat_of(ALLOCATOR_MALLOC, type->ks_shortdesc));
}

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return (x < y ? -1 : x > y);
}

/* ---- types register themselves ------------------------------------------------ */

static void
test_registered(void **state)
{
	/* Constructors ran before main(): nothing has allocated yet. */
	assert_int_equal(M_TA->ks_magic, M_MAGIC);
	assert_int_not_equal(M_TA->ks_index, 0);
	assert_int_not_equal(M_TB->ks_index, 0);
	assert_int_not_equal(M_TA->ks_index, M_TB->ks_index);
	assert_non_null(M_TA->ks_handle);
	assert_non_null(M_TB->ks_handle);
	assert_string_equal(M_TA->ks_shortdesc, "ta");
	assert_string_equal(M_TB->ks_longdesc, "second test type");
	for (int i = 0; i < NRTYPES; i++) {
		assert_int_not_equal(rtypes[i]->ks_index, 0);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(rtypes[i]->ks_index,
			    rtypes[j]->ks_index);
	}
}

static void
child_two_types(void *arg)
{
	struct kt_tstat a, b;
	void *p[3];

	kt_map_setup("64M");
	/* Listed before their first allocation, with nothing counted. */
	a = type_stat(M_TA);
	b = type_stat(M_TB);
	KT_CHECK(a.found && b.found);
	KT_EQ(a.numallocs, 0);
	KT_EQ(a.count, 0);
	KT_EQ(b.numallocs, 0);
	KT_EQ(a.sizemask, 0);
	/* Each type counts only its own blocks. */
	p[0] = kmalloc(10, M_TA, M_WAITOK);
	p[1] = kmalloc(300, M_TA, M_WAITOK);
	p[2] = kmalloc(3000, M_TB, M_WAITOK);
	KT_CHECK(p[0] != NULL && p[1] != NULL && p[2] != NULL);
	a = type_stat(M_TA);
	b = type_stat(M_TB);
	KT_EQ(a.count, 2);
	KT_EQ(a.bytes, usable_of(10) + usable_of(300));
	KT_EQ(a.sizemask, (UINT64_C(1) << class_of(10)) |
	    (UINT64_C(1) << class_of(300)));
	KT_EQ(b.count, 1);
	KT_EQ(b.bytes, usable_of(3000));
	KT_EQ(b.sizemask, UINT64_C(1) << class_of(3000));
	kfree(p[0], M_TA);
	kfree(p[1], M_TA);
	kfree(p[2], M_TB);
	a = type_stat(M_TA);
	b = type_stat(M_TB);
	KT_EQ(a.count, 0);
	KT_EQ(a.bytes, 0);
	KT_EQ(a.numallocs, 2);
	KT_EQ(a.numfrees, 2);
	KT_EQ(b.numfrees, 1);
	KT_LE(usable_of(3000), b.highbytes);
}

static void
test_two_types(void **state)
{
	kt_assert_child_ok(child_two_types, NULL);
}

/* ---- size classes ------------------------------------------------------------- */

#define PER_SIZE 4

static void
child_size_classes(void *arg)
{
	static void *blk[NCLASSES * 3 * PER_SIZE + 2];
	static size_t len[NCLASSES * 3 * PER_SIZE + 2];
	static void *sorted[NCLASSES * 3 * PER_SIZE + 2];
	size_t n = 0;

	kt_map_setup("64M");
	KT_EQ(kmalloc_usable_size(NULL), 0);
	for (int c = 0; c < NCLASSES; c++) {
		for (int d = -1; d <= 1; d++) {
			size_t size = classes[c] + (size_t)d;
			size_t want = d <= 0 ? classes[c] :
			    (c + 1 < NCLASSES ? classes[c + 1] : page_round(size));
			KT_EQ(usable_of(size), want);
			for (int k = 0; k < PER_SIZE; k++) {
				unsigned char *p = kmalloc(size, M_TA, M_WAITOK);
				KT_CHECK(p != NULL);
				KT_EQ((uintptr_t)p & 15, 0);
				KT_EQ(kmalloc_usable_size(p), want);
				if (size > 65536)
					KT_EQ((uintptr_t)p % kmem_page_size(), 0);
				blk[n] = p;
				len[n] = want;
				n++;
			}
		}
	}
	/* kmalloc(0): a unique pointer of the smallest class. */
	for (int k = 0; k < 2; k++) {
		void *p = kmalloc(0, M_TA, M_WAITOK);
		KT_CHECK(p != NULL);
		KT_EQ(kmalloc_usable_size(p), 16);
		blk[n] = p;
		len[n] = 16;
		n++;
	}
	KT_CHECK(blk[n - 1] != blk[n - 2]);
	/* Every byte of the usable size is writable and stays put. */
	for (size_t i = 0; i < n; i++)
		memset(blk[i], (int)(i * 13 + 1) & 0xff, len[i]);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = blk[i];
		unsigned char c = (unsigned char)((i * 13 + 1) & 0xff);
		for (size_t j = 0; j < len[i]; j++)
			if (p[j] != c) {
				fprintf(stderr, "block %zu (%zu bytes) byte %zu\n", i,
				    len[i], j);
				KT_CHECK(p[j] == c);
			}
	}
	/* No two blocks overlap. */
	memcpy(sorted, blk, n * sizeof(void *));
	qsort(sorted, n, sizeof(void *), cmp_ptr);
	for (size_t i = 1; i < n; i++)
		KT_LE((uintptr_t)sorted[i - 1] +
		    kmalloc_usable_size(sorted[i - 1]), (uintptr_t)sorted[i]);
	struct kt_tstat t = type_stat(M_TA);
	KT_EQ(t.count, n);
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += len[i];
	KT_EQ(t.bytes, bytes);
	KT_EQ(t.sizemask, (UINT64_C(1) << NCLASSES) - 1);
	for (size_t i = 0; i < n; i++)
		kfree(blk[i], M_TA);
	t = type_stat(M_TA);
	KT_EQ(t.count, 0);
	KT_EQ(t.bytes, 0);
	KT_EQ(t.numallocs, n);
	KT_EQ(t.numfrees, n);
}

static void
test_size_classes(void **state)
{
	kt_assert_child_ok(child_size_classes, NULL);
}

/* ---- M_ZERO ------------------------------------------------------------------- */

static int
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return (0);
	return (1);
}

static void
child_m_zero(void *arg)
{
	void *held[8];

	kt_map_setup("64M");
	for (int c = 0; c < NCLASSES; c++) {
		/* Dirty blocks of the class and give them back... */
		for (int k = 0; k < 8; k++) {
			held[k] = kmalloc(classes[c], M_TA, M_WAITOK);
			KT_CHECK(held[k] != NULL);
			memset(held[k], 0xa5, classes[c]);
		}
		for (int k = 0; k < 8; k++)
			kfree(held[k], M_TA);
		/* ...so that M_ZERO has to clear them. */
		for (int k = 0; k < 8; k++) {
			held[k] = kmalloc(classes[c] - 1, M_TA, M_WAITOK | M_ZERO);
			KT_CHECK(held[k] != NULL);
			/* All of the class: the caller may use it all. */
			KT_EQ(kmalloc_usable_size(held[k]), classes[c]);
			KT_CHECK(all_zero(held[k], classes[c]));
		}
		for (int k = 0; k < 8; k++)
			kfree(held[k], M_TA);
	}
	/* Large blocks, dirtied, freed and allocated again. */
	for (int k = 0; k < 4; k++) {
		size_t size = 65537 + (size_t)k * 50000;
		unsigned char *p = kmalloc(size, M_TA, M_WAITOK);
		KT_CHECK(p != NULL);
		memset(p, 0x5a, kmalloc_usable_size(p));
		kfree(p, M_TA);
		p = kmalloc(size, M_TA, M_WAITOK | M_ZERO);
		KT_CHECK(p != NULL);
		KT_CHECK(all_zero(p, kmalloc_usable_size(p)));
		kfree(p, M_TA);
	}
	/* kmallocarray passes M_ZERO on. */
	unsigned char *a = kmallocarray(7, 100, M_TA, M_WAITOK);
	memset(a, 0xff, kmalloc_usable_size(a));
	kfree(a, M_TA);
	a = kmallocarray(7, 100, M_TA, M_WAITOK | M_ZERO);
	KT_CHECK(a != NULL && all_zero(a, 700));
	kfree(a, M_TA);
	KT_EQ(type_stat(M_TA).count, 0);
}

static void
test_m_zero(void **state)
{
	kt_assert_child_ok(child_m_zero, NULL);
}

/* ---- running out ---------------------------------------------------------------- */

#define MAXHELD 20000

/* Allocates size bytes with M_NOWAIT until NULL; returns how many it got. */
static size_t
fill(void **held, size_t *n, size_t size)
{
	size_t got = 0;

	for (;;) {
		KT_CHECK(*n < MAXHELD);
		errno = 0;
		void *p = kmalloc(size, M_TB, M_NOWAIT);
		if (p == NULL) {
			KT_EQ(errno, ENOMEM);
			return (got);
		}
		held[(*n)++] = p;
		got++;
	}
}

static void
child_nowait(void *arg)
{
	static void *held[MAXHELD];
	static const size_t sizes[] = {MB, 65537, 65536, 4096, 256, 16};
	size_t n = 0, nbig;
	struct kt_tstat t;

	kt_map_setup("16M");
	/* Large blocks first, then smaller and smaller ones. */
	nbig = fill(held, &n, MB);
	KT_CHECK(nbig >= 4);
	for (size_t i = 1; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		fill(held, &n, sizes[i]);
	t = type_stat(M_TB);
	KT_EQ(t.failures, sizeof(sizes) / sizeof(sizes[0]));
	KT_EQ(t.count, n);
	KT_EQ(t.numallocs, n);
	/* Still nothing fits, and each refusal is counted. */
	KT_CHECK(kmalloc(MB, M_TB, M_NOWAIT) == NULL);
	KT_CHECK(kmalloc(100, M_TB, M_NOWAIT) == NULL);
	KT_EQ(type_stat(M_TB).failures, sizeof(sizes) / sizeof(sizes[0]) + 2);
	/* The blocks are intact. */
	for (size_t i = 0; i < n; i++)
		*(volatile char *)held[i] = 1;
	/* Freeing one large block makes room for one. */
	kfree(held[0], M_TB);
	held[0] = kmalloc(MB, M_TB, M_NOWAIT);
	KT_CHECK(held[0] != NULL);
	/* Freeing everything makes room for all of them again. */
	for (size_t i = 0; i < n; i++)
		kfree(held[i], M_TB);
	t = type_stat(M_TB);
	KT_EQ(t.count, 0);
	KT_EQ(t.bytes, 0);
	for (size_t i = 0; i + 1 < nbig; i++) {
		held[i] = kmalloc(MB, M_TB, M_NOWAIT);
		KT_CHECK(held[i] != NULL);
	}
	void *s = kmalloc(100, M_TB, M_NOWAIT);
	KT_CHECK(s != NULL);
	kfree(s, M_TB);
	for (size_t i = 0; i + 1 < nbig; i++)
		kfree(held[i], M_TB);
	KT_EQ(type_stat(M_TB).failures, sizeof(sizes) / sizeof(sizes[0]) + 2);
}

static void
test_nowait(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_nowait, NULL);
}

static void
child_never_fits(void *arg)
{
	kt_map_setup("16M");
	expect_msg("kmalloc(%zu): request can never fit in kmem_map (", 32 * MB);
	errno = 0;
	KT_CHECK(kmalloc(32 * MB, M_TA, M_WAITOK) == NULL);
	KT_EQ(errno, ENOMEM);
	errno = 0;
	KT_CHECK(kmalloc(SIZE_MAX, M_TA, M_WAITOK) == NULL);
	KT_EQ(errno, ENOMEM);
	errno = 0;
	KT_CHECK(kmalloc(SIZE_MAX - 4095, M_TA, M_NOWAIT) == NULL);
	KT_EQ(errno, ENOMEM);
	struct kt_tstat t = type_stat(M_TA);
	KT_EQ(t.failures, 3);
	KT_EQ(t.count, 0);
	KT_EQ(t.numallocs, 0);
	/* The map is still usable. */
	void *p = kmalloc(8 * MB, M_TA, M_WAITOK);
	KT_CHECK(p != NULL);
	kfree(p, M_TA);
}

static void
test_never_fits(void **state)
{
	check_child_msg(child_never_fits, NULL, 0);
}

/* ---- the realloc family ------------------------------------------------------ */

struct keep_case {
	size_t kc_old, kc_new;
	int kc_keep; /* krealloc must return the same block */
};

/* Small blocks: fits its class and more than half of it (16 keeps all). */
static const struct keep_case keep_small[] = {
    {100, 100, 1}, {100, 112, 1}, {100, 57, 1}, {100, 56, 0}, {100, 113, 0},
    {1000, 513, 1}, {1000, 512, 0}, {1000, 1025, 0}, {384, 193, 1},
    {384, 192, 0}, {384, 385, 0}, {16, 1, 1}, {16, 0, 1}, {16, 17, 0},
    {32, 17, 1}, {32, 16, 0}, {65536, 32769, 1}, {65536, 32768, 0},
    {65536, 65537, 0}, {50000, 100000, 0},
};

/* Large blocks: the same rule over whole pages, and never below 65537. */
static size_t
keep_large(struct keep_case *kc, size_t max)
{
	size_t u1 = page_round(100000), u2 = page_round(200000), n = 0;
	const struct keep_case c[] = {
		{100000, u1, 1}, {100000, u1 + 1, 0}, {100000, 80000, 1},
		{100000, 65537, 1}, {100000, 65536, 0}, {100000, 100, 0},
		{200000, u2 / 2 + 1, 1}, {200000, u2 / 2, 0},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]) && n < max; i++)
		kc[n++] = c[i];
	return (n);
}

static void
child_realloc(void *arg)
{
	unsigned char *p, *q;
	struct kt_tstat t;

	kt_map_setup("64M");
	/* NULL: an allocation. */
	p = krealloc(NULL, 100, M_TA, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(kmalloc_usable_size(p), usable_of(100));
	KT_EQ(type_stat(M_TA).count, 1);
	kfree(p, M_TA);

	/* Kept while the size fits its block and is more than half of it. */
	struct keep_case cases[40];
	size_t ncases = sizeof(keep_small) / sizeof(keep_small[0]);
	memcpy(cases, keep_small, sizeof(keep_small));
	ncases += keep_large(cases + ncases, 40 - ncases);
	for (size_t i = 0; i < ncases; i++) {
		const struct keep_case *kc = &cases[i];
		size_t keep = kc->kc_old < kc->kc_new ? kc->kc_old : kc->kc_new;
		p = kmalloc(kc->kc_old, M_TA, M_WAITOK);
		KT_CHECK(p != NULL);
		mark(p, kc->kc_old, (uint32_t)i);
		q = krealloc(p, kc->kc_new, M_TA, M_WAITOK);
		KT_CHECK(q != NULL);
		if ((q == p) != kc->kc_keep)
			fprintf(stderr, "krealloc %zu -> %zu: %s\n", kc->kc_old,
			    kc->kc_new, q == p ? "kept" : "moved");
		KT_EQ(q == p, kc->kc_keep);
		check_mark(q, kc->kc_old, keep, (uint32_t)i);
		KT_EQ(kmalloc_usable_size(q), kc->kc_keep ?
		    usable_of(kc->kc_old) : usable_of(kc->kc_new));
		t = type_stat(M_TA);
		KT_EQ(t.count, 1);
		KT_EQ(t.bytes, kmalloc_usable_size(q));
		kfree(q, M_TA);
	}

	/* Into and out of large allocations, keeping the contents. */
	p = kmalloc(100, M_TA, M_WAITOK);
	for (size_t i = 0; i < 100; i++)
		p[i] = (unsigned char)(i + 1);
	p = krealloc(p, 100000, M_TA, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(kmalloc_usable_size(p), page_round(100000));
	for (size_t i = 0; i < 100; i++)
		KT_EQ(p[i], (unsigned char)(i + 1));
	for (size_t i = 0; i < 100000; i++)
		p[i] = (unsigned char)(i * 31 + 7);
	p = krealloc(p, 200000, M_TA, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(kmalloc_usable_size(p), page_round(200000));
	for (size_t i = 0; i < 100000; i++)
		if (p[i] != (unsigned char)(i * 31 + 7))
			KT_EQ(p[i], (unsigned char)(i * 31 + 7));
	p = krealloc(p, 50, M_TA, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(kmalloc_usable_size(p), 64);
	for (size_t i = 0; i < 50; i++)
		KT_EQ(p[i], (unsigned char)(i * 31 + 7));
	t = type_stat(M_TA);
	KT_EQ(t.count, 1);
	KT_EQ(t.bytes, 64);
	KT_LE(page_round(200000), t.highbytes);

	/* M_ZERO clears what lies beyond the old block. */
	memset(p, 0xee, 64);
	q = krealloc(p, 1000, M_TA, M_WAITOK | M_ZERO);
	KT_CHECK(q != NULL && q != p);
	for (size_t i = 0; i < 64; i++)
		KT_EQ(q[i], 0xee);
	KT_CHECK(all_zero(q + 64, 1000 - 64));
	q = krealloc(q, 150000, M_TA, M_WAITOK | M_ZERO);
	KT_CHECK(q != NULL);
	KT_EQ(q[0], 0xee);
	KT_CHECK(all_zero(q + 1024, 150000 - 1024));

	/* A failed krealloc leaves the block as it was. */
	memset(q, 0x3c, 150000);
	errno = 0;
	KT_CHECK(krealloc(q, 64 * MB, M_TA, M_WAITOK) == NULL);
	KT_EQ(errno, ENOMEM);
	t = type_stat(M_TA);
	KT_EQ(t.count, 1);
	KT_EQ(t.failures, 1);
	KT_EQ(q[0], 0x3c);
	KT_EQ(q[149999], 0x3c);
	kfree(q, M_TA);
	KT_EQ(type_stat(M_TA).count, 0);
}

static void
test_krealloc(void **state)
{
	kt_assert_child_ok(child_realloc, NULL);
}

static void
child_reallocf(void *arg)
{
	static const size_t sizes[] = {1000, 100000};
	struct kt_tstat t;

	kt_map_setup("16M");
	for (size_t i = 0; i < 2; i++) {
		void *p = kmalloc(sizes[i], M_TB, M_WAITOK);
		KT_CHECK(p != NULL);
		KT_EQ(type_stat(M_TB).count, 1);
		errno = 0;
		KT_CHECK(kreallocf(p, 32 * MB, M_TB, M_WAITOK) == NULL);
		KT_EQ(errno, ENOMEM);
		t = type_stat(M_TB);
		KT_EQ(t.count, 0);
		KT_EQ(t.bytes, 0);
		KT_EQ(t.numfrees, i + 1);
		KT_EQ(t.failures, i + 1);
	}
	/* When it succeeds it is krealloc. */
	char *p = kreallocf(NULL, 10, M_TB, M_WAITOK);
	KT_CHECK(p != NULL);
	strcpy(p, "kreallocf");
	p = kreallocf(p, 5000, M_TB, M_WAITOK);
	KT_CHECK(p != NULL && strcmp(p, "kreallocf") == 0);
	t = type_stat(M_TB);
	KT_EQ(t.count, 1);
	KT_EQ(t.bytes, usable_of(5000));
	kfree(p, M_TB);
}

static void
test_reallocf(void **state)
{
	kt_assert_child_ok(child_reallocf, NULL);
}

static void
child_mallocarray(void *arg)
{
	static const int flags[] = {M_NOWAIT, M_WAITOK};
	struct kt_tstat t;
	void *p, *q;

	kt_map_setup("64M");
	for (int i = 0; i < 2; i++) {
		errno = 0;
		KT_CHECK(kmallocarray(SIZE_MAX / 2 + 1, 4, M_TA, flags[i]) == NULL);
		KT_EQ(errno, ENOMEM);
		errno = 0;
		KT_CHECK(kmallocarray(4, SIZE_MAX / 2 + 1, M_TA, flags[i]) == NULL);
		KT_EQ(errno, ENOMEM);
		errno = 0;
		KT_CHECK(kmallocarray(SIZE_MAX, SIZE_MAX, M_TA, flags[i]) == NULL);
		KT_EQ(errno, ENOMEM);
	}
	t = type_stat(M_TA);
	KT_EQ(t.failures, 6);
	KT_EQ(t.numallocs, 0);
	/* Ordinary arrays. */
	p = kmallocarray(10, 100, M_TA, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(kmalloc_usable_size(p), 1024);
	memset(p, 1, 1000);
	q = kmallocarray(1000, 100, M_TA, M_NOWAIT);
	KT_CHECK(q != NULL);
	KT_EQ(kmalloc_usable_size(q), page_round(100000));
	memset(q, 2, 100000);
	t = type_stat(M_TA);
	KT_EQ(t.count, 2);
	KT_EQ(t.bytes, 1024 + page_round(100000));
	kfree(p, M_TA);
	kfree(q, M_TA);
	p = kmallocarray(0, 100, M_TA, M_WAITOK);
	q = kmallocarray(100, 0, M_TA, M_WAITOK);
	KT_CHECK(p != NULL && q != NULL && p != q);
	kfree(p, M_TA);
	kfree(q, M_TA);
	KT_EQ(type_stat(M_TA).count, 0);
}

static void
test_mallocarray(void **state)
{
	kt_assert_child_ok(child_mallocarray, NULL);
}

static void
child_kzfree(void *arg)
{
	struct kt_tstat t;

	kt_map_setup("64M");
	kzfree(NULL, M_TA);
	kfree(NULL, M_TA);
	KT_EQ(type_stat(M_TA).numfrees, 0);
	void *s = kmalloc(300, M_TA, M_WAITOK);
	void *l = kmalloc(300000, M_TA, M_WAITOK);
	KT_CHECK(s != NULL && l != NULL);
	size_t su = kmalloc_usable_size(s);
	memset(s, 0x77, su);
	memset(l, 0x77, 300000);
	kzfree(s, M_TA);
	t = type_stat(M_TA);
	KT_EQ(t.count, 1);
	KT_EQ(t.numfrees, 1);
	KT_EQ(t.bytes, page_round(300000));
	kzfree(l, M_TA);
	t = type_stat(M_TA);
	KT_EQ(t.count, 0);
	KT_EQ(t.bytes, 0);
	KT_EQ(t.numfrees, 2);
	/*
	 * The block went to this thread's cache, which hands the last freed
	 * block out first: the next allocation of the class is the same
	 * block, and kzfree left all of it zero (no M_ZERO here).
	 */
	if (!KT_ZONE_CACHES)
		return;
	unsigned char *again = kmalloc(300, M_TA, M_WAITOK);
	KT_CHECK(again == s);
	for (size_t i = 0; i < su; i++)
		KT_CHECK(again[i] == 0);
	kfree(again, M_TA);
}

static void
test_kzfree(void **state)
{
	kt_assert_child_ok(child_kzfree, NULL);
}

/* ---- bucket memory per cached free block ---------------------------------------------- */

/*
 * The free blocks of a small class wait in buckets of 2 KiB (kmalloc's
 * buckets keep their tags' addresses at a fixed offset): full buckets of
 * 125 blocks cost 16 bytes a cached block, where the 61 a zone would
 * start with cost twice that.  Larger classes have buckets of fewer
 * entries (about 16 KiB of blocks each: 13 of 1 KiB), which are pieces of
 * such a 2 KiB block (13 entries: 256 bytes), not a whole one each:
 * 20 bytes a cached block, not 158.
 */
#define BUCKET_BLOCKS 20000

/* Bucket bytes per cached free block after BUCKET_BLOCKS of size. */
static void
bucket_memory(size_t size, uint64_t per_block)
{
	static void *v[BUCKET_BLOCKS];

	struct kt_tstat b0 = kt_stat_of(ALLOCATOR_UMA, "253 Bucket");
	for (int i = 0; i < BUCKET_BLOCKS; i++)
		KT_CHECK((v[i] = kmalloc(size, M_TA, M_WAITOK)) != NULL);
	for (int i = 0; i < BUCKET_BLOCKS; i++)
		kfree(v[i], M_TA);
	struct kt_tstat b1 = kt_stat_of(ALLOCATOR_UMA, "253 Bucket");
	KT_CHECK(b1.found); /* b0 too once kmalloc is set up */
	uint64_t blocks = b1.count - b0.count;
	KT_CHECK(blocks > 0);
	/* at most 2 buckets not full per cache, 2 in the zone, 1 block of
	   free pieces */
	KT_LE(blocks * b1.size, (uint64_t)BUCKET_BLOCKS * per_block +
	    5 * b1.size);
}

static void
child_bucket_memory(void *arg)
{
	(void)arg;
	kt_map_setup("256M");
	struct kt_tstat b0 = kt_stat_of(ALLOCATOR_UMA, "253 Bucket");
	bucket_memory(40, 17);
	bucket_memory(1000, 21);
	bucket_memory(300, 21);
	/* Drained, the pieces' blocks go back too (but one of each size). */
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	struct kt_tstat b1 = kt_stat_of(ALLOCATOR_UMA, "253 Bucket");
	KT_LE(b1.count, b0.count + 4);
}

static void
test_bucket_memory(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	(void)state;
	if (!KT_ZONE_CACHES)
		skip(); /* no caches, no buckets */
	kt_assert_child_ok(child_bucket_memory, NULL);
}

/* ---- exact statistics after a random mix ---------------------------------------- */

#define NSLOTS 512
#define NOPS 100000

struct slot {
	unsigned char *s_p;
	size_t s_size;   /* bytes asked for last */
	size_t s_usable; /* of the block it has */
	int s_type;
	uint32_t s_seed;
};

struct model {
	uint64_t m_count, m_bytes, m_allocs, m_frees, m_mask, m_hwm;
};

static void
model_add(struct model *m, size_t usable, int add)
{
	int c = class_of(usable);

	if (add) {
		m->m_count++;
		m->m_bytes += usable;
		m->m_allocs++;
		if (c >= 0)
			m->m_mask |= UINT64_C(1) << c;
		if (m->m_bytes > m->m_hwm)
			m->m_hwm = m->m_bytes;
	} else {
		m->m_count--;
		m->m_bytes -= usable;
		m->m_frees++;
	}
}

static void
child_stats_random(void *arg)
{
	static struct slot slots[NSLOTS];
	static struct model model[NRTYPES];
	uint64_t zone_live[NCLASSES];
	uint64_t rs = 0x9e3779b97f4a7c15ULL;
	struct memory_type_list *list;

	kt_map_setup("256M");
	for (int op = 0; op < NOPS; op++) {
		struct slot *s = &slots[kt_rand(&rs) % NSLOTS];
		uint64_t r = kt_rand(&rs) % 8;
		if (s->s_p == NULL) {
			int ty = (int)(kt_rand(&rs) % NRTYPES);
			size_t size = random_size(&rs);
			int zero = r == 0;
			s->s_p = kmalloc(size, rtypes[ty],
			    M_WAITOK | (zero ? M_ZERO : 0));
			KT_CHECK(s->s_p != NULL);
			if (zero) {
				KT_EQ(s->s_p[0], 0);
				KT_EQ(s->s_p[size - 1], 0);
			}
			s->s_size = size;
			s->s_usable = kmalloc_usable_size(s->s_p);
			KT_CHECK(usable_fits(size, s->s_usable));
			s->s_type = ty;
			s->s_seed = (uint32_t)op;
			mark(s->s_p, size, s->s_seed);
			model_add(&model[ty], s->s_usable, 1);
		} else if (r < 5) {
			check_mark(s->s_p, s->s_size, s->s_size, s->s_seed);
			if (r == 1)
				kzfree(s->s_p, rtypes[s->s_type]);
			else
				kfree(s->s_p, rtypes[s->s_type]);
			model_add(&model[s->s_type], s->s_usable, 0);
			s->s_p = NULL;
		} else {
			size_t size = random_size(&rs);
			size_t keep = size < s->s_size ? size : s->s_size;
			int kept = keeps(s->s_usable, size);
			unsigned char *n = krealloc(s->s_p, size, rtypes[s->s_type],
			    M_WAITOK);
			KT_CHECK(n != NULL);
			KT_EQ(n == s->s_p, kept);
			check_mark(n, s->s_size, keep, s->s_seed);
			if (!kept) {
				model_add(&model[s->s_type], s->s_usable, 0);
				s->s_usable = kmalloc_usable_size(n);
				KT_CHECK(usable_fits(size, s->s_usable));
				model_add(&model[s->s_type], s->s_usable, 1);
			}
			KT_EQ(kmalloc_usable_size(n), s->s_usable);
			s->s_p = n;
			s->s_size = size;
			s->s_seed = (uint32_t)op;
			mark(n, size, s->s_seed);
		}
	}

	/* Every type's figures are the model's. */
	list = memstat_mtl_alloc();
	KT_CHECK(list != NULL);
	KT_CHECK(memstat_self_all(list) == 0);
	for (int ty = 0; ty < NRTYPES; ty++) {
		struct memory_type *mtp = memstat_mtl_find(list, ALLOCATOR_MALLOC,
		    rtypes[ty]->ks_shortdesc);
		const struct model *m = &model[ty];
		KT_CHECK(mtp != NULL);
		KT_EQ(memstat_get_allocator(mtp), ALLOCATOR_MALLOC);
		KT_EQ(memstat_get_count(mtp), m->m_count);
		KT_EQ(memstat_get_bytes(mtp), m->m_bytes);
		KT_EQ(memstat_get_numallocs(mtp), m->m_allocs);
		KT_EQ(memstat_get_numfrees(mtp), m->m_frees);
		KT_EQ(memstat_get_sizemask(mtp), m->m_mask);
		KT_EQ(memstat_get_failures(mtp), 0);
		KT_EQ(memstat_get_malloc_backed(mtp), 0);
		KT_LE(m->m_bytes, memstat_get_highbytes(mtp));
		KT_LE(memstat_get_highbytes(mtp), m->m_hwm);
	}
	/* The kmalloc zones hold exactly the small blocks of all types. */
	memset(zone_live, 0, sizeof(zone_live));
	for (int i = 0; i < NSLOTS; i++) {
		int c = slots[i].s_p != NULL ? class_of(slots[i].s_usable) : -1;
		if (c >= 0)
			zone_live[c]++;
	}
	for (int c = 0; c < NCLASSES; c++) {
		char name[16];
		snprintf(name, sizeof(name), "%zu", classes[c]);
		struct memory_type *mtp = memstat_mtl_find(list, ALLOCATOR_UMA,
		    name);
		KT_CHECK(mtp != NULL);
		KT_EQ(memstat_get_malloc_backed(mtp), 1);
		KT_EQ(memstat_get_size(mtp), classes[c]);
		KT_EQ(memstat_get_count(mtp), zone_live[c]);
		KT_EQ(memstat_get_bytes(mtp), zone_live[c] * classes[c]);
	}
	memstat_mtl_free(list);

	for (int i = 0; i < NSLOTS; i++) {
		if (slots[i].s_p == NULL)
			continue;
		kfree(slots[i].s_p, rtypes[slots[i].s_type]);
		model_add(&model[slots[i].s_type], slots[i].s_usable, 0);
	}
	for (int ty = 0; ty < NRTYPES; ty++) {
		struct kt_tstat t = type_stat(rtypes[ty]);
		KT_EQ(t.count, 0);
		KT_EQ(t.bytes, 0);
		KT_EQ(t.numallocs, model[ty].m_allocs);
		KT_EQ(t.numfrees, model[ty].m_frees);
	}
}

static void
test_stats_random(void **state)
{
	kt_assert_child_ok(child_stats_random, NULL);
}

/* ---- the memstat reader ------------------------------------------------------------ */

static void
child_memstat(void *arg)
{
	static const int codes[] = {MEMSTAT_ERROR_UNDEFINED,
	    MEMSTAT_ERROR_NOMEMORY, MEMSTAT_ERROR_VERSION,
	    MEMSTAT_ERROR_PERMISSION, MEMSTAT_ERROR_DATAERROR,
	    MEMSTAT_ERROR_NOTFOUND};
	const int ncodes = sizeof(codes) / sizeof(codes[0]);
	struct memory_type_list *list;
	struct memory_type *mtp, *m2;
	size_t n = 0, nmalloc = 0, numa = 0, nkm = 0;

	kt_map_setup("64M");
	/* Error strings: one for each code, all different. */
	for (int i = 0; i < ncodes; i++) {
		const char *s = memstat_strerror(codes[i]);
		KT_CHECK(s != NULL && s[0] != '\0');
		for (int j = 0; j < i; j++)
			KT_CHECK(strcmp(s, memstat_strerror(codes[j])) != 0);
	}
	KT_CHECK(memstat_strerror(4) != NULL && memstat_strerror(4)[0] != '\0');
	KT_CHECK(memstat_strerror(-1) != NULL);
	KT_EQ(memstat_mtl_geterror(NULL), MEMSTAT_ERROR_UNDEFINED);
	errno = 0;
	KT_EQ(memstat_self_all(NULL), -1);
	KT_EQ(errno, EINVAL);
	memstat_mtl_free(NULL);

	/* An empty list. */
	list = memstat_mtl_alloc();
	KT_CHECK(list != NULL);
	KT_EQ(memstat_mtl_geterror(list), MEMSTAT_ERROR_UNDEFINED);
	KT_CHECK(memstat_mtl_first(list) == NULL);
	KT_CHECK(memstat_mtl_find(list, ALLOCATOR_ANY, "ta") == NULL);

	void *a1 = kmalloc(100, M_TA, M_WAITOK);
	void *a2 = kmalloc(100, M_TA, M_WAITOK);
	void *a3 = kmalloc(5000, M_TA, M_WAITOK);
	void *a4 = kmalloc(70000, M_TA, M_WAITOK);
	kfree(a2, M_TA);
	uma_zone_t z = uma_zcreate("mszone", 48, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	void *i1 = uma_zalloc(z, M_WAITOK);
	void *i2 = uma_zalloc(z, M_WAITOK);
	KT_CHECK(a1 && a3 && a4 && i1 && i2);

	KT_EQ(memstat_self_all(list), 0);
	KT_EQ(memstat_mtl_geterror(list), MEMSTAT_ERROR_UNDEFINED);
	for (mtp = memstat_mtl_first(list); mtp != NULL;
	    mtp = memstat_mtl_next(mtp)) {
		const char *name = memstat_get_name(mtp);
		KT_CHECK(name != NULL && name[0] != '\0');
		KT_LE(strlen(name), MEMTYPE_MAXNAME - 1);
		n++;
		switch (memstat_get_allocator(mtp)) {
		case ALLOCATOR_MALLOC:
			nmalloc++;
			KT_EQ(memstat_get_malloc_backed(mtp), 0);
			KT_EQ(memstat_get_sleeps(mtp), 0);
			break;
		case ALLOCATOR_UMA:
			numa++;
			if (memstat_get_malloc_backed(mtp))
				nkm++;
			KT_LE(memstat_get_size(mtp), memstat_get_rsize(mtp));
			KT_EQ(memstat_get_free(mtp), memstat_get_free_cache(mtp) +
			    memstat_get_free_bucket(mtp) + memstat_get_free_slab(mtp));
			break;
		default:
			KT_CHECK(!"unknown allocator");
		}
		/* Found again by its name and allocator, as itself. */
		KT_CHECK(memstat_mtl_find(list, memstat_get_allocator(mtp),
		    name) == mtp);
	}
	KT_EQ(n, nmalloc + numa);
	KT_LE(4 + NRTYPES, nmalloc);
	KT_EQ(nkm, NCLASSES);

	/* A malloc type. */
	mtp = memstat_mtl_find(list, ALLOCATOR_MALLOC, "ta");
	KT_CHECK(mtp != NULL);
	KT_CHECK(strcmp(memstat_get_name(mtp), "ta") == 0);
	KT_EQ(memstat_get_allocator(mtp), ALLOCATOR_MALLOC);
	KT_EQ(memstat_get_count(mtp), 3);
	KT_EQ(memstat_get_bytes(mtp), usable_of(100) + usable_of(5000) +
	    page_round(70000));
	KT_EQ(memstat_get_numallocs(mtp), 4);
	KT_EQ(memstat_get_numfrees(mtp), 1);
	KT_EQ(memstat_get_sizemask(mtp), (UINT64_C(1) << class_of(100)) |
	    (UINT64_C(1) << class_of(5000)));
	KT_EQ(memstat_get_failures(mtp), 0);
	KT_EQ(memstat_get_countlimit(mtp), 0);
	KT_LE(memstat_get_bytes(mtp), memstat_get_highbytes(mtp));
	KT_CHECK(memstat_mtl_find(list, ALLOCATOR_ANY, "ta") == mtp);
	KT_CHECK(memstat_mtl_find(list, ALLOCATOR_UMA, "ta") == NULL);

	/* The high-water mark holds what large allocations saw. */
	void *l[3];
	for (int i = 0; i < 3; i++)
		l[i] = kmalloc(100000, M_TB, M_WAITOK);
	for (int i = 0; i < 3; i++)
		kfree(l[i], M_TB);
	struct kt_tstat hw = type_stat(M_TB);
	KT_EQ(hw.bytes, 0);
	KT_EQ(hw.highbytes, 3 * page_round(100000));

	/* A kmalloc zone. */
	char zname[16];
	snprintf(zname, sizeof(zname), "%zu", usable_of(100));
	m2 = memstat_mtl_find(list, ALLOCATOR_UMA, zname);
	KT_CHECK(m2 != NULL);
	KT_EQ(memstat_get_allocator(m2), ALLOCATOR_UMA);
	KT_EQ(memstat_get_malloc_backed(m2), 1);
	KT_EQ(memstat_get_size(m2), usable_of(100));
	KT_EQ(memstat_get_count(m2), 1);
	KT_EQ(memstat_get_bytes(m2), usable_of(100));
	KT_EQ(memstat_get_numallocs(m2), 2);
	KT_EQ(memstat_get_numfrees(m2), 1);
	KT_CHECK(memstat_mtl_find(list, ALLOCATOR_MALLOC, zname) == NULL);
	KT_CHECK(memstat_mtl_find(list, ALLOCATOR_ANY, zname) == m2);
	for (int c = 0; c < NCLASSES; c++) {
		char name[16];
		snprintf(name, sizeof(name), "%zu", classes[c]);
		m2 = memstat_mtl_find(list, ALLOCATOR_UMA, name);
		KT_CHECK(m2 != NULL);
		KT_EQ(memstat_get_malloc_backed(m2), 1);
		KT_EQ(memstat_get_size(m2), classes[c]);
	}

	/* A caller's zone. */
	m2 = memstat_mtl_find(list, ALLOCATOR_UMA, "mszone");
	KT_CHECK(m2 != NULL);
	KT_EQ(memstat_get_malloc_backed(m2), 0);
	KT_EQ(memstat_get_size(m2), 48);
	KT_EQ(memstat_get_count(m2), 2);
	KT_EQ(memstat_get_bytes(m2), 96);
	KT_EQ(memstat_get_numallocs(m2), 2);
	KT_EQ(memstat_get_countlimit(m2), 0);
	KT_CHECK(memstat_get_pages(m2) >= 1);
	KT_CHECK(memstat_mtl_find(list, ALLOCATOR_MALLOC, "mszone") == NULL);

	/* Unknown names and bad arguments. */
	KT_CHECK(memstat_mtl_find(list, ALLOCATOR_ANY, "no such type") == NULL);
	KT_CHECK(memstat_mtl_find(list, ALLOCATOR_ANY, NULL) == NULL);
	KT_CHECK(memstat_mtl_find(NULL, ALLOCATOR_ANY, "ta") == NULL);
	KT_CHECK(memstat_mtl_first(NULL) == NULL);
	KT_CHECK(memstat_mtl_next(NULL) == NULL);

	/* A snapshot stays as it was until the list is filled again. */
	kfree(a1, M_TA);
	uma_zfree(z, i1);
	mtp = memstat_mtl_find(list, ALLOCATOR_MALLOC, "ta");
	KT_EQ(memstat_get_count(mtp), 3);
	KT_EQ(memstat_self_all(list), 0);
	mtp = memstat_mtl_find(list, ALLOCATOR_MALLOC, "ta");
	KT_EQ(memstat_get_count(mtp), 2);
	KT_EQ(memstat_get_numfrees(mtp), 2);
	KT_EQ(memstat_get_count(memstat_mtl_find(list, ALLOCATOR_UMA,
	    "mszone")), 1);
	memstat_mtl_free(list);
	kfree(a3, M_TA);
	kfree(a4, M_TA);
	uma_zfree(z, i2);
	uma_zdestroy(z);
	struct kt_tstat t = kt_stat_of(ALLOCATOR_UMA, "mszone");
	KT_CHECK(!t.found);
}

static void
test_memstat(void **state)
{
	kt_assert_child_ok(child_memstat, NULL);
}

/* ---- types that go away -------------------------------------------------------------- */

static void
leak_some(size_t *bytes)
{
	KT_CHECK(kmalloc(100, M_LEAKY, M_WAITOK) != NULL);
	KT_CHECK(kmalloc(200, M_LEAKY, M_WAITOK) != NULL);
	KT_CHECK(kmalloc(100000, M_LEAKY, M_WAITOK) != NULL);
	void *p = kmalloc(1000, M_LEAKY, M_WAITOK);
	kfree(p, M_LEAKY);
	*bytes = usable_of(100) + usable_of(200) + page_round(100000);
}

static void
child_leak_unregister(void *arg)
{
	size_t bytes;

	KT_CHECK(kmem_setopt("leak_report", "1") == 0);
	kt_map_setup("64M");
	leak_some(&bytes);
	expect_msg("memory type leaky leaked memory on destroy (3 allocations, "
	    "%zu bytes leaked)\n", bytes);
	malloc_type_unregister(M_LEAKY);
	KT_EQ(M_LEAKY->ks_index, 0);
	/* Its index stays taken while blocks tagged with it live. */
	struct kt_tstat t = kt_stat_of(ALLOCATOR_MALLOC, "leaky");
	KT_CHECK(t.found);
	KT_EQ(t.count, 3);
	KT_EQ(t.bytes, bytes);
	/* Once is enough. */
	malloc_type_unregister(M_LEAKY);
}

static void
child_leak_exit(void *arg)
{
	size_t bytes;

	KT_CHECK(kmem_setopt("leak_report", "1") == 0);
	kt_map_setup("64M");
	leak_some(&bytes);
	expect_msg("memory type leaky leaked memory on destroy (3 allocations, "
	    "%zu bytes leaked)\n", bytes);
	/* exit(), not a return: the type's destructor reports. */
	exit(0);
}

static void
child_leak_quiet(void *arg)
{
	size_t bytes;

	kt_map_setup("64M");
	leak_some(&bytes);
	malloc_type_unregister(M_LEAKY);
	exit(0);
}

static void
child_unregister_idle(void *arg)
{
	KT_CHECK(kmem_setopt("leak_report", "1") == 0);
	kt_map_setup("64M");
	void *p = kmalloc(100, M_IDLE, M_WAITOK);
	kfree(p, M_IDLE);
	KT_CHECK(kt_stat_of(ALLOCATOR_MALLOC, "idle").found);
	malloc_type_unregister(M_IDLE);
	KT_EQ(M_IDLE->ks_index, 0);
	KT_CHECK(M_IDLE->ks_handle == NULL);
	KT_CHECK(!kt_stat_of(ALLOCATOR_MALLOC, "idle").found);
	/* Registered again, it starts afresh. */
	malloc_type_register(M_IDLE);
	KT_CHECK(M_IDLE->ks_index != 0);
	struct kt_tstat t = kt_stat_of(ALLOCATOR_MALLOC, "idle");
	KT_CHECK(t.found);
	KT_EQ(t.numallocs, 0);
	p = kmalloc(100, M_IDLE, M_WAITOK);
	kfree(p, M_IDLE);
	KT_EQ(kt_stat_of(ALLOCATOR_MALLOC, "idle").numallocs, 1);
}

static void
test_leak_report(void **state)
{
	static struct kt_result res;

	check_child_msg(child_leak_unregister, NULL, 0);
	check_child_msg(child_leak_exit, NULL, 0);
	/* leak_report=0, the default: silence. */
	kt_child(child_leak_quiet, NULL, &res);
	assert_true(res.kr_exited && res.kr_status == 0);
	assert_null(strstr(res.kr_err, "leaked"));
	/* A type that holds nothing says nothing and gives its index back. */
	kt_child(child_unregister_idle, NULL, &res);
	if (!res.kr_exited || res.kr_status != 0)
		fail_msg("child_unregister_idle: %s", res.kr_err);
	assert_null(strstr(res.kr_err, "leaked"));
}

/*
 * An index given back by a type that held nothing is reused by a type
 * registered later (a module unloaded and another loaded).  The new type
 * must start from zero: nothing the old one counted may show under the new
 * name.
 */
static void
child_index_reuse(void *arg)
{
	static struct malloc_type a = {M_MAGIC, 0, "reuse_a", "old", NULL};
	static struct malloc_type b = {M_MAGIC, 0, "reuse_b", "new", NULL};
	uint32_t old;
	int found = 0;

	kt_map_setup("64M");
	malloc_type_register(&a);
	old = a.ks_index;
	KT_CHECK(old != 0);
	for (int i = 0; i < 5; i++) {
		void *p = kmalloc(100 + (size_t)i * 1000, &a, M_WAITOK);
		KT_CHECK(p != NULL);
		kfree(p, &a);
	}
	KT_EQ(kt_stat_of(ALLOCATOR_MALLOC, "reuse_a").numallocs, 5);
	malloc_type_unregister(&a);
	KT_CHECK(!kt_stat_of(ALLOCATOR_MALLOC, "reuse_a").found);
	/* Register and unregister until the old index comes round again. */
	for (int i = 0; i < 10000 && !found; i++) {
		malloc_type_register(&b);
		KT_CHECK(b.ks_index != 0);
		if (b.ks_index == old)
			found = 1;
		else
			malloc_type_unregister(&b);
	}
	KT_CHECK(found);
	struct kt_tstat t = kt_stat_of(ALLOCATOR_MALLOC, "reuse_b");
	KT_CHECK(t.found);
	KT_EQ(t.numallocs, 0);
	KT_EQ(t.numfrees, 0);
	KT_EQ(t.sizemask, 0);
	KT_EQ(t.count, 0);
	KT_EQ(t.bytes, 0);
	KT_EQ(t.highbytes, 0);
	void *p = kmalloc(10, &b, M_WAITOK);
	kfree(p, &b);
	t = kt_stat_of(ALLOCATOR_MALLOC, "reuse_b");
	KT_EQ(t.numallocs, 1);
	KT_EQ(t.sizemask, 1);
}

static void
test_index_reuse(void **state)
{
	kt_assert_child_ok(child_index_reuse, NULL);
}

/* ---- misuse ---------------------------------------------------------------------------- */

static struct malloc_type fake_type = {0x12345678, 0, "fake",
    "not made by MALLOC_DEFINE", NULL};
static struct malloc_type unreg_type = {M_MAGIC, 0, "unreg",
    "never registered", NULL};

static void
child_free_stack(void *arg)
{
	char buf[64];

	kt_map_setup("16M");
	memset(buf, 0, sizeof(buf));
	expect_msg("kfree: %p (type ta): not the start of a kmalloc allocation; "
	    "it is not an address kmem gave\n", (void *)buf);
	kfree(buf, M_TA);
}

static void
child_free_interior_small(void *arg)
{
	kt_map_setup("16M");
	char *p = kmalloc(120, M_TA, M_WAITOK);
	expect_msg("kfree: %p (type ta): interior pointer into the 128-byte "
	    "block at %p (zone 128)\n", (void *)(p + 16), (void *)p);
	kfree(p + 16, M_TA);
}

static void
child_free_interior_large(void *arg)
{
	kt_map_setup("16M");
	char *p = kmalloc(100000, M_TA, M_WAITOK);
	char *q = p + kmem_page_size();
	expect_msg("kfree: %p (type ta): not the start of a kmalloc allocation; "
	    "it is inside a large kmalloc allocation\n", (void *)q);
	kfree(q, M_TA);
}

static void
child_free_interior_large_head(void *arg)
{
	kt_map_setup("16M");
	char *p = kmalloc(100000, M_TA, M_WAITOK);
	expect_msg("kfree: %p (type ta): not the start of a kmalloc allocation; "
	    "it is a large kmalloc allocation\n", (void *)(p + 16));
	kfree(p + 16, M_TA);
}

static void
child_double_free_small(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(120, M_TA, M_WAITOK);
	kfree(p, M_TA);
	expect_msg("kfree: %p (type ta): double free (zone 128)\n", p);
	kfree(p, M_TA);
}

static void
child_double_free_large(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(100000, M_TA, M_WAITOK);
	kfree(p, M_TA);
	expect_msg("kfree: %p (type ta): double free or never allocated: the "
	    "page is free\n", p);
	kfree(p, M_TA);
}

static void
child_wrong_type_small(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(120, M_TA, M_WAITOK);
	expect_msg("kfree: %p: allocated as type ta, freed as type tb "
	    "(zone 128)\n", p);
	kfree(p, M_TB);
}

static void
child_wrong_type_large(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(100000, M_TA, M_WAITOK);
	expect_msg("kfree: %p: allocated as type ta, freed as type tb (large, "
	    "100000 bytes)\n", p);
	kfree(p, M_TB);
}

static void
child_free_kmem_malloc(void *arg)
{
	kt_map_setup("16M");
	void *p = kmem_malloc(2 * kmem_page_size(), M_WAITOK);
	KT_CHECK(p != NULL);
	expect_msg("kfree: %p (type ta): not the start of a kmalloc allocation; "
	    "it is pages of kmem_malloc\n", p);
	kfree(p, M_TA);
}

static void
child_free_zone_item(void *arg)
{
	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("callerzone", 100, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	void *p = uma_zalloc(z, M_WAITOK);
	KT_CHECK(p != NULL);
	expect_msg("kfree: %p (type ta): not a kmalloc allocation; it is an item "
	    "of zone callerzone\n", p);
	kfree(p, M_TA);
}

static void
child_free_bad_magic(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(120, M_TA, M_WAITOK);
	expect_msg("kfree: %p: type %p is not a malloc type (no MALLOC_DEFINE, "
	    "or corrupt)\n", p, (void *)&fake_type);
	kfree(p, &fake_type);
}

static void
child_malloc_bad_magic(void *arg)
{
	kt_map_setup("16M");
	expect_msg("kmalloc: %p: type %p is not a malloc type (no MALLOC_DEFINE, "
	    "or corrupt)\n", (void *)NULL, (void *)&fake_type);
	(void)kmalloc(120, &fake_type, M_WAITOK);
}

static void
child_free_unregistered(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(120, M_TA, M_WAITOK);
	expect_msg("kfree: %p: type unreg has allocated nothing\n", p);
	kfree(p, &unreg_type);
}

static void
child_reallocf_then_free(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(1000, M_TB, M_WAITOK);
	KT_CHECK(kreallocf(p, 32 * MB, M_TB, M_WAITOK) == NULL);
	/* kreallocf freed it: this is the second free. */
	expect_msg("kfree: %p (type tb): double free (zone 1024)\n", p);
	kfree(p, M_TB);
}

static void
child_usable_freed(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(120, M_TA, M_WAITOK);
	kfree(p, M_TA);
	expect_msg("kmalloc_usable_size: %p: a free block (zone 128)\n", p);
	(void)kmalloc_usable_size(p);
}

static void
child_usable_stack(void *arg)
{
	char buf[32];

	kt_map_setup("16M");
	memset(buf, 0, sizeof(buf));
	expect_msg("kmalloc_usable_size: %p: not the start of a kmalloc "
	    "allocation; it is not an address kmem gave\n", (void *)buf);
	(void)kmalloc_usable_size(buf);
}

static void
child_realloc_wrong_type_small(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(120, M_TA, M_WAITOK);
	expect_msg("krealloc: %p: allocated as type ta, freed as type tb "
	    "(zone 128)\n", p);
	(void)krealloc(p, 1000, M_TB, M_WAITOK);
}

static void
child_realloc_wrong_type_large(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(100000, M_TA, M_WAITOK);
	expect_msg("krealloc: %p: allocated as type ta, reallocated as type "
	    "tb\n", p);
	(void)krealloc(p, 1000, M_TB, M_WAITOK);
}

static void
child_kzfree_interior(void *arg)
{
	kt_map_setup("16M");
	char *p = kmalloc(350, M_TA, M_WAITOK);
	expect_msg("kzfree: %p (type ta): interior pointer into the 384-byte "
	    "block at %p (zone 384)\n", (void *)(p + 8), (void *)p);
	kzfree(p + 8, M_TA);
}

static void
child_kzfree_wrong_type(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(120, M_TA, M_WAITOK);
	/* kzfree checks the owner before it clears anything. */
	expect_msg("kzfree: %p: allocated as type ta, freed as type tb "
	    "(zone 128)\n", p);
	kzfree(p, M_TB);
}

static void
child_realloc_freed(void *arg)
{
	kt_map_setup("16M");
	void *p = kmalloc(120, M_TA, M_WAITOK);
	kfree(p, M_TA);
	expect_msg("krealloc: %p (type ta): double free (zone 128)\n", p);
	(void)krealloc(p, 200, M_TA, M_WAITOK);
}

static void
child_bad_flags(void *arg)
{
	kt_map_setup("16M");
	expect_msg("uma_zalloc: zone 128: flags 0x%x must contain exactly one "
	    "of M_NOWAIT and M_WAITOK\n", (unsigned)M_ZERO);
	(void)kmalloc(120, M_TA, M_ZERO);
}

static void
child_free_null(void *arg)
{
	kt_map_setup("16M");
	kfree(NULL, M_TA);
	kfree(NULL, &fake_type);
	kzfree(NULL, M_TA);
	KT_EQ(kmalloc_usable_size(NULL), 0);
	struct kt_tstat t = type_stat(M_TA);
	KT_EQ(t.numfrees, 0);
	KT_EQ(t.numallocs, 0);
}

static void
test_misuse(void **state)
{
	static void (*const deaths[])(void *) = {
		child_free_stack,
		child_free_interior_small,
		child_free_interior_large,
		child_free_interior_large_head,
		child_double_free_small,
		child_double_free_large,
		child_wrong_type_small,
		child_wrong_type_large,
		child_free_kmem_malloc,
		child_free_zone_item,
		child_free_bad_magic,
		child_malloc_bad_magic,
		child_free_unregistered,
		child_reallocf_then_free,
		child_usable_freed,
		child_usable_stack,
		child_realloc_wrong_type_small,
		child_realloc_wrong_type_large,
		child_kzfree_interior,
		child_kzfree_wrong_type,
		child_realloc_freed,
		child_bad_flags,
	};

	for (size_t i = 0; i < sizeof(deaths) / sizeof(deaths[0]); i++)
		check_child_msg(deaths[i], NULL, SIGABRT);
	kt_assert_child_ok(child_free_null, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_two_types),
		cmocka_unit_test(test_size_classes),
		cmocka_unit_test(test_m_zero),
		cmocka_unit_test(test_nowait),
		cmocka_unit_test(test_bucket_memory),
		cmocka_unit_test(test_never_fits),
		cmocka_unit_test(test_krealloc),
		cmocka_unit_test(test_reallocf),
		cmocka_unit_test(test_mallocarray),
		cmocka_unit_test(test_kzfree),
		cmocka_unit_test(test_stats_random),
		cmocka_unit_test(test_memstat),
		cmocka_unit_test(test_leak_report),
		cmocka_unit_test(test_index_reuse),
		cmocka_unit_test(test_misuse),
	};

	expect_line = mmap(NULL, EXPECT_LEN, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (expect_line == MAP_FAILED) {
		perror("mmap");
		return (1);
	}
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
