/*
 * test_memguard.c -- memguard (src/debug/memguard.c): blocks of a guarded
 * malloc type get pages of their own with a guard page; a use after free,
 * an overflow and (memguard_before) an underflow fault at the offending
 * access with one line naming the block; freed pages are not reused for
 * memguard_delay frees; kfree() validates guarded blocks as any other.
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

#include "kt.h"
#include "kt_memguard.h"
#include "kmem/kmem_int.h"

MALLOC_DEFINE(M_TMG, "tmg", "guarded by memguard");
MALLOC_DEFINE(M_TMG2, "tmg2", "also guarded");
MALLOC_DEFINE(M_TPLAIN, "tplain", "not guarded");

static void
child_use_after_free(void *arg)
{
	(void)arg;
	setup_opts("tmg", NULL, NULL);
	volatile char *p = kmalloc(100, M_TMG, M_WAITOK);
	KT_CHECK(p != NULL);
	p[0] = 1;
	fprintf(stderr, "at %p\n", (void *)p);
	kfree((void *)p, M_TMG);
	(void)p[40];
	exit(2);
}

static void
test_use_after_free(void **state)
{
	(void)state;
	assert_fault(child_use_after_free, "memguard: use after free of ",
	    " (100 bytes, type tmg) at ");
	assert_fault(child_use_after_free, "(100 bytes, type tmg) at ", "+40");
}

static void
child_overflow(void *arg)
{
	(void)arg;
	setup_opts("tplain2|tmg", NULL, NULL);
	volatile char *p = kmalloc(96, M_TMG, M_WAITOK | M_ZERO);
	KT_CHECK(p != NULL);
	for (int i = 0; i < 96; i++)
		KT_EQ(p[i], 0);
	fprintf(stderr, "at %p\n", (void *)p);
	for (int i = 0; i < 200; i++)
		p[i] = 'x';
	exit(2);
}

static void
test_overflow(void **state)
{
	(void)state;
	assert_fault(child_overflow, "memguard: overflow past ",
	    " (96 bytes, type tmg) by 1 bytes");
}

static void
child_large_overflow(void *arg)
{
	(void)arg;
	setup_opts("tmg2|tmg", NULL, NULL);
	volatile char *p = kmalloc(100000, M_TMG2, M_WAITOK);
	KT_CHECK(p != NULL);
	fprintf(stderr, "at %p\n", (void *)p);
	p[0] = 1;
	p[99999] = 1;
	(void)p[100000 + 7];
	exit(2);
}

static void
test_large_overflow(void **state)
{
	(void)state;
	assert_fault(child_large_overflow, "memguard: overflow past ",
	    " (100000 bytes, type tmg2) by 8 bytes");
}

static void
child_underflow(void *arg)
{
	(void)arg;
	setup_opts("tmg", "1", NULL);
	volatile char *p = kmalloc(50, M_TMG, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ((uintptr_t)p % kmem_page_size(), 0);
	/* The rest of the page is the block's. */
	KT_EQ(kmalloc_usable_size((void *)p), kmem_page_size());
	p[kmem_page_size() - 1] = 1;
	fprintf(stderr, "at %p\n", (void *)p);
	p[-3] = 1;
	exit(2);
}

static void
test_underflow_before(void **state)
{
	(void)state;
	assert_fault(child_underflow, "memguard: underflow before ",
	    " (50 bytes, type tmg) by 3 bytes");
}

static void
child_delay(void *arg)
{
	enum { DELAY = 8, ROUNDS = 200 };
	static void *seen[ROUNDS];

	(void)arg;
	setup_opts("tmg", NULL, "8");
	/* Fill the FIFO and the map's bookkeeping first. */
	for (int i = 0; i < 2 * DELAY; i++)
		kfree(kmalloc(3000, M_TMG, M_WAITOK), M_TMG);
	size_t before = kmem_map_size();
	for (int i = 0; i < ROUNDS; i++) {
		seen[i] = kmalloc(3000, M_TMG, M_WAITOK);
		KT_CHECK(seen[i] != NULL);
		/* Not the address of any of the last DELAY freed blocks. */
		for (int j = i - DELAY; j < i; j++)
			if (j >= 0)
				KT_CHECK(seen[j] != seen[i]);
		kfree(seen[i], M_TMG);
	}
	/* Older ones went back to the map: it holds DELAY blocks still. */
	KT_LE(kmem_map_size(), before + 4 * kmem_page_size());
	/* Some address came round again once it left the FIFO. */
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

static void
child_double_free(void *arg)
{
	(void)arg;
	setup_opts("tmg", NULL, NULL);
	void *p = kmalloc(64, M_TMG, M_WAITOK);
	kfree(p, M_TMG);
	kfree(p, M_TMG);
}

static void
child_interior(void *arg)
{
	(void)arg;
	setup_opts("tmg", NULL, NULL);
	char *p = kmalloc(64, M_TMG, M_WAITOK);
	kfree(p + 16, M_TMG);
}

static void
child_wrong_type(void *arg)
{
	(void)arg;
	setup_opts("tmg", NULL, NULL);
	void *p = kmalloc(64, M_TMG, M_WAITOK);
	kfree(p, M_TPLAIN);
}

static void
child_validate_ok(void *arg)
{
	(void)arg;
	setup_opts("tmg", NULL, NULL);
	char *p = kmalloc(100, M_TMG, M_WAITOK);
	char *q = kmalloc(100, M_TPLAIN, M_WAITOK);
	KT_CHECK(p != NULL && q != NULL);
	/* The guarded block ends where its page does; the other is a slab's. */
	KT_EQ(((uintptr_t)p + 112) % kmem_page_size(), 0);
	KT_EQ(kmalloc_usable_size(p), 112);
	KT_EQ(KPT_CLASS(kmem_pt_get(p)), KMC_LARGE);
	KT_CHECK(KPT_IS_SLAB(kmem_pt_get(q)));
	memset(p, 'a', 100);
	p = krealloc(p, 300, M_TMG, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_EQ(p[99], 'a');
	KT_EQ(((uintptr_t)p + 304) % kmem_page_size(), 0);
	kzfree(p, M_TMG);
	kfree(q, M_TPLAIN);
}

static void
test_kfree_validates(void **state)
{
	(void)state;
	kt_assert_child_ok(child_validate_ok, NULL);
	kt_assert_death(child_double_free, NULL, SIGABRT,
	    "(type tmg): double free (memguard)");
	kt_assert_death(child_interior, NULL, SIGABRT,
	    "not the start of a kmalloc allocation");
	kt_assert_death(child_wrong_type, NULL, SIGABRT,
	    "allocated as type tmg, freed as type tplain");
}

static void
child_null_fault(void *arg)
{
	(void)arg;
	setup_opts("tmg", NULL, NULL);
	/* A fault that is not memguard's goes to the usual handler. */
	volatile char *volatile p = NULL;
	(void)p[8];
	exit(2);
}

static void
child_raise(void *arg)
{
	(void)arg;
	setup_opts("tmg", NULL, NULL);
	raise(SIGSEGV);
	exit(2);
}


static void
test_other_faults_pass(void **state)
{
	struct kt_result r;

	(void)state;
	KT_NEEDS_NO_ASAN(); /* ASan catches a NULL access itself, and exits */
	kt_child(child_null_fault, NULL, &r);
	assert_int_equal(r.kr_exited, 0);
	assert_int_equal(r.kr_status, SIGSEGV);
	assert_null(strstr(r.kr_err, "memguard:"));
	kt_child(child_raise, NULL, &r);
	assert_int_equal(r.kr_exited, 0);
	assert_int_equal(r.kr_status, SIGSEGV);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_use_after_free),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_large_overflow),
		cmocka_unit_test(test_underflow_before),
		cmocka_unit_test(test_delayed_reuse),
		cmocka_unit_test(test_kfree_validates),
		cmocka_unit_test(test_other_faults_pass),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
