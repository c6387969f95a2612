/*
 * test_vmem_qcache.c -- vmem's quantum caches are uma zones: small
 * allocations go through a zone of their size, freed segments stay cached
 * (and count as allocated), a request that finds no fit drains the caches
 * and searches again, and vmem_destroy() tears the zones down.
 */
#include <errno.h>
#include <string.h>

#include "kt.h"
#include "uma/uma_stats.h"
#include "vmem/vmem_int.h"

#define Q 4096

struct find {
	const char *name;
	uma_zone_t zone;
};

static void
find_zone(uma_zone_t zone, void *arg)
{
	struct find *f = arg;

	if (strcmp(uma_zone_name(zone), f->name) == 0)
		f->zone = zone;
}

static uma_zone_t
zone_named(const char *name)
{
	struct find f = {name, NULL};

	uma_zone_foreach(find_zone, &f);
	return (f.zone);
}

static void
child_qcache(void *arg)
{
	vmem_addr_t a[64], big;

	KT_CHECK(kmem_setopt("kmem_size", "16M") == 0);
	/* 64 quanta; sizes of 1..4 quanta are cached. */
	vmem_t *vm = vmem_create("qcv", Q, 64 * Q, Q, 4 * Q, M_WAITOK);
	KT_CHECK(vm != NULL);
	uma_zone_t z1 = zone_named("qcv-4096");
	uma_zone_t z4 = zone_named("qcv-16384");
	KT_CHECK(z1 != NULL && z4 != NULL);
	KT_CHECK(zone_named("qcv-20480") == NULL);

	for (int i = 0; i < 8; i++) {
		KT_CHECK(vmem_alloc(vm, Q, M_NOWAIT, &a[i]) == 0);
		KT_CHECK(a[i] >= Q && a[i] < 65 * Q && a[i] % Q == 0);
		for (int j = 0; j < i; j++)
			KT_CHECK(a[j] != a[i]);
	}
	struct uma_zone_stats st;
	uma_zone_get_stats(z1, &st);
	KT_CHECK(st.zs_used == 8);
	KT_CHECK(st.zs_requests == 8);
	/* The zone imported a batch: more is taken from the arena than used. */
	KT_CHECK(vmem_size(vm, VMEM_ALLOC) > 8 * Q);

	for (int i = 0; i < 8; i++)
		vmem_free(vm, a[i], Q);
	uma_zone_get_stats(z1, &st);
	KT_CHECK(st.zs_used == 0);
	/* Cached segments still count as allocated ... */
	KT_CHECK(vmem_size(vm, VMEM_ALLOC) >= 8 * Q);
	/* ... until a request that needs the whole arena drains them. */
	KT_CHECK(vmem_xalloc(vm, 64 * Q, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT, &big) == 0);
	KT_CHECK(big == Q);
	KT_CHECK(vmem_size(vm, VMEM_FREE) == 0);
	vmem_xfree(vm, big, 64 * Q);
	KT_CHECK(vmem_size(vm, VMEM_ALLOC) == 0);

	/* Exhaustion through the cache is a clean ENOMEM. */
	int n = 0;
	while (n < 64 && vmem_alloc(vm, Q, M_NOWAIT, &a[n]) == 0)
		n++;
	KT_CHECK(n == 64);
	vmem_addr_t x;
	KT_CHECK(vmem_alloc(vm, Q, M_NOWAIT, &x) == ENOMEM);
	for (int i = 0; i < n; i++)
		vmem_free(vm, a[i], Q);
	vmem_check(vm);
	vmem_destroy(vm);
	KT_CHECK(zone_named("qcv-4096") == NULL);
}

static void
test_qcache_zones(void **state)
{
	struct kt_result r;

	kt_child(child_qcache, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	/* Nothing was left allocated: no complaint from destroy. */
	assert_null(strstr(r.kr_err, "still allocated"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qcache_zones),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
