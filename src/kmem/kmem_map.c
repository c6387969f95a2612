/*
 * kmem_map.c -- the bounded kernel map: set-up and auto-tuning, the page
 * table, page allocation with the exhaustion protocol, submaps, low-memory
 * handlers and the public kmem_malloc(3) interface.  The design is described
 * at the top of kmem_int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../vmem/vmem_int.h"
#include "kmem_int.h"
#include "../stats/kms.h"
#include "../debug/kmem_debug.h"

struct kmem_map kmem_map_store = {
	.km_region_lock = KP_MUTEX_INITIALIZER,
	.km_wait_lock = KP_MUTEX_INITIALIZER,
	.km_lowmem_lock = KP_MUTEX_INITIALIZER,
	.km_dirty_lock = KP_MUTEX_INITIALIZER,
	.km_lowmem_run = KP_MUTEX_INITIALIZER,
};
#define km (&kmem_map_store)

static kp_mutex_t kmem_init_lock = KP_MUTEX_INITIALIZER;
static struct vmem kmem_arena_storage; /* the map arena */
static struct vmem kmem_meta_storage;  /* the metadata arena */
static __thread bool kmem_in_lowmem __attribute__((tls_model("initial-exec")));

const char *const kmem_class_names[KMC_NCLASSES] = {
	[KMC_FREE] = "free",
	[KMC_META] = "metadata",
	[KMC_DIRECT] = "direct (kmem_malloc)",
	[KMC_LARGE] = "large allocations",
	[KMC_SLAB] = "slabs",
	[KMC_SUBMAP] = "submaps",
};

/* ---- auto-tuning ----------------------------------------------------------- */

void
kmem_fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int u = 0;
	double d = (double)v;

	if (v == KP_UNLIMITED) {
		snprintf(buf, len, "unlimited");
		return;
	}
	while (d >= 1024.0 && u < 5) {
		d /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.*f %s", d < 10.0 ? 2 : d < 100.0 ? 1 : 0, d,
		    unit[u]);
}

void
kmem_tune_size(struct kmem_tune *t)
{
	char a[32], b[32], c[32], d[32];
	uint64_t size, pmask = (uint64_t)t->kt_pagesize - 1;

	kmem_fmt_size(a, sizeof(a), t->kt_physmem);
	kmem_fmt_size(b, sizeof(b), t->kt_cgroup);
	kmem_fmt_size(c, sizeof(c), t->kt_as_free);
	if (t->kt_explicit != 0) {
		size = t->kt_explicit;
		t->kt_winner = "kmem_size tunable";
		if (size < KMEM_SIZE_FLOOR) {
			size = KMEM_SIZE_FLOOR;
			t->kt_winner = "kmem_size tunable raised to the 1 MiB floor";
		}
		size &= ~pmask;
		kmem_fmt_size(d, sizeof(d), size);
		snprintf(t->kt_why, sizeof(t->kt_why),
		    "kmem_size %s: set by the kmem_size tunable%s (physical memory "
		    "%s, cgroup limit %s, RLIMIT_AS headroom %s)", d,
		    t->kt_explicit < KMEM_SIZE_FLOOR ? ", raised to the 1 MiB floor" : "",
		    a, b, c);
		t->kt_size = size;
		return;
	}
	uint64_t scale = t->kt_scale == 0 ? 1 : t->kt_scale;
	size = t->kt_physmem == KP_UNLIMITED ? t->kt_max : t->kt_physmem / scale;
	t->kt_winner = "physical memory / kmem_size_scale";
	if (t->kt_cgroup < size) {
		size = t->kt_cgroup;
		t->kt_winner = "cgroup memory limit";
	}
	if (size < t->kt_min) {
		size = t->kt_min;
		t->kt_winner = "kmem_size_min";
	}
	if (size > t->kt_max) {
		size = t->kt_max;
		t->kt_winner = "kmem_size_max";
	}
	/* The reservation is address space: leave 1/8 of it to the rest. */
	if (t->kt_as_free != KP_UNLIMITED) {
		uint64_t as = t->kt_as_free - t->kt_as_free / 8;
		if (as < size) {
			size = as;
			t->kt_winner = "RLIMIT_AS headroom less 1/8";
		}
	}
	if (size < KMEM_SIZE_FLOOR) {
		size = KMEM_SIZE_FLOOR;
		t->kt_winner = "the 1 MiB floor";
	}
	size &= ~pmask;
	kmem_fmt_size(d, sizeof(d), size);
	snprintf(t->kt_why, sizeof(t->kt_why),
	    "kmem_size %s: %s won; physical memory %s / kmem_size_scale %" PRIu64
	    ", cgroup limit %s, RLIMIT_AS headroom %s, clamp [%" PRIu64 ", %" PRIu64
	    "]", d, t->kt_winner, a, scale, b, c, t->kt_min, t->kt_max);
	t->kt_size = size;
}

/* ---- page table ------------------------------------------------------------ */

static inline size_t
kmem_pageidx(const void *addr)
{
	return (((uintptr_t)addr - km->km_base) >> km->km_pageshift);
}

void
kmem_pt_set_run(void *addr, size_t npages, enum kmem_class cls)
{
	size_t i = kmem_pageidx(addr);

	atomic_store_explicit(&km->km_pt[i],
	    ((uintptr_t)npages << KPT_SHIFT) | (uintptr_t)cls, memory_order_relaxed);
	for (size_t k = 1; k < npages; k++)
		atomic_store_explicit(&km->km_pt[i + k],
		    ((uintptr_t)k << KPT_SHIFT) | KPT_TAIL | (uintptr_t)cls,
		    memory_order_relaxed);
}

void
kmem_pt_set_ptr(void *addr, size_t npages, enum kmem_class cls,
    const void *owner)
{
	size_t i = kmem_pageidx(addr);
	uintptr_t e = (uintptr_t)owner | (uintptr_t)cls;

	for (size_t k = 0; k < npages; k++)
		atomic_store_explicit(&km->km_pt[i + k], e, memory_order_relaxed);
}

void
kmem_pt_clear(void *addr, size_t npages)
{
	size_t i = kmem_pageidx(addr);

	for (size_t k = 0; k < npages; k++)
		atomic_store_explicit(&km->km_pt[i + k], 0, memory_order_relaxed);
}

/* ---- regions ----------------------------------------------------------------- */

static struct kmem_region *
kmem_region_of_arena(const vmem_t *arena)
{
	if (arena == km->km_map.kr_arena)
		return (&km->km_map);
	if (arena == km->km_meta.kr_arena)
		return (&km->km_meta);
	unsigned n = atomic_load_explicit(&km->km_nsubmaps, memory_order_acquire);
	for (unsigned i = 0; i < n; i++)
		if (km->km_submaps[i].kr_arena == arena)
			return (&km->km_submaps[i]);
	return (NULL);
}

/* The submap containing addr, or NULL. */
static struct kmem_region *
kmem_submap_of_addr(uintptr_t addr)
{
	unsigned n = atomic_load_explicit(&km->km_nsubmaps, memory_order_acquire);

	for (unsigned i = 0; i < n; i++) {
		struct kmem_region *r = &km->km_submaps[i];
		if (addr - r->kr_base < r->kr_size)
			return (r);
	}
	return (NULL);
}

/* Bytes of region r held by metadata and submaps: no free makes them room. */
static size_t
kmem_region_pinned(const struct kmem_region *r)
{
	if (r != &km->km_map)
		return (0);
	return (atomic_load(&km->km_class_bytes[KMC_META]) +
	    atomic_load(&km->km_class_bytes[KMC_SUBMAP]));
}

static void
kmem_account(struct kmem_region *r, enum kmem_class cls, size_t bytes, bool add)
{
	if (r == &km->km_map) {
		if (add)
			atomic_fetch_add(&km->km_class_bytes[cls], bytes);
		else
			atomic_fetch_sub(&km->km_class_bytes[cls], bytes);
	} else {
		if (add)
			atomic_fetch_add(&r->kr_inuse, bytes);
		else
			atomic_fetch_sub(&r->kr_inuse, bytes);
	}
}

/* ---- low-memory handlers --------------------------------------------------- */

int
kmem_lowmem_register(void (*fn)(void *arg, int flags), void *arg)
{
	int error = 0;

	if (fn == NULL)
		return (EINVAL);
	kp_mutex_lock(&km->km_lowmem_lock);
	if (km->km_nlowmem == KMEM_LOWMEM_MAX) {
		error = ENOSPC;
	} else {
		km->km_lowmem[km->km_nlowmem].lh_fn = fn;
		km->km_lowmem[km->km_nlowmem].lh_arg = arg;
		km->km_nlowmem++;
	}
	kp_mutex_unlock(&km->km_lowmem_lock);
	if (error == ENOSPC)
		kp_log("kmem_lowmem_register: all %d handler slots are taken",
		    KMEM_LOWMEM_MAX);
	return (error);
}

int
kmem_lowmem_deregister(void (*fn)(void *arg, int flags), void *arg)
{
	int error = ENOENT;

	kp_mutex_lock(&km->km_lowmem_lock);
	for (unsigned i = 0; i < km->km_nlowmem; i++) {
		if (km->km_lowmem[i].lh_fn == fn && km->km_lowmem[i].lh_arg == arg) {
			memmove(&km->km_lowmem[i], &km->km_lowmem[i + 1],
			    (km->km_nlowmem - i - 1) * sizeof(km->km_lowmem[0]));
			km->km_nlowmem--;
			error = 0;
			break;
		}
	}
	kp_mutex_unlock(&km->km_lowmem_lock);
	return (error);
}

static void kmem_dirty_trim(bool all);

/*
 * Runs the handlers, at most one thread at a time: a thread that finds them
 * running waits for that run to end instead of starting another.
 */
static void
kmem_lowmem_run(int flags)
{
	void (*fns[KMEM_LOWMEM_MAX])(void *, int);
	void *args[KMEM_LOWMEM_MAX];
	unsigned n;

	if (kmem_in_lowmem)
		return; /* a handler's own shortage */
	if (!kp_mutex_trylock(&km->km_lowmem_run)) {
		/*
		 * Wait for the other run -- unless the caller cannot wait: an
		 * M_NOWAIT caller may hold a lock that run needs (vmem's
		 * boundary-tag lock, when a refill of the tags asks for
		 * metadata while the run gives dirty ranges back through
		 * vmem), and waiting would deadlock both.
		 */
		if (flags & M_NOWAIT)
			return;
		kp_mutex_lock(&km->km_lowmem_run);
		kp_mutex_unlock(&km->km_lowmem_run);
		return;
	}
	kp_mutex_lock(&km->km_lowmem_lock);
	n = km->km_nlowmem;
	for (unsigned i = 0; i < n; i++) {
		fns[i] = km->km_lowmem[i].lh_fn;
		args[i] = km->km_lowmem[i].lh_arg;
	}
	kp_mutex_unlock(&km->km_lowmem_lock);
	kmem_in_lowmem = true;
	for (unsigned i = 0; i < n; i++)
		fns[i](args[i], flags);
	kmem_in_lowmem = false;
	/* Short of memory: the dirty ranges go back to the system too. */
	if (atomic_load(&km->km_dirty_bytes) != 0)
		kmem_dirty_trim(true);
	atomic_fetch_add(&km->km_lowmem_runs, 1);
	kp_mutex_unlock(&km->km_lowmem_run);
}

/* ---- allocation ------------------------------------------------------------ */

static void
kmem_check_flags(const char *what, size_t size, int flags)
{
	int w = flags & (M_NOWAIT | M_WAITOK);

	if (KP_UNLIKELY(w != M_NOWAIT && w != M_WAITOK))
		kp_fatal("%s(%zu): flags 0x%x must contain exactly one of M_NOWAIT "
		    "and M_WAITOK", what, size, (unsigned)flags);
}

/* One line on who holds region r, for the "waiting" message. */
static void
kmem_owners_line(const struct kmem_region *r, char *buf, size_t len)
{
	char s[32];
	size_t off = 0;

	if (r != &km->km_map) {
		kmem_fmt_size(s, sizeof(s), atomic_load(&r->kr_inuse));
		snprintf(buf, len, "submap allocations %s", s);
		return;
	}
	/* Classes, largest first. */
	bool done[KMC_NCLASSES] = {false};
	buf[0] = '\0';
	for (int k = 0; k < 3; k++) {
		int best = -1;
		size_t bb = 0;
		for (int c = 1; c < KMC_NCLASSES; c++) {
			size_t v = atomic_load(&km->km_class_bytes[c]);
			if (!done[c] && v > bb) {
				bb = v;
				best = c;
			}
		}
		if (best < 0)
			break;
		done[best] = true;
		kmem_fmt_size(s, sizeof(s), bb);
		int w = snprintf(buf + off, len - off, "%s%s %s", k ? ", " : "",
		    kmem_class_names[best], s);
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
}

static void
kmem_wait_warn(const struct kmem_region *r, const char *what, size_t size,
    uint64_t waited_ns)
{
	uint64_t interval = kopt.wait_warn_ms * 1000000u;
	uint64_t now = kp_clock_ns(), last;
	char owners[200], used[32], total[32], maxfree[32];

	if (interval == 0 || waited_ns < interval)
		return;
	last = atomic_load(&km->km_last_warn_ns);
	if (last != 0 && now - last < interval)
		return;
	if (!atomic_compare_exchange_strong(&km->km_last_warn_ns, &last, now))
		return;
	kmem_owners_line(r, owners, sizeof(owners));
	kmem_fmt_size(used, sizeof(used), vmem_size(r->kr_arena, VMEM_ALLOC));
	kmem_fmt_size(total, sizeof(total), r->kr_size);
	kmem_fmt_size(maxfree, sizeof(maxfree), vmem_size(r->kr_arena, VMEM_MAXFREE));
	kp_log("%s(%zu): waiting %.1f s for memory in %s (%s of %s in use, "
	    "largest free extent %s); largest owners: %s", what, size,
	    (double)waited_ns / 1e9, r->kr_name, used, total, maxfree, owners);
}

/*
 * Waits until a free bumps the generation past `seen` or a slice passes.
 * Returns at once if it moved already.
 */
static void
kmem_wait_for_free(uint64_t seen)
{
	kp_mutex_lock(&km->km_wait_lock);
	atomic_fetch_add(&km->km_waiters, 1);
	if (atomic_load(&km->km_free_gen) == seen)
		(void)kp_cond_timedwait(&km->km_wait_cv, &km->km_wait_lock,
		    KMEM_WAIT_SLICE_NS);
	atomic_fetch_sub(&km->km_waiters, 1);
	kp_mutex_unlock(&km->km_wait_lock);
}

static void
kmem_wake_waiters(void)
{
	atomic_fetch_add(&km->km_free_gen, 1);
	if (atomic_load(&km->km_waiters) != 0) {
		kp_mutex_lock(&km->km_wait_lock);
		kp_cond_broadcast(&km->km_wait_cv);
		kp_mutex_unlock(&km->km_wait_lock);
	}
}

/* ---- deadlock detection (kmem_int.h, section 4) ----------------------------- */

void
kmem_wait_enter(struct kmem_stuck *st)
{
	memset(st, 0, sizeof(*st));
	atomic_fetch_add(&km->km_nstuck, 1);
}

void
kmem_wait_leave(void)
{
	atomic_fetch_add(&km->km_stuck_epoch, 1);
	atomic_fetch_sub(&km->km_nstuck, 1);
}

bool
kmem_wait_stuck(struct kmem_stuck *st)
{
	uint64_t grace = kopt.wait_deadlock_ms * 1000000u;
	uint64_t gen, epoch, now;
	unsigned waiting;
	int threads;

	if (grace == 0) {
		st->kst_since = 0;
		return (false);
	}
	/* The generations first: a change after these reads shows next time. */
	gen = atomic_load(&km->km_free_gen);
	epoch = atomic_load(&km->km_stuck_epoch);
	waiting = atomic_load(&km->km_nstuck);
	if (st->kst_since != 0 && (gen != st->kst_gen || epoch != st->kst_epoch))
		st->kst_since = 0;
	threads = kp_app_threads();
	if (threads <= 0 || waiting < (unsigned)threads) {
		st->kst_since = 0;
		return (false);
	}
	now = kp_clock_ns();
	if (st->kst_since == 0) {
		st->kst_since = now;
		st->kst_gen = gen;
		st->kst_epoch = epoch;
		st->kst_threads = threads;
		return (false);
	}
	return (now - st->kst_since >= grace);
}

void
kmem_deadlock(const char *what, size_t size, const char *where,
    const struct kmem_stuck *st)
{
	bool first = false;

	/* One report: the other waiters stay where they are until the abort. */
	if (!atomic_compare_exchange_strong(&km->km_deadlock, &first, true))
		for (;;)
			kp_sleep_ns(KMEM_WAIT_SLICE_NS);
	kp_log("%s(%zu): every thread is waiting for memory in %s and none can "
	    "free it: deadlock", what, size, where);
	kp_log("%d thread%s waited %.1f s with nothing freed (wait_deadlock_ms "
	    "%" PRIu64 "); where the memory is:", st->kst_threads,
	    st->kst_threads == 1 ? "" : "s",
	    (double)(kp_clock_ns() - st->kst_since) / 1e9, kopt.wait_deadlock_ms);
	(void)kmem_report(stderr);
	kp_fatal("%s(%zu): aborting: no thread is left to free memory in %s",
	    what, size, where);
}

/* ---- dirty ranges (kmem_int.h: kmem_region_free_dirty()) ----------------- */

/* What kmem_dirty_bits() does to the bits it looks at. */
enum kmem_dirty_op { KD_SET, KD_CLEAR, KD_LOOK };

/*
 * Sets (KD_SET) or clears (KD_CLEAR) the dirty bits of pages [first,
 * first + n), or only reads them (KD_LOOK); calls fn, unless NULL, on each
 * run of pages whose bit it set, cleared or found set; returns how many.
 */
static size_t
kmem_dirty_bits(size_t first, size_t n, enum kmem_dirty_op op,
    void (*fn)(size_t page, size_t npages))
{
	size_t changed = 0, end = first + n;

	for (size_t p = first; p < end;) {
		size_t w = p >> 6, b = p & 63, k = 64 - b;
		if (k > end - p)
			k = end - p;
		uint64_t mask = k == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << k) - 1) << b;
		uint64_t hit;
		if (op == KD_SET)
			hit = ~atomic_fetch_or(&km->km_dirty[w], mask) & mask;
		else if (op == KD_CLEAR)
			hit = atomic_fetch_and(&km->km_dirty[w], ~mask) & mask;
		else
			hit = atomic_load(&km->km_dirty[w]) & mask;
		changed += (size_t)__builtin_popcountll(hit);
		while (fn != NULL && hit != 0) {
			unsigned lo = (unsigned)__builtin_ctzll(hit);
			uint64_t run = hit >> lo;
			unsigned len = run == ~UINT64_C(0) ? 64 - lo :
			    (unsigned)__builtin_ctzll(~run);
			fn(w * 64 + lo, len);
			hit &= len + lo >= 64 ? 0 : ~UINT64_C(0) << (lo + len);
		}
		p += k;
	}
	return (changed);
}

/*
 * Dirty pages an allocation took: with the debugging annotations on they
 * were out of reach (the large block's free made them so), and are the new
 * owner's now; zeroed unless it said KMEM_DIRTY_OK.
 */
static void
kmem_dirty_open(size_t page, size_t npages)
{
	kdbg_mem_open((void *)(km->km_base + (page << km->km_pageshift)),
	    npages << km->km_pageshift, true);
}

static void
kmem_dirty_zero(size_t page, size_t npages)
{
	kmem_dirty_open(page, npages);
	memset((void *)(km->km_base + (page << km->km_pageshift)), 0,
	    npages << km->km_pageshift);
}

/* The ring's entry i (0: the oldest). */
static inline struct kmem_dirty *
kmem_dirty_at(unsigned i)
{
	return (&km->km_dirty_ring[(km->km_dirty_head + i) % KMEM_DIRTY_RING]);
}

/*
 * Takes [a, b) out of the ring's entries: an allocation took those pages.
 * The entries stay disjoint so, and each covers only pages freed at its
 * time: a range freed again, later, is the later entry's alone, and
 * releasing the older entry does not take it with it.  An entry cut in
 * two needs another slot; with the ring full it stays whole (its pages
 * that are not dirty are skipped anyway).  km_dirty_lock held.
 */
static void
kmem_dirty_clip(uintptr_t a, uintptr_t b)
{
	unsigned sh = km->km_pageshift;

	for (unsigned i = 0; i < km->km_dirty_n; i++) {
		struct kmem_dirty *d = kmem_dirty_at(i);
		uintptr_t da = d->kd_addr, db = da + (d->kd_pages << sh);
		if (db <= a || da >= b)
			continue;
		if (da >= a && db <= b) {
			for (unsigned k = i; k + 1 < km->km_dirty_n; k++)
				*kmem_dirty_at(k) = *kmem_dirty_at(k + 1);
			km->km_dirty_n--;
			i--;
		} else if (da < a && db > b) {
			if (km->km_dirty_n == KMEM_DIRTY_RING)
				continue;
			for (unsigned k = km->km_dirty_n; k > i + 1; k--)
				*kmem_dirty_at(k) = *kmem_dirty_at(k - 1);
			km->km_dirty_n++;
			d->kd_pages = (a - da) >> sh;
			struct kmem_dirty *e = kmem_dirty_at(i + 1);
			e->kd_addr = b;
			e->kd_pages = (db - b) >> sh;
			e->kd_when = d->kd_when;
			i++;
		} else if (da < a) {
			d->kd_pages = (a - da) >> sh;
		} else {
			d->kd_addr = b;
			d->kd_pages = (db - b) >> sh;
		}
	}
}

/*
 * An allocation took [addr, addr + bytes): its dirty pages are its own
 * now, zeroed unless the caller said KMEM_DIRTY_OK.
 */
static void
kmem_dirty_take(void *addr, size_t bytes, int flags)
{
	if (atomic_load_explicit(&km->km_dirty_bytes, memory_order_relaxed) == 0)
		return;
	size_t n = kmem_dirty_bits(((uintptr_t)addr - km->km_base) >>
	    km->km_pageshift, bytes >> km->km_pageshift, KD_CLEAR,
	    !(flags & KMEM_DIRTY_OK) ? kmem_dirty_zero :
	    kdbg_annotating() ? kmem_dirty_open : NULL);
	if (n == 0)
		return;
	atomic_fetch_sub(&km->km_dirty_bytes, n << km->km_pageshift);
	kp_mutex_lock(&km->km_dirty_lock);
	kmem_dirty_clip((uintptr_t)addr, (uintptr_t)addr + bytes);
	kp_mutex_unlock(&km->km_dirty_lock);
}

/* The first page of [p, end) whose dirty bit is set (or clear), or end. */
static size_t
kmem_dirty_scan(size_t p, size_t end, bool set)
{
	while (p < end) {
		uint64_t w = atomic_load_explicit(&km->km_dirty[p >> 6],
		    memory_order_relaxed);
		if (!set)
			w = ~w;
		w &= ~UINT64_C(0) << (p & 63);
		if (w != 0) {
			size_t q = (p & ~(size_t)63) + (size_t)__builtin_ctzll(w);
			return (q < end ? q : end);
		}
		p = (p | 63) + 1;
	}
	return (end);
}

/* The first page of the run of dirty pages that ends just below page p. */
static size_t
kmem_dirty_scan_down(size_t p)
{
	while (p > 0) {
		size_t b = (p - 1) & 63;
		uint64_t w = ~atomic_load_explicit(&km->km_dirty[(p - 1) >> 6],
		    memory_order_relaxed);
		w &= b == 63 ? ~UINT64_C(0) : (UINT64_C(1) << (b + 1)) - 1;
		if (w != 0)
			return (((p - 1) & ~(size_t)63) + 64 -
			    (size_t)__builtin_clzll(w));
		p = (p - 1) & ~(size_t)63;
	}
	return (0);
}

/* A run of dirty pages a request could start on. */
struct kmem_dirty_cand {
	size_t kc_first; /* its first page */
	size_t kc_n;     /* its pages */
};

/*
 * Ranks the dirty run [first, first + n) among the candidates for a
 * request of want pages: the more of the request it holds the better, and
 * of runs that hold all of it, the smallest (best fit).
 */
static void
kmem_dirty_rank(struct kmem_dirty_cand *c, unsigned *nc, size_t first,
    size_t n, size_t want)
{
	size_t use = n < want ? n : want;
	unsigned i = *nc;

	while (i > 0) {
		const struct kmem_dirty_cand *o = &c[i - 1];
		size_t ouse = o->kc_n < want ? o->kc_n : want;
		if (o->kc_first == first)
			return; /* found through another ring entry */
		if (ouse > use || (ouse == use && o->kc_n <= n))
			break;
		i--;
	}
	for (unsigned j = 0; j < *nc; j++)
		if (c[j].kc_first == first)
			return;
	if (i >= KMEM_DIRTY_TRY)
		return;
	unsigned last = *nc < KMEM_DIRTY_TRY ? *nc : KMEM_DIRTY_TRY - 1;
	memmove(&c[i + 1], &c[i], (last - i) * sizeof(c[0]));
	c[i].kc_first = first;
	c[i].kc_n = n;
	if (*nc < KMEM_DIRTY_TRY)
		(*nc)++;
}

/* Takes [a, a + bytes) from the map if it is all free there. */
static bool
kmem_take_at(size_t bytes, vmem_addr_t a, vmem_addr_t *addrp)
{
	if (a < km->km_base || a - km->km_base > km->km_size - bytes)
		return (false);
	return (vmem_xalloc(km->km_map.kr_arena, bytes, 0, 0, 0, a,
	    a + bytes - 1, M_NOWAIT | M_BESTFIT, addrp) == 0);
}

/*
 * Resident memory first: takes bytes of the map where as many of its pages
 * as can be are dirty (free but committed), as tcmalloc's page heap serves
 * a request from its normal (resident) spans before its returned ones.  The
 * runs of dirty pages are found through the ring (whose entries with no
 * dirty page left it drops on the way); a request is placed at the start of
 * the smallest run that holds all of it, else at the start (or end) of the
 * run that holds most of it, the rest then falling on free pages that are
 * not resident.  False when no candidate run is free to take: plain best
 * fit then.
 */
static bool
kmem_dirty_place(size_t bytes, size_t align, vmem_addr_t *addrp)
{
	struct kmem_dirty_cand c[KMEM_DIRTY_TRY];
	unsigned nc = 0, keep = 0;
	unsigned sh = km->km_pageshift;
	size_t want = bytes >> sh, np = km->km_size >> sh;
	size_t step = align > km->km_pagesize ? align >> sh : 1;

	kp_mutex_lock(&km->km_dirty_lock);
	for (unsigned i = 0; i < km->km_dirty_n; i++) {
		struct kmem_dirty d = km->km_dirty_ring[(km->km_dirty_head + i) %
		    KMEM_DIRTY_RING];
		size_t first = (d.kd_addr - km->km_base) >> sh;
		size_t end = first + d.kd_pages;
		bool any = false;
		for (size_t p = kmem_dirty_scan(first, end, true); p < end;) {
			size_t q = kmem_dirty_scan(p, np, false);
			size_t s = p == first ? kmem_dirty_scan_down(p) : p;
			kmem_dirty_rank(c, &nc, s, q - s, want);
			any = true;
			p = q < end ? kmem_dirty_scan(q, end, true) : end;
		}
		/* Nothing dirty is left of it: the entry goes. */
		if (any)
			km->km_dirty_ring[(km->km_dirty_head + keep++) %
			    KMEM_DIRTY_RING] = d;
	}
	km->km_dirty_n = keep;
	kp_mutex_unlock(&km->km_dirty_lock);

	for (unsigned i = 0; i < nc; i++) {
		size_t s = (c[i].kc_first + step - 1) / step * step;
		size_t e = c[i].kc_first + c[i].kc_n;
		if (kmem_take_at(bytes, km->km_base + (s << sh), addrp))
			return (true);
		/* Or end at its end, if the free pages lie before it. */
		if (e - c[i].kc_first >= want || e < want)
			continue;
		s = (e - want) / step * step;
		if (s >= c[i].kc_first)
			continue;
		if (kmem_take_at(bytes, km->km_base + (s << sh), addrp))
			return (true);
	}
	return (false);
}

static void
kmem_dirty_decommit(size_t page, size_t npages)
{
	void *addr = (void *)(km->km_base + (page << km->km_pageshift));
	size_t bytes = npages << km->km_pageshift;
	int error = kp_decommit(addr, bytes);

	if (error != 0)
		kp_fatal("cannot give back %zu bytes at %p to the system: %s", bytes,
		    addr, strerror(error));
}

/*
 * [addr, addr + bytes) of the map became a metadata chunk or a submap,
 * whose pages are committed one allocation at a time: its dirty pages go
 * back to the system, so that every dirty page stays free in the map.
 */
static void
kmem_dirty_drop(vmem_addr_t addr, size_t bytes)
{
	if (atomic_load_explicit(&km->km_dirty_bytes, memory_order_relaxed) == 0)
		return;
	size_t n = kmem_dirty_bits((addr - km->km_base) >> km->km_pageshift,
	    bytes >> km->km_pageshift, KD_CLEAR, kmem_dirty_decommit);
	if (n == 0)
		return;
	atomic_fetch_sub(&km->km_dirty_bytes, n << km->km_pageshift);
	kp_mutex_lock(&km->km_dirty_lock);
	kmem_dirty_clip(addr, addr + bytes);
	kp_mutex_unlock(&km->km_dirty_lock);
}

/*
 * Gives the still dirty pages of one run back to the system, if it can have
 * them: it takes the run from the map first, so that nobody allocates it
 * meanwhile.  A run that another allocation took is that allocation's.
 */
static void
kmem_dirty_release_run(size_t page, size_t npages)
{
	size_t ps = km->km_pagesize, bytes = npages * ps;
	vmem_addr_t a = km->km_base + page * ps, got;

	if (vmem_xalloc(km->km_map.kr_arena, bytes, 0, 0, 0, a, a + bytes - 1,
	    M_NOWAIT | M_BESTFIT, &got) != 0)
		return;
	size_t n = kmem_dirty_bits(page, npages, KD_CLEAR, NULL);
	atomic_fetch_sub(&km->km_dirty_bytes, n * ps);
	kmem_dirty_decommit(page, npages);
	vmem_xfree(km->km_map.kr_arena, got, bytes);
}

/* Releases the runs of one ring entry that are still dirty. */
static void
kmem_dirty_release(const struct kmem_dirty *d)
{
	(void)kmem_dirty_bits((d->kd_addr - km->km_base) >> km->km_pageshift,
	    d->kd_pages, KD_LOOK, kmem_dirty_release_run);
}

/* Bytes the map's allocations hold (not its metadata or submaps). */
static inline size_t
kmem_live(void)
{
	return (atomic_load_explicit(&km->km_class_bytes[KMC_LARGE],
	    memory_order_relaxed) +
	    atomic_load_explicit(&km->km_class_bytes[KMC_DIRECT],
	    memory_order_relaxed) +
	    atomic_load_explicit(&km->km_class_bytes[KMC_SLAB],
	    memory_order_relaxed));
}

/* Raises the high-water mark of kmem_live() of this period. */
static inline void
kmem_live_mark(void)
{
	size_t live = kmem_live();
	size_t hwm = atomic_load_explicit(&km->km_live_hwm[0],
	    memory_order_relaxed);

	while (live > hwm && !atomic_compare_exchange_weak(&km->km_live_hwm[0],
	    &hwm, live))
		;
}

/*
 * The dirty bytes that may stay: what the map's allocations held at most
 * lately (in this period of KMEM_DIRTY_AGE_NS or the last) less what they
 * hold now, plus KMEM_DIRTY_FLOOR, at most KMEM_DIRTY_MAX.  So the resident
 * memory stays within the recent peak of the live bytes plus the floor:
 * what was freed since the peak stays to serve the next allocations, and
 * a program whose live bytes stay low keeps little.  km_dirty_lock held.
 */
static size_t
kmem_dirty_limit(uint64_t now)
{
	size_t live = kmem_live();

	if (now - km->km_live_since >= KMEM_DIRTY_AGE_NS) {
		atomic_store(&km->km_live_hwm[1], atomic_load(&km->km_live_hwm[0]));
		atomic_store(&km->km_live_hwm[0], live);
		km->km_live_since = now;
	}
	size_t hwm = atomic_load(&km->km_live_hwm[0]);
	size_t prev = atomic_load(&km->km_live_hwm[1]);
	if (prev > hwm)
		hwm = prev;
	size_t limit = KMEM_DIRTY_FLOOR + (hwm > live ? hwm - live : 0);
	return (limit < KMEM_DIRTY_MAX ? limit : KMEM_DIRTY_MAX);
}

/*
 * Takes the ring entries due out (all with all, else those past their age
 * or beyond the byte bound) and releases them; no lock held on return.
 */
static void
kmem_dirty_trim(bool all)
{
	struct kmem_dirty out[16];
	uint64_t now = kp_clock_ns();

	for (;;) {
		size_t leaving = 0; /* bytes of the entries taken out so far */
		unsigned n = 0;
		kp_mutex_lock(&km->km_dirty_lock);
		size_t limit = kmem_dirty_limit(now);
		while (n < 16 && km->km_dirty_n > 0) {
			struct kmem_dirty *d = &km->km_dirty_ring[km->km_dirty_head];
			size_t dirty = atomic_load(&km->km_dirty_bytes);
			if (!all && now - d->kd_when < KMEM_DIRTY_AGE_NS &&
			    (dirty <= leaving || dirty - leaving <= limit) &&
			    km->km_dirty_n < KMEM_DIRTY_RING)
				break;
			leaving += d->kd_pages << km->km_pageshift;
			out[n++] = *d;
			km->km_dirty_head = (km->km_dirty_head + 1) % KMEM_DIRTY_RING;
			km->km_dirty_n--;
		}
		kp_mutex_unlock(&km->km_dirty_lock);
		if (n == 0)
			return;
		for (unsigned i = 0; i < n; i++)
			kmem_dirty_release(&out[i]);
	}
}

void
kmem_dirty_purge(void)
{
	if (atomic_load(&km->km_ready))
		kmem_dirty_trim(true);
}

size_t
kmem_dirty_bytes(void)
{
	return (atomic_load(&km->km_dirty_bytes));
}

/* What kmem_try_take() found. */
enum kmem_take { KMEM_TAKEN, KMEM_NO_ROOM, KMEM_NO_COMMIT };

/*
 * Takes and commits bytes: KMEM_NO_ROOM when the region is short,
 * KMEM_NO_COMMIT when the system is.
 */
static enum kmem_take
kmem_try_take(struct kmem_region *r, size_t bytes, size_t align, void **addrp)
{
	vmem_addr_t a;
	int error;

	bool placed = r == &km->km_map && atomic_load_explicit(
	    &km->km_dirty_bytes, memory_order_relaxed) != 0 &&
	    kmem_dirty_place(bytes, align, &a);

	if (!placed && vmem_xalloc(r->kr_arena, bytes, align, 0, 0,
	    VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_NOWAIT | M_BESTFIT, &a) != 0)
		return (KMEM_NO_ROOM);
	/* Dirty pages are committed already: all dirty, no system call. */
	size_t n = bytes >> km->km_pageshift;
	if (placed && kmem_dirty_bits((a - km->km_base) >> km->km_pageshift, n,
	    KD_LOOK, NULL) == n) {
		*addrp = (void *)a;
		return (KMEM_TAKEN);
	}
	error = kp_commit((void *)a, bytes);
	if (error != 0) {
		atomic_fetch_add(&r->kr_ncommitfail, 1);
		vmem_xfree(r->kr_arena, a, bytes);
		return (KMEM_NO_COMMIT);
	}
	*addrp = (void *)a;
	return (KMEM_TAKEN);
}

static void *
kmem_region_alloc_r(struct kmem_region *r, size_t size, size_t align,
    int flags, enum kmem_class cls, const char *what)
{
	size_t ps = km->km_pagesize;
	size_t bytes, pinned;
	uint64_t start = 0, last_lowmem = 0, seen, backoff = KMEM_COMMIT_RETRY_NS;
	bool ran_lowmem = false, waiting = false;
	enum kmem_take got;
	struct kmem_stuck st;
	void *addr;

	kmem_check_flags(what, size, flags);
	if (size == 0)
		kp_fatal("%s(0): size 0 in %s", what, r->kr_name);
	bytes = (size + ps - 1) & ~(ps - 1);
	pinned = kmem_region_pinned(r);
	if (bytes < size || bytes > r->kr_size - pinned ||
	    (align > ps && bytes + align - ps > r->kr_size - pinned)) {
		atomic_fetch_add(&r->kr_nneverfit, 1);
		kp_log("%s(%zu): request can never fit in %s (%zu bytes, %zu of them "
		    "held for metadata and submaps); failing", what, size,
		    r->kr_name, r->kr_size, pinned);
		errno = ENOMEM;
		return (NULL);
	}
	for (;;) {
		seen = atomic_load(&km->km_free_gen);
		got = kmem_try_take(r, bytes, align > ps ? align : 0, &addr);
		if (got == KMEM_TAKEN)
			break;
		if (!ran_lowmem) {
			ran_lowmem = true;
			kmem_lowmem_run(flags);
			continue;
		}
		if (flags & M_NOWAIT) {
			atomic_fetch_add(&r->kr_nfailures, 1);
			errno = ENOMEM;
			return (NULL);
		}
		uint64_t now = kp_clock_ns();
		if (start == 0)
			start = last_lowmem = now;
		atomic_fetch_add(&r->kr_nwaits, 1);
		if (got == KMEM_NO_COMMIT) {
			/*
			 * The system is short, not the region: no free in the map
			 * need come, so try again soon, then less often.  Not a
			 * wait the deadlock verdict counts: the system may recover.
			 */
			if (waiting) {
				waiting = false;
				kmem_wait_leave();
			}
			kp_sleep_ns(backoff);
			if (backoff < KMEM_WAIT_SLICE_NS / 2)
				backoff *= 2;
			kmem_wait_warn(r, what, size, kp_clock_ns() - start);
			continue;
		}
		backoff = KMEM_COMMIT_RETRY_NS;
		if (!waiting) {
			waiting = true;
			kmem_wait_enter(&st);
		}
		kmem_wait_for_free(seen);
		now = kp_clock_ns();
		kmem_wait_warn(r, what, size, now - start);
		if (kmem_wait_stuck(&st))
			kmem_deadlock(what, size, r->kr_name, &st);
		/* Give the handlers another go once a second while waiting. */
		if (now - last_lowmem >= KMEM_LOWMEM_RETRY_NS) {
			ran_lowmem = false;
			last_lowmem = now;
		}
	}
	if (waiting)
		kmem_wait_leave();
	kmem_dirty_take(addr, bytes, flags);
	if (cls != KMC_SLAB)
		kmem_pt_set_run(addr, bytes / ps, cls);
	kmem_account(r, cls, bytes, true);
	if (r == &km->km_map)
		kmem_live_mark();
	atomic_fetch_add(&r->kr_nallocs, 1);
	return (addr);
}

void *
kmem_region_alloc(vmem_t *arena, size_t size, int flags, enum kmem_class cls,
    const char *what)
{
	struct kmem_region *r;

	if (!kmem_ready()) {
		errno = ENOMEM;
		return (NULL);
	}
	r = kmem_region_of_arena(arena);
	if (r == NULL)
		kp_fatal("%s(%zu): arena %p is neither the map nor a submap", what,
		    size, (void *)arena);
	return (kmem_region_alloc_r(r, size, 0, flags, cls, what));
}

void *
kmem_region_xalloc(vmem_t *arena, size_t size, size_t align, int flags,
    enum kmem_class cls, const char *what)
{
	struct kmem_region *r;

	if (!kmem_ready()) {
		errno = ENOMEM;
		return (NULL);
	}
	r = kmem_region_of_arena(arena);
	if (r == NULL || (align & (align - 1)) != 0)
		kp_fatal("%s(%zu): arena %p is neither the map nor a submap, or "
		    "alignment %zu is not a power of two", what, size,
		    (void *)arena, align);
	return (kmem_region_alloc_r(r, size, align, flags, cls, what));
}

static void
kmem_region_free_r(struct kmem_region *r, void *addr, size_t bytes,
    enum kmem_class cls)
{
	int error;

	if (r == &km->km_meta) /* back to an unused page of a chunk */
		kmem_pt_set_ptr(addr, bytes >> km->km_pageshift, KMC_META, NULL);
	else
		kmem_pt_clear(addr, bytes >> km->km_pageshift);
	error = kp_decommit(addr, bytes);
	if (error != 0)
		kp_fatal("cannot give back %zu bytes at %p to the system: %s", bytes,
		    addr, strerror(error));
	vmem_xfree(r->kr_arena, (vmem_addr_t)addr, bytes);
	kmem_account(r, cls, bytes, false);
	atomic_fetch_add(&r->kr_nfrees, 1);
	kmem_wake_waiters();
}

void
kmem_region_free(vmem_t *arena, void *addr, size_t size, enum kmem_class cls)
{
	size_t ps = km->km_pagesize;
	struct kmem_region *r = kmem_region_of_arena(arena);

	if (r == NULL)
		kp_fatal("kmem_region_free: arena %p is neither the map nor a submap",
		    (void *)arena);
	kmem_region_free_r(r, addr, (size + ps - 1) & ~(ps - 1), cls);
}

void
kmem_region_free_dirty(vmem_t *arena, void *addr, size_t size,
    enum kmem_class cls)
{
	size_t ps = km->km_pagesize, bytes = (size + ps - 1) & ~(ps - 1);
	struct kmem_region *r = kmem_region_of_arena(arena);

	if (r != &km->km_map) {
		kmem_region_free(arena, addr, size, cls);
		return;
	}
	kmem_pt_clear(addr, bytes >> km->km_pageshift);
	/* Dirty before it is free: whoever takes it sees the bits. */
	size_t n = kmem_dirty_bits(((uintptr_t)addr - km->km_base) >>
	    km->km_pageshift, bytes >> km->km_pageshift, KD_SET, NULL);
	atomic_fetch_add(&km->km_dirty_bytes, n * ps);
	kp_mutex_lock(&km->km_dirty_lock);
	bool room = km->km_dirty_n < KMEM_DIRTY_RING;
	if (room) {
		struct kmem_dirty *d = &km->km_dirty_ring[(km->km_dirty_head +
		    km->km_dirty_n) % KMEM_DIRTY_RING];
		d->kd_addr = (uintptr_t)addr;
		d->kd_pages = bytes >> km->km_pageshift;
		d->kd_when = kp_clock_ns();
		km->km_dirty_n++;
	}
	kp_mutex_unlock(&km->km_dirty_lock);
	vmem_xfree(r->kr_arena, (vmem_addr_t)addr, bytes);
	kmem_account(r, cls, bytes, false);
	atomic_fetch_add(&r->kr_nfrees, 1);
	kmem_wake_waiters();
	if (!room) {
		/* No record to find it by: give it back now. */
		struct kmem_dirty d = {(uintptr_t)addr, bytes >> km->km_pageshift, 0};
		kmem_dirty_release(&d);
	}
	kmem_dirty_trim(false);
}

/* ---- metadata for vmem --------------------------------------------------- */

/*
 * Metadata comes from its own arena, which imports chunks of the map
 * (km_meta_quantum bytes or more) and gives each back when it is wholly
 * free: kmem's bookkeeping stays in a few chunks instead of being strewn
 * between the slabs and large allocations, where it would cut the free
 * space into pieces.  Chunk pages that hold nothing read KMC_META with
 * payload 0 in the page table.
 */
static int
kmem_meta_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	vmem_addr_t a;

	if (vmem_xalloc(km->km_map.kr_arena, size, 0, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT | M_BESTFIT, &a) != 0)
		return (ENOMEM);
	kmem_dirty_drop(a, size);
	kmem_pt_set_ptr((void *)a, size >> km->km_pageshift, KMC_META, NULL);
	atomic_fetch_add(&km->km_class_bytes[KMC_META], size);
	*addrp = a;
	return (0);
}

static void
kmem_meta_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	kmem_pt_clear((void *)addr, size >> km->km_pageshift);
	atomic_fetch_sub(&km->km_class_bytes[KMC_META], size);
	vmem_xfree(km->km_map.kr_arena, addr, size);
	kmem_wake_waiters();
}

static void *
kmem_meta_alloc(size_t size, int flags)
{
	return (kmem_region_alloc_r(&km->km_meta, size, 0, flags, KMC_META,
	    "kmem metadata"));
}

static void
kmem_meta_free(void *addr, size_t size)
{
	size_t ps = km->km_pagesize;

	kmem_region_free_r(&km->km_meta, addr, (size + ps - 1) & ~(ps - 1),
	    KMC_META);
}

vmem_t *
kmem_meta_arena(void)
{
	return (kmem_ready() ? km->km_meta.kr_arena : NULL);
}

static const struct vmem_meta_ops kmem_meta_ops = {
	.vmo_alloc = kmem_meta_alloc,
	.vmo_free = kmem_meta_free,
};

/* ---- set-up ----------------------------------------------------------------- */

static int
kmem_setup(void)
{
	struct kmem_tune t;
	size_t ps;
	void *base = NULL;
	int error;

	kp_init();
	kopt_load_env();
	ps = kp_page_size();
	memset(&t, 0, sizeof(t));
	t.kt_physmem = kp_figure(KP_FIG_PHYSMEM);
	t.kt_cgroup = kp_figure(KP_FIG_CGROUP);
	t.kt_as_free = kp_figure(KP_FIG_AS_FREE);
	t.kt_explicit = kopt.kmem_size;
	t.kt_scale = kopt.kmem_size_scale;
	t.kt_min = kopt.kmem_size_min;
	t.kt_max = kopt.kmem_size_max;
	t.kt_pagesize = ps;
	kmem_tune_size(&t);
	snprintf(km->km_tune_why, sizeof(km->km_tune_why), "%s", t.kt_why);

	/* Reserve; on failure halve until it fits or is too small. */
	size_t size = (size_t)t.kt_size;
	size_t align = (size_t)1 << 21;
	for (;;) {
		error = kp_reserve(size, size >= align ? align : 0, &base);
		if (error == 0)
			break;
		size_t next = (size / 2) & ~(ps - 1);
		size_t least = t.kt_min > KMEM_SIZE_FLOOR ? (size_t)t.kt_min :
							    KMEM_SIZE_FLOOR;
		/* An explicit kmem_size is what was asked for, or nothing. */
		if (t.kt_explicit != 0 || next < least) {
			kp_log("cannot reserve %zu bytes of address space for the map: "
			    "%s", size, strerror(error));
			return (error);
		}
		kp_log("cannot reserve %zu bytes of address space for the map "
		    "(%s); trying %zu", size, strerror(error), next);
		size = next;
	}
	if (size != t.kt_size) {
		size_t n = strlen(km->km_tune_why);
		snprintf(km->km_tune_why + n, sizeof(km->km_tune_why) - n,
		    "; only %zu bytes could be reserved", size);
	}
	if (kopt.kmem_size == 0)
		kopt_set_auto("kmem_size", size);

	km->km_base = (uintptr_t)base;
	km->km_size = size;
	km->km_pagesize = ps;
	km->km_pageshift = (unsigned)__builtin_ctzl(ps);
#ifdef KMEM_PAGE_SHIFT_FIXED
	if (km->km_pageshift != KMEM_PAGE_SHIFT_FIXED)
		kp_fatal("kmem: page size %zu, but this architecture has %u-byte "
		    "pages", ps, 1u << KMEM_PAGE_SHIFT_FIXED);
#endif
	kp_cond_init(&km->km_wait_cv);

	vmem_t *vm = vmem_init(&kmem_arena_storage, "kmem_map",
	    (vmem_addr_t)base, size, ps, 0, M_NOWAIT);
	if (vm == NULL) {
		kp_release(base, size);
		kp_log("cannot set up the map arena");
		return (ENOMEM);
	}
	struct kmem_region *r = &km->km_map;
	r->kr_arena = vm;
	snprintf(r->kr_name, sizeof(r->kr_name), "kmem_map");
	r->kr_base = (uintptr_t)base;
	r->kr_size = size;

	/* The page table: the first allocation, mapping itself too. */
	size_t npages = size >> km->km_pageshift;
	size_t ptbytes = (npages * sizeof(uintptr_t) + ps - 1) & ~(ps - 1);
	vmem_addr_t pta;
	if (vmem_xalloc(vm, ptbytes, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT | M_FIRSTFIT, &pta) != 0 ||
	    kp_commit((void *)pta, ptbytes) != 0) {
		kp_release(base, size);
		kp_log("cannot set up the page table of the map");
		return (ENOMEM);
	}
	km->km_pt = (_Atomic(uintptr_t) *)pta;
	km->km_ptbytes = ptbytes;
	atomic_fetch_add(&km->km_class_bytes[KMC_META], ptbytes);

	/* The dirty bits: a bit per page (kmem_region_free_dirty()). */
	size_t dbytes = (((npages + 63) / 64) * sizeof(uint64_t) + ps - 1) &
	    ~(ps - 1);
	vmem_addr_t da;
	if (vmem_xalloc(vm, dbytes, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT | M_FIRSTFIT, &da) != 0 ||
	    kp_commit((void *)da, dbytes) != 0) {
		kp_release(base, size);
		kp_log("cannot set up the dirty bits of the map");
		return (ENOMEM);
	}
	km->km_dirty = (_Atomic uint64_t *)da;
	km->km_dirtybytes = dbytes;
	atomic_fetch_add(&km->km_class_bytes[KMC_META], dbytes);

	/* The metadata arena: chunks of 1/64 of the map, 64 KiB to 2 MiB. */
	size_t q = size / 64;
	if (q < ((size_t)64 << 10))
		q = (size_t)64 << 10;
	if (q > ((size_t)2 << 20))
		q = (size_t)2 << 20;
	q &= ~(ps - 1);
	vmem_t *meta = vmem_init(&kmem_meta_storage, "kmem_meta", 0, 0, ps, 0,
	    M_NOWAIT);
	if (meta == NULL) {
		kp_release(base, size);
		kp_log("cannot set up the metadata arena");
		return (ENOMEM);
	}
	vmem_set_import(meta, kmem_meta_import, kmem_meta_release, NULL, q);
	r = &km->km_meta;
	r->kr_arena = meta;
	snprintf(r->kr_name, sizeof(r->kr_name), "kmem_meta");
	r->kr_base = (uintptr_t)base;
	r->kr_size = size;
	km->km_meta_quantum = q;

	vmem_set_meta_ops(&kmem_meta_ops);
	if (kopt.verbose)
		kp_log("%s", km->km_tune_why);
	kdbg_init();
	return (0);
}

int
kmem_init_slow(void)
{
	int error;

	kp_mutex_lock(&kmem_init_lock);
	if (atomic_load(&km->km_ready) || atomic_load(&km->km_init_failed)) {
		kp_mutex_unlock(&kmem_init_lock);
		return (km->km_init_error);
	}
	error = kmem_setup();
	km->km_init_error = error;
	if (error == 0)
		atomic_store_explicit(&km->km_ready, true, memory_order_release);
	else
		atomic_store(&km->km_init_failed, true);
	kp_mutex_unlock(&kmem_init_lock);
	/*
	 * The statistics file: the one call upwards, as the map is what every
	 * layer above starts from (a SYSINIT, in FreeBSD's terms).
	 */
	if (error == 0)
		kms_start();
	return (error);
}

/* ---- fork (kmem_int.h, section 6; the order is in prim.h) ----------------- */

void
kmem_prefork_setup(void)
{
	kp_mutex_lock(&kmem_init_lock);
	kp_mutex_lock(&km->km_region_lock);
}

void
kmem_postfork_setup(void)
{
	kp_mutex_unlock(&km->km_region_lock);
	kp_mutex_unlock(&kmem_init_lock);
}

void
kmem_prefork(void)
{
	kp_mutex_lock(&km->km_wait_lock);
	kp_mutex_lock(&km->km_lowmem_lock);
	kp_mutex_lock(&km->km_dirty_lock);
}

void
kmem_postfork_parent(void)
{
	kp_mutex_unlock(&km->km_dirty_lock);
	kp_mutex_unlock(&km->km_lowmem_lock);
	kp_mutex_unlock(&km->km_wait_lock);
}

void
kmem_postfork_child(void)
{
	kp_mutex_unlock(&km->km_dirty_lock);
	kp_mutex_unlock(&km->km_lowmem_lock);
	/* The waiters were other threads. */
	atomic_store(&km->km_waiters, 0);
	atomic_store(&km->km_nstuck, 0);
	atomic_fetch_add(&km->km_stuck_epoch, 1);
	if (atomic_load(&km->km_ready))
		kp_cond_init(&km->km_wait_cv);
	kp_mutex_unlock(&km->km_wait_lock);
	/* Left to another thread's run of the handlers, which is gone. */
	if (kp_mutex_trylock(&km->km_lowmem_run))
		kp_mutex_unlock(&km->km_lowmem_run);
	else
		kp_mutex_init(&km->km_lowmem_run);
}

static const struct kp_fork_ops kmem_fork_setup_ops = {
	.kfo_prepare = kmem_prefork_setup,
	.kfo_parent = kmem_postfork_setup,
	.kfo_child = kmem_postfork_setup,
};

static const struct kp_fork_ops kmem_fork_ops = {
	.kfo_prepare = kmem_prefork,
	.kfo_parent = kmem_postfork_parent,
	.kfo_child = kmem_postfork_child,
};

static void __attribute__((constructor))
kmem_fork_register(void)
{
	kp_fork_register(KP_FORK_MAP_SETUP, &kmem_fork_setup_ops);
	kp_fork_register(KP_FORK_MAP, &kmem_fork_ops);
}

int
kmem_init(void)
{
	return (kmem_ready() ? 0 : km->km_init_error);
}

int
kmem_setopt(const char *name, const char *value)
{
	return (kopt_set(name, value, KOPT_SRC_SETOPT, "kmem_setopt"));
}

/* ---- the public map interface ----------------------------------------------- */

size_t
kmem_size(void)
{
	return (kmem_ready() ? km->km_size : 0);
}

size_t
kmem_map_size(void)
{
	return (kmem_ready() ? vmem_size(km->km_map.kr_arena, VMEM_ALLOC) : 0);
}

size_t
kmem_map_free(void)
{
	return (kmem_ready() ? vmem_size(km->km_map.kr_arena, VMEM_FREE) : 0);
}

size_t
kmem_page_size(void)
{
	return (kp_page_size());
}

vmem_t *
kmem_map_arena(void)
{
	return (kmem_ready() ? km->km_map.kr_arena : NULL);
}

/* kmem_malloc() and kmem_arena_malloc() under failure injection. */
static KP_NOINLINE void *
kmem_malloc_inject(struct kmem_region *r, size_t size, int flags)
{
	const char *what = r == &km->km_map ? "kmem_malloc" : "kmem_arena_malloc";

	kmem_check_flags(what, size, flags);
	if (kdbg_fail_now(r->kr_name, flags)) {
		atomic_fetch_add(&r->kr_nfailures, 1);
		errno = ENOMEM;
		return (NULL);
	}
	return (kmem_region_alloc_r(r, size, 0, flags, KMC_DIRECT, what));
}

void *
kmem_malloc(size_t size, int flags)
{
	if (!kmem_ready()) {
		kmem_check_flags("kmem_malloc", size, flags);
		errno = ENOMEM;
		return (NULL);
	}
	if (KP_UNLIKELY(atomic_load_explicit(&kdbg_fail_on, memory_order_relaxed)))
		return (kmem_malloc_inject(&km->km_map, size, flags));
	return (kmem_region_alloc_r(&km->km_map, size, 0, flags, KMC_DIRECT,
	    "kmem_malloc"));
}

void *
kmem_arena_malloc(vmem_t *arena, size_t size, int flags)
{
	struct kmem_region *r;

	if (!kmem_ready()) {
		kmem_check_flags("kmem_arena_malloc", size, flags);
		errno = ENOMEM;
		return (NULL);
	}
	r = kmem_region_of_arena(arena);
	if (r == NULL)
		kp_fatal("kmem_arena_malloc(%zu): arena %p (%s) is neither the map "
		    "nor a submap", size, (void *)arena,
		    arena != NULL ? vmem_name(arena) : "NULL");
	if (KP_UNLIKELY(atomic_load_explicit(&kdbg_fail_on, memory_order_relaxed)))
		return (kmem_malloc_inject(r, size, flags));
	return (kmem_region_alloc_r(r, size, 0, flags, KMC_DIRECT,
	    r == &km->km_map ? "kmem_malloc" : "kmem_arena_malloc"));
}

uintptr_t
kmem_pt_word(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;

	if ((a >= (uintptr_t)km->km_pt && a - (uintptr_t)km->km_pt < km->km_ptbytes) ||
	    (a >= (uintptr_t)km->km_dirty &&
	    a - (uintptr_t)km->km_dirty < km->km_dirtybytes))
		return (KMC_META);
	return (kmem_pt_get(addr));
}

/* What a page table word says, for messages. */
static const char *
kmem_pt_describe(uintptr_t e)
{
	switch (KPT_CLASS(e)) {
	case KMC_FREE:
		return ("a free page (never allocated, or already freed)");
	case KMC_META:
		return ("kmem metadata");
	case KMC_DIRECT:
		return ((e & KPT_TAIL) ? "inside a kmem_malloc allocation" :
					 "a kmem_malloc allocation");
	case KMC_LARGE:
		return ("a large kmalloc allocation");
	case KMC_SLAB:
		return ("a uma slab");
	case KPT_MSLAB:
		return ("a kmalloc block");
	default:
		return ("a page of unknown owner");
	}
}

/*
 * Checks that [addr, addr+size) is exactly one direct allocation from region
 * r, else aborts naming both and the fault.  Returns the rounded size.
 */
static size_t
kmem_validate_free(const char *what, struct kmem_region *r, void *addr,
    size_t size)
{
	size_t ps = km->km_pagesize;
	uintptr_t a = (uintptr_t)addr, e;
	size_t bytes = (size + ps - 1) & ~(ps - 1);

	if (!kmem_in_map(addr))
		kp_fatal("%s: %p (size %zu): not an address of the map (%#" PRIxPTR
		    "-%#" PRIxPTR ")", what, addr, size, km->km_base,
		    km->km_base + km->km_size);
	if ((a & (ps - 1)) != 0)
		kp_fatal("%s: %p (size %zu): not page aligned; it is %s", what, addr,
		    size, kmem_pt_describe(kmem_pt_word(addr)));
	struct kmem_region *sm = kmem_submap_of_addr(a);
	if (r == &km->km_map && sm != NULL)
		kp_fatal("%s: %p (size %zu): belongs to submap %s; free it with "
		    "kmem_arena_free", what, addr, size, sm->kr_name);
	if (r != &km->km_map && sm != r)
		kp_fatal("%s: %p (size %zu): not in submap %s", what, addr, size,
		    r->kr_name);
	e = kmem_pt_word(addr);
	if (KPT_CLASS(e) != KMC_DIRECT || (e & KPT_TAIL) != 0)
		kp_fatal("%s: %p (size %zu): not the start of a kmem_malloc "
		    "allocation; it is %s", what, addr, size, kmem_pt_describe(e));
	if (size == 0 || bytes / ps != KPT_PAYLOAD(e))
		kp_fatal("%s: %p (size %zu): the allocation there is %zu bytes",
		    what, addr, size, (size_t)KPT_PAYLOAD(e) * ps);
	return (bytes);
}

void
kmem_free(void *addr, size_t size)
{
	size_t bytes;

	if (addr == NULL)
		return;
	if (!atomic_load(&km->km_ready))
		kp_fatal("kmem_free: %p (size %zu): kmem has not allocated anything",
		    addr, size);
	bytes = kmem_validate_free("kmem_free", &km->km_map, addr, size);
	kmem_region_free_r(&km->km_map, addr, bytes, KMC_DIRECT);
}

void
kmem_arena_free(vmem_t *arena, void *addr, size_t size)
{
	struct kmem_region *r;
	size_t bytes;

	if (addr == NULL)
		return;
	if (!atomic_load(&km->km_ready))
		kp_fatal("kmem_arena_free: %p (size %zu): kmem has not allocated "
		    "anything", addr, size);
	r = kmem_region_of_arena(arena);
	if (r == NULL)
		kp_fatal("kmem_arena_free: %p (size %zu): arena %p is neither the "
		    "map nor a submap", addr, size, (void *)arena);
	bytes = kmem_validate_free("kmem_arena_free", r, addr, size);
	kmem_region_free_r(r, addr, bytes, KMC_DIRECT);
}

vmem_t *
kmem_submap_create(const char *name, size_t size)
{
	size_t ps;
	vmem_addr_t base;
	vmem_t *vm;
	struct kmem_region *r;
	unsigned n;

	if (name == NULL || name[0] == '\0' || strlen(name) >= KMEM_NAME_MAX) {
		kp_log("kmem_submap_create: name must be 1 to %d characters",
		    KMEM_NAME_MAX - 1);
		errno = EINVAL;
		return (NULL);
	}
	if (!kmem_ready()) {
		errno = ENOMEM;
		return (NULL);
	}
	ps = km->km_pagesize;
	if (size == 0 || size > km->km_size) {
		kp_log("kmem_submap_create(%s, %zu): size must be between one page "
		    "and the map's %zu bytes", name, size, km->km_size);
		errno = EINVAL;
		return (NULL);
	}
	size = (size + ps - 1) & ~(ps - 1);
	kp_mutex_lock(&km->km_region_lock);
	n = atomic_load(&km->km_nsubmaps);
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(km->km_submaps[i].kr_name, name) == 0) {
			kp_mutex_unlock(&km->km_region_lock);
			kp_log("kmem_submap_create(%s): a submap of that name exists",
			    name);
			errno = EEXIST;
			return (NULL);
		}
	}
	if (n == KMEM_SUBMAP_MAX) {
		kp_mutex_unlock(&km->km_region_lock);
		kp_log("kmem_submap_create(%s): all %d submap slots are taken", name,
		    KMEM_SUBMAP_MAX);
		errno = ENOSPC;
		return (NULL);
	}
	if (vmem_xalloc(km->km_map.kr_arena, size, 0, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT | M_BESTFIT, &base) != 0) {
		kp_mutex_unlock(&km->km_region_lock);
		kp_log("kmem_submap_create(%s, %zu): no room left in the map", name,
		    size);
		errno = ENOMEM;
		return (NULL);
	}
	kmem_dirty_drop(base, size);
	vm = vmem_create(name, base, size, ps, 0, M_NOWAIT);
	if (vm == NULL) {
		vmem_xfree(km->km_map.kr_arena, base, size);
		kp_mutex_unlock(&km->km_region_lock);
		errno = ENOMEM;
		return (NULL);
	}
	r = &km->km_submaps[n];
	memset(r, 0, sizeof(*r));
	r->kr_arena = vm;
	snprintf(r->kr_name, sizeof(r->kr_name), "%s", name);
	r->kr_base = base;
	r->kr_size = size;
	atomic_fetch_add(&km->km_class_bytes[KMC_SUBMAP], size);
	atomic_store_explicit(&km->km_nsubmaps, n + 1, memory_order_release);
	kp_mutex_unlock(&km->km_region_lock);
	return (vm);
}
