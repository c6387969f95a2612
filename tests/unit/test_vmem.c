/*
 * test_vmem.c -- vmem(9): arenas, the three policies, constrained
 * allocation, spans added and imported, limits, reclaim, sizes, statistics,
 * the tag pool and the hash, meta ops, and every programming error.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kt.h"
#include "vmem/vmem_int.h"

#define Q 16 /* quantum of most arenas here */

static vmem_addr_t
xalloc_ok(vmem_t *vm, vmem_size_t size, vmem_size_t align, vmem_size_t phase,
    vmem_size_t nocross, vmem_addr_t minaddr, vmem_addr_t maxaddr, int flags)
{
	vmem_addr_t a = 0;

	assert_int_equal(vmem_xalloc(vm, size, align, phase, nocross, minaddr,
	    maxaddr, flags, &a), 0);
	return (a);
}

static vmem_addr_t
alloc_ok(vmem_t *vm, vmem_size_t size, int flags)
{
	vmem_addr_t a = 0;

	assert_int_equal(vmem_alloc(vm, size, flags, &a), 0);
	return (a);
}

/* ---- creation, sizes, names ---------------------------------------------- */

static void
test_create_basic(void **state)
{
	vmem_t *vm = vmem_create("basic", 0x1000, 0x10000, Q, 0, M_WAITOK);
	struct vmem_stats st;
	vmem_addr_t a, b;

	assert_non_null(vm);
	assert_string_equal(vmem_name(vm), "basic");
	assert_int_equal(vmem_size(vm, VMEM_ALLOC), 0);
	assert_int_equal(vmem_size(vm, VMEM_FREE), 0x10000);
	assert_int_equal(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0x10000);
	assert_int_equal(vmem_size(vm, VMEM_MAXFREE), 0x10000);

	a = alloc_ok(vm, 20, M_NOWAIT); /* rounds to 32 */
	assert_true(a >= 0x1000 && a + 32 <= 0x11000);
	assert_int_equal(a % Q, 0);
	b = alloc_ok(vm, 0x100, M_WAITOK);
	assert_true(b + 0x100 <= a || a + 32 <= b);
	assert_int_equal(vmem_size(vm, VMEM_ALLOC), 32 + 0x100);
	assert_int_equal(vmem_size(vm, VMEM_FREE), 0x10000 - 32 - 0x100);
	assert_int_equal(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0x10000);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nbusy, 2);
	assert_int_equal(st.vs_nspans, 1);
	assert_int_equal(st.vs_nallocs, 2);
	assert_int_equal(st.vs_size, 0x10000);
	assert_int_equal(st.vs_inuse, 32 + 0x100);
	vmem_check(vm);

	vmem_free(vm, a, 20); /* the unrounded size is fine */
	vmem_free(vm, b, 0x100);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nbusy, 0);
	assert_int_equal(st.vs_nfree, 1);
	assert_int_equal(st.vs_nfrees, 2);
	assert_int_equal(st.vs_maxfree, 0x10000);
	assert_int_equal(vmem_size(vm, VMEM_ALLOC), 0);
	vmem_check(vm);
	vmem_destroy(vm);
}

static void
test_roundup(void **state)
{
	vmem_t *vm = vmem_create("roundup", 0, 0, Q, 0, M_WAITOK);

	assert_non_null(vm);
	assert_int_equal(vmem_roundup_size(vm, 1), 16);
	assert_int_equal(vmem_roundup_size(vm, 16), 16);
	assert_int_equal(vmem_roundup_size(vm, 17), 32);
	vmem_destroy(vm);
}

static void
child_create_bad(void *arg)
{
	const char *which = arg;

	if (strcmp(which, "quantum") == 0)
		KT_CHECK(vmem_create("badq", 0, 0x1000, 24, 0, M_WAITOK) ==
		    NULL);
	else if (strcmp(which, "quantum0") == 0)
		KT_CHECK(vmem_create("badq", 0, 0x1000, 0, 0, M_WAITOK) ==
		    NULL);
	else if (strcmp(which, "base") == 0)
		KT_CHECK(vmem_create("badb", 8, 0x1000, 16, 0, M_WAITOK) ==
		    NULL);
	else if (strcmp(which, "size") == 0)
		KT_CHECK(vmem_create("bads", 0, 0x1008, 16, 0, M_WAITOK) ==
		    NULL);
	else
		KT_CHECK(vmem_create("wrap", VMEM_ADDR_MAX - 0xff, 0x200, 16,
		    0, M_WAITOK) == NULL);
}

static void
expect_child_log(const char *which, const char *msg)
{
	static struct kt_result res;

	kt_child(child_create_bad, (void *)which, &res);
	assert_true(res.kr_exited);
	assert_int_equal(res.kr_status, 0);
	if (strstr(res.kr_err, msg) == NULL)
		fail_msg("stderr lacks \"%s\": %s", msg, res.kr_err);
}

static void
test_create_bad(void **state)
{
	expect_child_log("quantum", "vmem_create: arena badq: quantum 24 is "
	    "not a power of two");
	expect_child_log("quantum0", "quantum 0 is not a power of two");
	expect_child_log("base", "vmem_create: arena badb: base 0x8 or size "
	    "4096 is not a multiple of the quantum 16");
	expect_child_log("size", "arena bads: base 0x0 or size 4104 is not");
	expect_child_log("wrap", "arena wrap: span");
}

static void
test_empty_then_add(void **state)
{
	vmem_t *vm = vmem_create("empty", 0, 0, Q, 0, M_WAITOK);
	struct vmem_stats st;
	vmem_addr_t a;

	assert_non_null(vm);
	assert_int_equal(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0);
	assert_int_equal(vmem_alloc(vm, Q, M_NOWAIT, &a), ENOMEM);
	assert_int_equal(vmem_alloc(vm, Q, M_WAITOK, &a), ENOMEM);
	vmem_check(vm);

	/* Spans out of order, one adjacent to another: never merged. */
	assert_int_equal(vmem_add(vm, 0x3000, 0x1000, M_WAITOK), 0);
	assert_int_equal(vmem_add(vm, 0x1000, 0x1000, M_NOWAIT), 0);
	assert_int_equal(vmem_add(vm, 0x2000, 0x1000, M_WAITOK), 0);
	vmem_check(vm);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nspans, 3);
	assert_int_equal(st.vs_nfree, 3);
	assert_int_equal(vmem_size(vm, VMEM_FREE), 0x3000);
	assert_int_equal(vmem_size(vm, VMEM_MAXFREE), 0x1000);
	/* Adjacent spans do not make a segment larger than one span. */
	assert_int_equal(vmem_alloc(vm, 0x1010, M_NOWAIT, &a), ENOMEM);
	a = alloc_ok(vm, 0x1000, M_NOWAIT);
	assert_true(a == 0x1000 || a == 0x2000 || a == 0x3000);
	vmem_free(vm, a, 0x1000);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nfree, 3);
	vmem_check(vm);
	vmem_destroy(vm);
}

static void
test_span_at_top(void **state)
{
	vmem_addr_t top = VMEM_ADDR_MAX - 0xfff; /* last page */
	vmem_t *vm = vmem_create("top", top, 0x1000, Q, 0, M_WAITOK);
	vmem_addr_t a, b;

	assert_non_null(vm);
	a = xalloc_ok(vm, 0x800, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT | M_BESTFIT);
	b = xalloc_ok(vm, 0x800, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT | M_NEXTFIT);
	assert_true((a == top && b == top + 0x800) ||
	    (b == top && a == top + 0x800));
	vmem_check(vm);
	vmem_xfree(vm, a, 0x800);
	vmem_xfree(vm, b, 0x800);
	assert_int_equal(vmem_size(vm, VMEM_MAXFREE), 0x1000);
	vmem_check(vm);
	vmem_destroy(vm);
}

/* ---- policies ------------------------------------------------------------ */

/*
 * Quantum 1, [0, 200).  Leaves free segments of the given sizes, in that
 * address order, separated by busy single units; everything else busy.
 * Returns the start of each free segment in starts[].
 */
static vmem_t *
make_holes(const char *name, const vmem_size_t *sizes, int n,
    vmem_addr_t *starts)
{
	vmem_t *vm = vmem_create(name, 0, 200, 1, 0, M_WAITOK);
	vmem_addr_t at = 0;

	assert_non_null(vm);
	for (int i = 0; i < n; i++) {
		starts[i] = xalloc_ok(vm, sizes[i], 0, 0, 0, at, VMEM_ADDR_MAX,
		    M_NOWAIT | M_BESTFIT);
		assert_int_equal(starts[i], at);
		at += sizes[i];
		assert_int_equal(xalloc_ok(vm, 1, 0, 0, 0, at, VMEM_ADDR_MAX,
		    M_NOWAIT | M_BESTFIT), at);
		at++;
	}
	if (at < 200)
		assert_int_equal(xalloc_ok(vm, 200 - at, 0, 0, 0, at,
		    VMEM_ADDR_MAX, M_NOWAIT), at);
	for (int i = 0; i < n; i++)
		vmem_xfree(vm, starts[i], sizes[i]);
	assert_int_equal(vmem_size(vm, VMEM_FREE), at - n);
	vmem_check(vm);
	return (vm);
}

static void
test_instant_fit(void **state)
{
	/* Lists: 3 -> 1, 5 -> 2, 9 -> 3, 12 -> 3, 17 -> 4. */
	static const vmem_size_t sizes[] = {3, 5, 9, 12, 17};
	vmem_addr_t s[5], a;
	vmem_t *vm = make_holes("instant", sizes, 5, s);

	/* 4 is a power of two: list 2 holds only sizes >= 4: the 5. */
	assert_int_equal(alloc_ok(vm, 4, M_NOWAIT | M_FIRSTFIT), s[1]);
	vmem_free(vm, s[1], 4);
	/* 5 is not: list 3, whose members are all >= 8; the 5 is skipped. */
	a = alloc_ok(vm, 5, M_NOWAIT); /* instant fit is the default */
	assert_true(a == s[2] || a == s[3]);
	vmem_free(vm, a, 5);
	/* 13: list 4 (16..31): the 17, although the 12 and 9 are nearer. */
	assert_int_equal(alloc_ok(vm, 13, M_NOWAIT | M_FIRSTFIT), s[4]);
	/* Now only list 3 and below; 13 falls back to the lower list. */
	assert_int_equal(vmem_alloc(vm, 13, M_NOWAIT | M_FIRSTFIT, &a), ENOMEM);
	assert_int_equal(alloc_ok(vm, 10, M_NOWAIT | M_FIRSTFIT), s[3]);
	vmem_free(vm, s[3], 10);
	vmem_free(vm, s[4], 13);
	vmem_check(vm);
	vmem_destroy(vm);
}

static void
test_instant_fit_fallback(void **state)
{
	/* Only 3 and 6 free: 5 needs list 3, empty; falls back to list 2. */
	static const vmem_size_t sizes[] = {3, 6};
	vmem_addr_t s[2];
	vmem_t *vm = make_holes("fallback", sizes, 2, s);

	assert_int_equal(alloc_ok(vm, 5, M_NOWAIT | M_FIRSTFIT), s[1]);
	vmem_free(vm, s[1], 5);
	vmem_check(vm);
	vmem_destroy(vm);
}

static void
test_best_fit(void **state)
{
	static const vmem_size_t sizes[] = {12, 9, 17, 10, 3, 11};
	vmem_addr_t s[6];
	vmem_t *vm = make_holes("best", sizes, 6, s);

	assert_int_equal(alloc_ok(vm, 10, M_NOWAIT | M_BESTFIT), s[3]);
	vmem_free(vm, s[3], 10);
	assert_int_equal(alloc_ok(vm, 11, M_NOWAIT | M_BESTFIT), s[5]);
	assert_int_equal(alloc_ok(vm, 11, M_NOWAIT | M_BESTFIT), s[0]);
	assert_int_equal(alloc_ok(vm, 2, M_NOWAIT | M_BESTFIT), s[4]);
	assert_int_equal(alloc_ok(vm, 9, M_NOWAIT | M_BESTFIT), s[1]);
	/* Nothing in list 3 fits 13 any more: the 17 in list 4. */
	assert_int_equal(alloc_ok(vm, 13, M_NOWAIT | M_BESTFIT), s[2]);
	vmem_check(vm);
	vmem_destroy(vm);
}

static void
test_next_fit(void **state)
{
	vmem_t *vm = vmem_create("next", 0, 100, 1, 0, M_WAITOK);
	vmem_addr_t a;

	assert_non_null(vm);
	assert_int_equal(alloc_ok(vm, 10, M_NOWAIT | M_NEXTFIT), 0);
	assert_int_equal(alloc_ok(vm, 10, M_NOWAIT | M_NEXTFIT), 10);
	assert_int_equal(alloc_ok(vm, 10, M_NOWAIT | M_NEXTFIT), 20);
	vmem_free(vm, 0, 10);
	/* The rotor advances: the freed 0 is not reused yet. */
	assert_int_equal(alloc_ok(vm, 10, M_NOWAIT | M_NEXTFIT), 30);
	vmem_free(vm, 20, 10);
	vmem_free(vm, 30, 10); /* coalesces with the rotor's segment */
	assert_int_equal(alloc_ok(vm, 5, M_NOWAIT | M_NEXTFIT), 20);
	assert_int_equal(alloc_ok(vm, 70, M_NOWAIT | M_NEXTFIT), 25);
	/* 95..99 is left; 10 does not fit there: wraps around to 0. */
	assert_int_equal(alloc_ok(vm, 10, M_NOWAIT | M_NEXTFIT), 0);
	assert_int_equal(alloc_ok(vm, 5, M_NOWAIT | M_NEXTFIT), 95);
	assert_int_equal(vmem_alloc(vm, 1, M_NOWAIT | M_NEXTFIT, &a), ENOMEM);
	vmem_check(vm);
	/* Instant fit is not moved by the rotor. */
	vmem_free(vm, 10, 10);
	assert_int_equal(alloc_ok(vm, 10, M_NOWAIT), 10);
	vmem_check(vm);
	vmem_destroy(vm);
}

/* An identifier allocator: integers 1..1000, quantum 1. */
static void
test_integers(void **state)
{
	static bool seen[1001];
	vmem_t *vm = vmem_create("ids", 1, 1000, 1, 0, M_WAITOK);
	struct vmem_stats st;
	vmem_addr_t id, prev = 0;

	assert_non_null(vm);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 1000; i++) {
		id = alloc_ok(vm, 1, M_NOWAIT | M_NEXTFIT);
		assert_true(id >= 1 && id <= 1000);
		assert_false(seen[id]);
		assert_true(id > prev); /* next fit hands them out in order */
		seen[id] = true;
		prev = id;
	}
	assert_int_equal(vmem_alloc(vm, 1, M_NOWAIT, &id), ENOMEM);
	/* Free the odd ones: 500 holes of 1 unit. */
	for (id = 1; id <= 1000; id += 2)
		vmem_free(vm, id, 1);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nfree, 500);
	assert_int_equal(vmem_alloc(vm, 2, M_NOWAIT, &id), ENOMEM);
	id = alloc_ok(vm, 1, M_NOWAIT | M_BESTFIT);
	assert_true(id % 2 == 1);
	vmem_free(vm, id, 1);
	for (id = 2; id <= 1000; id += 2)
		vmem_free(vm, id, 1);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nfree, 1);
	assert_int_equal(st.vs_nbusy, 0);
	assert_int_equal(vmem_size(vm, VMEM_MAXFREE), 1000);
	vmem_check(vm);
	vmem_destroy(vm);
}

/* ---- constrained allocation ---------------------------------------------- */

static void
test_xalloc_align_phase(void **state)
{
	vmem_t *vm = vmem_create("align", 0x10010, 0x100000, Q, 0, M_WAITOK);
	vmem_addr_t a;

	assert_non_null(vm);
	a = xalloc_ok(vm, 0x30, 0x1000, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT);
	assert_int_equal(a, 0x11000);
	a = xalloc_ok(vm, 0x30, 0x1000, 0x20, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT | M_BESTFIT);
	assert_int_equal(a % 0x1000, 0x20);
	a = xalloc_ok(vm, Q, 0x10000, 0x40, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT | M_NEXTFIT);
	assert_int_equal(a % 0x10000, 0x40);
	/* align 0 means the quantum */
	a = xalloc_ok(vm, Q, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_NOWAIT);
	assert_int_equal(a % Q, 0);
	vmem_check(vm);
	vmem_destroy(vm);
}

static void
test_xalloc_nocross(void **state)
{
	vmem_t *vm = vmem_create("nocross", 0, 0x1000, Q, 0, M_WAITOK);
	vmem_addr_t a, b;

	assert_non_null(vm);
	/* Busy 0..0xe0: the free space starts 0x20 before a 0x100 line. */
	assert_int_equal(alloc_ok(vm, 0xe0, M_NOWAIT), 0);
	a = xalloc_ok(vm, 0x40, 0, 0, 0x100, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT);
	assert_int_equal(a, 0x100);
	assert_int_equal(a / 0x100, (a + 0x3f) / 0x100);
	/* nocross == size: must be a whole aligned block. */
	b = xalloc_ok(vm, 0x100, 0, 0, 0x100, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT | M_BESTFIT);
	assert_int_equal(b % 0x100, 0);
	/* With a phase that makes every candidate cross: no fit. */
	assert_int_equal(vmem_xalloc(vm, 0x80, 0x100, 0xa0, 0x100,
	    VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_NOWAIT, &a), ENOMEM);
	/* The same with M_WAITOK can never fit: ENOMEM at once. */
	assert_int_equal(vmem_xalloc(vm, 0x80, 0x100, 0xa0, 0x100,
	    VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_WAITOK, &a), ENOMEM);
	vmem_check(vm);
	vmem_destroy(vm);
}

static void
test_xalloc_minmax(void **state)
{
	vmem_t *vm = vmem_create("minmax", 0x1000, 0x1000, Q, 0, M_WAITOK);
	vmem_addr_t a;

	assert_non_null(vm);
	a = xalloc_ok(vm, 0x100, 0, 0, 0, 0x1800, VMEM_ADDR_MAX, M_NOWAIT);
	assert_int_equal(a, 0x1800);
	/* maxaddr is the last unit the segment may cover */
	a = xalloc_ok(vm, 0x100, 0, 0, 0, VMEM_ADDR_MIN, 0x10ff, M_NOWAIT);
	assert_int_equal(a, 0x1000);
	assert_int_equal(vmem_xalloc(vm, 0x100, 0, 0, 0, VMEM_ADDR_MIN, 0x11fe,
	    M_NOWAIT, &a), ENOMEM);
	a = xalloc_ok(vm, 0x100, 0, 0, 0, VMEM_ADDR_MIN, 0x11ff, M_NOWAIT);
	assert_int_equal(a, 0x1100);
	a = xalloc_ok(vm, 0x100, 0, 0, 0, 0x1f00, 0x1fff, M_NOWAIT | M_NEXTFIT);
	assert_int_equal(a, 0x1f00);
	/* Outside the arena: never fits, even M_WAITOK. */
	assert_int_equal(vmem_xalloc(vm, Q, 0, 0, 0, 0x3000, VMEM_ADDR_MAX,
	    M_WAITOK, &a), ENOMEM);
	vmem_check(vm);
	vmem_destroy(vm);
}

/*
 * The first candidate of each list fails the constraint; a fit further
 * down a list must still be found, by every policy.
 */
static void
test_xalloc_finds_deep_fit(void **state)
{
	static const vmem_size_t sizes[] = {16, 16, 16, 16};
	static const int policies[] = {M_FIRSTFIT, M_BESTFIT, M_NEXTFIT, 0};
	vmem_addr_t s[4], a;

	for (int p = 0; p < 4; p++) {
		vmem_t *vm = make_holes("deep", sizes, 4, s);

		/* Only s[0] (freed first: last on its list) lies below 16. */
		a = xalloc_ok(vm, 16, 0, 0, 0, VMEM_ADDR_MIN, 15,
		    M_NOWAIT | policies[p]);
		assert_int_equal(a, s[0]);
		/* Only s[1], in the middle of the list, holds 8 units at an
		 * address 2 past a multiple of 4 in [s[1] + 4, s[1] + 15]. */
		a = xalloc_ok(vm, 8, 4, 2, 0, s[1] + 4, s[1] + 15,
		    M_NOWAIT | policies[p]);
		assert_int_equal(a, s[1] + 5);
		vmem_check(vm);
		vmem_destroy(vm);
	}
}

/* ---- import, release, limit, reclaim ------------------------------------- */

struct src {
	vmem_t *parent;
	int nimport;
	int nrelease;
	vmem_size_t last;
};

static int
src_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	struct src *s = arg;

	s->nimport++;
	s->last = size;
	return (vmem_xalloc(s->parent, size, 0, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, flags, addrp));
}

static void
src_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	struct src *s = arg;

	s->nrelease++;
	vmem_xfree(s->parent, addr, size);
}

static void
test_import_release(void **state)
{
	struct src s = {0};
	vmem_t *child;
	struct vmem_stats st;
	vmem_addr_t a, b, c;

	s.parent = vmem_create("parent", 0x100000, 0x100000, 0x1000, 0,
	    M_WAITOK);
	child = vmem_create("child", 0, 0, 0x1000, 0, M_WAITOK);
	assert_non_null(s.parent);
	assert_non_null(child);
	vmem_set_import(child, src_import, src_release, &s, 0x4000);

	a = alloc_ok(child, 0x1000, M_NOWAIT);
	assert_int_equal(s.nimport, 1);
	assert_int_equal(s.last, 0x4000);
	assert_int_equal(vmem_size(s.parent, VMEM_ALLOC), 0x4000);
	assert_int_equal(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0x4000);
	b = alloc_ok(child, 0x3000, M_WAITOK); /* fits in the span */
	assert_int_equal(s.nimport, 1);
	c = alloc_ok(child, 0x5000, M_NOWAIT); /* 0x8000 imported */
	assert_int_equal(s.nimport, 2);
	assert_int_equal(s.last, 0x8000);
	vmem_get_stats(child, &st);
	assert_int_equal(st.vs_imported, 0xc000);
	assert_int_equal(st.vs_nspans, 2);
	vmem_check(child);
	vmem_check(s.parent);

	vmem_free(child, a, 0x1000);
	assert_int_equal(s.nrelease, 0);
	vmem_free(child, b, 0x3000); /* first span wholly free: released */
	assert_int_equal(s.nrelease, 1);
	assert_int_equal(vmem_size(s.parent, VMEM_ALLOC), 0x8000);
	vmem_free(child, c, 0x5000);
	assert_int_equal(s.nrelease, 2);
	assert_int_equal(vmem_size(s.parent, VMEM_ALLOC), 0);
	vmem_get_stats(child, &st);
	assert_int_equal(st.vs_size, 0);
	assert_int_equal(st.vs_nspans, 0);
	assert_int_equal(st.vs_imported, 0);
	vmem_check(child);

	/* Import for an aligned request brings enough to align within. */
	a = xalloc_ok(child, 0x1000, 0x10000, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT);
	assert_int_equal(a % 0x10000, 0);
	vmem_xfree(child, a, 0x1000);
	assert_int_equal(vmem_size(s.parent, VMEM_ALLOC), 0);

	/* Static spans are never released. */
	assert_int_equal(vmem_add(child, 0x10000000, 0x2000, M_WAITOK), 0);
	a = alloc_ok(child, 0x2000, M_NOWAIT);
	vmem_free(child, a, 0x2000);
	assert_int_equal(vmem_size(child, VMEM_FREE), 0x2000);
	vmem_check(child);
	vmem_destroy(child);
	vmem_check(s.parent);
	vmem_destroy(s.parent);
}

/* A constraint the imported span cannot meet: span given back at once. */
static void
test_import_useless(void **state)
{
	struct src s = {0};
	vmem_t *child;
	vmem_addr_t a;

	s.parent = vmem_create("parent2", 0x100000, 0x100000, 0x1000, 0,
	    M_WAITOK);
	child = vmem_create("child2", 0, 0, 0x1000, 0, M_WAITOK);
	vmem_set_import(child, src_import, src_release, &s, 0);
	assert_int_equal(vmem_xalloc(child, 0x1000, 0, 0, 0, 0x1000,
	    0x1fff, M_NOWAIT, &a), ENOMEM);
	assert_int_equal(s.nimport, 1);
	assert_int_equal(s.nrelease, 1);
	assert_int_equal(vmem_size(s.parent, VMEM_ALLOC), 0);
	assert_int_equal(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);
	vmem_check(child);
	vmem_destroy(child);
	vmem_destroy(s.parent);
}

static void
test_limit(void **state)
{
	struct src s = {0};
	vmem_t *child;
	struct vmem_stats st;
	vmem_addr_t a, b, c;

	s.parent = vmem_create("lparent", 0x100000, 0x100000, 0x1000, 0,
	    M_WAITOK);
	child = vmem_create("limited", 0, 0, 0x1000, 0, M_WAITOK);
	vmem_set_import(child, src_import, src_release, &s, 0x4000);
	vmem_set_limit(child, 0x8000);
	a = alloc_ok(child, 0x4000, M_NOWAIT);
	b = alloc_ok(child, 0x4000, M_NOWAIT);
	assert_int_equal(vmem_alloc(child, 0x1000, M_NOWAIT, &c), ENOMEM);
	assert_int_equal(s.nimport, 2);
	/* Larger than the limit: can never fit, M_WAITOK or not. */
	assert_int_equal(vmem_alloc(child, 0x9000, M_WAITOK, &c), ENOMEM);
	vmem_get_stats(child, &st);
	assert_int_equal(st.vs_nfailures, 2);
	assert_int_equal(st.vs_nwaits, 0);
	assert_int_equal(st.vs_size, 0x8000);
	vmem_free(child, a, 0x4000);
	c = alloc_ok(child, 0x1000, M_NOWAIT);
	vmem_free(child, c, 0x1000);
	vmem_free(child, b, 0x4000);
	/* No limit: imports again. */
	vmem_set_limit(child, 0);
	a = alloc_ok(child, 0x9000, M_WAITOK);
	vmem_free(child, a, 0x9000);
	assert_int_equal(vmem_size(s.parent, VMEM_ALLOC), 0);
	vmem_check(child);
	vmem_destroy(child);
	vmem_destroy(s.parent);
}

static vmem_addr_t reclaim_addr;
static vmem_size_t reclaim_size;
static int reclaim_calls;
static vmem_t *reclaim_arena;

static void
reclaim_fn(vmem_t *vm, int flags)
{
	assert_ptr_equal(vm, reclaim_arena);
	assert_int_equal(flags & M_WAITOK, M_WAITOK);
	reclaim_calls++;
	if (reclaim_size != 0) {
		vmem_free(vm, reclaim_addr, reclaim_size);
		reclaim_size = 0;
	}
}

static void
test_reclaim(void **state)
{
	vmem_t *vm = vmem_create("reclaim", 0x1000, 0x4000, 0x1000, 0,
	    M_WAITOK);
	struct vmem_stats st;
	vmem_addr_t a[4], b;

	reclaim_arena = vm;
	reclaim_calls = 0;
	vmem_set_reclaim(vm, reclaim_fn);
	for (int i = 0; i < 4; i++)
		a[i] = alloc_ok(vm, 0x1000, M_NOWAIT);
	/* M_NOWAIT never reclaims. */
	assert_int_equal(vmem_alloc(vm, 0x1000, M_NOWAIT, &b), ENOMEM);
	assert_int_equal(reclaim_calls, 0);
	/* M_WAITOK reclaims before sleeping; the reclaim makes room. */
	reclaim_addr = a[2];
	reclaim_size = 0x1000;
	b = alloc_ok(vm, 0x1000, M_WAITOK);
	assert_int_equal(b, a[2]);
	assert_int_equal(reclaim_calls, 1);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nwaits, 0);
	assert_int_equal(st.vs_nfailures, 1);
	for (int i = 0; i < 4; i++)
		vmem_free(vm, a[i], 0x1000);
	vmem_check(vm);
	vmem_destroy(vm);
}

/* ---- quantum cache seam -------------------------------------------------- */

static void
test_qcache(void **state)
{
	vmem_t *vm = vmem_create("qc", 0, 0x10000, Q, 3 * Q - 5, M_WAITOK);
	vmem_addr_t a, b;

	assert_non_null(vm);
	/* Above qcache_max: straight to the arena, 0 included. */
	a = alloc_ok(vm, 4 * Q, M_NOWAIT);
	assert_int_equal(a, 0);
	vmem_free(vm, a, 4 * Q);
	/*
	 * Small sizes go through the quantum caches (uma zones when the zone
	 * layer is linked in), which never give 0; what they cache counts as
	 * allocated until the arena drains them.
	 */
	a = alloc_ok(vm, Q, M_NOWAIT);
	assert_int_not_equal(a, 0);
	b = alloc_ok(vm, 3 * Q, M_NOWAIT);
	assert_int_not_equal(b, 0);
	vmem_free(vm, a, Q);
	vmem_free(vm, b, 3 * Q);
	vmem_check(vm);
	vmem_destroy(vm);

	/* qcache_max is capped at VMEM_QCACHE_IDX_MAX quanta. */
	vm = vmem_create("qcbig", 0, 0x10000, Q, 1 << 20, M_WAITOK);
	a = alloc_ok(vm, (VMEM_QCACHE_IDX_MAX + 1) * Q, M_NOWAIT);
	assert_int_equal(a, 0);
	vmem_free(vm, a, (VMEM_QCACHE_IDX_MAX + 1) * Q);
	vmem_destroy(vm);
}

/* ---- destroy ------------------------------------------------------------- */

static void
child_destroy_live(void *arg)
{
	struct src s = {0};
	vmem_t *vm = vmem_create("live", 0x1000, 0x10000, Q, 0, M_WAITOK);
	vmem_t *child;
	vmem_addr_t a;

	(void)arg;
	KT_CHECK(vmem_alloc(vm, 0x20, M_NOWAIT, &a) == 0);
	KT_CHECK(vmem_alloc(vm, 0x30, M_NOWAIT, &a) == 0);
	KT_CHECK(vmem_alloc(vm, 0x40, M_NOWAIT, &a) == 0);
	vmem_destroy(vm);

	/* Imported spans go back to the source even with live segments. */
	s.parent = vmem_create("src", 0x100000, 0x100000, 0x1000, 0, M_WAITOK);
	child = vmem_create("importer", 0, 0, 0x1000, 0, M_WAITOK);
	vmem_set_import(child, src_import, src_release, &s, 0);
	KT_CHECK(vmem_alloc(child, 0x1000, M_NOWAIT, &a) == 0);
	KT_CHECK(vmem_alloc(child, 0x3000, M_NOWAIT, &a) == 0);
	KT_CHECK(vmem_size(s.parent, VMEM_ALLOC) == 0x4000);
	vmem_destroy(child);
	KT_CHECK(s.nrelease == 2);
	KT_CHECK(vmem_size(s.parent, VMEM_ALLOC) == 0);
	vmem_check(s.parent);
	vmem_destroy(s.parent);
}

static void
test_destroy_live(void **state)
{
	static struct kt_result res;

	kt_child(child_destroy_live, NULL, &res);
	if (!res.kr_exited || res.kr_status != 0)
		fail_msg("child failed: %s", res.kr_err);
	if (strstr(res.kr_err, "vmem_destroy: arena live: 3 segments (144 "
	    "bytes) still allocated") == NULL)
		fail_msg("no destroy message: %s", res.kr_err);
	if (strstr(res.kr_err, "arena importer: 2 segments (16384 bytes)") ==
	    NULL)
		fail_msg("no importer message: %s", res.kr_err);
}

static void
test_init_static(void **state)
{
	static vmem_t storage;
	vmem_t *vm;
	vmem_addr_t a;
	size_t before = vmem_meta_bytes();

	vm = vmem_init(&storage, "static", 0x1000, 0x1000, Q, 0, M_NOWAIT);
	assert_ptr_equal(vm, &storage);
	assert_int_equal(vmem_meta_bytes(), before); /* no arena memory */
	a = alloc_ok(vm, Q, M_NOWAIT);
	vmem_free(vm, a, Q);
	vmem_check(vm);
	vmem_destroy(vm);
	assert_null(vmem_init(&storage, "static", 0x1000, 0x1000, 3, 0,
	    M_NOWAIT));
}

/* ---- hash growth, tag pool ----------------------------------------------- */

static void
test_hash_and_tags(void **state)
{
	enum { N = 3000 };
	static vmem_addr_t a[N];
	vmem_t *vm = vmem_create("hash", 0x10000, N * 2 * Q, Q, 0, M_WAITOK);
	struct vmem_bt_stats bs0, bs1;
	struct vmem_stats st;
	size_t meta0 = vmem_meta_bytes();

	vmem_bt_stats(&bs0);
	/* Tags other arenas (the map's, once it is up) hold meanwhile. */
	uint64_t others = bs0.vbs_tags - bs0.vbs_free;
	for (int i = 0; i < N; i++)
		a[i] = alloc_ok(vm, Q, M_NOWAIT);
	vmem_get_stats(vm, &st);
	assert_true(st.vs_hashsize > VMEM_HASHSIZE_MIN);
	assert_true(st.vs_hashsize >= N / 2);
	vmem_bt_stats(&bs1);
	assert_true(bs1.vbs_tags >= bs0.vbs_tags);
	assert_true(bs1.vbs_tags >= N); /* N busy tags exist */
	assert_true(vmem_meta_bytes() > meta0);
	vmem_check(vm);
	/* Free every other one: holes, then everything. */
	for (int i = 0; i < N; i += 2)
		vmem_free(vm, a[i], Q);
	vmem_check(vm);
	for (int i = 1; i < N; i += 2)
		vmem_free(vm, a[i], Q);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nfree, 1);
	vmem_check(vm);
	vmem_destroy(vm);
	/* The hash went back, and so did the idle tag pages. */
	vmem_bt_stats(&bs0);
	assert_true(bs0.vbs_pages < bs1.vbs_pages);
	assert_true(bs0.vbs_shrinks > 0);
	/* All this arena's tags are home: no more are out than before. */
	assert_true(bs0.vbs_tags - bs0.vbs_free <= others + VMEM_BT_MAXFREE);
}

/*
 * Meta ops like the map's: metadata pages come from an arena over a static
 * buffer, through a nested vmem_xalloc(M_NOWAIT).
 */
#define META_PAGES 512
static _Alignas(65536) unsigned char meta_buf[META_PAGES * 4096];
static vmem_t meta_arena;
static int meta_nalloc;         /* successful meta allocations */
static int meta_fail_next;      /* fail this many calls from now */
static bool meta_fail_all;      /* fail every call */
static size_t meta_bytes_out;   /* bytes handed out and not back */

static void *
meta_alloc(size_t size, int flags)
{
	vmem_addr_t a;

	if (meta_fail_all)
		return (NULL);
	if (meta_fail_next > 0) {
		meta_fail_next--;
		return (NULL);
	}
	if (vmem_xalloc(&meta_arena, size, 0, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT, &a) != 0)
		return (NULL);
	meta_nalloc++;
	meta_bytes_out += size;
	memset((void *)a, 0, size);
	return ((void *)a);
}

static void
meta_free(void *p, size_t size)
{
	meta_bytes_out -= size;
	vmem_xfree(&meta_arena, (vmem_addr_t)p, size);
}

static const struct vmem_meta_ops test_meta_ops = {
	.vmo_alloc = meta_alloc,
	.vmo_free = meta_free,
};

static void
child_meta_nested(void *arg)
{
	enum { N = 20000 };
	static vmem_addr_t a[N];
	struct vmem_bt_stats bs0, bs1;
	struct vmem_stats st;
	vmem_t *vm, *vm2;
	vmem_addr_t x;

	(void)arg;
	KT_CHECK(vmem_init(&meta_arena, "metamap", (vmem_addr_t)meta_buf,
	    sizeof(meta_buf), 4096, 0, M_NOWAIT) == &meta_arena);
	/* An arena made with the old ops, freed after the switch. */
	vm2 = vmem_create("oldops", 0, 0x10000, Q, 0, M_WAITOK);
	KT_CHECK(vm2 != NULL);
	vmem_set_meta_ops(&test_meta_ops);
	vmem_bt_stats(&bs0);
	vm = vmem_create("nested", 0x100000, N * Q * 2, Q, 0, M_WAITOK);
	KT_CHECK(vm != NULL);
	KT_CHECK(meta_nalloc == 1);
	/* Many segments: the pool grows and the hash is rehashed, each
	 * time through a nested vmem_xalloc on metamap. */
	for (int i = 0; i < N; i++)
		KT_CHECK(vmem_alloc(vm, Q, i % 2 ? M_NOWAIT : M_WAITOK,
		    &a[i]) == 0);
	vmem_bt_stats(&bs1);
	KT_CHECK(bs1.vbs_pages > bs0.vbs_pages);
	vmem_get_stats(vm, &st);
	KT_CHECK(st.vs_hashsize >= N / 2);
	KT_CHECK(vmem_size(&meta_arena, VMEM_ALLOC) == meta_bytes_out);
	vmem_check(&meta_arena);
	vmem_check(vm);
	for (int i = 0; i < N; i++)
		vmem_free(vm, a[i], Q);
	vmem_check(vm);
	vmem_destroy(vm);
	vmem_destroy(vm2); /* through the default ops it came from */
	/*
	 * metamap holds only tag pages now, and of those only the ones that
	 * still carry tags in use or that the pool keeps idle: the rest went
	 * back through the nested meta-ops free.
	 */
	struct vmem_bt_stats bs2;
	vmem_bt_stats(&bs2);
	KT_CHECK(vmem_size(&meta_arena, VMEM_ALLOC) == meta_bytes_out);
	KT_CHECK(bs2.vbs_pages < bs1.vbs_pages);
	KT_CHECK(bs2.vbs_shrinks > bs1.vbs_shrinks);
	KT_CHECK(meta_bytes_out % kp_page_size() == 0);
	KT_CHECK(meta_bytes_out <= bs2.vbs_pages * kp_page_size());
	KT_CHECK(vmem_alloc(&meta_arena, 4096, M_NOWAIT, &x) == 0);
	vmem_check(&meta_arena);
	vmem_set_meta_ops(NULL);
}

static void
test_meta_nested(void **state)
{
	kt_assert_child_ok(child_meta_nested, NULL);
}

/* The meta ops fail: M_NOWAIT gets ENOMEM, nothing breaks. */
static void
child_meta_fail(void *arg)
{
	enum { N = 20000 };
	static vmem_addr_t a[N];
	struct vmem_bt_stats bs;
	struct vmem_stats st;
	vmem_t *vm;
	int n = 0;

	(void)arg;
	KT_CHECK(vmem_init(&meta_arena, "metamap", (vmem_addr_t)meta_buf,
	    sizeof(meta_buf), 4096, 0, M_NOWAIT) == &meta_arena);
	vm = vmem_create("starved", 0x100000, N * Q * 2, Q, 0, M_WAITOK);
	KT_CHECK(vm != NULL);
	meta_fail_all = true;
	vmem_set_meta_ops(&test_meta_ops);
	while (n < N && vmem_alloc(vm, Q, M_NOWAIT, &a[n]) == 0)
		n++;
	KT_CHECK(n < N);
	vmem_get_stats(vm, &st);
	KT_CHECK(st.vs_nfailures == 1);
	KT_CHECK(n > 2 * VMEM_HASHSIZE_MIN);
	KT_CHECK(st.vs_hashsize == VMEM_HASHSIZE_MIN); /* rehash failed */
	vmem_bt_stats(&bs);
	KT_CHECK(bs.vbs_growfail > 0);
	vmem_check(vm);
	/* M_WAITOK: the meta ops fail twice more, then give; it waits. */
	meta_fail_all = false;
	meta_fail_next = 2;
	KT_CHECK(vmem_alloc(vm, Q, M_WAITOK, &a[n]) == 0);
	KT_CHECK(meta_fail_next == 0);
	vmem_bt_stats(&bs);
	KT_CHECK(bs.vbs_growfail >= 3);
	n++;
	/* And the hash grows at last, on a later allocation. */
	while (n < N && vmem_alloc(vm, Q, M_NOWAIT, &a[n]) == 0) {
		n++;
		vmem_get_stats(vm, &st);
		if (st.vs_hashsize > VMEM_HASHSIZE_MIN)
			break;
	}
	KT_CHECK(st.vs_hashsize > VMEM_HASHSIZE_MIN);
	vmem_check(vm);
	for (int i = 0; i < n; i++)
		vmem_free(vm, a[i], Q);
	vmem_get_stats(vm, &st);
	KT_CHECK(st.vs_nfree == 1 && st.vs_nbusy == 0);
	vmem_check(vm);
	vmem_destroy(vm);
	vmem_set_meta_ops(NULL);
}

static void
test_meta_fail(void **state)
{
	kt_assert_child_ok(child_meta_fail, NULL);
}

/* ---- programming errors -------------------------------------------------- */

static vmem_t *
death_arena(void)
{
	vmem_t *vm = vmem_create("victim", 0x1000, 0x10000, Q, 0, M_WAITOK);

	KT_CHECK(vm != NULL);
	return (vm);
}

static void
die_flags_both(void *arg)
{
	vmem_addr_t a;

	vmem_alloc(death_arena(), Q, M_NOWAIT | M_WAITOK, &a);
}

static void
die_flags_none(void *arg)
{
	vmem_addr_t a;

	vmem_xalloc(death_arena(), Q, 0, 0, 0, 0, VMEM_ADDR_MAX, M_BESTFIT, &a);
}

static void
die_flags_policies(void *arg)
{
	vmem_addr_t a;

	vmem_alloc(death_arena(), Q, M_NOWAIT | M_BESTFIT | M_NEXTFIT, &a);
}

static void
die_add_flags(void *arg)
{
	vmem_add(death_arena(), 0x100000, 0x1000, 0);
}

static void
die_size0(void *arg)
{
	vmem_addr_t a;

	vmem_alloc(death_arena(), 0, M_NOWAIT, &a);
}

static void
die_xsize0(void *arg)
{
	vmem_addr_t a;

	vmem_xalloc(death_arena(), 0, 0, 0, 0, 0, VMEM_ADDR_MAX, M_NOWAIT, &a);
}

static void
die_align(void *arg)
{
	vmem_addr_t a;

	vmem_xalloc(death_arena(), Q, 48, 0, 0, 0, VMEM_ADDR_MAX, M_NOWAIT, &a);
}

static void
die_align_small(void *arg)
{
	vmem_addr_t a;

	vmem_xalloc(death_arena(), Q, 8, 0, 0, 0, VMEM_ADDR_MAX, M_NOWAIT, &a);
}

static void
die_phase(void *arg)
{
	vmem_addr_t a;

	vmem_xalloc(death_arena(), Q, 64, 64, 0, 0, VMEM_ADDR_MAX, M_NOWAIT,
	    &a);
}

static void
die_nocross(void *arg)
{
	vmem_addr_t a;

	vmem_xalloc(death_arena(), 64, 0, 0, 32, 0, VMEM_ADDR_MAX, M_NOWAIT,
	    &a);
}

static void
die_minmax(void *arg)
{
	vmem_addr_t a;

	vmem_xalloc(death_arena(), Q, 0, 0, 0, 0x2000, 0x1fff, M_NOWAIT, &a);
}

static void
die_free_unallocated(void *arg)
{
	vmem_free(death_arena(), 0x1230, 32);
}

static void
die_double_free(void *arg)
{
	vmem_t *vm = death_arena();
	vmem_addr_t a;

	KT_CHECK(vmem_alloc(vm, 32, M_NOWAIT, &a) == 0);
	vmem_free(vm, a, 32);
	vmem_free(vm, a, 32);
}

static void
die_free_interior(void *arg)
{
	vmem_t *vm = death_arena();
	vmem_addr_t a;

	KT_CHECK(vmem_alloc(vm, 64, M_NOWAIT, &a) == 0);
	KT_CHECK(a == 0x1000);
	vmem_xfree(vm, a + Q, 32);
}

static void
die_free_size(void *arg)
{
	vmem_t *vm = death_arena();
	vmem_addr_t a;

	KT_CHECK(vmem_alloc(vm, 64, M_NOWAIT, &a) == 0);
	KT_CHECK(a == 0x1000);
	vmem_free(vm, a, 65);
}

static void
die_add_overlap(void *arg)
{
	vmem_t *vm = death_arena();

	KT_CHECK(vmem_add(vm, 0x20000, 0x1000, M_WAITOK) == 0);
	vmem_add(vm, 0x10f00, 0x200, M_WAITOK);
}

static void
die_add_misaligned(void *arg)
{
	vmem_add(death_arena(), 0x100008, 0x1000, M_WAITOK);
}

static void
die_size_mask(void *arg)
{
	vmem_size(death_arena(), 0x4);
}

static void
test_deaths(void **state)
{
	kt_assert_death(die_flags_both, NULL, SIGABRT,
	    "vmem_alloc: arena victim: bad flags 0x3 (need exactly one of "
	    "M_NOWAIT and M_WAITOK)");
	kt_assert_death(die_flags_none, NULL, SIGABRT,
	    "vmem_xalloc: arena victim: bad flags 0x2000 (need exactly one");
	kt_assert_death(die_flags_policies, NULL, SIGABRT,
	    "vmem_alloc: arena victim: bad flags 0xa001 (more than one of "
	    "M_FIRSTFIT, M_BESTFIT and M_NEXTFIT)");
	kt_assert_death(die_add_flags, NULL, SIGABRT,
	    "vmem_add: arena victim: bad flags 0x0");
	kt_assert_death(die_size0, NULL, SIGABRT,
	    "vmem_alloc: arena victim: size 0");
	kt_assert_death(die_xsize0, NULL, SIGABRT,
	    "vmem_xalloc: arena victim: size 0");
	kt_assert_death(die_align, NULL, SIGABRT,
	    "vmem_xalloc: arena victim: align 0x30 is not a power of two "
	    "multiple of the quantum 0x10");
	kt_assert_death(die_align_small, NULL, SIGABRT, "align 0x8 is not");
	kt_assert_death(die_phase, NULL, SIGABRT,
	    "vmem_xalloc: arena victim: phase 0x40 is not a multiple of the "
	    "quantum below align 0x40");
	kt_assert_death(die_nocross, NULL, SIGABRT,
	    "vmem_xalloc: arena victim: nocross 0x20 is not a power of two "
	    "of at least the size 0x40");
	kt_assert_death(die_minmax, NULL, SIGABRT,
	    "vmem_xalloc: arena victim: minaddr 0x2000 above maxaddr 0x1fff");
	kt_assert_death(die_free_unallocated, NULL, SIGABRT,
	    "vmem_free: arena victim: 0x1230 (size 32) was not allocated");
	kt_assert_death(die_double_free, NULL, SIGABRT,
	    "vmem_free: arena victim: 0x1000 (size 32) was not allocated");
	kt_assert_death(die_free_interior, NULL, SIGABRT,
	    "vmem_xfree: arena victim: 0x1010 (size 32) was not allocated");
	kt_assert_death(die_free_size, NULL, SIGABRT,
	    "vmem_free: arena victim: 0x1000 allocated with size 64, freed "
	    "with size 65");
	kt_assert_death(die_add_overlap, NULL, SIGABRT,
	    "vmem_add: arena victim: span 0x10f00 (size 512) overlaps span "
	    "0x1000 (size 65536)");
	kt_assert_death(die_add_misaligned, NULL, SIGABRT,
	    "vmem_add: arena victim: span 0x100008 (size 4096) is empty, "
	    "wraps or is not a multiple of the quantum 16");
	kt_assert_death(die_size_mask, NULL, SIGABRT,
	    "vmem_size: arena victim: bad type mask 0x4");
}

/* vmem_check() itself catches a broken arena. */
static void
die_check_counter(void *arg)
{
	vmem_t *vm = death_arena();
	vmem_addr_t a;

	KT_CHECK(vmem_alloc(vm, 32, M_NOWAIT, &a) == 0);
	vm->vm_inuse += Q; /* corrupt */
	vmem_check(vm);
}

static void
die_check_adjacent(void *arg)
{
	vmem_t *vm = death_arena();
	vmem_addr_t a;

	KT_CHECK(vmem_alloc(vm, 32, M_NOWAIT, &a) == 0);
	/* Mark the busy segment free without coalescing. */
	struct vmem_btag *bt = TAILQ_NEXT(TAILQ_FIRST(&vm->vm_seglist),
	    bt_seglist);
	KT_CHECK(bt->bt_type == BT_TYPE_BUSY);
	bt->bt_type = BT_TYPE_FREE;
	vmem_check(vm);
}

static void
die_check_bitmap(void *arg)
{
	vmem_t *vm = death_arena();

	vm->vm_freemap |= 1; /* list 0 is empty */
	vmem_check(vm);
}

static void
test_check_catches(void **state)
{
	kt_assert_death(die_check_counter, NULL, SIGABRT,
	    "vmem_check: arena victim: busy bytes 32, count 48");
	kt_assert_death(die_check_adjacent, NULL, SIGABRT,
	    "vmem_check: arena victim: free segments 0x1000 and 0x1020 are "
	    "adjacent");
	kt_assert_death(die_check_bitmap, NULL, SIGABRT,
	    "vmem_check: arena victim: free bitmap bit 0 is 1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_basic),
		cmocka_unit_test(test_roundup),
		cmocka_unit_test(test_create_bad),
		cmocka_unit_test(test_empty_then_add),
		cmocka_unit_test(test_span_at_top),
		cmocka_unit_test(test_instant_fit),
		cmocka_unit_test(test_instant_fit_fallback),
		cmocka_unit_test(test_best_fit),
		cmocka_unit_test(test_next_fit),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_xalloc_align_phase),
		cmocka_unit_test(test_xalloc_nocross),
		cmocka_unit_test(test_xalloc_minmax),
		cmocka_unit_test(test_xalloc_finds_deep_fit),
		cmocka_unit_test(test_import_release),
		cmocka_unit_test(test_import_useless),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_reclaim),
		cmocka_unit_test(test_qcache),
		cmocka_unit_test(test_destroy_live),
		cmocka_unit_test(test_init_static),
		cmocka_unit_test(test_hash_and_tags),
		cmocka_unit_test(test_meta_nested),
		cmocka_unit_test(test_meta_fail),
		cmocka_unit_test(test_deaths),
		cmocka_unit_test(test_check_catches),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
