/*
 * test_redzone.c -- redzones (src/debug/kmem_redzone.c) when kmalloc() is
 * the first call a program makes into kmem: the tunables are read during
 * that call, and the block it returns must have its guards as every later
 * one does (tests/wrong has the misuse programs).
 *
 * Every test runs in a child of its own, whose environment it sets before
 * kmem is first used.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>

#include "kt.h"

MALLOC_DEFINE(M_TRZ, "trz", "redzone test blocks");

/*
 * The first call into kmem is a kmalloc() of size; usable is what
 * kmalloc_usable_size() must say (whole pages have no redzones).
 */
static void
first_call(size_t size, size_t usable)
{
	enum { N = 100 };
	char *p[N];

	if (setenv("KMEM_OPTIONS", "stats=0,kmem_size=64M,redzone=1", 1) != 0)
		abort();
	for (int i = 0; i < N; i++) {
		p[i] = kmalloc(size, M_TRZ, M_WAITOK);
		KT_CHECK(p[i] != NULL);
		KT_EQ(kmalloc_usable_size(p[i]), usable);
		memset(p[i], 'a', size);
	}
	KT_EQ(kmem_check(), 0);
	for (int i = 0; i < N; i++)
		kfree(p[i], M_TRZ);
}

static void
child_first_small(void *arg)
{
	(void)arg;
	first_call(64, 64);
}

static void
child_first_large(void *arg)
{
	(void)arg;
	/* A zone's size without redzones, whole pages with them. */
	first_call(65536 - 20, 65536);
}

static void
test_first_call_small(void **state)
{
	(void)state;
	kt_assert_child_ok(child_first_small, NULL);
}

static void
test_first_call_near_largest_class(void **state)
{
	(void)state;
	kt_assert_child_ok(child_first_large, NULL);
}

/* The first block's guard is checked like any other's. */
static void
child_first_overflow(void *arg)
{
	(void)arg;
	if (setenv("KMEM_OPTIONS", "stats=0,kmem_size=64M,redzone=1", 1) != 0)
		abort();
	char *p = kmalloc(64, M_TRZ, M_WAITOK);
	p[64] = 'x';
	kfree(p, M_TRZ);
}

static void
test_first_call_overflow(void **state)
{
	(void)state;
	KT_NEEDS_NO_ASAN();
	kt_assert_death(child_first_overflow, NULL, SIGABRT,
	    "(type trz): 1 byte written past the end of the 64-byte block "
	    "(redzone)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_call_small),
		cmocka_unit_test(test_first_call_near_largest_class),
		cmocka_unit_test(test_first_call_overflow),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
