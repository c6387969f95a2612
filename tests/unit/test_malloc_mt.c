/*
 * test_malloc_mt.c -- typed malloc across threads (KT_THREADED: also run
 * under ThreadSanitizer).  Exact per-type statistics after random mixes in
 * four threads, read while the threads are alive and again after they
 * exited; blocks freed by another thread than the one that allocated
 * them; types registered while other threads allocate and read
 * statistics; a thread that uses many types and exits; threads that
 * start after others exited, with exact counts and blocks of their own;
 * a block handed over to a new thread, which must not get it back;
 * M_WAITOK waiting
 * for a block another thread frees.
 *
 * Every test runs in a child of its own (kt_child) with a map of known size.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"
#include "kt_malloc.h"
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>

#define MB ((size_t)1 << 20)
#define NTHREADS 4
#define NRTYPES 10

MALLOC_DEFINE(M_R0, "mt0", "threads 0");
MALLOC_DEFINE(M_R1, "mt1", "threads 1");
MALLOC_DEFINE(M_R2, "mt2", "threads 2");
MALLOC_DEFINE(M_R3, "mt3", "threads 3");
MALLOC_DEFINE(M_R4, "mt4", "threads 4");
MALLOC_DEFINE(M_R5, "mt5", "threads 5");
MALLOC_DEFINE(M_R6, "mt6", "threads 6");
MALLOC_DEFINE(M_R7, "mt7", "threads 7");
MALLOC_DEFINE(M_R8, "mt8", "threads 8");
MALLOC_DEFINE(M_R9, "mt9", "threads 9");
MALLOC_DEFINE(M_WAIT, "waiter", "M_WAITOK test");

static struct malloc_type *const rtypes[NRTYPES] = {M_R0, M_R1, M_R2, M_R3,
    M_R4, M_R5, M_R6, M_R7, M_R8, M_R9};

/* ---- exact statistics after random mixes in four threads -------------------------- */

#define NSLOTS 256
#define NOPS (100000 / NTHREADS)

struct slot {
	unsigned char *s_p;
	size_t s_size;
	size_t s_usable;
	int s_type;
	uint32_t s_seed;
};

struct model {
	uint64_t m_count, m_bytes, m_allocs, m_frees, m_mask;
};

struct worker {
	pthread_t w_thread;
	int w_id;
	uint64_t w_rs;
	struct slot w_slots[NSLOTS];
	struct model w_model[NRTYPES];
};

static pthread_barrier_t mix_done, mix_checked;

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
	} else {
		m->m_count--;
		m->m_bytes -= usable;
		m->m_frees++;
	}
}

static void *
mix_thread(void *arg)
{
	struct worker *w = arg;

	for (int op = 0; op < NOPS; op++) {
		struct slot *s = &w->w_slots[kt_rand(&w->w_rs) % NSLOTS];
		uint64_t r = kt_rand(&w->w_rs) % 8;
		uint32_t seed = (uint32_t)(op * NTHREADS + w->w_id);
		if (s->s_p == NULL) {
			int ty = (int)(kt_rand(&w->w_rs) % NRTYPES);
			size_t size = random_size(&w->w_rs);
			s->s_p = kmalloc(size, rtypes[ty],
			    M_WAITOK | (r == 0 ? M_ZERO : 0));
			KT_CHECK(s->s_p != NULL);
			if (r == 0)
				KT_CHECK(s->s_p[0] == 0 && s->s_p[size - 1] == 0);
			s->s_size = size;
			s->s_usable = kmalloc_usable_size(s->s_p);
			KT_CHECK(usable_fits(size, s->s_usable));
			s->s_type = ty;
			s->s_seed = seed;
			mark(s->s_p, size, seed);
			model_add(&w->w_model[ty], s->s_usable, 1);
		} else if (r < 5) {
			check_mark(s->s_p, s->s_size, s->s_size, s->s_seed);
			if (r == 1)
				kzfree(s->s_p, rtypes[s->s_type]);
			else
				kfree(s->s_p, rtypes[s->s_type]);
			model_add(&w->w_model[s->s_type], s->s_usable, 0);
			s->s_p = NULL;
		} else {
			size_t size = random_size(&w->w_rs);
			size_t keep = size < s->s_size ? size : s->s_size;
			int kept = keeps(s->s_usable, size);
			unsigned char *n = krealloc(s->s_p, size, rtypes[s->s_type],
			    M_WAITOK);
			KT_CHECK(n != NULL);
			KT_EQ(n == s->s_p, kept);
			check_mark(n, s->s_size, keep, s->s_seed);
			if (!kept) {
				model_add(&w->w_model[s->s_type], s->s_usable, 0);
				s->s_usable = kmalloc_usable_size(n);
				KT_CHECK(usable_fits(size, s->s_usable));
				model_add(&w->w_model[s->s_type], s->s_usable, 1);
			}
			s->s_p = n;
			s->s_size = size;
			s->s_seed = seed;
			mark(n, size, seed);
		}
	}
	pthread_barrier_wait(&mix_done);
	/* Alive, idle, while the main thread reads the statistics. */
	pthread_barrier_wait(&mix_checked);
	return (NULL);
}

/* Checks every type and kmalloc zone against the sum of the models. */
static void
check_models(struct worker *w, int check_zones)
{
	struct memory_type_list *list = memstat_mtl_alloc();
	uint64_t zone_live[NCLASSES];

	KT_CHECK(list != NULL);
	KT_CHECK(memstat_self_all(list) == 0);
	for (int ty = 0; ty < NRTYPES; ty++) {
		struct model m;
		memset(&m, 0, sizeof(m));
		for (int t = 0; t < NTHREADS; t++) {
			const struct model *x = &w[t].w_model[ty];
			m.m_count += x->m_count;
			m.m_bytes += x->m_bytes;
			m.m_allocs += x->m_allocs;
			m.m_frees += x->m_frees;
			m.m_mask |= x->m_mask;
		}
		struct memory_type *mtp = memstat_mtl_find(list, ALLOCATOR_MALLOC,
		    rtypes[ty]->ks_shortdesc);
		KT_CHECK(mtp != NULL);
		KT_EQ(memstat_get_count(mtp), m.m_count);
		KT_EQ(memstat_get_bytes(mtp), m.m_bytes);
		KT_EQ(memstat_get_numallocs(mtp), m.m_allocs);
		KT_EQ(memstat_get_numfrees(mtp), m.m_frees);
		KT_EQ(memstat_get_sizemask(mtp), m.m_mask);
		KT_EQ(memstat_get_failures(mtp), 0);
		KT_LE(m.m_bytes, memstat_get_highbytes(mtp));
	}
	memset(zone_live, 0, sizeof(zone_live));
	for (int t = 0; t < NTHREADS; t++)
		for (int i = 0; i < NSLOTS; i++) {
			const struct slot *s = &w[t].w_slots[i];
			int c = s->s_p != NULL ? class_of(s->s_usable) : -1;
			if (c >= 0)
				zone_live[c]++;
		}
	for (int c = 0; c < NCLASSES; c++) {
		char name[16];
		snprintf(name, sizeof(name), "%zu", classes[c]);
		struct memory_type *mtp = memstat_mtl_find(list, ALLOCATOR_UMA,
		    name);
		KT_CHECK(mtp != NULL);
		KT_EQ(memstat_get_allocator(mtp), ALLOCATOR_UMA);
		KT_EQ(memstat_get_malloc_backed(mtp), 1);
		KT_EQ(memstat_get_size(mtp), classes[c]);
		if (check_zones)
			KT_EQ(memstat_get_count(mtp), zone_live[c]);
	}
	memstat_mtl_free(list);
}

static void
child_stats_threads(void *arg)
{
	static struct worker w[NTHREADS];

	kt_map_setup("512M");
	pthread_barrier_init(&mix_done, NULL, NTHREADS + 1);
	pthread_barrier_init(&mix_checked, NULL, NTHREADS + 1);
	for (int t = 0; t < NTHREADS; t++) {
		w[t].w_id = t;
		w[t].w_rs = 0x2545f4914f6cdd1dULL * (uint64_t)(t + 1);
		KT_CHECK(pthread_create(&w[t].w_thread, NULL, mix_thread,
		    &w[t]) == 0);
	}
	pthread_barrier_wait(&mix_done);
	/* The threads are alive: their counts are in their own blocks. */
	check_models(w, 1);
	pthread_barrier_wait(&mix_checked);
	for (int t = 0; t < NTHREADS; t++)
		KT_CHECK(pthread_join(w[t].w_thread, NULL) == 0);
	/* They exited: their counts were folded into the types' totals. */
	check_models(w, 1);
	/* The main thread frees what they left. */
	for (int t = 0; t < NTHREADS; t++)
		for (int i = 0; i < NSLOTS; i++) {
			struct slot *s = &w[t].w_slots[i];
			if (s->s_p == NULL)
				continue;
			check_mark(s->s_p, s->s_size, s->s_size, s->s_seed);
			kfree(s->s_p, rtypes[s->s_type]);
			model_add(&w[t].w_model[s->s_type], s->s_usable, 0);
			s->s_p = NULL;
		}
	check_models(w, 1);
	for (int ty = 0; ty < NRTYPES; ty++) {
		struct kt_tstat st = kt_stat_of(ALLOCATOR_MALLOC, rtypes[ty]->ks_shortdesc);
		KT_EQ(st.count, 0);
		KT_EQ(st.bytes, 0);
		KT_EQ(st.numallocs, st.numfrees);
	}
	pthread_barrier_destroy(&mix_done);
	pthread_barrier_destroy(&mix_checked);
}

static void
test_stats_threads(void **state)
{
	kt_assert_child_ok(child_stats_threads, NULL);
}

/* ---- blocks freed by other threads ------------------------------------------------- */

#define XFER_N 20000
#define XFER_Q 64

struct xfer_item {
	unsigned char *x_p;
	size_t x_size;
	int x_type;
	uint32_t x_seed;
};

static struct {
	pthread_mutex_t q_lock;
	pthread_cond_t q_cv;
	struct xfer_item q_items[XFER_Q];
	int q_head, q_n;
	int q_producers_left;
} xq = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0, 0};

static _Atomic uint64_t xfer_allocs[NRTYPES], xfer_bytes[NRTYPES];

static void *
xfer_producer(void *arg)
{
	uint64_t rs = 0x1234567ULL + (uint64_t)(uintptr_t)arg;

	for (int i = 0; i < XFER_N; i++) {
		struct xfer_item it;
		it.x_type = (int)(kt_rand(&rs) % NRTYPES);
		it.x_size = random_size(&rs);
		it.x_seed = (uint32_t)kt_rand(&rs);
		it.x_p = kmalloc(it.x_size, rtypes[it.x_type], M_WAITOK);
		KT_CHECK(it.x_p != NULL);
		mark(it.x_p, it.x_size, it.x_seed);
		atomic_fetch_add(&xfer_allocs[it.x_type], 1);
		atomic_fetch_add(&xfer_bytes[it.x_type], usable_of(it.x_size));
		pthread_mutex_lock(&xq.q_lock);
		while (xq.q_n == XFER_Q)
			pthread_cond_wait(&xq.q_cv, &xq.q_lock);
		xq.q_items[(xq.q_head + xq.q_n) % XFER_Q] = it;
		xq.q_n++;
		pthread_cond_broadcast(&xq.q_cv);
		pthread_mutex_unlock(&xq.q_lock);
	}
	pthread_mutex_lock(&xq.q_lock);
	xq.q_producers_left--;
	pthread_cond_broadcast(&xq.q_cv);
	pthread_mutex_unlock(&xq.q_lock);
	return (NULL);
}

static void *
xfer_consumer(void *arg)
{
	for (;;) {
		struct xfer_item it;
		pthread_mutex_lock(&xq.q_lock);
		while (xq.q_n == 0 && xq.q_producers_left > 0)
			pthread_cond_wait(&xq.q_cv, &xq.q_lock);
		if (xq.q_n == 0) {
			pthread_mutex_unlock(&xq.q_lock);
			return (NULL);
		}
		it = xq.q_items[xq.q_head];
		xq.q_head = (xq.q_head + 1) % XFER_Q;
		xq.q_n--;
		pthread_cond_broadcast(&xq.q_cv);
		pthread_mutex_unlock(&xq.q_lock);
		check_mark(it.x_p, it.x_size, it.x_size, it.x_seed);
		KT_CHECK(usable_fits(it.x_size, kmalloc_usable_size(it.x_p)));
		kfree(it.x_p, rtypes[it.x_type]);
	}
}

static void
child_cross_thread(void *arg)
{
	pthread_t prod[2], cons[2];

	kt_map_setup("256M");
	xq.q_producers_left = 2;
	for (int i = 0; i < 2; i++) {
		KT_CHECK(pthread_create(&prod[i], NULL, xfer_producer,
		    (void *)(uintptr_t)i) == 0);
		KT_CHECK(pthread_create(&cons[i], NULL, xfer_consumer, NULL) == 0);
	}
	for (int i = 0; i < 2; i++) {
		KT_CHECK(pthread_join(prod[i], NULL) == 0);
		KT_CHECK(pthread_join(cons[i], NULL) == 0);
	}
	uint64_t total = 0;
	for (int ty = 0; ty < NRTYPES; ty++) {
		struct kt_tstat st = kt_stat_of(ALLOCATOR_MALLOC, rtypes[ty]->ks_shortdesc);
		KT_CHECK(st.found);
		KT_EQ(st.numallocs, atomic_load(&xfer_allocs[ty]));
		KT_EQ(st.numfrees, atomic_load(&xfer_allocs[ty]));
		KT_EQ(st.count, 0);
		KT_EQ(st.bytes, 0);
		total += st.numallocs;
	}
	KT_EQ(total, 2 * XFER_N);
}

static void
test_cross_thread(void **state)
{
	kt_assert_child_ok(child_cross_thread, NULL);
}

/* ---- types registered while others allocate ------------------------------------------- */

#define REG_PER 8
#define REG_ROUNDS 1500

static struct malloc_type reg_types[NTHREADS][REG_PER];
static char reg_names[NTHREADS][REG_PER][16];
static atomic_int reg_running;

static void *
reg_thread(void *arg)
{
	int t = (int)(uintptr_t)arg;
	uint64_t rs = 77 + (uint64_t)t;

	for (int i = 0; i < REG_PER; i++) {
		struct malloc_type *mt = &reg_types[t][i];
		snprintf(reg_names[t][i], sizeof(reg_names[t][i]), "dyn%d_%d", t, i);
		mt->ks_magic = M_MAGIC;
		mt->ks_shortdesc = reg_names[t][i];
		mt->ks_longdesc = "registered by a thread";
		malloc_type_register(mt);
		KT_CHECK(mt->ks_index != 0);
	}
	for (int r = 0; r < REG_ROUNDS; r++) {
		struct malloc_type *mt = &reg_types[t][r % REG_PER];
		size_t size = 1 + kt_rand(&rs) % 2048;
		void *p = kmalloc(size, mt, M_WAITOK);
		KT_CHECK(p != NULL);
		memset(p, t, size);
		kfree(p, mt);
	}
	/* One block of each type stays allocated. */
	for (int i = 0; i < REG_PER; i++)
		KT_CHECK(kmalloc(100, &reg_types[t][i], M_WAITOK) != NULL);
	atomic_fetch_sub(&reg_running, 1);
	return (NULL);
}

static void
child_register_concurrent(void *arg)
{
	pthread_t th[NTHREADS];
	struct memory_type_list *list;
	int reads = 0;

	kt_map_setup("64M");
	list = memstat_mtl_alloc();
	KT_CHECK(list != NULL);
	atomic_store(&reg_running, NTHREADS);
	for (int t = 0; t < NTHREADS; t++)
		KT_CHECK(pthread_create(&th[t], NULL, reg_thread,
		    (void *)(uintptr_t)t) == 0);
	/* Read the statistics all along. */
	while (atomic_load(&reg_running) > 0 || reads == 0) {
		KT_CHECK(memstat_self_all(list) == 0);
		for (struct memory_type *m = memstat_mtl_first(list); m != NULL;
		    m = memstat_mtl_next(m))
			KT_CHECK(memstat_get_name(m)[0] != '\0');
		reads++;
	}
	for (int t = 0; t < NTHREADS; t++)
		KT_CHECK(pthread_join(th[t], NULL) == 0);
	KT_CHECK(memstat_self_all(list) == 0);
	for (int t = 0; t < NTHREADS; t++)
		for (int i = 0; i < REG_PER; i++) {
			struct malloc_type *mt = &reg_types[t][i];
			/* Every type has an index of its own. */
			for (int u = 0; u <= t; u++)
				for (int j = 0; j < (u == t ? i : REG_PER); j++)
					KT_CHECK(reg_types[u][j].ks_index != mt->ks_index);
			struct memory_type *m = memstat_mtl_find(list,
			    ALLOCATOR_MALLOC, reg_names[t][i]);
			KT_CHECK(m != NULL);
			uint64_t rounds = REG_ROUNDS / REG_PER +
			    (i < REG_ROUNDS % REG_PER ? 1 : 0);
			KT_EQ(memstat_get_numallocs(m), rounds + 1);
			KT_EQ(memstat_get_numfrees(m), rounds);
			KT_EQ(memstat_get_count(m), 1);
			KT_EQ(memstat_get_bytes(m), usable_of(100));
		}
	memstat_mtl_free(list);
}

static void
test_register_concurrent(void **state)
{
	kt_assert_child_ok(child_register_concurrent, NULL);
}

/* ---- a thread that uses many types, then exits ------------------------------------------- */

#define MANY 100

static struct malloc_type many_types[MANY];
static char many_names[MANY][16];

static void *
many_thread(void *arg)
{
	void *p[MANY];

	/* Low indices first, then the high ones. */
	for (int i = 0; i < MANY; i++) {
		p[i] = kmalloc(32, &many_types[i], M_WAITOK);
		KT_CHECK(p[i] != NULL);
	}
	for (int i = 0; i < MANY; i++)
		kfree(p[i], &many_types[i]);
	return (NULL);
}

static void
child_many_types(void *arg)
{
	pthread_t th;

	kt_map_setup("64M");
	for (int i = 0; i < MANY; i++) {
		snprintf(many_names[i], sizeof(many_names[i]), "many%d", i);
		many_types[i].ks_magic = M_MAGIC;
		many_types[i].ks_shortdesc = many_names[i];
		many_types[i].ks_longdesc = "one of many";
		malloc_type_register(&many_types[i]);
	}
	KT_CHECK(many_types[MANY - 1].ks_index > 64);
	for (int round = 0; round < 2; round++) {
		KT_CHECK(pthread_create(&th, NULL, many_thread, NULL) == 0);
		KT_CHECK(pthread_join(th, NULL) == 0);
	}
	for (int i = 0; i < MANY; i++) {
		struct kt_tstat st = kt_stat_of(ALLOCATOR_MALLOC, many_names[i]);
		KT_CHECK(st.found);
		KT_EQ(st.numallocs, 2);
		KT_EQ(st.numfrees, 2);
		KT_EQ(st.count, 0);
		KT_EQ(st.sizemask, 1u << 1);
	}
}

static void
test_many_types(void **state)
{
	kt_assert_child_ok(child_many_types, NULL);
}

/* ---- threads that start after others exited ------------------------------------------- */

/*
 * Exited threads leave their caches and count blocks for the next threads
 * to take again: a taken one must start empty, so the next thread neither
 * counts again what the last one counted nor hands out blocks that the
 * last one's cache held.
 */
#define CHURN 24
#define CHURN_KEEP 8

static unsigned char *churn_kept[CHURN][CHURN_KEEP];

static void *
churn_thread(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct malloc_type *type = rtypes[t % NRTYPES];
	unsigned char *p[64];
	int n = 16 + t;

	for (int i = 0; i < n; i++) {
		p[i] = kmalloc(i % 2 ? 32 : 300, type, M_WAITOK);
		KT_CHECK(p[i] != NULL);
		memset(p[i], t + 1, i % 2 ? 32 : 300);
	}
	for (int i = 0; i < n; i++) {
		if (i < CHURN_KEEP)
			churn_kept[t][i] = p[i];
		else
			kfree(p[i], type);
	}
	return (NULL);
}

static void
child_thread_churn(void *arg)
{
	struct kt_tstat before[NRTYPES];
	uint64_t allocs[NRTYPES] = {0}, kept[NRTYPES] = {0};
	pthread_t th;

	(void)arg;
	kt_map_setup("64M");
	for (int k = 0; k < NRTYPES; k++)
		before[k] = kt_stat_of(ALLOCATOR_MALLOC, rtypes[k]->ks_shortdesc);
	for (int t = 0; t < CHURN; t++) {
		KT_CHECK(pthread_create(&th, NULL, churn_thread,
		    (void *)(intptr_t)t) == 0);
		KT_CHECK(pthread_join(th, NULL) == 0);
		allocs[t % NRTYPES] += 16 + t;
		kept[t % NRTYPES] += CHURN_KEEP;
	}
	for (int k = 0; k < NRTYPES; k++) {
		struct kt_tstat st = kt_stat_of(ALLOCATOR_MALLOC,
		    rtypes[k]->ks_shortdesc);
		KT_EQ(st.numallocs - before[k].numallocs, allocs[k]);
		KT_EQ(st.count - before[k].count, kept[k]);
	}
	/* Every kept block is its own, with what its thread wrote. */
	for (int t = 0; t < CHURN; t++)
		for (int i = 0; i < CHURN_KEEP; i++) {
			size_t len = i % 2 ? 32 : 300;
			for (size_t b = 0; b < len; b++)
				KT_EQ(churn_kept[t][i][b], t + 1);
			kfree(churn_kept[t][i], rtypes[t % NRTYPES]);
		}
}

static void
test_thread_churn(void **state)
{
	(void)state;
	kt_assert_child_ok(child_thread_churn, NULL);
}

/* ---- a block handed over to a new thread ------------------------------------------------ */

/*
 * A new thread that frees a block another thread gave it, then allocates,
 * gets neither that block back nor one in the cache line of the giver's
 * other block (passive false sharing): for small and line-sized classes,
 * with the giver's cache filled once or many times before.
 */
static unsigned char *hand_given, *hand_got;
static size_t hand_size;

static void *
handover_thread(void *arg)
{
	(void)arg;
	kfree(hand_given, M_R0);
	hand_got = kmalloc(hand_size, M_R0, M_WAITOK);
	KT_CHECK(hand_got != NULL);
	return (NULL);
}

static void
child_handover(void *arg)
{
	static const size_t sizes[] = { 8, 16, 32, 48, 64, 128, 256, 1024 };
	static const int before[] = { 0, 1, 7, 300 };
	static void *held[300];
	pthread_t th;

	(void)arg;
	kt_map_setup("64M");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (size_t b = 0; b < sizeof(before) / sizeof(before[0]); b++) {
			hand_size = sizes[s];
			for (int i = 0; i < before[b]; i++)
				KT_CHECK((held[i] = kmalloc(hand_size, M_R0,
				    M_WAITOK)) != NULL);
			hand_given = kmalloc(hand_size, M_R0, M_WAITOK);
			unsigned char *other = kmalloc(hand_size, M_R0, M_WAITOK);
			KT_CHECK(hand_given != NULL && other != NULL);
			KT_CHECK(pthread_create(&th, NULL, handover_thread,
			    NULL) == 0);
			KT_CHECK(pthread_join(th, NULL) == 0);
			if (hand_got == hand_given ||
			    (uintptr_t)hand_got / 64 == (uintptr_t)other / 64) {
				fprintf(stderr, "size %zu after %d: the new thread "
				    "got %p, given %p, beside %p\n", hand_size,
				    before[b], (void *)hand_got, (void *)hand_given,
				    (void *)other);
				KT_CHECK(!"a handed-over block or its line came back");
			}
			kfree(hand_got, M_R0);
			kfree(other, M_R0);
			for (int i = 0; i < before[b]; i++)
				kfree(held[i], M_R0);
		}
}

static void
test_handover(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	(void)state;
	if (!KT_ZONE_CACHES)
		skip(); /* no caches: every block goes back to its slab */
	kt_assert_child_ok(child_handover, NULL);
}

/* ---- M_WAITOK waits for a free --------------------------------------------------------------- */

static void *wait_got;
static atomic_int wait_state; /* 0 warming up, 1 ready, 2 go, 3 calling */

static void *
waiter(void *arg)
{
	/*
	 * Set the thread up (its caches, its counters, a record of a large
	 * block) while the map has room, so that the wait below is for the
	 * one block the main thread frees and nothing else.
	 */
	void *p = kmalloc(100, M_WAIT, M_WAITOK);
	void *q = kmalloc(MB, M_WAIT, M_WAITOK);
	KT_CHECK(p != NULL && q != NULL);
	kfree(p, M_WAIT);
	kfree(q, M_WAIT);
	atomic_store(&wait_state, 1);
	while (atomic_load(&wait_state) != 2)
		sched_yield();
	atomic_store(&wait_state, 3);
	wait_got = kmalloc(MB, M_WAIT, M_WAITOK);
	return (NULL);
}

static void
child_waitok(void *arg)
{
	static void *held[64];
	int n = 0;
	pthread_t th;

	KT_CHECK(kmem_setopt("wait_warn_ms", "0") == 0);
	kt_map_setup("16M");
	KT_CHECK(pthread_create(&th, NULL, waiter, NULL) == 0);
	while (atomic_load(&wait_state) != 1)
		sched_yield();
	for (;;) {
		KT_CHECK(n < 64);
		void *p = kmalloc(MB, M_WAIT, M_NOWAIT);
		if (p == NULL)
			break;
		held[n++] = p;
	}
	KT_CHECK(n >= 4);
	KT_EQ(kt_stat_of(ALLOCATOR_MALLOC, "waiter").failures, 1);
	atomic_store(&wait_state, 2);
	while (atomic_load(&wait_state) != 3)
		sched_yield();
	/* Whether or not it sleeps already, this free is what it waits for. */
	kfree(held[--n], M_WAIT);
	KT_CHECK(pthread_join(th, NULL) == 0);
	KT_CHECK(wait_got != NULL);
	struct kt_tstat st = kt_stat_of(ALLOCATOR_MALLOC, "waiter");
	KT_EQ(st.failures, 1);
	KT_EQ(st.count, (uint64_t)n + 1);
	/* The blocks held, the two of the warm-up and the one waited for. */
	KT_EQ(st.numallocs, (uint64_t)n + 1 + 2 + 1);
	kfree(wait_got, M_WAIT);
	while (n > 0)
		kfree(held[--n], M_WAIT);
	KT_EQ(kt_stat_of(ALLOCATOR_MALLOC, "waiter").count, 0);
}

static void
test_waitok(void **state)
{
	kt_assert_child_ok(child_waitok, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_threads),
		cmocka_unit_test(test_cross_thread),
		cmocka_unit_test(test_register_concurrent),
		cmocka_unit_test(test_many_types),
		cmocka_unit_test(test_thread_churn),
		cmocka_unit_test(test_handover),
		cmocka_unit_test(test_waitok),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
