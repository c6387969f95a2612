/*
 * test_failure.c -- failure injection (src/debug/failure.c): failure_rate
 * fails every Nth M_NOWAIT request of zones, kmalloc and kmem_malloc,
 * failure_seed makes the pattern pseudo-random and repeatable,
 * failure_only limits it to one name, M_WAITOK requests never fail, the
 * failures show in the statistics; fail_reserve and fail_commit make the
 * platform refuse every Nth reservation or commit.
 *
 * Every test runs in a child of its own, whose tunables it sets before kmem
 * is first used (KMEM_OPTIONS is cleared there, so that a run of the suite
 * under injection does not change these counts).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>

#include "kt.h"
#include "debug/kmem_debug.h"
#include "kmem/kmem_int.h"
#include "platform/prim.h"

MALLOC_DEFINE(M_TFAIL, "tfail", "failure injection test");
MALLOC_DEFINE(M_TOTHER, "tother", "failure injection test, not chosen");

/* In a child: tunables as "name=value,..." and nothing from outside. */
static void
setup_opts(const char *list)
{
	char buf[256];

	KT_CHECK(setenv("KMEM_OPTIONS", "stats=0", 1) == 0);
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save = NULL, *e = strtok_r(buf, ",", &save); e != NULL;
	    e = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(e, '=');
		KT_CHECK(eq != NULL);
		*eq = '\0';
		KT_CHECK(kmem_setopt(e, eq + 1) == 0);
	}
	kt_map_setup("64M");
}

static void
child_zone_rate(void *arg)
{
	static void *v[100];

	(void)arg;
	setup_opts("failure_rate=5");
	uma_zone_t z = uma_zcreate("tf_zone", 64, NULL, NULL, NULL, NULL, 0, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < 100; i++) {
		v[i] = uma_zalloc(z, M_NOWAIT);
		/* The 5th, 10th, ... request fails, and only those. */
		KT_EQ(v[i] == NULL, (i + 1) % 5 == 0);
	}
	KT_EQ(kdbg_fail_injected(), 20);
	KT_EQ(kt_zone_stats(z).zs_failures, 20);
	struct kt_tstat t = kt_stat_of(ALLOCATOR_UMA, "tf_zone");
	KT_CHECK(t.found);
	KT_EQ(t.failures, 20);
	for (int i = 0; i < 100; i++)
		uma_zfree(z, v[i]);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_zone_rate(void **state)
{
	(void)state;
	kt_assert_child_ok(child_zone_rate, NULL);
}

static void
child_waitok(void *arg)
{
	static void *v[200];

	(void)arg;
	setup_opts("failure_rate=1");
	uma_zone_t z = uma_zcreate("tf_waitok", 32, NULL, NULL, NULL, NULL, 0, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < 200; i++) {
		v[i] = uma_zalloc(z, M_WAITOK);
		KT_CHECK(v[i] != NULL);
	}
	void *s = kmalloc(100, M_TFAIL, M_WAITOK);
	void *l = kmalloc(100000, M_TFAIL, M_WAITOK | M_ZERO);
	void *p = kmem_malloc(kmem_page_size(), M_WAITOK);
	KT_CHECK(s != NULL && l != NULL && p != NULL);
	/* Not counted either. */
	KT_EQ(kdbg_fail_counted(), 0);
	/* ... while every M_NOWAIT one fails. */
	KT_CHECK(uma_zalloc(z, M_NOWAIT) == NULL);
	KT_CHECK(kmalloc(10, M_TFAIL, M_NOWAIT) == NULL);
	KT_EQ(errno, ENOMEM);
	KT_CHECK(kmem_malloc(kmem_page_size(), M_NOWAIT) == NULL);
	KT_EQ(kdbg_fail_injected(), 3);
	kfree(s, M_TFAIL);
	kfree(l, M_TFAIL);
	kmem_free(p, kmem_page_size());
	for (int i = 0; i < 200; i++)
		uma_zfree(z, v[i]);
	uma_zdestroy(z);
}

static void
test_waitok_never_fails(void **state)
{
	(void)state;
	kt_assert_child_ok(child_waitok, NULL);
}

static void
child_kmalloc_stats(void *arg)
{
	void *v[60];
	int nulls = 0;

	(void)arg;
	setup_opts("failure_rate=3");
	for (int i = 0; i < 60; i++) {
		/* Small and large sizes alike. */
		size_t size = i % 2 == 0 ? 48 : 70000;
		v[i] = kmalloc(size, M_TFAIL, M_NOWAIT);
		KT_EQ(v[i] == NULL, (i + 1) % 3 == 0);
		nulls += v[i] == NULL;
	}
	KT_EQ(nulls, 20);
	struct kt_tstat t = kt_stat_of(ALLOCATOR_MALLOC, "tfail");
	KT_CHECK(t.found);
	KT_EQ(t.failures, 20);
	KT_EQ(t.count, 40);
	for (int i = 0; i < 60; i++)
		kfree(v[i], M_TFAIL);
	t = kt_stat_of(ALLOCATOR_MALLOC, "tfail");
	KT_EQ(t.count, 0);
	KT_EQ(t.bytes, 0);
}

static void
test_kmalloc_stats(void **state)
{
	(void)state;
	kt_assert_child_ok(child_kmalloc_stats, NULL);
}

static void
child_kmem_malloc(void *arg)
{
	size_t ps = kmem_page_size();
	void *v[10];
	struct kmem_figures f;

	(void)arg;
	setup_opts("failure_rate=2");
	for (int i = 0; i < 10; i++) {
		v[i] = kmem_malloc(ps, M_NOWAIT);
		KT_EQ(v[i] == NULL, i % 2 == 1);
	}
	KT_CHECK(kmem_get_figures(&f));
	KT_EQ(f.kf_failures, 5);
	for (int i = 0; i < 10; i += 2)
		kmem_free(v[i], ps);
}

static void
test_kmem_malloc(void **state)
{
	(void)state;
	kt_assert_child_ok(child_kmem_malloc, NULL);
}

static void
child_only(void *arg)
{
	void *a[20], *b[20], *k[20];

	(void)arg;
	setup_opts("failure_rate=2,failure_only=tf_chosen");
	uma_zone_t za = uma_zcreate("tf_chosen", 64, NULL, NULL, NULL, NULL, 0, 0);
	uma_zone_t zb = uma_zcreate("tf_spared", 64, NULL, NULL, NULL, NULL, 0, 0);
	KT_CHECK(za != NULL && zb != NULL);
	for (int i = 0; i < 20; i++) {
		b[i] = uma_zalloc(zb, M_NOWAIT);
		k[i] = kmalloc(64, M_TOTHER, M_NOWAIT);
		a[i] = uma_zalloc(za, M_NOWAIT);
		KT_CHECK(b[i] != NULL && k[i] != NULL);
		KT_EQ(a[i] == NULL, i % 2 == 1);
	}
	/* Only the chosen zone's requests were counted. */
	KT_EQ(kdbg_fail_counted(), 20);
	KT_EQ(kt_zone_stats(zb).zs_failures, 0);
	KT_EQ(kt_zone_stats(za).zs_failures, 10);
	for (int i = 0; i < 20; i++) {
		uma_zfree(za, a[i]);
		uma_zfree(zb, b[i]);
		kfree(k[i], M_TOTHER);
	}
	uma_zdestroy(za);
	uma_zdestroy(zb);
}

static void
test_failure_only(void **state)
{
	(void)state;
	kt_assert_child_ok(child_only, NULL);
}

#define SEED_N 400
/* The failure pattern of one seed, written by a child to shared memory. */
struct seed_run {
	const char *sr_opts;
	char *sr_out;
};

static void
child_seed(void *arg)
{
	struct seed_run *r = arg;
	static void *v[SEED_N];

	setup_opts(r->sr_opts);
	for (int i = 0; i < SEED_N; i++) {
		v[i] = kmalloc(200, M_TFAIL, M_NOWAIT);
		r->sr_out[i] = v[i] == NULL ? 'x' : '.';
	}
	for (int i = 0; i < SEED_N; i++)
		kfree(v[i], M_TFAIL);
}

static void
test_seed_deterministic(void **state)
{
	char *mem = mmap(NULL, 3 * SEED_N, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct seed_run r1 = {"failure_rate=4,failure_seed=12345", mem};
	struct seed_run r2 = {"failure_rate=4,failure_seed=12345", mem + SEED_N};
	struct seed_run r3 = {"failure_rate=4,failure_seed=777", mem + 2 * SEED_N};
	int n = 0, every4 = 1;

	(void)state;
	assert_true(mem != MAP_FAILED);
	kt_assert_child_ok(child_seed, &r1);
	kt_assert_child_ok(child_seed, &r2);
	kt_assert_child_ok(child_seed, &r3);
	/* The same seed gives the same pattern, another seed another. */
	assert_memory_equal(mem, mem + SEED_N, SEED_N);
	assert_memory_not_equal(mem, mem + 2 * SEED_N, SEED_N);
	for (int i = 0; i < SEED_N; i++) {
		n += mem[i] == 'x';
		if ((mem[i] == 'x') != ((i + 1) % 4 == 0))
			every4 = 0;
	}
	/* About one in four, not every fourth. */
	assert_true(n > SEED_N / 8 && n < SEED_N / 2);
	assert_false(every4);
	munmap(mem, 3 * SEED_N);
}

static void
child_platform(void *arg)
{
	size_t ps;
	void *p;
	int fails = 0, ok = 0;

	(void)arg;
	setup_opts("fail_reserve=2,fail_commit=3");
	ps = kmem_page_size();
	/* Set-up was not failed; from now on the platform is. */
	KT_EQ(kp_injected(KP_OP_RESERVE), 0);
	KT_EQ(kp_injected(KP_OP_COMMIT), 0);
	for (int i = 0; i < 4; i++) {
		if (kp_reserve(ps, 0, &p) == 0) {
			ok++;
			kp_release(p, ps);
		} else {
			fails++;
		}
	}
	KT_EQ(fails, 2);
	KT_EQ(ok, 2);
	/* The map retries a commit the system refused once ... */
	void *v[30];
	for (int i = 0; i < 30; i++) {
		v[i] = kmem_malloc(ps, M_NOWAIT);
		KT_CHECK(v[i] != NULL);
	}
	KT_CHECK(kp_injected(KP_OP_COMMIT) >= 10);
	for (int i = 0; i < 30; i++)
		kmem_free(v[i], ps);
	/* ... and fails the request when it keeps refusing. */
	struct kmem_figures f;
	kp_inject_every(KP_OP_COMMIT, 1);
	KT_CHECK(kmem_malloc(ps, M_NOWAIT) == NULL);
	KT_CHECK(kmem_get_figures(&f));
	KT_EQ(f.kf_failures, 1);
	kp_inject_every(KP_OP_COMMIT, 3);
	/* Zones survive refused commits: every item is accounted for. */
	uma_zone_t z = uma_zcreate("tf_commit", 512, NULL, NULL, NULL, NULL, 0, 0);
	KT_CHECK(z != NULL);
	static void *items[2000];
	int got = 0;
	for (int i = 0; i < 2000; i++) {
		items[i] = uma_zalloc(z, M_NOWAIT);
		got += items[i] != NULL;
	}
	KT_CHECK(got > 0);
	for (int i = 0; i < 2000; i++)
		uma_zfree(z, items[i]);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_platform_injection(void **state)
{
	(void)state;
	kt_assert_child_ok(child_platform, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_rate),
		cmocka_unit_test(test_waitok_never_fails),
		cmocka_unit_test(test_kmalloc_stats),
		cmocka_unit_test(test_kmem_malloc),
		cmocka_unit_test(test_failure_only),
		cmocka_unit_test(test_seed_deterministic),
		cmocka_unit_test(test_platform_injection),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
