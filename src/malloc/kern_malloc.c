/*
 * kern_malloc.c -- typed malloc: types, the kmalloc zones, large
 * allocations, per-type statistics and validated frees.  The design is
 * described at the top of malloc_int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "malloc_int.h"
#include "../debug/kmem_debug.h"

/*
 * Per-item metadata of the kmalloc zones: the tag, and with the annotations
 * on (kmem_debug.h, section 8) the requested size, in a second array.
 */
#define KM_ITEMMETA (sizeof(uint16_t) + \
	(kdbg_annotating() ? sizeof(uint32_t) : 0))

/* ---- size classes ---------------------------------------------------------- */

static const uint32_t km_sizes[KM_NCLASSES] = {16, 32, 48, 64, 80, 96, 112,
    128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280,
    1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240,
    12288, 14336, 16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344,
    65536};
/* Class of sizes 0..1024, by (size + 15) / 16. */
static uint8_t km_small[65];
/*
 * The fast path's class look-up: for each size 0..KM_TABMAX, the byte
 * offset of its zone's cache from the first slot of a tcache (0, the slot
 * that stays empty, until kmalloc is set up); above, by 256-byte steps
 * (every class boundary there is a multiple of 256), and by class.
 */
uint16_t km_slotoff[KM_TABMAX + 1];
uint16_t km_slotoff256[KM_MAXSMALL / 256 + 1];
static uint16_t km_slotoff_cls[KM_NCLASSES];
_Static_assert(UMA_CACHE_ZONES * sizeof(struct uma_cache) <= 65536,
    "slot offsets fit 16 bits");

static uma_zone_t km_zones[KM_NCLASSES];
static uma_zone_t km_large_zone; /* struct km_large records */
static atomic_bool km_ready;
static kp_mutex_t km_startup_lock = KP_MUTEX_INITIALIZER;

uint32_t
km_class_size(int cls)
{
	return (cls >= 0 && cls < KM_NCLASSES ? km_sizes[cls] : 0);
}

static inline int
km_class(size_t size)
{
	if (KP_LIKELY(size <= KM_TABMAX))
		return (km_small[(size + 15) >> 4]);
	/*
	 * 1025 .. 65536: four classes per doubling.  With 2^lg < size <=
	 * 2^(lg+1), the class is the quarter of that range size falls in.
	 */
	int lg = 63 - __builtin_clzll((unsigned long long)(size - 1));
	return (20 + (lg - 10) * 4 + (int)(((size - 1) >> (lg - 2)) & 3));
}


/* ---- types ------------------------------------------------------------------ */

static kp_mutex_t mt_lock = KP_MUTEX_INITIALIZER;
/* Static so that types can register before kmem is set up (constructors). */
static struct mt_type mt_table[MT_MAX];
static uint32_t mt_hint = 1; /* where to look for a free index */
/*
 * One past the highest index ever given (under mt_lock): the walks over
 * all types stop there, and do not drag all of mt_table through the
 * caches (MT_MAX entries of about 800 bytes) at every statistics read.
 */
static uint32_t mt_top = 1;

/*
 * Thread blocks of counts.  The empty block covers type 0 only, which is no
 * type: threads without a block count nothing on the fast paths.
 */
static const struct mt_tblock mt_tb_empty = {.mb_cap = 1};
static __thread struct mt_tblock *mt_tb __attribute__((tls_model("initial-exec"))) =
    (struct mt_tblock *)&mt_tb_empty;
static __thread bool mt_tb_exited __attribute__((tls_model("initial-exec")));
static LIST_HEAD(, mt_tblock) mt_tblocks = LIST_HEAD_INITIALIZER(mt_tblocks);
/*
 * Blocks of exited threads, of the first size, kept (at most
 * MT_TB_RETIRED, under mt_lock) for the next threads, so that thread churn
 * does not commit and give back their pages every time.
 */
#define MT_TB_FIRSTCAP 64
#define MT_TB_RETIRED 8
static LIST_HEAD(, mt_tblock) mt_tb_retired = LIST_HEAD_INITIALIZER(mt_tb_retired);
static uint32_t mt_tb_nretired;
static pthread_key_t mt_tb_key;

static KP_NORETURN KP_COLD void
mt_bad_type(const char *fn, const void *addr, const struct malloc_type *type)
{
	kp_fatal("%s: %p: type %p is not a malloc type (no MALLOC_DEFINE, or "
	    "corrupt)", fn, addr, (const void *)type);
}

/* Live in-use bytes of a type; mt_lock held. */
static void mt_read(const struct mt_type *mt, struct mt_stats *st);
static void mt_failed(struct mt_type *mt);

const char *
mt_name_of(uint32_t idx)
{
	return (idx > 0 && idx < MT_MAX ? mt_table[idx].mt_name : "?");
}

void
malloc_type_register(struct malloc_type *type)
{
	if (type == NULL || type->ks_magic != M_MAGIC)
		mt_bad_type("malloc_type_register", NULL, type);
	kp_mutex_lock(&mt_lock);
	if (type->ks_index != 0) {
		kp_mutex_unlock(&mt_lock);
		return;
	}
	uint32_t idx = 0;
	for (uint32_t n = 0; n < MT_MAX - 1; n++) {
		uint32_t i = 1 + (mt_hint - 1 + n) % (MT_MAX - 1);
		if (!mt_table[i].mt_live && mt_table[i].mt_index == 0) {
			idx = i;
			break;
		}
	}
	if (idx == 0) {
		kp_mutex_unlock(&mt_lock);
		kp_fatal("malloc_type_register: %s: all %d malloc types are in use",
		    type->ks_shortdesc != NULL ? type->ks_shortdesc : "?",
		    MT_MAX - 1);
	}
	mt_hint = idx + 1 < MT_MAX ? idx + 1 : 1;
	struct mt_type *mt = &mt_table[idx];
	memset(mt, 0, sizeof(*mt));
	mt->mt_public = type;
	mt->mt_index = idx;
	mt->mt_live = true;
	if (idx >= mt_top)
		mt_top = idx + 1;
	snprintf(mt->mt_name, sizeof(mt->mt_name), "%s",
	    type->ks_shortdesc != NULL ? type->ks_shortdesc : "?");
	type->ks_handle = mt;
	__atomic_store_n(&type->ks_index, idx, __ATOMIC_RELEASE);
	kp_mutex_unlock(&mt_lock);
}

void
malloc_type_unregister(struct malloc_type *type)
{
	struct mt_stats st;

	if (type == NULL || type->ks_magic != M_MAGIC)
		mt_bad_type("malloc_type_unregister", NULL, type);
	kp_mutex_lock(&mt_lock);
	uint32_t idx = type->ks_index;
	if (idx == 0) {
		kp_mutex_unlock(&mt_lock);
		return;
	}
	struct mt_type *mt = &mt_table[idx];
	mt_read(mt, &st);
	mt->mt_live = false;
	mt->mt_public = NULL;
	if (st.ms_count == 0) {
		/*
		 * Nothing is tagged with it: the index is reusable, and what
		 * the threads counted for it must not show under the next type.
		 */
		struct mt_tblock *tb;
		LIST_FOREACH(tb, &mt_tblocks, mb_link) {
			if (idx >= tb->mb_cap)
				continue;
			for (int c = 0; c < KM_NCLASSES; c++) {
				UMA_STAT_STORE(mt_allocs(tb, c)[idx], 0);
				UMA_STAT_STORE(mt_frees(tb, c)[idx], 0);
			}
		}
		mt->mt_index = 0;
	}
	type->ks_index = 0;
	type->ks_handle = NULL;
	kp_mutex_unlock(&mt_lock);
	if (st.ms_count != 0 && kopt.leak_report)
		kp_log("memory type %s leaked memory on destroy (%" PRIu64
		    " allocations, %" PRIu64 " bytes leaked)", st.ms_name,
		    st.ms_count, st.ms_bytes);
}

/* ---- per-thread counts --------------------------------------------------------- */

/* Folds a block's counts into the types' totals; mt_lock held. */
static void
mt_fold(struct mt_tblock *tb)
{
	for (int c = 0; c < KM_NCLASSES; c++) {
		const uint64_t *a = mt_allocs(tb, c), *f = mt_frees(tb, c);
		for (uint32_t i = 1; i < tb->mb_cap; i++) {
			if (a[i] != 0)
				atomic_fetch_add(&mt_table[i].mt_allocs[c], a[i]);
			if (f[i] != 0)
				atomic_fetch_add(&mt_table[i].mt_frees[c], f[i]);
		}
	}
}

/*
 * Points the calling thread's cache lines of the kmalloc zones at the
 * counts of tb, or at nothing (tb NULL): the fast paths count through
 * them.  Only the owner thread reads or writes its lines.
 */
static void
mt_tb_install(struct mt_tblock *tb)
{
	struct uma_tcache *tc = uma_tcache_own();

	if (tc == NULL || !atomic_load_explicit(&km_ready, memory_order_acquire))
		return;
	for (int c = 0; c < KM_NCLASSES; c++) {
		if (km_zones[c]->uz_id == UMA_SLOT_NONE)
			continue; /* slot 0 stays empty */
		struct uma_cache *uc = uma_cache_of(tc, km_zones[c]);
		uc->uc_uallocs = tb != NULL ? mt_allocs(tb, c) : NULL;
		uc->uc_ufrees = tb != NULL ? mt_frees(tb, c) : NULL;
		uc->uc_ucapm1 = tb != NULL ? tb->mb_cap - 1 : 0;
	}
}

/*
 * After a slow path: if the thread has a block and a tcache whose line for
 * class cls does not point at the block yet (a new tcache, a new block),
 * installs it.
 */
static inline void
mt_tb_sync(int cls)
{
	struct mt_tblock *tb = mt_tb;
	struct uma_tcache *tc;

	if (!MT_COUNTING || tb == &mt_tb_empty || (tc = uma_tcache_own()) == NULL)
		return;
	if (uma_cache_of(tc, km_zones[cls])->uc_ucapm1 != tb->mb_cap - 1)
		mt_tb_install(tb);
}

static void
mt_tb_destroy(void *arg)
{
	struct mt_tblock *tb = mt_tb; /* the current block, whatever arg says */

	(void)arg;
	if (tb == NULL || tb == &mt_tb_empty)
		return;
	mt_tb_exited = true;
	mt_tb_install(NULL);
	mt_tb = (struct mt_tblock *)&mt_tb_empty;
	kp_mutex_lock(&mt_lock);
	mt_fold(tb);
	LIST_REMOVE(tb, mb_link);
	bool keep = tb->mb_cap == MT_TB_FIRSTCAP && mt_tb_nretired < MT_TB_RETIRED;
	if (keep) {
		LIST_INSERT_HEAD(&mt_tb_retired, tb, mb_link);
		mt_tb_nretired++;
	}
	kp_mutex_unlock(&mt_lock);
	if (!keep)
		kmem_region_free(kmem_meta_arena(), tb, tb->mb_bytes, KMC_META);
}

/*
 * Makes the calling thread's block cover type idx.  Returns false when it
 * cannot (no memory, or the thread is exiting): the caller then counts in
 * the type's totals.
 */
static KP_NOINLINE bool
mt_tb_grow(uint32_t idx)
{
	struct mt_tblock *old = mt_tb, *tb = NULL;
	uint32_t cap = MT_TB_FIRSTCAP;
	size_t bytes;

	if (mt_tb_exited)
		return (false);
	while (cap <= idx)
		cap *= 2;
	bytes = sizeof(*tb) + MT_TB_WORDS(cap) * sizeof(uint64_t);
	if (cap == MT_TB_FIRSTCAP) {
		kp_mutex_lock(&mt_lock);
		if ((tb = LIST_FIRST(&mt_tb_retired)) != NULL) {
			LIST_REMOVE(tb, mb_link);
			mt_tb_nretired--;
		}
		kp_mutex_unlock(&mt_lock);
		if (tb != NULL)
			memset(tb, 0, bytes); /* as the map gives it */
	}
	if (tb == NULL)
		tb = kmem_region_alloc(kmem_meta_arena(), bytes, M_NOWAIT, KMC_META,
		    "kmalloc statistics");
	if (tb == NULL)
		return (false);
	tb->mb_cap = cap;
	tb->mb_bytes = (uint32_t)bytes;
	kp_mutex_lock(&mt_lock);
	if (old != &mt_tb_empty) {
		for (int c = 0; c < KM_NCLASSES; c++) {
			memcpy(mt_allocs(tb, c), mt_allocs(old, c),
			    old->mb_cap * sizeof(uint64_t));
			memcpy(mt_frees(tb, c), mt_frees(old, c),
			    old->mb_cap * sizeof(uint64_t));
		}
		LIST_REMOVE(old, mb_link);
	}
	LIST_INSERT_HEAD(&mt_tblocks, tb, mb_link);
	mt_tb = tb;
	kp_mutex_unlock(&mt_lock);
	if (MT_COUNTING)
		mt_tb_install(tb);
	/* The key must name the block the thread has now, for its exit. */
	pthread_setspecific(mt_tb_key, tb);
	if (old != &mt_tb_empty)
		kmem_region_free(kmem_meta_arena(), old, old->mb_bytes, KMC_META);
	return (true);
}

/* Counts where the fast paths cannot (slow path). */
static void
mt_count_slow(uint32_t idx, int cls, bool alloc)
{
	if (idx < mt_tb->mb_cap || mt_tb_grow(idx)) {
		if (alloc)
			UMA_STAT_INC(mt_allocs(mt_tb, cls)[idx]);
		else
			UMA_STAT_INC(mt_frees(mt_tb, cls)[idx]);
		mt_tb_sync(cls);
		return;
	}
	if (alloc)
		atomic_fetch_add(&mt_table[idx].mt_allocs[cls], 1);
	else
		atomic_fetch_add(&mt_table[idx].mt_frees[cls], 1);
}

/* ---- set-up --------------------------------------------------------------------- */

static KP_NOINLINE bool
km_startup(void)
{
	char name[16];

	if (!kmem_ready())
		return (false);
	kp_mutex_lock(&km_startup_lock);
	if (atomic_load(&km_ready)) {
		kp_mutex_unlock(&km_startup_lock);
		return (true);
	}
	for (size_t s = 0; s <= 1024; s += 16) {
		int c = 0;
		while (km_sizes[c] < (s == 0 ? 1 : s))
			c++;
		km_small[s >> 4] = (uint8_t)c;
	}
	for (int c = 0; c < KM_NCLASSES; c++) {
		snprintf(name, sizeof(name), "%u", km_sizes[c]);
		/* 16-byte alignment at least, as malloc(3) gives. */
		km_zones[c] = uma_zcreate_internal(name, km_sizes[c], 15,
		    UMA_ZONE_MALLOC, KM_ITEMMETA);
		if (km_zones[c] == NULL)
			kp_fatal("kmalloc: cannot create the kmalloc zone %s", name);
		km_zones[c]->uz_keg->uk_class = (uint32_t)c;
		/* The fast path reads these without a lock (0 until now). */
		__atomic_store_n(&km_slotoff_cls[c],
		    (uint16_t)(km_zones[c]->uz_cacheoff -
		    offsetof(struct uma_tcache, tc_cache)), __ATOMIC_RELAXED);
	}
	for (int c = 0; c < KM_NCLASSES; c++)
		if (km_sizes[c] > KM_TABMAX && km_sizes[c] % 256 != 0)
			kp_fatal("kmalloc: class %u is not a multiple of 256",
			    km_sizes[c]);
	/*
	 * Under failure injection, memguard or the annotations the tables
	 * keep pointing at slot 0, which is always empty: every kmalloc()
	 * takes the slow path.
	 */
	for (size_t s = 0; s <= KM_TABMAX && !kdbg_kmalloc_divert(); s++)
		__atomic_store_n(&km_slotoff[s], km_slotoff_cls[km_class(s)],
		    __ATOMIC_RELAXED);
	for (size_t s = KM_TABMAX + 256; s <= KM_MAXSMALL &&
	    !kdbg_kmalloc_divert(); s += 256)
		__atomic_store_n(&km_slotoff256[s / 256],
		    km_slotoff_cls[km_class(s)], __ATOMIC_RELAXED);
	km_large_zone = uma_zcreate_internal("kmalloc large",
	    sizeof(struct km_large), 31, UMA_ZONE_NOBUCKET | UMA_ZFLAG_INTERNAL, 0);
	if (km_large_zone == NULL)
		kp_fatal("kmalloc: cannot create the zone of large records");
	if (kdbg_redzone_enabled() && !kdbg_rz_init())
		kp_fatal("kmalloc: cannot create the zone of redzone records");
	if (pthread_key_create(&mt_tb_key, mt_tb_destroy) != 0)
		kp_fatal("kmalloc: cannot create the statistics key");
	atomic_store_explicit(&km_ready, true, memory_order_release);
	kp_mutex_unlock(&km_startup_lock);
	return (true);
}

bool
kmalloc_init(void)
{
	return (atomic_load_explicit(&km_ready, memory_order_acquire) ||
	    km_startup());
}

/* ---- fork (malloc_int.h, section 5; the order is in prim.h) ----------------- */

void
malloc_prefork_setup(void)
{
	kp_mutex_lock(&km_startup_lock);
}

void
malloc_postfork_setup(void)
{
	kp_mutex_unlock(&km_startup_lock);
}

void
malloc_prefork(void)
{
	kp_mutex_lock(&mt_lock);
}

void
malloc_postfork(void)
{
	kp_mutex_unlock(&mt_lock);
}

static const struct kp_fork_ops malloc_fork_setup_ops = {
	.kfo_prepare = malloc_prefork_setup,
	.kfo_parent = malloc_postfork_setup,
	.kfo_child = malloc_postfork_setup,
};

static const struct kp_fork_ops malloc_fork_ops = {
	.kfo_prepare = malloc_prefork,
	.kfo_parent = malloc_postfork,
	.kfo_child = malloc_postfork,
};

static void __attribute__((constructor))
malloc_fork_register(void)
{
	kp_fork_register(KP_FORK_MALLOC_SETUP, &malloc_fork_setup_ops);
	kp_fork_register(KP_FORK_MALLOC, &malloc_fork_ops);
}

/* The type's index, registering it if its constructor has not run yet. */
static inline uint32_t
mt_index(const char *fn, struct malloc_type *type)
{
	uint32_t idx = __atomic_load_n(&type->ks_index, __ATOMIC_ACQUIRE);

	if (KP_UNLIKELY(idx == 0)) {
		if (type->ks_magic != M_MAGIC)
			mt_bad_type(fn, NULL, type);
		malloc_type_register(type);
		idx = type->ks_index;
	}
	return (idx);
}

/* ---- large allocations ------------------------------------------------------------ */

/*
 * A large block is pages of the map of its own.  A freed one is not kept
 * here: its pages stay committed ("dirty") in the map's free space
 * (kmem_region_free_dirty()), where vmem coalesces them with their free
 * neighbours and the map places the next allocations on them first, a
 * request of any size, so that a program that churns blocks above 64 KiB
 * finds its pages resident instead of paying two system calls and a page
 * fault per page every time.  The map bounds and ages what stays dirty.
 */

struct km_where {
	struct uma_slab *kw_slab;   /* small: the slab */
	struct uma_keg *kw_keg;     /* small: its keg */
	uint16_t *kw_tag;           /* small: the item's tag */
	void *kw_item;              /* small: the item (redzones: before the
				       block) */
	struct km_large *kw_large;  /* large: the record */
	int kw_cls;                 /* size class, or KM_LARGE */
};

/*
 * With the annotations on (kmem_debug.h, section 8) the kmalloc zones keep,
 * after the slab's array of tags, an array of the requested sizes of its
 * blocks: where block i's is.
 */
static inline char *
km_asize_at(const struct uma_keg *keg, const struct uma_slab *slab,
    const uint16_t *tag)
{
	size_t i = (size_t)(tag - (const uint16_t *)slab->us_meta);

	return ((char *)slab->us_meta + (size_t)keg->uk_ipers *
	    sizeof(uint16_t) + i * sizeof(uint32_t));
}

/* The bytes asked for of the located block (annotations on). */
static size_t
km_asked(const struct km_where *w)
{
	uint32_t v;

	if (w->kw_large != NULL)
		return (w->kw_large->kl_size);
	memcpy(&v, km_asize_at(w->kw_keg, w->kw_slab, w->kw_tag), sizeof(v));
	return (v);
}

/*
 * Annotations on: the located block at addr now has size bytes (at most
 * its usable size): recorded, and told to the tool.
 */
static void
km_resize(void *addr, const struct km_where *w, size_t size)
{
	size_t old = km_asked(w);
	uint32_t v = (uint32_t)size;

	if (w->kw_large != NULL) {
		w->kw_large->kl_size = size;
		if (w->kw_large->kl_guard != 0)
			return;
		kdbg_block_resize(addr, addr, w->kw_large->kl_usable, old, size);
		return;
	}
	memcpy(km_asize_at(w->kw_keg, w->kw_slab, w->kw_tag), &v, sizeof(v));
	kdbg_block_resize(addr, w->kw_item, w->kw_keg->uk_rsize, old, size);
}

static KP_NOINLINE void *
km_large_alloc(size_t size, size_t align, struct malloc_type *type, int flags)
{
	size_t ps = kmem_page_size();
	size_t pages = (size + ps - 1) / ps;
	uint32_t idx = mt_index("kmalloc", type);
	struct mt_type *mt = &mt_table[idx];
	struct km_large *rec;
	void *addr;

	if ((!atomic_load_explicit(&km_ready, memory_order_acquire) &&
	    !km_startup()) || (KP_UNLIKELY(atomic_load_explicit(&kdbg_fail_on,
	    memory_order_relaxed)) && kdbg_fail_now(mt->mt_name, flags))) {
		mt_failed(mt);
		errno = ENOMEM;
		return (NULL);
	}
	rec = uma_zalloc(km_large_zone, (flags & (M_NOWAIT | M_WAITOK)));
	if (rec == NULL) {
		mt_failed(mt);
		errno = ENOMEM;
		return (NULL);
	}
	rec->kl_guard = 0;
	if (KP_UNLIKELY(atomic_load_explicit(&kdbg_memguard_on,
	    memory_order_relaxed)) && align <= 16 && kdbg_guarded(mt->mt_name)) {
		addr = memguard_alloc(rec, size, flags & (M_NOWAIT | M_WAITOK));
	} else {
		/* Pages freed dirty need no clearing unless M_ZERO. */
		addr = kmem_region_xalloc(kmem_map_arena(), size, align,
		    (flags & (M_NOWAIT | M_WAITOK)) |
		    ((flags & M_ZERO) ? 0 : KMEM_DIRTY_OK), KMC_LARGE, "kmalloc");
		rec->kl_addr = addr;
		rec->kl_pages = pages;
		rec->kl_usable = pages * ps;
	}
	if (addr == NULL) {
		uma_zfree(km_large_zone, rec);
		mt_failed(mt);
		errno = ENOMEM;
		return (NULL);
	}
	rec->kl_size = size;
	rec->kl_type = idx;
	if (rec->kl_guard == 0)
		kmem_pt_set_ptr(addr, 1, KMC_LARGE, rec);
	atomic_fetch_add(&mt->mt_allocs[KM_LARGE], 1);
	uint64_t live = atomic_fetch_add(&mt->mt_large_bytes,
	    rec->kl_pages * ps) + rec->kl_pages * ps;
	uint64_t hwm = atomic_load(&mt->mt_hwm);
	while (live > hwm && !atomic_compare_exchange_weak(&mt->mt_hwm, &hwm, live))
		;
	/* memguard's blocks are left to memguard: its guard pages fault. */
	if (kdbg_annotating() && rec->kl_guard == 0)
		kdbg_block_alloc(addr, rec->kl_usable, addr, size,
		    (flags & M_ZERO) != 0);
	return (addr);
}

/* ---- what an address is ------------------------------------------------------------ */

/* What is at addr, for messages. */
static const char *
km_describe(const void *addr, char *buf, size_t len)
{
	uintptr_t e = kmem_pt_word(addr);

	if (!kmem_in_map(addr)) {
		snprintf(buf, len, "not an address kmem gave");
		return (buf);
	}
	switch ((int)KPT_CLASS(e)) {
	case KPT_MSLAB:
	case KMC_SLAB: {
		struct uma_slab *slab = KPT_PTR(e);
		snprintf(buf, len, "an item of zone %s",
		    slab->us_keg->uk_primary->uz_name);
		break;
	}
	case KMC_LARGE:
		snprintf(buf, len, "%s", (e & KPT_TAIL) ?
		    "inside a large kmalloc allocation" : "a large kmalloc allocation");
		break;
	case KMC_DIRECT:
		snprintf(buf, len, "pages of kmem_malloc");
		break;
	case KMC_META:
		snprintf(buf, len, "kmem metadata");
		break;
	default:
		snprintf(buf, len, "a free page of the map");
		break;
	}
	return (buf);
}

/*
 * Finds the allocation at addr, aborting with one line if addr is not the
 * start of a live kmalloc allocation.  fn names the caller in messages.
 */
/* " (type NAME)" when the caller names one (not free() of the shim), or "". */
static const char *
km_tname(const struct malloc_type *type, char *buf, size_t len)
{
	if (type == NULL)
		return ("");
	snprintf(buf, len, " (type %s)", type->ks_shortdesc != NULL ?
	    type->ks_shortdesc : "?");
	return (buf);
}

static void
km_locate(const char *fn, const void *addr, const struct malloc_type *type,
    struct km_where *w)
{
	char what[96], tn[MT_NAME_MAX + 8];
	uintptr_t e = kmem_pt_word(addr);

	/* Written only for a message: this is every slow free's path. */
#define tname km_tname(type, tn, sizeof(tn))

	if (KP_LIKELY(KPT_IS_SLAB(e))) {
		struct uma_slab *slab = KPT_PTR(e);
		struct uma_keg *keg = slab->us_keg;
		struct uma_zone *zone = keg->uk_primary;
		if (KP_UNLIKELY(!(keg->uk_flags & UMA_ZONE_MALLOC)))
			kp_fatal("%s: %p%s: not a kmalloc allocation; it is an "
			    "item of zone %s", fn, addr, tname, zone->uz_name);
		/* With redzones, or under memcheck, a block starts some bytes in. */
		uintptr_t front = kdbg_km_front();
		uintptr_t off = (uintptr_t)addr - front - (uintptr_t)slab->us_data;
		uint32_t i = uma_slab_index(keg, slab, (const char *)addr - front);
		if (KP_UNLIKELY((uintptr_t)addr < (uintptr_t)slab->us_data + front ||
		    i >= keg->uk_ipers || off != (uintptr_t)i * keg->uk_rsize))
			kp_fatal("%s: %p%s: interior pointer into the %u-byte "
			    "block at %p (zone %s)", fn, addr, tname, keg->uk_rsize,
			    (void *)(slab->us_data + (size_t)(i < keg->uk_ipers ? i :
			    keg->uk_ipers - 1) * keg->uk_rsize), zone->uz_name);
		w->kw_slab = slab;
		w->kw_keg = keg;
		w->kw_tag = (uint16_t *)uma_slab_meta(keg, slab) + i;
		w->kw_item = (char *)addr - front;
		w->kw_large = NULL;
		w->kw_cls = (int)keg->uk_class;
		return;
	}
	if (KPT_CLASS(e) == KMC_LARGE && !(e & KPT_TAIL) &&
	    ((struct km_large *)KPT_PTR(e))->kl_addr == addr) {
		if (KP_UNLIKELY(((struct km_large *)KPT_PTR(e))->kl_guard ==
		    KL_GUARD_FREED))
			kp_fatal("%s: %p%s: %s (memguard)", fn, addr, tname,
			    strstr(fn, "free") != NULL ? "double free" :
			    "a free block (use after free)");
		w->kw_slab = NULL;
		w->kw_keg = NULL;
		w->kw_tag = NULL;
		w->kw_item = NULL;
		w->kw_large = KPT_PTR(e);
		w->kw_cls = KM_LARGE;
		return;
	}
	if (KPT_CLASS(e) == KMC_FREE && kmem_in_map(addr))
		kp_fatal("%s: %p%s: double free or never allocated: the "
		    "page is free", fn, addr, tname);
	kp_fatal("%s: %p%s: not the start of a kmalloc allocation; it is "
	    "%s", fn, addr, tname, km_describe(addr, what, sizeof(what)));
#undef tname
}

/* Checks that the tag of a small block says type; aborts otherwise. */
static KP_NORETURN KP_COLD void
km_bad_tag(const char *fn, const void *addr, const struct malloc_type *type,
    const struct km_where *w)
{
	uint16_t tag = *w->kw_tag;
	const char *tname = type->ks_shortdesc != NULL ? type->ks_shortdesc : "?";

	if (tag == MT_TAG_FREE)
		kp_fatal("%s: %p (type %s): double free (zone %s)", fn, addr, tname,
		    w->kw_keg->uk_primary->uz_name);
	kp_fatal("%s: %p: allocated as type %s, freed as type %s (zone %s)", fn,
	    addr, tag < MT_MAX ? mt_table[tag].mt_name : "?", tname,
	    w->kw_keg->uk_primary->uz_name);
}

/* ---- the interface --------------------------------------------------------------------- */

/* Everything kmalloc() does not do inline: set-up, large, registration. */
KP_NOINLINE void *
kmalloc_slow(size_t size, struct malloc_type *type, int flags)
{
	uint32_t idx;
	int cls;
	void *item;
	size_t rz;

	if (size > KM_MAXSMALL)
		return (km_large_alloc(size, 0, type, flags));
	if (!atomic_load_explicit(&km_ready, memory_order_acquire) &&
	    !km_startup()) {
		errno = ENOMEM;
		return (NULL);
	}
	/*
	 * Guards (redzones), or memcheck's front pad (kmem_debug.h); known
	 * once the map, and so the debug layer and the tunables, are set up.
	 */
	rz = kdbg_redzone_enabled() ? KDBG_RZ_OVERHEAD : kdbg_km_front();
	if (size > KM_MAXSMALL - rz)
		return (km_large_alloc(size, 0, type, flags));
	cls = km_class(size + rz);
	idx = mt_index("kmalloc", type);
	if (KP_UNLIKELY(atomic_load_explicit(&kdbg_memguard_on,
	    memory_order_relaxed)) && kdbg_guarded(mt_table[idx].mt_name))
		return (km_large_alloc(size, 0, type, flags));
	if (KP_UNLIKELY(atomic_load_explicit(&kdbg_fail_on,
	    memory_order_relaxed)) && kdbg_fail_now(mt_table[idx].mt_name, flags))
		item = NULL;
	else
		item = uma_zalloc_slow(km_zones[cls], NULL, flags); /* checks the
								      key */
	if (item == NULL) {
		mt_failed(&mt_table[idx]);
		errno = ENOMEM;
		return (NULL);
	}
	struct uma_slab *slab = uma_item_slab(item);
	struct uma_keg *keg = slab->us_keg;
	uint16_t *tag = (uint16_t *)uma_slab_meta(keg, slab) +
	    uma_slab_index(keg, slab, item);
	void *raw = item;
	if (rz != 0 && !kdbg_redzone_enabled()) {
		item = (char *)item + rz;
	} else if (rz != 0) {
		void *block = kdbg_rz_arm(item, km_sizes[cls], size, idx, flags);
		if (block == NULL) {
			uma_zfree_slow(km_zones[cls], item, NULL);
			mt_failed(&mt_table[idx]);
			errno = ENOMEM;
			return (NULL);
		}
		item = block;
	}
	*tag = (uint16_t)idx;
	if (kdbg_annotating()) {
		uint32_t asked = (uint32_t)size;
		memcpy(km_asize_at(keg, slab, tag), &asked, sizeof(asked));
		kdbg_block_alloc(raw, km_sizes[cls], item, size,
		    (flags & M_ZERO) != 0);
	}
	if (MT_COUNTING)
		mt_count_slow(idx, cls, true);
	return (item);
}

KP_NOINLINE void *
kmalloc_slow_idx(size_t size, uint32_t idx, int flags)
{
	struct malloc_type *type = idx < MT_MAX ? __atomic_load_n(
	    &mt_table[idx].mt_public, __ATOMIC_ACQUIRE) : NULL;

	if (type == NULL)
		kp_fatal("kmalloc: type index %u is not a registered type", idx);
	return (kmalloc_slow(size, type, flags));
}

void *
kmalloc(size_t size, struct malloc_type *type, int flags)
{
	return (kmalloc_inline(size, type, flags));
}

/* memguard: a freed guarded block leaves the FIFO. */
static void
km_guard_release(void *arg)
{
	memguard_large_release(arg);
	uma_zfree(km_large_zone, arg);
}

/* Gives a large block back to the map; its owner was checked. */
static void
km_free_large(struct km_large *rec)
{
	size_t ps = kmem_page_size();
	struct mt_type *mt = &mt_table[rec->kl_type];

	if (kdbg_annotating() && rec->kl_guard == 0) {
		/* Freed pages are out of reach. */
		kdbg_block_free(rec->kl_addr, rec->kl_addr, rec->kl_usable);
		kdbg_mem_noaccess(rec->kl_addr, rec->kl_usable);
	}
	atomic_fetch_add(&mt->mt_frees[KM_LARGE], 1);
	atomic_fetch_sub(&mt->mt_large_bytes, rec->kl_pages * ps);
	if (rec->kl_guard != 0) {
		/* The record stays with its pages while they wait. */
		memguard_free(rec, km_guard_release);
		return;
	}
	/* Its pages stay committed in the map's free space a while. */
	kmem_region_free_dirty(kmem_map_arena(), rec->kl_addr,
	    rec->kl_pages * ps, KMC_LARGE);
	uma_zfree(km_large_zone, rec);
}

static KP_NOINLINE void
kfree_slow(void *addr, struct malloc_type *type)
{
	struct km_where w;
	uint32_t idx;

	if (addr == NULL)
		return;
	idx = __atomic_load_n(&type->ks_index, __ATOMIC_RELAXED);
	if (KP_UNLIKELY(idx == 0)) {
		if (type->ks_magic != M_MAGIC)
			mt_bad_type("kfree", addr, type);
		kp_fatal("kfree: %p: type %s has allocated nothing", addr,
		    type->ks_shortdesc != NULL ? type->ks_shortdesc : "?");
	}
	km_locate("kfree", addr, type, &w);
	if (w.kw_tag != NULL) {
		if (KP_UNLIKELY(*w.kw_tag != idx))
			km_bad_tag("kfree", addr, type, &w);
		kdbg_block_free(addr, w.kw_item, w.kw_keg->uk_rsize);
		if (kdbg_redzone_enabled())
			(void)kdbg_rz_disarm("kfree", addr);
		*w.kw_tag = MT_TAG_FREE;
		if (MT_COUNTING)
			mt_count_slow(idx, w.kw_cls, false);
		/*
		 * uma's slow path stores the tag's address with the item; the
		 * type's index is for the trash check (kmem_debug.h).
		 */
		uma_zfree_slow(km_zones[w.kw_cls], w.kw_item, (void *)(uintptr_t)idx);
		return;
	}
	if (KP_UNLIKELY(w.kw_large->kl_type != idx))
		kp_fatal("kfree: %p: allocated as type %s, freed as type %s (large, "
		    "%zu bytes)", addr, mt_table[w.kw_large->kl_type].mt_name,
		    type->ks_shortdesc != NULL ? type->ks_shortdesc : "?",
		    w.kw_large->kl_size);
	km_free_large(w.kw_large);
}

void
kfree(void *addr, struct malloc_type *type)
{
	uint32_t idx = __atomic_load_n(&type->ks_index, __ATOMIC_RELAXED);
	/* 0 for NULL and foreign pointers; a kmalloc slab's less its class. */
	uintptr_t e = kmem_pt_get(addr) - KPT_MSLAB;

	/*
	 * Inline: a block of a kmalloc zone, at the start of an item, tagged
	 * with this type (so not free), of a type this thread counts, going
	 * to a cache with room.  Anything else -- NULL, large blocks, and
	 * every fault -- is kfree_slow()'s.  The kmalloc zones have no dtor,
	 * limit or reserve, so their uz_freeslow never asks for the slow path
	 * (a zone without a cache slot has slot 0, which has no room).
	 */
	if (KP_UNLIKELY((e & (((uintptr_t)1 << KPT_SHIFT) - 1)) != 0))
		return (kfree_slow(addr, type));
	/*
	 * A kmalloc slab has no waste (uma lays them out so), so any address
	 * in it falls in an item: the start of it, or an interior pointer.
	 */
	struct uma_slab *slab = (struct uma_slab *)e;
	uintptr_t off = (uintptr_t)addr - (uintptr_t)slab->us_data;
	uintptr_t i;
	bool start = uma_slab_mindex(slab, off, &i);
	uint16_t *tag = (uint16_t *)slab->us_meta + i;
	if (KP_UNLIKELY(!start || *tag != (uint16_t)idx))
		return (kfree_slow(addr, type));
	/*
	 * The tag matched, so idx is not 0 (no tag is 0): "idx < cap" is all
	 * there is left to check of it.
	 */
	struct uma_cache *c = (struct uma_cache *)((char *)uma_tc + slab->us_cacheoff);
	size_t n = c->uc_acnt, ent = c->uc_aentries;
	if (KP_UNLIKELY(n >= ent || (MT_COUNTING && idx > c->uc_ucapm1)))
		return (kfree_slow(addr, type));
	void **items = c->uc_aitems;
	*tag = MT_TAG_FREE;
	uma_mkey_set(addr);
	UMA_STAT_STORE(c->uc_acnt, (uint32_t)n + 1);
	items[n] = addr;
	items[UMA_BUCKET_METAOFF + n] = tag;
	if (MT_COUNTING)
		UMA_STAT_INC(c->uc_ufrees[idx]);
}

void
kzfree(void *addr, struct malloc_type *type)
{
	struct km_where w;

	if (addr == NULL)
		return;
	uint32_t idx = mt_index("kzfree", type);
	km_locate("kzfree", addr, type, &w);
	/* The owner is checked before anything is cleared. */
	if (w.kw_tag != NULL) {
		if (*w.kw_tag != idx)
			km_bad_tag("kzfree", addr, type, &w);
		memset(addr, 0, kdbg_redzone_enabled() ? kdbg_rz_size(addr) :
		    kdbg_annotating() ? km_asked(&w) : w.kw_keg->uk_rsize);
	} else {
		if (w.kw_large->kl_type != idx)
			kp_fatal("kzfree: %p: allocated as type %s, freed as type %s "
			    "(large, %zu bytes)", addr,
			    mt_table[w.kw_large->kl_type].mt_name,
			    type->ks_shortdesc != NULL ? type->ks_shortdesc : "?",
			    w.kw_large->kl_size);
		memset(addr, 0, kdbg_annotating() ? km_asked(&w) :
		    w.kw_large->kl_usable);
	}
	kfree(addr, type);
}

size_t
kmalloc_usable_size(const void *addr)
{
	struct km_where w;

	if (addr == NULL)
		return (0);
	km_locate("kmalloc_usable_size", addr, NULL, &w);
	if (w.kw_tag != NULL) {
		if (*w.kw_tag == MT_TAG_FREE)
			kp_fatal("kmalloc_usable_size: %p: a free block (zone %s)", addr,
			    w.kw_keg->uk_primary->uz_name);
		if (kdbg_redzone_enabled())
			return (kdbg_rz_size(addr));
		size_t usable = w.kw_keg->uk_rsize - kdbg_km_front();
		/* The caller may use all of it: the block grows to it. */
		if (kdbg_annotating())
			km_resize((void *)(uintptr_t)addr, &w, usable);
		return (usable);
	}
	if (kdbg_annotating() && w.kw_large->kl_guard == 0)
		km_resize((void *)(uintptr_t)addr, &w, w.kw_large->kl_usable);
	return (w.kw_large->kl_usable);
}

void *
krealloc(void *addr, size_t size, struct malloc_type *type, int flags)
{
	struct km_where w;
	size_t have, keep;
	void *n;

	if (addr == NULL)
		return (kmalloc(size, type, flags));
	uint32_t idx = mt_index("krealloc", type);
	km_locate("krealloc", addr, type, &w);
	if (w.kw_tag != NULL) {
		if (*w.kw_tag != idx)
			km_bad_tag("krealloc", addr, type, &w);
		have = w.kw_keg->uk_rsize;
		/* Keep the block while the size fits its class and is more than
		 * half of it; with redzones the block always moves. */
		if (kdbg_redzone_enabled()) {
			have = kdbg_rz_size(addr);
		} else if (size <= have - kdbg_km_front() &&
		    (size > have / 2 || have == km_sizes[0])) {
			if (kdbg_annotating())
				km_resize(addr, &w, size);
			return (addr);
		} else if (kdbg_annotating()) {
			have = km_asked(&w);
		}
	} else {
		if (w.kw_large->kl_type != idx)
			kp_fatal("krealloc: %p: allocated as type %s, reallocated as "
			    "type %s", addr, mt_table[w.kw_large->kl_type].mt_name,
			    type->ks_shortdesc);
		have = w.kw_large->kl_usable;
		if (size <= have && size > have / 2 && size > KM_MAXSMALL) {
			if (kdbg_annotating())
				km_resize(addr, &w, size);
			w.kw_large->kl_size = size;
			return (addr);
		}
		if (kdbg_annotating())
			have = km_asked(&w);
	}
	n = kmalloc(size, type, flags & ~M_ZERO);
	if (n == NULL)
		return (NULL);
	keep = size < have ? size : have;
	memcpy(n, addr, keep);
	if ((flags & M_ZERO) && size > keep)
		memset((char *)n + keep, 0, size - keep);
	kfree(addr, type);
	return (n);
}

void *
kreallocf(void *addr, size_t size, struct malloc_type *type, int flags)
{
	void *n = krealloc(addr, size, type, flags);

	if (n == NULL && addr != NULL)
		kfree(addr, type);
	return (n);
}

void *
kmallocarray(size_t nmemb, size_t size, struct malloc_type *type, int flags)
{
	size_t total;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		uint32_t idx = mt_index("kmallocarray", type);
		atomic_fetch_add(&mt_table[idx].mt_failures, 1);
		errno = ENOMEM;
		return (NULL);
	}
	return (kmalloc(total, type, flags));
}

/* ---- for the preload shim: frees that take the type from the block --------- */

void *
kmalloc_aligned(size_t size, size_t align, struct malloc_type *type, int flags)
{
	size_t ps = kmem_page_size();

	if (align <= 16)
		return (kmalloc(size, type, flags));
	/* Whether redzones are on is known once kmalloc is set up. */
	if (!atomic_load_explicit(&km_ready, memory_order_acquire) &&
	    !km_startup()) {
		errno = ENOMEM;
		return (NULL);
	}
	/*
	 * kmalloc slabs start on a page and hold no header, so the items of a
	 * class are aligned to the largest power of two dividing its size (up
	 * to a page): the smallest class at least size bytes and a multiple
	 * of align serves.  Larger sizes and alignments take whole pages.
	 */
	if (align <= ps && size <= KM_MAXSMALL && kdbg_km_front() == 0) {
		for (int c = km_class(size); c < KM_NCLASSES; c++)
			if (km_sizes[c] % align == 0)
				return (kmalloc(km_sizes[c], type, flags));
	}
	if (size <= KM_MAXSMALL)
		size = KM_MAXSMALL + 1; /* whole pages, recorded as large */
	return (km_large_alloc(size, align > ps ? align : 0, type, flags));
}

/* kfree_any()'s everything else: NULL, large blocks and every fault. */
KP_NOINLINE void
kfree_any_slow(void *addr, const char *fn)
{
	struct km_where w;
	uint32_t idx;

	if (addr == NULL)
		return;
	km_locate(fn, addr, NULL, &w);
	if (w.kw_tag != NULL) {
		idx = *w.kw_tag;
		if (KP_UNLIKELY(idx == MT_TAG_FREE || idx == 0 || idx >= MT_MAX))
			kp_fatal("%s: %p: %s (zone %s)", fn, addr, idx == MT_TAG_FREE ?
			    "double free" : "corrupt type tag",
			    w.kw_keg->uk_primary->uz_name);
		kdbg_block_free(addr, w.kw_item, w.kw_keg->uk_rsize);
		if (kdbg_redzone_enabled())
			(void)kdbg_rz_disarm(fn, addr);
		*w.kw_tag = MT_TAG_FREE;
		if (MT_COUNTING)
			mt_count_slow(idx, w.kw_cls, false);
		uma_zfree_slow(km_zones[w.kw_cls], w.kw_item, (void *)(uintptr_t)idx);
		return;
	}
	km_free_large(w.kw_large);
}

void
kfree_any(void *addr)
{
	kfree_any_inline(addr, kfree_any_slow);
}

void *
krealloc_any(void *addr, size_t size, struct malloc_type *type, int flags)
{
	struct malloc_type *owner;
	struct km_where w;
	size_t have, keep;
	uint32_t idx;
	void *n;

	if (addr == NULL)
		return (kmalloc(size, type, flags));
	/*
	 * Inline, as kfree_any_inline() does: a live small block, without a
	 * debugging mode that moves blocks' starts or annotates them.  Most
	 * reallocations move the block (a program grows a buffer past its
	 * class), so the move is inline too.  Everything else, and every
	 * fault, takes km_locate() below.
	 */
	uintptr_t e = kmem_pt_get(addr) - KPT_MSLAB;
	if (KP_LIKELY((e & (((uintptr_t)1 << KPT_SHIFT) - 1)) == 0) &&
	    !kdbg_annotating() && !kdbg_redzone_enabled()) {
		struct uma_slab *slab = (struct uma_slab *)e;
		uintptr_t i;
		bool start = uma_slab_mindex(slab,
		    (uintptr_t)addr - (uintptr_t)slab->us_data, &i);
		idx = ((uint16_t *)slab->us_meta)[i];
		if (start && idx != 0 && idx < MT_MAX) {
			have = slab->us_rsize;
			if (size <= have && (size > have / 2 || have == km_sizes[0]))
				return (addr);
			owner = mt_table[idx].mt_public != NULL ?
			    mt_table[idx].mt_public : type;
			n = kmalloc_inline(size, owner, flags & ~M_ZERO);
			if (n == NULL)
				return (NULL);
			memcpy(n, addr, size < have ? size : have);
			kfree_any_inline(addr, kfree_any_slow);
			return (n);
		}
	}
	km_locate("realloc", addr, NULL, &w);
	if (w.kw_tag != NULL) {
		idx = *w.kw_tag;
		if (idx == MT_TAG_FREE || idx == 0 || idx >= MT_MAX)
			kp_fatal("realloc: %p: %s (zone %s)", addr, idx == MT_TAG_FREE ?
			    "a free block (use after free)" : "corrupt type tag",
			    w.kw_keg->uk_primary->uz_name);
		have = w.kw_keg->uk_rsize;
		if (kdbg_redzone_enabled()) {
			have = kdbg_rz_size(addr);
		} else if (size <= have - kdbg_km_front() &&
		    (size > have / 2 || have == km_sizes[0])) {
			if (kdbg_annotating())
				km_resize(addr, &w, size);
			return (addr);
		} else if (kdbg_annotating()) {
			have = km_asked(&w);
		}
	} else {
		idx = w.kw_large->kl_type;
		have = w.kw_large->kl_usable;
		if (size <= have && size > have / 2 && size > KM_MAXSMALL) {
			if (kdbg_annotating())
				km_resize(addr, &w, size);
			w.kw_large->kl_size = size;
			return (addr);
		}
		if (kdbg_annotating())
			have = km_asked(&w);
	}
	/* The block keeps its type: it is the same object, resized. */
	owner = mt_table[idx].mt_public != NULL ? mt_table[idx].mt_public : type;
	n = kmalloc(size, owner, flags & ~M_ZERO);
	if (n == NULL)
		return (NULL);
	keep = size < have ? size : have;
	memcpy(n, addr, keep);
	kfree_any(addr);
	return (n);
}

/* ---- statistics ------------------------------------------------------------------------ */

static void
mt_read(const struct mt_type *mt, struct mt_stats *st)
{
	uint64_t a[KM_NCLASSES + 1], f[KM_NCLASSES + 1];
	struct mt_tblock *tb;
	uint32_t idx = mt->mt_index;

	memset(st, 0, sizeof(*st));
	for (int c = 0; c <= KM_NCLASSES; c++) {
		a[c] = atomic_load(&mt->mt_allocs[c]);
		f[c] = atomic_load(&mt->mt_frees[c]);
	}
	LIST_FOREACH(tb, &mt_tblocks, mb_link) {
		if (idx >= tb->mb_cap)
			continue;
		for (int c = 0; c < KM_NCLASSES; c++) {
			a[c] += UMA_STAT_LOAD(mt_allocs(tb, c)[idx]);
			f[c] += UMA_STAT_LOAD(mt_frees(tb, c)[idx]);
		}
	}
	for (int c = 0; c <= KM_NCLASSES; c++) {
		uint64_t live = a[c] > f[c] ? a[c] - f[c] : 0;
		st->ms_numallocs += a[c];
		st->ms_numfrees += f[c];
		st->ms_count += live;
		if (c < KM_NCLASSES) {
			st->ms_bytes += live * km_sizes[c];
			if (a[c] != 0)
				st->ms_sizemask |= UINT64_C(1) << c;
		}
	}
	st->ms_bytes += atomic_load(&mt->mt_large_bytes);
	snprintf(st->ms_name, sizeof(st->ms_name), "%s", mt->mt_name);
	st->ms_failures = atomic_load(&mt->mt_failures);
	uint64_t hwm = atomic_load(&mt->mt_hwm);
	while (st->ms_bytes > hwm &&
	    !atomic_compare_exchange_weak((_Atomic uint64_t *)&mt->mt_hwm, &hwm,
	    st->ms_bytes))
		;
	st->ms_hwm = hwm > st->ms_bytes ? hwm : st->ms_bytes;
	st->ms_live = mt->mt_live;
}


/*
 * An allocation of mt failed: count it, and let every type's high-water
 * mark see this moment (at most every 10 ms), so that the types that held
 * the most when memory ran out are known even between two statistics
 * snapshots.
 */
#define MT_PEAK_EVERY_NS 10000000u
static _Atomic uint64_t mt_peak_next;

static void
mt_failed(struct mt_type *mt)
{
	struct mt_stats st;
	uint64_t now = kp_clock_ns();
	uint64_t due = atomic_load_explicit(&mt_peak_next, memory_order_relaxed);

	atomic_fetch_add(&mt->mt_failures, 1);
	if (now < due || !atomic_compare_exchange_strong(&mt_peak_next, &due,
	    now + MT_PEAK_EVERY_NS))
		return;
	if (!kp_mutex_trylock(&mt_lock))
		return;
	for (uint32_t i = 1; i < mt_top; i++)
		if (mt_table[i].mt_index != 0)
			mt_read(&mt_table[i], &st);
	kp_mutex_unlock(&mt_lock);
}

void
mt_foreach(void (*fn)(const struct mt_stats *st, void *arg), void *arg)
{
	struct mt_stats st;

	kp_mutex_lock(&mt_lock);
	for (uint32_t i = 1; i < mt_top; i++) {
		if (mt_table[i].mt_index == 0)
			continue;
		mt_read(&mt_table[i], &st);
		fn(&st, arg);
	}
	kp_mutex_unlock(&mt_lock);
}
