/*
 * test_malloc_dl.c -- malloc types of a module loaded with dlopen(3): the
 * type registers when the module is loaded (no call from anyone), counts
 * the module's blocks, and unregisters when the module is unloaded; with
 * leak_report=1 a module unloaded while its type still holds memory says
 * how much.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <kmem/malloc.h>
#include <kmem/memstat.h>

#include "kt.h"

#ifndef KT_DLMOD_PATH
#error "KT_DLMOD_PATH must name the test module"
#endif

struct mod {
	void *handle;
	void *(*alloc)(size_t);
	void (*free)(void *);
	struct malloc_type *(*type)(void);
};

static void
mod_load(struct mod *m)
{
	m->handle = dlopen(KT_DLMOD_PATH, RTLD_NOW | RTLD_LOCAL);
	if (m->handle == NULL)
		fprintf(stderr, "dlopen: %s\n", dlerror());
	KT_CHECK(m->handle != NULL);
	*(void **)&m->alloc = dlsym(m->handle, "dlmod_alloc");
	*(void **)&m->free = dlsym(m->handle, "dlmod_free");
	*(void **)&m->type = dlsym(m->handle, "dlmod_type");
	KT_CHECK(m->alloc != NULL && m->free != NULL && m->type != NULL);
}

/* The "dlmod" type's count, or -1 when there is no such type. */
static long long
dlmod_count(void)
{
	struct memory_type_list *l = memstat_mtl_alloc();
	long long n = -1;

	KT_CHECK(l != NULL && memstat_self_all(l) == 0);
	struct memory_type *m = memstat_mtl_find(l, ALLOCATOR_MALLOC, "dlmod");
	if (m != NULL)
		n = (long long)memstat_get_count(m);
	memstat_mtl_free(l);
	return (n);
}

static void
child_clean_unload(void *arg)
{
	struct mod m;

	kt_map_setup("32M");
	KT_EQ(dlmod_count() + 1, 0); /* not loaded: no such type */
	mod_load(&m);
	/* Registered by the module's constructor. */
	KT_CHECK(m.type()->ks_index != 0);
	void *p[4];
	for (int i = 0; i < 4; i++)
		p[i] = m.alloc(100);
	KT_EQ(dlmod_count(), 4);
	for (int i = 0; i < 4; i++)
		m.free(p[i]);
	KT_EQ(dlmod_count(), 0);
	KT_CHECK(dlclose(m.handle) == 0);
	/* Unregistered: gone from the statistics. */
	KT_EQ(dlmod_count() + 1, 0);
}

static void
test_clean_unload(void **state)
{
	struct kt_result r;

	kt_child(child_clean_unload, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	assert_null(strstr(r.kr_err, "leaked"));
}

static void
child_leaky_unload(void *arg)
{
	struct mod m;

	KT_CHECK(kmem_setopt("leak_report", "1") == 0);
	kt_map_setup("32M");
	mod_load(&m);
	(void)m.alloc(128);     /* the 128-byte class */
	(void)m.alloc(128);
	(void)m.alloc(200000);  /* large: 49 pages */
	KT_EQ(dlmod_count(), 3);
	KT_CHECK(dlclose(m.handle) == 0);
}

static void
test_leaky_unload(void **state)
{
	struct kt_result r;

	kt_child(child_leaky_unload, NULL, &r);
	if (!r.kr_exited || r.kr_status != 0)
		fail_msg("%s", r.kr_err);
	assert_non_null(strstr(r.kr_err, "kmem: memory type dlmod leaked memory "
	    "on destroy (3 allocations, 200960 bytes leaked)\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_unload),
		cmocka_unit_test(test_leaky_unload),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
