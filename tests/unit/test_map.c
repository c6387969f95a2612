/*
 * test_map.c -- the bounded kernel map: kmem_malloc/kmem_free, exhaustion
 * with M_NOWAIT, requests that can never fit, low-memory handlers, submaps,
 * bad frees, auto-tuning, failure injection and the report.
 *
 * The map is set up once per process, so each test that needs a map of its
 * own runs in a child (kt_child) and checks with KT_CHECK.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include "platform/prim.h"
#include "vmem/vmem_int.h"

#define MB ((size_t)1 << 20)

/* Sum of the owner lines and the total line of kmem_report(). */
static void
report_check(void)
{
	char buf[16384];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	KT_CHECK(f != NULL);
	KT_CHECK(kmem_report(f) == 0);
	fclose(f);
	buf[sizeof(buf) - 1] = '\0';

	const char *names[] = {"metadata", "direct (kmem_malloc)",
	    "large allocations", "slabs", "submaps", "free"};
	unsigned long long sum = 0, v, total = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char key[64];
		snprintf(key, sizeof(key), "\n  %s ", names[i]);
		char *p = strstr(buf, key);
		KT_CHECK(p != NULL);
		KT_CHECK(sscanf(p + strlen(key), "%llu", &v) == 1);
		sum += v;
		if (strcmp(names[i], "free") == 0)
			KT_CHECK(v == kmem_map_free());
	}
	char *t = strstr(buf, "\n  total ");
	KT_CHECK(t != NULL && sscanf(t + 9, "%llu", &total) == 1);
	KT_CHECK(sum == total);
	KT_CHECK(total == kmem_size());
	KT_CHECK(strstr(buf, "the map changed") == NULL);
	KT_CHECK(strstr(buf, "tunables:") != NULL);
	KT_CHECK(strstr(buf, "kmem_size ") != NULL);
}

static void
child_basic(void *arg)
{
	size_t ps = kmem_page_size();

	kt_map_setup("16M");
	KT_CHECK(kmem_size() == 16 * MB);
	size_t used0 = kmem_map_size();
	KT_CHECK(used0 > 0); /* the page table */
	KT_CHECK(used0 + kmem_map_free() == kmem_size());

	unsigned char *p = kmem_malloc(1, M_WAITOK);
	KT_CHECK(p != NULL);
	KT_CHECK(((uintptr_t)p & (ps - 1)) == 0);
	KT_CHECK(kmem_map_size() == used0 + ps);
	for (size_t i = 0; i < ps; i++)
		KT_CHECK(p[i] == 0);
	memset(p, 0x5a, ps);
	uintptr_t e = kmem_pt_get(p);
	KT_CHECK(KPT_CLASS(e) == KMC_DIRECT && KPT_PAYLOAD(e) == 1);

	unsigned char *q = kmem_malloc(3 * ps + 1, M_NOWAIT | M_ZERO);
	KT_CHECK(q != NULL);
	KT_CHECK(kmem_map_size() == used0 + 5 * ps);
	KT_CHECK(KPT_PAYLOAD(kmem_pt_get(q)) == 4);
	KT_CHECK((kmem_pt_get(q + 2 * ps) & KPT_TAIL) != 0);
	KT_CHECK(KPT_PAYLOAD(kmem_pt_get(q + 2 * ps)) == 2);
	for (size_t i = 0; i < 4 * ps; i++)
		KT_CHECK(q[i] == 0);
	report_check();

	kmem_free(p, 1);
	kmem_free(q, 3 * ps + 1);
	kmem_free(NULL, 123); /* no-op */
	KT_CHECK(kmem_map_size() == used0);
	KT_CHECK(kmem_pt_get(p) == 0);
	/* Pages that come back are zero again. */
	p = kmem_malloc(ps, M_NOWAIT);
	KT_CHECK(p != NULL);
	for (size_t i = 0; i < ps; i++)
		KT_CHECK(p[i] == 0);
	kmem_free(p, ps);
	report_check();
	KT_CHECK(kmem_pt_get(&used0) == 0); /* outside the map */
	KT_CHECK(kmem_map_arena() != NULL);
	KT_CHECK(strcmp(vmem_name(kmem_map_arena()), "kmem_map") == 0);
}

static void
test_basic(void **state)
{
	kt_assert_child_ok(child_basic, NULL);
}

static void
child_exhaust_nowait(void *arg)
{
	void *v[64];
	int n = 0;
	struct vmem_stats st;

	kt_map_setup("8M");
	while (n < 64) {
		errno = 0;
		void *p = kmem_malloc(MB, M_NOWAIT);
		if (p == NULL) {
			KT_CHECK(errno == ENOMEM);
			break;
		}
		v[n++] = p;
	}
	/* 8 MiB less the page table and metadata: 7 whole MiB fit. */
	KT_CHECK(n == 7);
	KT_CHECK(kmem_malloc(MB, M_NOWAIT) == NULL);
	KT_CHECK(atomic_load(&kmem_map_store.km_map.kr_nfailures) == 2);
	vmem_get_stats(kmem_map_arena(), &st);
	KT_CHECK(st.vs_maxfree < MB);
	report_check();
	kmem_free(v[3], MB);
	void *p = kmem_malloc(MB, M_NOWAIT);
	KT_CHECK(p == v[3]);
	for (int i = 0; i < n; i++)
		kmem_free(v[i], MB);
	report_check();
}

static void
test_exhaust_nowait(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_exhaust_nowait, NULL);
}

static void
child_never_fits(void *arg)
{
	kt_map_setup("4M");
	errno = 0;
	KT_CHECK(kmem_malloc(5 * MB, M_WAITOK) == NULL);
	KT_CHECK(errno == ENOMEM);
	KT_CHECK(kmem_malloc(SIZE_MAX, M_WAITOK) == NULL);
	KT_CHECK(kmem_malloc(SIZE_MAX - 100, M_NOWAIT) == NULL);
	/* The whole map can never be had either: metadata holds part. */
	KT_CHECK(kmem_malloc(4 * MB, M_WAITOK) == NULL);
	KT_CHECK(atomic_load(&kmem_map_store.km_map.kr_nneverfit) == 4);
}

static void
test_never_fits(void **state)
{
	struct kt_result r;

	kt_child(child_never_fits, NULL, &r);
	assert_int_equal(r.kr_exited, 1);
	if (r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	assert_non_null(strstr(r.kr_err, "kmem: kmem_malloc(5242880): request "
	    "can never fit in kmem_map (4194304 bytes, "));
	assert_non_null(strstr(r.kr_err, "held for metadata and submaps); "
	    "failing\n"));
}

static void *stash[16];
static int nstash;
static int lowmem_calls, lowmem_flags;

static void
lowmem_handler(void *arg, int flags)
{
	lowmem_calls++;
	lowmem_flags = flags;
	KT_CHECK(arg == (void *)&stash);
	/* Give back what was stashed. */
	while (nstash > 0)
		kmem_free(stash[--nstash], MB);
}

static void
noop_handler(void *arg, int flags)
{
}

static void
child_lowmem(void *arg)
{
	void *v[16];
	int n = 0;

	kt_map_setup("8M");
	KT_CHECK(kmem_lowmem_register(NULL, NULL) == EINVAL);
	KT_CHECK(kmem_lowmem_register(lowmem_handler, &stash) == 0);
	for (int i = 0; i < 2; i++)
		stash[nstash++] = kmem_malloc(MB, M_NOWAIT);
	while ((v[n] = kmem_malloc(MB, M_NOWAIT)) != NULL)
		n++;
	/*
	 * The first failure ran the handler, which freed the stash, and the
	 * retry and the next request got its pages; the last failure ran the
	 * handler again, which had nothing left to give.
	 */
	KT_CHECK(lowmem_calls == 2);
	KT_CHECK(lowmem_flags == M_NOWAIT);
	KT_CHECK(n == 7);
	KT_CHECK(nstash == 0);
	KT_CHECK(atomic_load(&kmem_map_store.km_lowmem_runs) == 2);
	KT_CHECK(kmem_lowmem_deregister(lowmem_handler, &stash) == 0);
	KT_CHECK(kmem_lowmem_deregister(lowmem_handler, &stash) == ENOENT);
	KT_CHECK(kmem_malloc(MB, M_NOWAIT) == NULL);
	KT_CHECK(atomic_load(&kmem_map_store.km_lowmem_runs) == 3);
	KT_CHECK(lowmem_calls == 2); /* not called once deregistered */
	for (int i = 0; i < n; i++)
		kmem_free(v[i], MB);
	for (int i = 0; i < KMEM_LOWMEM_MAX; i++)
		KT_CHECK(kmem_lowmem_register(noop_handler, NULL) == 0);
	KT_CHECK(kmem_lowmem_register(noop_handler, NULL) == ENOSPC);
}

static void
test_lowmem(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	struct kt_result r;

	kt_child(child_lowmem, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	assert_non_null(strstr(r.kr_err, "all 32 handler slots are taken"));
}

static void
child_submaps(void *arg)
{
	size_t ps = kmem_page_size();
	void *v[64];
	int n = 0;

	kt_map_setup("16M");
	vmem_t *pipe = kmem_submap_create("pipe", 2 * MB);
	KT_CHECK(pipe != NULL);
	KT_CHECK(strcmp(vmem_name(pipe), "pipe") == 0);
	KT_CHECK(kmem_submap_create("pipe", MB) == NULL && errno == EEXIST);
	KT_CHECK(kmem_submap_create("huge", 32 * MB) == NULL && errno == EINVAL);
	KT_CHECK(kmem_submap_create("", MB) == NULL && errno == EINVAL);
	KT_CHECK(kmem_submap_create(NULL, MB) == NULL && errno == EINVAL);
	vmem_t *exec = kmem_submap_create("exec", MB);
	KT_CHECK(exec != NULL);
	report_check();

	/* Fill the pipe submap; the map keeps its room. */
	size_t map_used = kmem_map_size();
	while (n < 64 && (v[n] = kmem_arena_malloc(pipe, 256 * 1024,
	    M_NOWAIT)) != NULL)
		n++;
	KT_CHECK(n == 8);
	KT_CHECK(kmem_map_size() == map_used); /* reserved already */
	void *m = kmem_malloc(MB, M_NOWAIT);
	KT_CHECK(m != NULL);
	void *e = kmem_arena_malloc(exec, ps, M_NOWAIT);
	KT_CHECK(e != NULL);
	KT_CHECK((uintptr_t)e - (uintptr_t)v[0] >= 2 * MB ||
	    (uintptr_t)v[0] - (uintptr_t)e >= MB);
	KT_CHECK(atomic_load(&kmem_map_store.km_submaps[0].kr_nfailures) == 1);
	KT_CHECK(atomic_load(&kmem_map_store.km_submaps[0].kr_inuse) == 2 * MB);
	kmem_arena_free(exec, e, ps);
	for (int i = 0; i < n; i++)
		kmem_arena_free(pipe, v[i], 256 * 1024);
	KT_CHECK(atomic_load(&kmem_map_store.km_submaps[0].kr_inuse) == 0);

	/* Fill the rest of the map; the submaps keep theirs. */
	void *w[32];
	int k = 0;
	while (k < 32 && (w[k] = kmem_malloc(MB, M_NOWAIT)) != NULL)
		k++;
	KT_CHECK(k == 11); /* 16 - 3 in submaps - 1 above - metadata */
	void *pp = kmem_arena_malloc(pipe, 2 * MB, M_NOWAIT);
	KT_CHECK(pp != NULL);
	/* The whole map arena goes through kmem_arena_malloc too. */
	KT_CHECK(kmem_arena_malloc(kmem_map_arena(), MB, M_NOWAIT) == NULL);
	report_check();
	kmem_arena_free(pipe, pp, 2 * MB);
	for (int i = 0; i < k; i++)
		kmem_arena_free(kmem_map_arena(), w[i], MB);
	kmem_free(m, MB);
	report_check();

	char name[16];
	int made = 2;
	for (; made < KMEM_SUBMAP_MAX; made++) {
		snprintf(name, sizeof(name), "s%d", made);
		KT_CHECK(kmem_submap_create(name, ps) != NULL);
	}
	KT_CHECK(kmem_submap_create("onemore", ps) == NULL && errno == ENOSPC);
}

static void
test_submaps(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_submaps, NULL);
}

/* ---- bad input: each in a child, checked for SIGABRT and its message ---- */

static void
bad_stack(void *arg)
{
	char x[64];

	kt_map_setup("4M");
	kmem_free(x, 64);
}

static void
bad_unaligned(void *arg)
{
	kt_map_setup("4M");
	char *p = kmem_malloc(8192, M_WAITOK);
	kmem_free(p + 16, 8192);
}

static void
bad_interior(void *arg)
{
	kt_map_setup("4M");
	char *p = kmem_malloc(8192, M_WAITOK);
	kmem_free(p + kmem_page_size(), 4096);
}

static void
bad_size(void *arg)
{
	kt_map_setup("4M");
	char *p = kmem_malloc(8192, M_WAITOK);
	kmem_free(p, 3 * kmem_page_size());
}

static void
bad_double(void *arg)
{
	kt_map_setup("4M");
	char *p = kmem_malloc(8192, M_WAITOK);
	kmem_free(p, 8192);
	kmem_free(p, 8192);
}

static void
bad_submap_free(void *arg)
{
	kt_map_setup("4M");
	vmem_t *sm = kmem_submap_create("buffers", MB);
	void *p = kmem_arena_malloc(sm, 4096, M_WAITOK);
	kmem_free(p, 4096);
}

static void
bad_wrong_submap(void *arg)
{
	kt_map_setup("4M");
	vmem_t *a = kmem_submap_create("alpha", MB);
	vmem_t *b = kmem_submap_create("beta", MB);
	void *p = kmem_arena_malloc(a, 4096, M_WAITOK);
	kmem_arena_free(b, p, 4096);
}

static void
bad_metadata(void *arg)
{
	kt_map_setup("4M");
	kmem_free((void *)kmem_map_store.km_pt, kmem_page_size());
}

static void
bad_flags(void *arg)
{
	kt_map_setup("4M");
	(void)kmem_malloc(4096, 0);
}

static void
bad_both_flags(void *arg)
{
	kt_map_setup("4M");
	(void)kmem_malloc(4096, M_WAITOK | M_NOWAIT);
}

static void
bad_zero(void *arg)
{
	kt_map_setup("4M");
	(void)kmem_malloc(0, M_WAITOK);
}

static void
bad_arena(void *arg)
{
	kt_map_setup("4M");
	vmem_t *vm = vmem_create("ids", 1, 100, 1, 0, M_WAITOK);
	(void)kmem_arena_malloc(vm, 4096, M_WAITOK);
}

static void
test_bad_input(void **state)
{
	kt_assert_death(bad_stack, NULL, SIGABRT,
	    "kmem_free: 0x");
	kt_assert_death(bad_stack, NULL, SIGABRT,
	    "(size 64): not an address of the map");
	kt_assert_death(bad_unaligned, NULL, SIGABRT,
	    "(size 8192): not page aligned; it is a kmem_malloc allocation\n");
	kt_assert_death(bad_interior, NULL, SIGABRT,
	    "(size 4096): not the start of a kmem_malloc allocation; it is inside "
	    "a kmem_malloc allocation\n");
	kt_assert_death(bad_size, NULL, SIGABRT,
	    "(size 12288): the allocation there is 8192 bytes\n");
	kt_assert_death(bad_double, NULL, SIGABRT,
	    "(size 8192): not the start of a kmem_malloc allocation; it is a "
	    "free page (never allocated, or already freed)\n");
	kt_assert_death(bad_submap_free, NULL, SIGABRT,
	    "(size 4096): belongs to submap buffers; free it with kmem_arena_free\n");
	kt_assert_death(bad_wrong_submap, NULL, SIGABRT,
	    "kmem_arena_free: 0x");
	kt_assert_death(bad_wrong_submap, NULL, SIGABRT,
	    "(size 4096): not in submap beta\n");
	kt_assert_death(bad_metadata, NULL, SIGABRT,
	    "it is kmem metadata\n");
	kt_assert_death(bad_flags, NULL, SIGABRT,
	    "kmem: kmem_malloc(4096): flags 0x0 must contain exactly one of "
	    "M_NOWAIT and M_WAITOK\n");
	kt_assert_death(bad_both_flags, NULL, SIGABRT,
	    "kmem: kmem_malloc(4096): flags 0x3 must contain exactly one of");
	kt_assert_death(bad_zero, NULL, SIGABRT,
	    "kmem: kmem_malloc(0): size 0 in kmem_map\n");
	kt_assert_death(bad_arena, NULL, SIGABRT,
	    "(ids) is neither the map nor a submap\n");
}

/* ---- auto-tuning --------------------------------------------------------- */

#define GB (UINT64_C(1) << 30)

static void
tune(struct kmem_tune *t, uint64_t phys, uint64_t cg, uint64_t as)
{
	memset(t, 0, sizeof(*t));
	t->kt_physmem = phys;
	t->kt_cgroup = cg;
	t->kt_as_free = as;
	t->kt_scale = 1;
	t->kt_min = 16 * MB;
	t->kt_max = 4096 * GB;
	t->kt_pagesize = 4096;
}

static void
test_tune(void **state)
{
	struct kmem_tune t;

	tune(&t, 24 * GB, KP_UNLIMITED, KP_UNLIMITED);
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, 24 * GB);
	assert_string_equal(t.kt_winner, "physical memory / kmem_size_scale");

	tune(&t, 24 * GB, KP_UNLIMITED, KP_UNLIMITED);
	t.kt_scale = 3;
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, 8 * GB);

	tune(&t, 24 * GB, 512 * MB, KP_UNLIMITED);
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, 512 * MB);
	assert_string_equal(t.kt_winner, "cgroup memory limit");
	assert_non_null(strstr(t.kt_why, "cgroup memory limit won"));

	/* The seed's lesson: address space, not physical memory, decides. */
	tune(&t, 24 * GB, KP_UNLIMITED, 2 * GB);
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, 2 * GB - 2 * GB / 8);
	assert_string_equal(t.kt_winner, "RLIMIT_AS headroom less 1/8");

	/* kmem_size_min never pushes the map past the address space left. */
	tune(&t, 24 * GB, 4 * MB, 8 * MB);
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, 7 * MB);

	tune(&t, 24 * GB, 4 * MB, KP_UNLIMITED);
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, 16 * MB);
	assert_string_equal(t.kt_winner, "kmem_size_min");

	tune(&t, 24 * GB, KP_UNLIMITED, KP_UNLIMITED);
	t.kt_max = GB;
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, GB);
	assert_string_equal(t.kt_winner, "kmem_size_max");

	tune(&t, 24 * GB, 512 * MB, 2 * GB);
	t.kt_explicit = 100 * MB + 123;
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, 100 * MB); /* rounded down to a page */
	assert_string_equal(t.kt_winner, "kmem_size tunable");

	tune(&t, 24 * GB, KP_UNLIMITED, KP_UNLIMITED);
	t.kt_explicit = 4096;
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, MB);

	tune(&t, 24 * GB, KP_UNLIMITED, 512 * 1024);
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, MB);
	assert_string_equal(t.kt_winner, "the 1 MiB floor");

	tune(&t, 3 * GB + 1, KP_UNLIMITED, KP_UNLIMITED);
	kmem_tune_size(&t);
	assert_int_equal(t.kt_size, 3 * GB);
}

static void
child_tune_cgroup(void *arg)
{
	kp_figure_override(KP_FIG_PHYSMEM, 64 * GB);
	kp_figure_override(KP_FIG_CGROUP, 48 * MB);
	kp_figure_override(KP_FIG_AS_FREE, KP_UNLIMITED);
	KT_CHECK(kmem_init() == 0);
	KT_CHECK(kmem_size() == 48 * MB);
	char buf[16384];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	KT_CHECK(kmem_report(f) == 0);
	fclose(f);
	KT_CHECK(strstr(buf, "kmem_size 48.0 MiB: cgroup memory limit won") != NULL);
	KT_CHECK(strstr(buf, "kmem_size          48M          (auto-tuned)") != NULL);
}

static void
child_tune_rlimit(void *arg)
{
	struct rlimit rl;
	char buf[64] = {0};
	FILE *f = fopen("/proc/self/statm", "r");
	KT_CHECK(f != NULL && fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	size_t vm = strtoul(buf, NULL, 10) * kmem_page_size();
	rl.rlim_cur = rl.rlim_max = vm + 256 * MB;
	KT_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
	KT_CHECK(kmem_init() == 0);
	KT_CHECK(kmem_size() <= 224 * MB && kmem_size() >= 200 * MB);
	/* And the map really is usable to its end. */
	void *p = kmem_malloc(128 * MB, M_NOWAIT);
	KT_CHECK(p != NULL);
	memset(p, 1, 128 * MB);
	kmem_free(p, 128 * MB);
}

static void
child_reserve_fails(void *arg)
{
	/* Auto-tuned to 64 MiB; the address space is not there: halve. */
	kp_figure_override(KP_FIG_PHYSMEM, 64 * MB);
	kp_figure_override(KP_FIG_CGROUP, KP_UNLIMITED);
	kp_figure_override(KP_FIG_AS_FREE, KP_UNLIMITED);
	kp_inject(KP_OP_RESERVE, 0, 2);
	KT_CHECK(kmem_init() == 0);
	KT_CHECK(kmem_size() == 16 * MB);
}

static void
child_reserve_floor(void *arg)
{
	/* ... but never below kmem_size_min. */
	kp_figure_override(KP_FIG_PHYSMEM, 64 * MB);
	kp_figure_override(KP_FIG_CGROUP, KP_UNLIMITED);
	kp_figure_override(KP_FIG_AS_FREE, KP_UNLIMITED);
	kp_inject(KP_OP_RESERVE, 0, 3);
	KT_CHECK(kmem_init() == ENOMEM);
}

static void
child_reserve_never(void *arg)
{
	kp_inject(KP_OP_RESERVE, 0, 1000);
	KT_CHECK(kmem_setopt("kmem_size", "64M") == 0);
	KT_CHECK(kmem_init() == ENOMEM);
	errno = 0;
	KT_CHECK(kmem_malloc(4096, M_NOWAIT) == NULL && errno == ENOMEM);
	KT_CHECK(kmem_malloc(4096, M_WAITOK) == NULL);
	KT_CHECK(kmem_size() == 0);
	char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	KT_CHECK(kmem_report(f) == 0);
	fclose(f);
	KT_CHECK(strstr(buf, "not set up") != NULL);
}

static void
test_tune_process(void **state)
{
	struct kt_result r;

	kt_assert_child_ok(child_tune_cgroup, NULL);
	kt_assert_child_ok(child_tune_rlimit, NULL);
	kt_child(child_reserve_fails, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	assert_non_null(strstr(r.kr_err, "cannot reserve 67108864 bytes of "
	    "address space for the map (Cannot allocate memory); trying 33554432"));
	kt_child(child_reserve_floor, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	assert_non_null(strstr(r.kr_err, "cannot reserve 16777216 bytes of "
	    "address space for the map: Cannot allocate memory\n"));
	/* An explicit kmem_size is not halved. */
	kt_child(child_reserve_never, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	assert_non_null(strstr(r.kr_err, "cannot reserve 67108864 bytes of "
	    "address space for the map: Cannot allocate memory\n"));
}

/* ---- commit failures ------------------------------------------------------- */

static void
child_commit_fails(void *arg)
{
	kt_map_setup("8M");
	/* One refused commit: the retry after the handlers succeeds. */
	kp_inject(KP_OP_COMMIT, 0, 1);
	void *p = kmem_malloc(MB, M_NOWAIT);
	KT_CHECK(p != NULL);
	/* Two: M_NOWAIT fails cleanly. */
	kp_inject(KP_OP_COMMIT, 0, 2);
	errno = 0;
	KT_CHECK(kmem_malloc(MB, M_NOWAIT) == NULL && errno == ENOMEM);
	/* Three: M_WAITOK waits and gets it. */
	kp_inject(KP_OP_COMMIT, 0, 3);
	void *q = kmem_malloc(MB, M_WAITOK);
	KT_CHECK(q != NULL);
	KT_CHECK(atomic_load(&kmem_map_store.km_map.kr_ncommitfail) == 6);
	KT_CHECK(kp_injected(KP_OP_COMMIT) == 6);
	/*
	 * Ten: the system is short, not the map, so M_WAITOK retries after
	 * 1 ms, then 2, 4, ... (about 0.4 s in all), rather than a wait slice
	 * of 250 ms for a free that need not come (2.5 s).
	 */
	kp_inject(KP_OP_COMMIT, 0, 10);
	uint64_t t0 = kp_clock_ns();
	void *r = kmem_malloc(MB, M_WAITOK);
	uint64_t took = kp_clock_ns() - t0;
	KT_CHECK(r != NULL);
	KT_CHECK(kp_injected(KP_OP_COMMIT) == 16);
	KT_LE(took, 2000000000u);
	kmem_free(r, MB);
	kmem_free(p, MB);
	kmem_free(q, MB);
	report_check();
}

static void
test_commit_fails(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION(); /* it counts the refusals it injects */
	kt_assert_child_ok(child_commit_fails, NULL);
}

/* ---- the report ------------------------------------------------------------- */

static void
child_report(void *arg)
{
	kt_map_setup("32M");
	KT_CHECK(kmem_setopt("wait_warn_ms", "250") == 0);
	vmem_t *sm = kmem_submap_create("pipe_map", 4 * MB);
	void *a = kmem_malloc(3 * MB, M_WAITOK);
	void *b = kmem_arena_malloc(sm, MB, M_WAITOK);
	/* Metadata grows with many segments (tags and hash). */
	void *v[2000];
	for (int i = 0; i < 2000; i++)
		v[i] = kmem_malloc(4096, M_WAITOK);
	kmem_report(stdout);
	report_check();
	for (int i = 0; i < 2000; i += 2)
		kmem_free(v[i], 4096);
	report_check();
	for (int i = 1; i < 2000; i += 2)
		kmem_free(v[i], 4096);
	kmem_free(a, 3 * MB);
	kmem_arena_free(sm, b, MB);
	report_check();
	KT_CHECK(kmem_report(NULL) == -1 && errno == EINVAL);
}

static void
test_report(void **state)
{
	kt_assert_child_ok(child_report, NULL);
}

/*
 * The page table and the dirty bits have no page-table words of their own:
 * a map of 16 GiB has 32 MiB of page table, whose words would take 64 KiB
 * of it, resident in every process.  The first page of the page table
 * describes only the page table, so it stays out of memory; the words of
 * those pages read 0 and kmem_pt_word() says "metadata".
 */
static void
child_pt_self(void *arg)
{
	size_t ps = kmem_page_size();

	kt_map_setup("16G");
	void *p = kmem_malloc(3 * ps, M_WAITOK);
	KT_CHECK(p != NULL);
	const struct kmem_map *m = &kmem_map_store;
	KT_CHECK(m->km_ptbytes >= 8 * MB);
	/* (Before any read of those words: a read maps the zero page.) */
	unsigned char vec[4];
	KT_EQ(mincore((void *)m->km_pt, 4 * ps, vec), 0);
	for (int i = 0; i < 4; i++)
		KT_EQ(vec[i] & 1, 0);
	KT_EQ(kmem_pt_get((void *)m->km_pt), 0);
	KT_EQ(KPT_CLASS(kmem_pt_word((void *)m->km_pt)), KMC_META);
	KT_EQ(KPT_CLASS(kmem_pt_word((char *)m->km_pt + m->km_ptbytes - 1)),
	    KMC_META);
	KT_EQ(KPT_CLASS(kmem_pt_word((void *)m->km_dirty)), KMC_META);
	KT_EQ(KPT_CLASS(kmem_pt_word(p)), KMC_DIRECT);
	kmem_free(p, 3 * ps);
}

static void
test_pt_self(void **state)
{
	kt_assert_child_ok(child_pt_self, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_exhaust_nowait),
		cmocka_unit_test(test_never_fits),
		cmocka_unit_test(test_lowmem),
		cmocka_unit_test(test_submaps),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_tune),
		cmocka_unit_test(test_tune_process),
		cmocka_unit_test(test_commit_fails),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_pt_self),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
