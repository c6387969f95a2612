/*
 * test_uma_mt.c -- uma zones across threads (KT_THREADED: also run under
 * ThreadSanitizer).  M_WAITOK sleeps at a zone's limit and wakes when
 * another thread frees; the limit holds with several threads; items freed
 * by other threads than the one that allocated them; a thread's cache goes
 * back to the zone when the thread exits; exact statistics after random
 * mixes in four threads; and a deterministic stress test that passes
 * items between threads and checks their contents before every free.
 *
 * Every test runs in a child of its own (kt_child) with a map of known size.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include "platform/prim.h"
#include "uma/uma_int.h"
#include "uma/uma_stats.h"

#define MB ((size_t)1 << 20)
#define NTHREADS 4

static void
start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	KT_CHECK(pthread_create(t, NULL, fn, arg) == 0);
}

static void
join(pthread_t t)
{
	KT_CHECK(pthread_join(t, NULL) == 0);
}

/* ---- M_WAITOK at the limit --------------------------------------------- */

struct waiter {
	uma_zone_t w_zone;  /* zone to allocate from */
	void *w_item;       /* what it got */
	atomic_int w_done;  /* set once uma_zalloc() returned */
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->w_item = uma_zalloc(w->w_zone, M_WAITOK);
	atomic_store(&w->w_done, 1);
	return (NULL);
}

/* Waits (bounded, not timed) until the zone counted n sleeps. */
static void
wait_sleeps(uma_zone_t z, uint64_t n)
{
	for (int i = 0; i < 20000; i++) {
		if (kt_zone_stats(z).zs_sleeps >= n)
			return;
		kp_sleep_ns(1000000);
	}
	KT_CHECK(kt_zone_stats(z).zs_sleeps >= n);
}

/*
 * Joins a waiter, or fails if it is still asleep after a generous bound
 * (a hang guard, not a timing check: a free wakes it at once).
 */
static void
join_waiter(pthread_t t, struct waiter *w)
{
	for (int i = 0; i < 10000 && !atomic_load(&w->w_done); i++)
		kp_sleep_ns(1000000);
	if (!atomic_load(&w->w_done)) {
		struct uma_zone_stats st = kt_zone_stats(w->w_zone);
		fprintf(stderr, "a waiter still sleeps: used %llu, limit %llu, "
		    "free in the bucket cache %llu, in thread caches %llu\n",
		    (unsigned long long)st.zs_used,
		    (unsigned long long)st.zs_limit,
		    (unsigned long long)st.zs_free_bucket,
		    (unsigned long long)st.zs_free_cache);
		KT_CHECK(!"every waiter woke after the frees");
	}
	join(t);
}

/* Waits (bounded) until n threads sleep at the zone's limit. */
static void
wait_sleepers(uma_zone_t z, uint32_t n)
{
	uint32_t now = 0;

	for (int i = 0; i < 20000; i++) {
		kp_mutex_lock(&z->uz_lock);
		now = z->uz_sleepers;
		kp_mutex_unlock(&z->uz_lock);
		if (now >= n)
			return;
		kp_sleep_ns(1000000);
	}
	KT_EQ(now, n);
}

/*
 * With a limit of 20 the zone has no caches; with 200 it has, and frees
 * must skip them while someone sleeps.
 */
static void
child_waitok(void *arg)
{
	static void *v[400];
	struct waiter w[3];
	pthread_t t[3];
	int max = *(const int *)arg;

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("waitz", 256, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	int r = uma_zone_set_max(z, max);
	KT_CHECK(r >= max && r <= 400);
	for (int i = 0; i < r; i++)
		KT_CHECK((v[i] = uma_zalloc(z, M_NOWAIT)) != NULL);
	KT_EQ(kt_zone_stats(z).zs_sleeps, 0);

	/* One waiter: it sleeps, and nothing but a free wakes it for good. */
	memset(w, 0, sizeof(w));
	w[0].w_zone = z;
	start(&t[0], waiter_main, &w[0]);
	wait_sleeps(z, 1);
	KT_EQ(atomic_load(&w[0].w_done), 0);
	KT_EQ(uma_zone_get_cur(z), r);
	uma_zfree(z, v[0]);
	join_waiter(t[0], &w[0]);
	KT_EQ(atomic_load(&w[0].w_done), 1);
	KT_CHECK(w[0].w_item != NULL);
	v[0] = w[0].w_item;
	KT_EQ(uma_zone_get_cur(z), r);

	/* Three waiters, then three frees in a row: each waiter gets one. */
	uint64_t sleeps = kt_zone_stats(z).zs_sleeps;
	for (int i = 0; i < 3; i++) {
		w[i].w_zone = z;
		w[i].w_item = NULL;
		atomic_store(&w[i].w_done, 0);
		start(&t[i], waiter_main, &w[i]);
	}
	wait_sleeps(z, sleeps + 3);
	wait_sleepers(z, 3);
	for (int i = 0; i < 3; i++) {
		uma_zfree(z, v[i + 1]);
		v[i + 1] = NULL;
	}
	for (int i = 0; i < 3; i++) {
		join_waiter(t[i], &w[i]);
		KT_CHECK(w[i].w_item != NULL);
		v[i + 1] = w[i].w_item;
	}
	KT_EQ(uma_zone_get_cur(z), r);
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_used, r);
	KT_CHECK(st.zs_sleeps >= 4);
	KT_EQ(st.zs_failures, 0); /* M_WAITOK never failed */
	for (int i = 0; i < r; i++)
		uma_zfree(z, v[i]);
	KT_EQ(uma_zone_get_cur(z), 0);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_waitok(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	static const int limits[] = {20, 200};

	for (int i = 0; i < 2; i++)
		kt_assert_child_ok(child_waitok, (void *)&limits[i]);
}

/* ---- the limit holds across threads --------------------------------------- */

struct limiter {
	uma_zone_t l_zone;
	int l_max;                 /* the zone's limit */
	atomic_int *l_live;        /* items out, all threads */
	uint64_t l_seed;
	uint64_t l_allocs, l_nulls, l_frees;
};

static void *
limiter_main(void *arg)
{
	struct limiter *l = arg;
	void *held[80];
	int n = 0;

	for (int i = 0; i < 4000; i++) {
		if (n < 80 && (kt_rand(&l->l_seed) % 3 != 0 || n == 0)) {
			void *p = uma_zalloc(l->l_zone, M_NOWAIT);
			if (p == NULL) {
				l->l_nulls++;
				goto release;
			}
			l->l_allocs++;
			/* Never more items out than the limit. */
			int live = atomic_fetch_add(l->l_live, 1) + 1;
			KT_LE(live, l->l_max);
			held[n++] = p;
			continue;
		}
release:
		if (n > 0) {
			atomic_fetch_sub(l->l_live, 1);
			uma_zfree(l->l_zone, held[--n]);
			l->l_frees++;
		}
	}
	while (n > 0) {
		atomic_fetch_sub(l->l_live, 1);
		uma_zfree(l->l_zone, held[--n]);
		l->l_frees++;
	}
	return (NULL);
}

static void
child_limit_threads(void *arg)
{
	struct limiter l[NTHREADS];
	pthread_t t[NTHREADS];
	atomic_int live = 0;
	uint64_t allocs = 0, nulls = 0, frees = 0;

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("limit_mt", 96, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	int r = uma_zone_set_max(z, 200);
	for (int i = 0; i < NTHREADS; i++) {
		l[i] = (struct limiter){.l_zone = z, .l_max = r, .l_live = &live,
		    .l_seed = 0x51ed270b27a3c0d1ull + (uint64_t)i * 977};
		start(&t[i], limiter_main, &l[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		join(t[i]);
		allocs += l[i].l_allocs;
		nulls += l[i].l_nulls;
		frees += l[i].l_frees;
	}
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_used, 0);
	KT_EQ(st.zs_requests, allocs);
	KT_EQ(st.zs_frees, frees);
	KT_EQ(st.zs_failures, nulls);
	KT_EQ(st.zs_free_cache, 0); /* the threads exited */
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_limit_threads(void **state)
{
	kt_assert_child_ok(child_limit_threads, NULL);
}

/* ---- frees from other threads ---------------------------------------------- */

#define XN 20000
#define XSZ 96

static void *xitems[XN];

static void
xstamp(uint64_t *p, uint64_t tag)
{
	for (size_t i = 0; i < XSZ / 8; i++)
		p[i] = (uintptr_t)p * 31 + tag + i;
}

static void
xcheck(const uint64_t *p, uint64_t tag)
{
	for (size_t i = 0; i < XSZ / 8; i++)
		KT_EQ(p[i], (uintptr_t)p * 31 + tag + i);
}

struct xarg {
	uma_zone_t x_zone;
	int x_lo, x_hi; /* the range of xitems[] it handles */
};

static void *
xalloc_main(void *arg)
{
	struct xarg *x = arg;

	for (int i = x->x_lo; i < x->x_hi; i++) {
		xitems[i] = uma_zalloc(x->x_zone, M_WAITOK);
		KT_CHECK(xitems[i] != NULL);
		xstamp(xitems[i], 7);
	}
	return (NULL);
}

static void *
xfree_main(void *arg)
{
	struct xarg *x = arg;

	for (int i = x->x_lo; i < x->x_hi; i++) {
		xcheck(xitems[i], 7);
		uma_zfree(x->x_zone, xitems[i]);
	}
	return (NULL);
}

static void
child_cross_free(void *arg)
{
	pthread_t t[2];
	struct xarg a, f[2];

	kt_map_setup("32M");
	uma_zone_t z = uma_zcreate("crossfree", XSZ, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int round = 0; round < 3; round++) {
		/* One thread allocates everything and exits... */
		a = (struct xarg){z, 0, XN};
		start(&t[0], xalloc_main, &a);
		join(t[0]);
		KT_EQ(kt_zone_stats(z).zs_used, XN);
		KT_EQ(kt_zone_stats(z).zs_free_cache, 0);
		/* ...two others free it, in halves, at the same time. */
		f[0] = (struct xarg){z, 0, XN / 2};
		f[1] = (struct xarg){z, XN / 2, XN};
		start(&t[0], xfree_main, &f[0]);
		start(&t[1], xfree_main, &f[1]);
		join(t[0]);
		join(t[1]);
		struct uma_zone_stats st = kt_zone_stats(z);
		KT_EQ(st.zs_used, 0);
		KT_EQ(st.zs_requests, (uint64_t)XN * (round + 1));
		KT_EQ(st.zs_frees, (uint64_t)XN * (round + 1));
		KT_EQ(st.zs_free_cache, 0);
		kt_zone_consistent(z);
	}
	/* Allocated here, freed there, while this thread goes on. */
	for (int i = 0; i < XN; i++) {
		xitems[i] = uma_zalloc(z, M_NOWAIT);
		KT_CHECK(xitems[i] != NULL);
		xstamp(xitems[i], 7);
	}
	f[0] = (struct xarg){z, 0, XN};
	start(&t[0], xfree_main, &f[0]);
	for (int i = 0; i < 1000; i++)
		uma_zfree(z, uma_zalloc(z, M_WAITOK));
	join(t[0]);
	KT_EQ(kt_zone_stats(z).zs_used, 0);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_cross_free(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_cross_free, NULL);
}

/* ---- thread exit flushes its cache -------------------------------------------- */

struct flusher {
	uma_zone_t fl_zone;
	int fl_n;                       /* items to allocate and free */
	struct uma_zone_stats fl_st;    /* stats just before exiting */
	pthread_barrier_t *fl_bar;      /* all threads have freed */
};

static void *
flusher_main(void *arg)
{
	struct flusher *fl = arg;
	void *v[300];

	for (int i = 0; i < fl->fl_n; i++)
		KT_CHECK((v[i] = uma_zalloc(fl->fl_zone, M_WAITOK)) != NULL);
	for (int i = 0; i < fl->fl_n; i++)
		uma_zfree(fl->fl_zone, v[i]);
	pthread_barrier_wait(fl->fl_bar);
	/* Every thread has freed and none has exited: read the stats. */
	fl->fl_st = kt_zone_stats(fl->fl_zone);
	pthread_barrier_wait(fl->fl_bar);
	return (NULL);
}

static void
child_exit_flush(void *arg)
{
	struct flusher fl[NTHREADS];
	pthread_t t[NTHREADS];
	pthread_barrier_t bar;

	kt_map_setup("16M");
	uma_zone_t z = uma_zcreate("exitflush", 160, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	KT_CHECK(pthread_barrier_init(&bar, NULL, NTHREADS) == 0);
	for (int i = 0; i < NTHREADS; i++) {
		fl[i] = (struct flusher){.fl_zone = z, .fl_n = 10 + 90 * i,
		    .fl_bar = &bar};
		start(&t[i], flusher_main, &fl[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		join(t[i]);
	pthread_barrier_destroy(&bar);

	/* While they lived, their caches held items. */
	struct uma_zone_stats before = fl[0].fl_st;
	KT_CHECK(!KT_ZONE_CACHES || before.zs_free_cache > 0);
	KT_EQ(before.zs_used, 0);
	/* After they exited, the zone holds them all, none lost. */
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_free_cache, 0);
	KT_EQ(st.zs_used, 0);
	KT_EQ(st.zs_free_bucket + st.zs_free_slab, before.zs_free);
	KT_EQ(st.zs_requests, 10 + 100 + 190 + 280);
	KT_EQ(st.zs_frees, 10 + 100 + 190 + 280);
	kt_zone_consistent(z);
	/* And they can be drained to the map. */
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	KT_EQ(kt_zone_stats(z).zs_pages, 0);
	uma_zdestroy(z);
}

static void
test_exit_flush(void **state)
{
	kt_assert_child_ok(child_exit_flush, NULL);
}

/* ---- exact statistics after random mixes in four threads --------------------- */

#define RSLOTS 600
#define ROPS 30000

struct mixer {
	uma_zone_t m_zone;
	uint64_t m_seed;
	uint64_t m_allocs, m_frees;
	void *m_slot[RSLOTS];
};

static void *
mixer_main(void *arg)
{
	struct mixer *m = arg;

	for (int i = 0; i < ROPS; i++) {
		uint64_t r = kt_rand(&m->m_seed);
		int k = (int)(r % RSLOTS);
		if (m->m_slot[k] != NULL) {
			KT_EQ(*(uintptr_t *)m->m_slot[k], (uintptr_t)m->m_slot[k]);
			uma_zfree(m->m_zone, m->m_slot[k]);
			m->m_slot[k] = NULL;
			m->m_frees++;
		} else {
			m->m_slot[k] = uma_zalloc(m->m_zone,
			    (r >> 40) & 1 ? M_NOWAIT : M_WAITOK);
			KT_CHECK(m->m_slot[k] != NULL);
			*(uintptr_t *)m->m_slot[k] = (uintptr_t)m->m_slot[k];
			m->m_allocs++;
		}
	}
	/* Free every other live item; the rest stay out. */
	for (int k = 0; k < RSLOTS; k += 2)
		if (m->m_slot[k] != NULL) {
			uma_zfree(m->m_zone, m->m_slot[k]);
			m->m_slot[k] = NULL;
			m->m_frees++;
		}
	return (NULL);
}

static void
child_stats_mt(void *arg)
{
	static struct mixer m[NTHREADS];
	pthread_t t[NTHREADS];
	uint64_t allocs = 0, frees = 0;

	kt_map_setup("32M");
	uma_zone_t z = uma_zcreate("random_mt", 56, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	KT_CHECK(z != NULL);
	for (int i = 0; i < NTHREADS; i++) {
		m[i].m_zone = z;
		m[i].m_seed = 0xfeedfacecafebeefull ^ ((uint64_t)i << 32);
		start(&t[i], mixer_main, &m[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		join(t[i]);
		allocs += m[i].m_allocs;
		frees += m[i].m_frees;
	}
	struct uma_zone_stats st = kt_zone_stats(z);
	KT_EQ(st.zs_used, allocs - frees);
	KT_EQ(st.zs_requests, allocs);
	KT_EQ(st.zs_frees, frees);
	KT_EQ(st.zs_free_cache, 0);
	kt_zone_consistent(z);

	/* The items the threads left are freed here. */
	for (int i = 0; i < NTHREADS; i++)
		for (int k = 0; k < RSLOTS; k++)
			if (m[i].m_slot[k] != NULL) {
				uma_zfree(z, m[i].m_slot[k]);
				frees++;
			}
	st = kt_zone_stats(z);
	KT_EQ(st.zs_used, 0);
	KT_EQ(st.zs_frees, frees);
	KT_EQ(st.zs_requests, allocs);
	kt_zone_consistent(z);
	uma_zdestroy(z);
}

static void
test_stats_mt(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_stats_mt, NULL);
}

/* ---- the stress test ------------------------------------------------------- */

/*
 * Four threads allocate from two zones, fill every item with a pattern
 * made from its address and its owner, swap items with each other through
 * a table of atomic slots, and check the whole pattern before every free
 * and on every hand-over.  Thread 0 also asks for reclaims now and then.
 * Deterministic per thread (fixed seeds); what crosses between threads
 * depends on timing, the checks do not.
 */
#define SITERS 300000
#define SHELD 256
#define SXCHG 32

static const size_t ssizes[2] = {40, 700};
static uma_zone_t szones[2];
static _Atomic(uintptr_t) sxchg[SXCHG];
static atomic_int s_ctors, s_dtors;

struct sitem {
	uint32_t si_owner; /* thread id, 1..NTHREADS */
	uint32_t si_zone;  /* 0 or 1 */
	unsigned char si_pat[];
};

static unsigned char
spat(const void *item, uint32_t owner, size_t i)
{
	uintptr_t a = (uintptr_t)item;

	return ((unsigned char)((a >> 4) * 13 + (a >> 12) + owner * 71 + i * 7));
}

static void
sstamp(struct sitem *it, uint32_t owner, uint32_t zone)
{
	it->si_owner = owner;
	it->si_zone = zone;
	for (size_t i = 0; i < ssizes[zone] - sizeof(*it); i++)
		it->si_pat[i] = spat(it, owner, i);
}

static void
scheck(const struct sitem *it)
{
	KT_CHECK(it->si_zone < 2);
	KT_CHECK(it->si_owner >= 1 && it->si_owner <= NTHREADS);
	for (size_t i = 0; i < ssizes[it->si_zone] - sizeof(*it); i++)
		if (it->si_pat[i] != spat(it, it->si_owner, i)) {
			fprintf(stderr, "item %p (zone %u, owner %u): byte %zu is "
			    "0x%02x, expected 0x%02x\n", (const void *)it,
			    it->si_zone, it->si_owner, i, it->si_pat[i],
			    spat(it, it->si_owner, i));
			KT_CHECK(!"pattern intact");
		}
}

static int
sctor(void *mem, int size, void *arg, int flags)
{
	KT_CHECK(arg == (void *)&s_ctors);
	atomic_fetch_add_explicit(&s_ctors, 1, memory_order_relaxed);
	return (0);
}

static void
sdtor(void *mem, int size, void *arg)
{
	KT_CHECK(arg == (void *)&s_dtors);
	atomic_fetch_add_explicit(&s_dtors, 1, memory_order_relaxed);
}

struct stresser {
	uint32_t s_id;
	uint64_t s_seed;
	uint64_t s_allocs[2];
	uint64_t s_frees[2];
};

static void
sfree(struct stresser *s, struct sitem *it)
{
	uint32_t zi = it->si_zone;

	scheck(it);
	memset(it, 0xdd, ssizes[zi]);
	if (zi == 0)
		uma_zfree_arg(szones[0], it, &s_dtors);
	else
		uma_zfree(szones[1], it);
	s->s_frees[zi]++;
}

static void *
stress_main(void *arg)
{
	struct stresser *s = arg;
	struct sitem *held[SHELD] = {0};
	static const int reqs[3] = {UMA_RECLAIM_TRIM, UMA_RECLAIM_DRAIN,
	    UMA_RECLAIM_DRAIN_CPU};

	for (int i = 0; i < SITERS; i++) {
		uint64_t r = kt_rand(&s->s_seed);
		int k = (int)(r % SHELD);
		int op = (int)((r >> 20) % 8);

		if (op == 0 && held[k] != NULL) {
			/* Hand it over; take whatever another thread left. */
			scheck(held[k]);
			uintptr_t got = atomic_exchange(&sxchg[(r >> 32) % SXCHG],
			    (uintptr_t)held[k]);
			held[k] = (struct sitem *)got;
			if (held[k] != NULL) {
				scheck(held[k]);
				sstamp(held[k], s->s_id, held[k]->si_zone);
			}
		} else if (held[k] != NULL) {
			sfree(s, held[k]);
			held[k] = NULL;
		} else {
			uint32_t zi = (r >> 40) % 4 == 0 ? 1 : 0;
			int flags = (r >> 44) & 1 ? M_NOWAIT : M_WAITOK;
			if ((r >> 45) % 16 == 0)
				flags |= M_ZERO;
			struct sitem *it = zi == 0 ?
			    uma_zalloc_arg(szones[0], &s_ctors, flags) :
			    uma_zalloc(szones[1], flags);
			KT_CHECK(it != NULL);
			if (flags & M_ZERO)
				for (size_t b = 0; b < ssizes[zi]; b++)
					KT_CHECK(((unsigned char *)it)[b] == 0);
			s->s_allocs[zi]++;
			sstamp(it, s->s_id, zi);
			held[k] = it;
		}
		if (s->s_id == 1 && i % 7919 == 7918)
			uma_zone_reclaim(szones[(i / 7919) % 2],
			    reqs[(i / 7919) % 3]);
	}
	for (int k = 0; k < SHELD; k++)
		if (held[k] != NULL)
			sfree(s, held[k]);
	return (NULL);
}

static void
child_stress(void *arg)
{
	struct stresser s[NTHREADS];
	pthread_t t[NTHREADS];
	uint64_t allocs[2] = {0, 0}, frees[2] = {0, 0};
	size_t ps = kmem_page_size();

	kt_map_setup("64M");
	szones[0] = uma_zcreate("stress40", ssizes[0], sctor, sdtor, NULL,
	    NULL, UMA_ALIGN_PTR, 0);
	szones[1] = uma_zcreate("stress700", ssizes[1], NULL, NULL, NULL,
	    NULL, UMA_ALIGN_CACHE, 0);
	KT_CHECK(szones[0] != NULL && szones[1] != NULL);
	uma_zfree(szones[1], uma_zalloc(szones[1], M_WAITOK));
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	size_t slabs0 = atomic_load(&kmem_map_store.km_class_bytes[KMC_SLAB]);
	struct uma_zone_stats st0[2] = {kt_zone_stats(szones[0]), kt_zone_stats(szones[1])};

	for (int i = 0; i < NTHREADS; i++) {
		s[i] = (struct stresser){.s_id = (uint32_t)i + 1,
		    .s_seed = 0x243f6a8885a308d3ull * (uint64_t)(i + 1)};
		start(&t[i], stress_main, &s[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		join(t[i]);
		for (int z = 0; z < 2; z++) {
			allocs[z] += s[i].s_allocs[z];
			frees[z] += s[i].s_frees[z];
		}
	}
	/* What is left in the exchange slots is freed here. */
	struct stresser me = {.s_id = NTHREADS + 1};
	for (int k = 0; k < SXCHG; k++) {
		struct sitem *it = (struct sitem *)atomic_exchange(&sxchg[k], 0);
		if (it != NULL)
			sfree(&me, it);
	}
	for (int z = 0; z < 2; z++) {
		frees[z] += me.s_frees[z];
		struct uma_zone_stats st = kt_zone_stats(szones[z]);
		/* Every counter back where it started. */
		KT_EQ(st.zs_used, st0[z].zs_used);
		KT_EQ(uma_zone_get_cur(szones[z]), 0);
		KT_EQ(allocs[z], frees[z]);
		KT_EQ(st.zs_requests - st0[z].zs_requests, allocs[z]);
		KT_EQ(st.zs_frees - st0[z].zs_frees, frees[z]);
		KT_EQ(st.zs_failures, 0);
		kt_zone_consistent(szones[z]);
	}
	KT_EQ(atomic_load(&s_ctors), allocs[0]);
	KT_EQ(atomic_load(&s_dtors), frees[0]);
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
	for (int z = 0; z < 2; z++)
		KT_EQ(kt_zone_stats(szones[z]).zs_pages, 0);
	KT_LE(atomic_load(&kmem_map_store.km_class_bytes[KMC_SLAB]),
	    slabs0 + 4 * ps);
	uma_zdestroy(szones[0]);
	uma_zdestroy(szones[1]);
}

static void
test_stress(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	kt_assert_child_ok(child_stress, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waitok),
		cmocka_unit_test(test_limit_threads),
		cmocka_unit_test(test_cross_free),
		cmocka_unit_test(test_exit_flush),
		cmocka_unit_test(test_stats_mt),
		cmocka_unit_test(test_stress),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
