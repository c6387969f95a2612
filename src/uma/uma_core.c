/*
 * uma_core.c -- the zone allocator: zones, kegs, slabs, buckets, per-thread
 * caches, limits, reserves, reclaim and statistics.  The design, the order
 * of allocation, the fast path's statistics and the divergences from
 * FreeBSD are described at the top of uma_int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../vmem/vmem_int.h"
#include "uma_int.h"
#include "../debug/kmem_debug.h"

/* ---- globals --------------------------------------------------------------- */

/*
 * Every slot empty: threads without a cache of their own point here.  In
 * zero pages of its own, not among the library's read-only data (whose
 * pages the system maps whole with the rest of the file: 32 KiB resident
 * in every process); read-only once uma starts, so that a write through
 * it faults as it did there.
 */
#define UMA_TCACHE_EMPTY_ALIGN 4096 /* a page here; elsewhere it stays writable */
static union {
	struct uma_tcache ue_tc;
	char ue_pad[(sizeof(struct uma_tcache) + UMA_TCACHE_EMPTY_ALIGN - 1) /
	    UMA_TCACHE_EMPTY_ALIGN * UMA_TCACHE_EMPTY_ALIGN];
} uma_tcache_empty_pages __attribute__((aligned(UMA_TCACHE_EMPTY_ALIGN)));
#define uma_tcache_empty (uma_tcache_empty_pages.ue_tc)
__thread struct uma_tcache *uma_tc __attribute__((tls_model("initial-exec"))) =
    (struct uma_tcache *)&uma_tcache_empty;
/* Set once the thread's cache was flushed at exit: no new cache then. */
static __thread bool uma_tc_exited __attribute__((tls_model("initial-exec")));
/*
 * Frees a thread made before it had a cache of its own.  The first
 * UMA_HANDOVER_FREES of them go to the slabs, not into a new cache: a
 * thread that frees before it allocates frees what another thread gave it,
 * and from its cache it would get each block back at once for its own
 * allocations, next to the giver's blocks in their cache lines (passive
 * false sharing: Hoard's cache-scratch).  Its first allocation makes its
 * cache and fills it from the slabs, handing the freed blocks out last
 * (slab_take_many()).
 */
#define UMA_HANDOVER_FREES 16
static __thread uint32_t uma_tc_handover __attribute__((tls_model("initial-exec")));

static kp_mutex_t uma_zones_lock = KP_MUTEX_INITIALIZER;
static LIST_HEAD(, uma_zone) uma_zones = LIST_HEAD_INITIALIZER(uma_zones);
static struct uma_zone *uma_zone_by_id[UMA_CACHE_ZONES]; /* slot owners */

static kp_mutex_t uma_tc_lock = KP_MUTEX_INITIALIZER;
static LIST_HEAD(, uma_tcache) uma_tcaches = LIST_HEAD_INITIALIZER(uma_tcaches);
/*
 * The caches of exited threads, kept (at most UMA_TC_RETIRED) for the
 * next threads: a program that starts and ends threads all the time would
 * otherwise have each one commit its cache's pages and give them back,
 * page faults and TLB shoot-downs every time.  Under uma_tc_lock.
 */
#define UMA_TC_RETIRED 8
static LIST_HEAD(, uma_tcache) uma_tc_retired = LIST_HEAD_INITIALIZER(uma_tc_retired);
static uint32_t uma_tc_nretired;

static _Atomic uint64_t uma_drain_gen;  /* bumped by drain requests */
static _Atomic uint64_t uma_next_trim;  /* when the next trim is due */
static atomic_bool uma_ready;
uint64_t uma_mkey; /* section 3 of uma_int.h; set once, before any zone */
static kp_mutex_t uma_startup_lock = KP_MUTEX_INITIALIZER;
static pthread_key_t uma_tc_key;
/* The free key (section 11 of uma_int.h): set once at start-up. */
uint64_t uma_dfkey;

/* ---- kmem's own zones ------------------------------------------------------- */

/* Buckets: 24-byte header and entries filling 64 B .. 2 KiB. */
static const uint16_t uma_bucket_entries[] = {5, 13, 29, 61, 125, 253};
#define UMA_NBUCKETZONES 6
/* Off-page slab headers. */
static const uint16_t uma_hdr_sizes[] = {64, 128, 256, 512, 1024, 2048,
    4096};
#define UMA_NHDRZONES 7

struct uma_zk {
	struct uma_zone zk_zone;
	struct uma_keg zk_keg;
};

static struct uma_zk uma_bucket_zk[UMA_NBUCKETZONES];
static struct uma_zk uma_hdr_zk[UMA_NHDRZONES];
static struct uma_zk uma_zones_zk; /* zone and keg structures */

static void *zone_alloc_item(struct uma_zone *zone, void *arg, int flags);
static void zone_free_item(struct uma_zone *zone, void *item, void *arg,
    bool dtor);
static void uma_startup(void);
static void zone_trim_buckets(struct uma_zone *zone, uint64_t keep);

/* ---- slabs ------------------------------------------------------------------- */

static inline unsigned
slab_words(const struct uma_keg *keg)
{
	return ((keg->uk_ipers + 63) / 64);
}

static inline char *
slab_base(const struct uma_slab *slab)
{
	return ((slab->us_flags & UMA_SLAB_INLINE) ? (char *)slab :
	    slab->us_data - slab->us_keg->uk_hdroff);
}

/*
 * Makes a slab (no lock held): pages from the map, a header, the page table,
 * init on every item.  NULL when the map is short or init failed.
 */
static struct uma_slab *
keg_alloc_slab(struct uma_keg *keg, int flags)
{
	size_t ps = kmem_page_size(), bytes = (size_t)keg->uk_ppera * ps;
	struct uma_slab *slab;
	char *mem;
	int wait = flags & (M_NOWAIT | M_WAITOK);

	/* kmalloc items hold anything until they are written (M_ZERO clears). */
	mem = kmem_region_alloc(keg->uk_arena, bytes, wait |
	    ((keg->uk_flags & UMA_ZONE_MALLOC) ? KMEM_DIRTY_OK : 0), KMC_SLAB,
	    "uma");
	if (mem == NULL)
		return (NULL);
	if (keg->uk_inline) {
		slab = (struct uma_slab *)mem;
		slab->us_data = mem + keg->uk_hdroff;
		slab->us_flags = UMA_SLAB_INLINE;
	} else {
		/* As the caller asked: an M_WAITOK request never returns NULL. */
		slab = zone_alloc_item(&uma_hdr_zk[keg->uk_hdrzone].zk_zone, NULL,
		    wait);
		if (slab == NULL) {
			kmem_region_free(keg->uk_arena, mem, bytes, KMC_SLAB);
			return (NULL);
		}
		slab->us_data = mem + keg->uk_hdroff;
		slab->us_flags = 0;
	}
	slab->us_keg = keg;
	if (keg->uk_guard &&
	    kp_protect(mem + keg->uk_guardoff, ps, KP_PROT_NONE) != 0) {
		zone_free_item(&uma_hdr_zk[keg->uk_hdrzone].zk_zone, slab, NULL,
		    false);
		kmem_region_free(keg->uk_arena, mem, bytes, KMC_SLAB);
		return (NULL);
	}
	slab->us_freecount = (uint16_t)keg->uk_ipers;
	unsigned w = slab_words(keg);
	memset(slab->us_free, 0xff, w * sizeof(uint64_t));
	if (keg->uk_ipers % 64 != 0)
		slab->us_free[w - 1] = (UINT64_C(1) << (keg->uk_ipers % 64)) - 1;
	slab->us_meta = keg->uk_itemmeta != 0 ? (char *)slab + keg->uk_metaoff :
	    NULL;
	slab->us_magic = keg->uk_magic;
	slab->us_rsize = keg->uk_rsize;
	slab->us_cacheoff = keg->uk_cacheoff;
	if (keg->uk_itemmeta != 0)
		memset(uma_slab_meta(keg, slab), UMA_ITEMMETA_INIT,
		    (size_t)keg->uk_ipers * keg->uk_itemmeta);
	kmem_pt_set_ptr(mem, keg->uk_ppera, (enum kmem_class)keg->uk_ptclass,
	    slab);
	if (keg->uk_trash)
		for (uint32_t i = 0; i < keg->uk_ipers; i++)
			kdbg_trash_fill(slab->us_data + (size_t)i * keg->uk_rsize,
			    keg->uk_rsize, (keg->uk_flags & UMA_ZONE_MALLOC) != 0, 0);

	if (keg->uk_init != NULL) {
		for (uint32_t i = 0; i < keg->uk_ipers; i++) {
			char *item = slab->us_data + (size_t)i * keg->uk_rsize;
			if (keg->uk_init(item, (int)keg->uk_size, wait) != 0) {
				while (i-- > 0 && keg->uk_fini != NULL)
					keg->uk_fini(slab->us_data + (size_t)i * keg->uk_rsize,
					    (int)keg->uk_size);
				if (!keg->uk_inline)
					zone_free_item(&uma_hdr_zk[keg->uk_hdrzone].zk_zone,
					    slab, NULL, false);
				kmem_region_free(keg->uk_arena, mem, bytes, KMC_SLAB);
				return (NULL);
			}
		}
	}
	if (keg->uk_annot)
		kdbg_mem_noaccess(slab->us_data, (size_t)keg->uk_ipers *
		    keg->uk_rsize);
	return (slab);
}

/*
 * Gives a slab back to the map (no lock held); fini runs on every item.
 * dirty: its pages stay committed for the map's next allocation of any
 * kind (kmem_region_free_dirty()), a kmalloc keg's free-item keys wiped.
 */
static void
keg_free_slab(struct uma_keg *keg, struct uma_slab *slab, bool dirty)
{
	size_t bytes = (size_t)keg->uk_ppera * kmem_page_size();
	char *base = slab_base(slab);

	if (keg->uk_annot)
		kdbg_mem_open(slab->us_data, (size_t)keg->uk_ipers * keg->uk_rsize,
		    true);
	if (keg->uk_fini != NULL)
		for (uint32_t i = 0; i < keg->uk_ipers; i++)
			keg->uk_fini(slab->us_data + (size_t)i * keg->uk_rsize,
			    (int)keg->uk_size);
	/* The key stays with uma: the pages may serve anything next. */
	if (keg->uk_dfkey)
		for (uint32_t i = 0; i < keg->uk_ipers; i++)
			*(uma_dfword_t *)(slab->us_data + (size_t)i * keg->uk_rsize) = 0;
	if (dirty)
		for (uint32_t i = 0; i < keg->uk_ipers; i++)
			uma_mkey_clear(slab->us_data + (size_t)i * keg->uk_rsize);
	if (!keg->uk_inline)
		zone_free_item(&uma_hdr_zk[keg->uk_hdrzone].zk_zone, slab, NULL,
		    false);
	if (dirty)
		kmem_region_free_dirty(keg->uk_arena, base, bytes, KMC_SLAB);
	else
		kmem_region_free(keg->uk_arena, base, bytes, KMC_SLAB);
}

/*
 * Takes up to max free items of a slab into items[], in one pass over its
 * free bits; returns how many.  Keg lock held.  With metas (a bucket of a
 * kmalloc zone, or of a zone with state bytes) their metadata addresses go
 * into metas[], a kmalloc item takes the free-item key (uma_int.h,
 * section 3) and the slab's highest free items go in, highest address
 * first: the bucket is popped from its end, so the blocks are handed out
 * in address order, and the free neighbour after a block is the next one
 * out, whose key an overflow of the block destroys.  A slab is so used
 * from its end down, and a block handed back to it (a hand-over free, see
 * UMA_HANDOVER_FREES) lies above the items taken next: it comes out last
 * of them, not first.  Without metas, the lowest items go in, in address
 * order.
 */
static int
slab_take_many(struct uma_keg *keg, struct uma_slab *slab, void **items,
    void **metas, int max)
{
	unsigned w = slab_words(keg);
	uint32_t rsize = keg->uk_rsize;
	int n = 0;

	if (max > (int)slab->us_freecount)
		max = (int)slab->us_freecount;
	if (metas != NULL) {
		/* trash=1: zone_import() checks the junk first, then keys */
		bool key = (keg->uk_flags & UMA_ZONE_MALLOC) && !keg->uk_annot &&
		    !keg->uk_trash;
		char *meta = slab->us_meta;
		size_t im = keg->uk_itemmeta;
		for (unsigned i = w; i-- > 0 && n < max;) {
			uint64_t bits = slab->us_free[i];
			int k = __builtin_popcountll(bits);
			if (k > max - n)
				k = max - n;
			char *base = slab->us_data + (size_t)i * 64 * rsize;
			char *mbase = meta + (size_t)i * 64 * im;
			/* this word's highest k items, highest first */
			void **ip = items + n, **mp = metas + n;
			for (int j = 0; j < k; j++) {
				unsigned b = 63u - (unsigned)__builtin_clzll(bits);
				char *item = base + (size_t)b * rsize;
				bits &= ~(1ull << b);
				*ip++ = item;
				*mp++ = mbase + (size_t)b * im;
				if (key)
					uma_mkey_set(item);
			}
			n += k;
			slab->us_free[i] = bits;
		}
	} else {
		for (unsigned i = 0; i < w && n < max; i++) {
			uint64_t bits = slab->us_free[i];
			if (bits == 0)
				continue;
			char *base = slab->us_data + (size_t)i * 64 * rsize;
			while (bits != 0 && n < max) {
				unsigned b = (unsigned)__builtin_ctzll(bits);
				items[n++] = base + (size_t)b * rsize;
				bits &= bits - 1;
			}
			slab->us_free[i] = bits;
		}
	}
	if (n < max)
		kp_fatal("uma: keg of zone %s: slab %p counts %u free items but has "
		    "fewer", keg->uk_primary->uz_name, (void *)slab,
		    slab->us_freecount);
	slab->us_freecount -= (uint32_t)n;
	return (n);
}

/* Puts a slab on the list its free count calls for; keg lock held. */
static void
keg_file_slab(struct uma_keg *keg, struct uma_slab *slab)
{
	if (slab->us_freecount == 0)
		LIST_INSERT_HEAD(&keg->uk_full, slab, us_link);
	else if (slab->us_freecount == keg->uk_ipers)
		LIST_INSERT_HEAD(&keg->uk_free, slab, us_link);
	else
		LIST_INSERT_HEAD(&keg->uk_part, slab, us_link);
}

/*
 * Takes up to max items from the keg into items[], and their metadata
 * addresses into metas[] unless it is NULL; returns how many (0 only
 * when the map is short or init failed).  Partial slabs first, then free
 * slabs, then new slabs; the free items of the reserve are left to
 * M_USE_RESERVE requests.
 */
static int
keg_fetch(struct uma_keg *keg, void **items, void **metas, int max, int flags)
{
	int n = 0;
	bool reserve_ok = (flags & M_USE_RESERVE) != 0;

	kp_mutex_lock(&keg->uk_lock);
	while (n < max) {
		struct uma_slab *slab = LIST_FIRST(&keg->uk_part);
		if (slab == NULL)
			slab = LIST_FIRST(&keg->uk_free);
		if (slab != NULL && !reserve_ok &&
		    keg->uk_free_items <= keg->uk_reserve)
			slab = NULL; /* leave the reserve alone */
		if (slab == NULL) {
			/*
			 * Enough for now: no new slab.  But a thread that made
			 * hand-over frees may have found just those blocks: it
			 * takes a new slab's items too, to hand out before them.
			 */
			if (n > 0 && (n >= max / 2 || uma_tc_handover == 0))
				break;
			kp_mutex_unlock(&keg->uk_lock);
			slab = keg_alloc_slab(keg, flags);
			kp_mutex_lock(&keg->uk_lock);
			if (slab == NULL)
				break;
			keg->uk_nslabs++;
			keg->uk_free_items += keg->uk_ipers;
			keg_file_slab(keg, slab);
			continue;
		}
		LIST_REMOVE(slab, us_link);
		int want = max - n;
		if (!reserve_ok && keg->uk_free_items - keg->uk_reserve < (uint64_t)want)
			want = (int)(keg->uk_free_items - keg->uk_reserve);
		int got = slab_take_many(keg, slab, items + n,
		    metas != NULL ? metas + n : NULL, want);
		n += got;
		keg->uk_free_items -= (uint64_t)got;
		keg_file_slab(keg, slab);
	}
	kp_mutex_unlock(&keg->uk_lock);
	return (n);
}

/* Index of item in its slab; aborts for a pointer that is not an item. */
static uint32_t
keg_item_index(struct uma_keg *keg, struct uma_slab *slab, void *item,
    const char *zname)
{
	uintptr_t off = (uintptr_t)item - (uintptr_t)slab->us_data;
	uint32_t idx = (uint32_t)(off / keg->uk_rsize);

	if ((uintptr_t)item < (uintptr_t)slab->us_data || idx >= keg->uk_ipers ||
	    off % keg->uk_rsize != 0)
		kp_fatal("uma_zfree: %p is not an item of zone %s (interior "
		    "pointer or slab padding)", item, zname);
	return (idx);
}

/*
 * The slab of item, which must be an item of keg in use; aborts naming
 * zname otherwise.  Keg lock held.
 */
static struct uma_slab *
keg_check_item(struct uma_keg *keg, void *item, const char *zname,
    uint32_t *idxp)
{
	struct uma_slab *slab = uma_item_slab(item);

	if (slab == NULL || slab->us_keg != keg)
		kp_fatal("uma_zfree: %p was not allocated from zone %s", item,
		    zname);
	uint32_t idx = keg_item_index(keg, slab, item, zname);
	if (slab->us_free[idx / 64] & (UINT64_C(1) << (idx % 64)))
		kp_fatal("uma_zfree: %p: double free in zone %s", item, zname);
	*idxp = idx;
	return (slab);
}

/* memguard: gives back the header and pages of a slab off the FIFO. */
static void
keg_guard_release(void *arg)
{
	struct uma_slab *slab = arg;
	struct uma_keg *keg = slab->us_keg;
	char *base = slab_base(slab);

	zone_free_item(&uma_hdr_zk[keg->uk_hdrzone].zk_zone, slab, NULL, false);
	kmem_region_free(keg->uk_arena, base,
	    (size_t)keg->uk_ppera * kmem_page_size(), KMC_SLAB);
}

/* memguard_purge()'s question at uma_zdestroy(): the keg's slabs. */
struct keg_purge {
	struct uma_keg *kp_keg;        /* the keg destroyed */
	struct uma_slablist kp_list;   /* its slabs taken off the FIFO */
};

static bool
keg_guard_take(void *rec, void *arg)
{
	struct uma_slab *slab = rec;
	struct keg_purge *kp = arg;

	if (slab->us_keg != kp->kp_keg)
		return (false);
	LIST_INSERT_HEAD(&kp->kp_list, slab, us_link);
	return (true);
}

/*
 * memguard: a slab whose item was freed, off the keg's lists: fini runs,
 * its pages become inaccessible and it waits on the FIFO (section 10).
 */
static void
keg_guard_retire(struct uma_keg *keg, struct uma_slab *slab)
{
	if (keg->uk_fini != NULL)
		keg->uk_fini(slab->us_data, (int)keg->uk_size);
	(void)kp_protect(slab_base(slab), (size_t)keg->uk_ppera *
	    kmem_page_size(), KP_PROT_NONE);
	memguard_defer(slab, keg_guard_release);
}

/* Takes an all-free slab out of keg onto list, to be freed; keg lock held. */
static void
keg_unlist_free(struct uma_keg *keg, struct uma_slab *slab,
    struct uma_slablist *list)
{
	LIST_REMOVE(slab, us_link);
	keg->uk_nslabs--;
	keg->uk_free_items -= keg->uk_ipers;
	LIST_INSERT_HEAD(list, slab, us_link);
}

/*
 * Returns n items to their slabs; aborts on an item already free.  A trash
 * keg's items are filled once they are known to be its own and in use;
 * lastuse is the type index kmalloc zones keep in them.
 * A guarded keg's slabs leave the keg for memguard's FIFO.
 */
static void
keg_release(struct uma_keg *keg, void **items, int n, const char *zname,
    uint32_t lastuse)
{
	struct uma_slablist retired = LIST_HEAD_INITIALIZER(retired);
	struct uma_slablist spare = LIST_HEAD_INITIALIZER(spare);
	struct uma_slab *slab;
	uint32_t idx;

	kp_mutex_lock(&keg->uk_lock);
	for (int i = 0; i < n; i++) {
		slab = keg_check_item(keg, items[i], zname, &idx);
		if (keg->uk_trash)
			kdbg_trash_fill(items[i], keg->uk_rsize,
			    (keg->uk_flags & UMA_ZONE_MALLOC) != 0, lastuse);
		if (keg->uk_annot)
			kdbg_mem_noaccess(items[i], keg->uk_rsize);
		LIST_REMOVE(slab, us_link);
		slab->us_free[idx / 64] |= UINT64_C(1) << (idx % 64);
		slab->us_freecount++;
		if (keg->uk_guard) {
			/* Never reused: the slab leaves the keg. */
			slab->us_flags |= UMA_SLAB_GUARD_FREED;
			keg->uk_nslabs--;
			LIST_INSERT_HEAD(&retired, slab, us_link);
			continue;
		}
		keg->uk_free_items++;
		keg_file_slab(keg, slab);
		/*
		 * A kmalloc keg keeps one free slab; another goes back to the
		 * map at once, its pages committed for the next slab of any
		 * size or large block: a program's peak is then that of all its
		 * sizes together, not the sum of each size's own peak.
		 */
		if ((keg->uk_flags & UMA_ZONE_MALLOC) && !keg->uk_annot &&
		    slab->us_freecount == keg->uk_ipers &&
		    LIST_NEXT(slab, us_link) != NULL &&
		    keg->uk_free_items - keg->uk_ipers >= keg->uk_reserve)
			keg_unlist_free(keg, slab, &spare);
	}
	kp_mutex_unlock(&keg->uk_lock);
	while ((slab = LIST_FIRST(&retired)) != NULL) {
		LIST_REMOVE(slab, us_link);
		keg_guard_retire(keg, slab);
	}
	while ((slab = LIST_FIRST(&spare)) != NULL) {
		LIST_REMOVE(slab, us_link);
		keg_free_slab(keg, slab, true);
	}
}

/*
 * Gives free slabs back to the map, keeping enough free items for the
 * reserve.  NOFREE kegs keep everything.
 */
static void
keg_drain(struct uma_keg *keg)
{
	struct uma_slablist freed = LIST_HEAD_INITIALIZER(freed);
	struct uma_slab *slab;

	if (keg->uk_flags & UMA_ZONE_NOFREE)
		return;
	kp_mutex_lock(&keg->uk_lock);
	while ((slab = LIST_FIRST(&keg->uk_free)) != NULL &&
	    keg->uk_free_items - keg->uk_ipers >= keg->uk_reserve)
		keg_unlist_free(keg, slab, &freed);
	kp_mutex_unlock(&keg->uk_lock);
	while ((slab = LIST_FIRST(&freed)) != NULL) {
		LIST_REMOVE(slab, us_link);
		keg_free_slab(keg, slab, false);
	}
}

/*
 * Chooses the slab layout: item size, pages per slab and items per slab so
 * that the waste stays under 1/UMA_MAX_WASTE_DIV of the slab.
 */
/* The bytes of an off-page slab header for ipers items of keg. */
static uint32_t
slab_hdr_bytes(const struct uma_keg *keg, uint32_t ipers)
{
	return ((uint32_t)(sizeof(struct uma_slab) + ((ipers + 63) / 64) * 8 +
	    (size_t)ipers * keg->uk_itemmeta));
}

/*
 * Whether ipers items of rsize bytes keep the kmalloc index by
 * multiplication exact (uma_int.h, uma_slab_mindex()).
 */
static bool
km_index_ok(uint32_t rsize, uint32_t ipers)
{
	uint64_t magic = ((UINT64_C(1) << UMA_MAGIC_SHIFT) / rsize) + 1;

	return ((uint64_t)ipers * (rsize * magic - (UINT64_C(1) << UMA_MAGIC_SHIFT)) <
	    magic);
}

static void
keg_layout(struct uma_keg *keg, bool inline_hdr)
{
	size_t ps = kmem_page_size();
	uint32_t rsize = keg->uk_size;
	uint32_t best_ppera = 1, best_ipers = 0;
	double best_waste = 2.0;

	/* A guarded item ends exactly where its alignment does. */
	if (rsize < 8 && !keg->uk_guard)
		rsize = 8;
	rsize = (rsize + keg->uk_align) & ~keg->uk_align;
	keg->uk_rsize = rsize;
	keg->uk_inline = inline_hdr;
	if (keg->uk_guard) {
		/* memguard: one item, ending at the guard page (section 10). */
		best_ppera = (uint32_t)((rsize + ps - 1) / ps) + 1;
		best_ipers = 1;
	} else if (rsize > ps * UMA_SLAB_MAXPAGES / 2) {
		/* Large items: one per slab, the slab as small as it can be. */
		best_ppera = (uint32_t)((rsize + (inline_hdr ? 256 : 0) + ps - 1) / ps);
		best_ipers = 1;
	} else if (keg->uk_flags & UMA_ZONE_MALLOC) {
		/*
		 * kmalloc zones: the smallest slab with no waste at all, so
		 * that every address of a slab falls in an item (kfree needs
		 * no bound check).
		 */
		uint32_t ppera = 1;
		while ((ppera * ps) % rsize != 0 && ppera < UMA_SLAB_MAXPAGES)
			ppera++;
		/*
		 * Then as many times that as fit UMA_KMALLOC_SLAB bytes: fewer
		 * slabs to make, and consecutive blocks in fewer slab headers
		 * and page-table lines.
		 */
		for (uint32_t step = ppera; ppera * ps < UMA_KMALLOC_SLAB &&
		    ppera + step <= UMA_SLAB_MAXPAGES; ppera += step) {
			uint32_t next = (uint32_t)((ppera + step) * ps / rsize);
			if (next > UMA_SLAB_MAXITEMS || !km_index_ok(rsize, next) ||
			    slab_hdr_bytes(keg, next) > uma_hdr_sizes[UMA_NHDRZONES - 1])
				break;
		}
		best_ppera = ppera;
		best_ipers = (uint32_t)(ppera * ps / rsize);
		if ((ppera * ps) % rsize != 0 || best_ipers > UMA_SLAB_MAXITEMS)
			kp_fatal("uma: no waste-free slab for kmalloc size %u", rsize);
	} else {
		for (uint32_t ppera = 1; ppera <= UMA_SLAB_MAXPAGES; ppera++) {
			size_t bytes = ppera * ps;
			size_t hdr = 0;
			uint32_t ipers;
			if (inline_hdr) {
				/* Header with a bitset for the most items that fit. */
				uint32_t guess = (uint32_t)(bytes / rsize);
				hdr = sizeof(struct uma_slab) + ((guess + 63) / 64) * 8;
				hdr = (hdr + keg->uk_align) & ~(size_t)keg->uk_align;
			}
			ipers = (uint32_t)((bytes - hdr) / rsize);
			if (ipers > UMA_SLAB_MAXITEMS)
				ipers = UMA_SLAB_MAXITEMS;
			if (ipers == 0)
				continue;
			double waste = (double)(bytes - hdr - (size_t)ipers * rsize) /
			    (double)bytes;
			if (waste < best_waste) {
				best_waste = waste;
				best_ppera = ppera;
				best_ipers = ipers;
			}
			if (waste * UMA_MAX_WASTE_DIV < 1.0)
				break;
		}
	}
	keg->uk_ppera = best_ppera;
	keg->uk_ipers = best_ipers;
	keg->uk_hdrsize = slab_hdr_bytes(keg, best_ipers);
	keg->uk_rshift = (rsize & (rsize - 1)) == 0 ? __builtin_ctz(rsize) : -1;
	keg->uk_magic = ((UINT64_C(1) << UMA_MAGIC_SHIFT) / rsize) + 1;
	if (keg->uk_flags & UMA_ZONE_MALLOC) {
		uint64_t e = (uint64_t)rsize * keg->uk_magic -
		    (UINT64_C(1) << UMA_MAGIC_SHIFT);
		if ((uint64_t)best_ipers * e >= keg->uk_magic)
			kp_fatal("uma: kmalloc size %u: %u items per slab are too "
			    "many for the index by multiplication", rsize,
			    best_ipers);
	}
	keg->uk_metaoff = (uint32_t)(sizeof(struct uma_slab) +
	    ((best_ipers + 63) / 64) * 8);
	if (inline_hdr) {
		keg->uk_hdroff = (keg->uk_hdrsize + keg->uk_align) & ~keg->uk_align;
		keg->uk_hdrzone = -1;
	} else {
		keg->uk_hdroff = 0;
		keg->uk_hdrzone = -1;
		if (keg->uk_guard && kopt.memguard_before) {
			keg->uk_guardoff = 0;
			keg->uk_hdroff = (uint32_t)ps;
		} else if (keg->uk_guard) {
			keg->uk_guardoff = (uint32_t)((best_ppera - 1) * ps);
			keg->uk_hdroff = keg->uk_guardoff - rsize;
		}
		for (int i = 0; i < UMA_NHDRZONES; i++) {
			if (keg->uk_hdrsize <= uma_hdr_sizes[i]) {
				keg->uk_hdrzone = i;
				break;
			}
		}
		if (keg->uk_hdrzone < 0)
			kp_fatal("uma: slab header of %u bytes has no zone",
			    keg->uk_hdrsize);
	}
}

/* ---- zone <-> keg -------------------------------------------------------------- */

static void
zone_log_warning(struct uma_zone *zone)
{
	uint64_t now = kp_clock_ns();

	if (zone->uz_warning[0] == '\0')
		return;
	if (zone->uz_last_warn != 0 && now - zone->uz_last_warn < UMA_WARN_NS)
		return;
	zone->uz_last_warn = now;
	kp_log("[zone: %s] %s", zone->uz_name, zone->uz_warning);
}

/*
 * How many of `want` items the limit lets this request take (0: none).
 * M_WAITOK requests sleep until at least one is allowed.  Zone lock not
 * held on entry or return.
 */
static int
zone_limit_take(struct uma_zone *zone, int want, int flags)
{
	uint64_t max, items;
	bool hit = false, sleeping = false, trimmed = false;
	struct kmem_stuck st;

	if (zone->uz_max_items == 0) {
		atomic_fetch_add(&zone->uz_items, (uint64_t)want);
		return (want);
	}
	kp_mutex_lock(&zone->uz_lock);
	for (;;) {
		max = zone->uz_max_items;
		if (max == 0) {
			atomic_fetch_add(&zone->uz_items, (uint64_t)want);
			break;
		}
		if (!(flags & M_USE_RESERVE))
			max = max > zone->uz_reserve ? max - zone->uz_reserve : 0;
		items = atomic_load(&zone->uz_items);
		if (items < max) {
			if ((uint64_t)want > max - items)
				want = (int)(max - items);
			atomic_fetch_add(&zone->uz_items, (uint64_t)want);
			break;
		}
		/*
		 * Free items in the zone's bucket cache count against the
		 * limit: give them back to the keg, which makes room.
		 */
		if (zone->uz_bkt_count > 0 && !trimmed) {
			trimmed = true;
			kp_mutex_unlock(&zone->uz_lock);
			zone_trim_buckets(zone, 0);
			kp_mutex_lock(&zone->uz_lock);
			continue;
		}
		if (!hit) {
			hit = true;
			zone_log_warning(zone);
			uma_maxaction_t fn = zone->uz_maxaction;
			if (fn != NULL) {
				kp_mutex_unlock(&zone->uz_lock);
				fn(zone, 0);
				kp_mutex_lock(&zone->uz_lock);
				continue;
			}
		}
		if (flags & M_NOWAIT) {
			want = 0;
			break;
		}
		/*
		 * Sleep.  While anyone sleeps, frees bypass the caches and
		 * wake the sleepers; the flag stays up across sleep slices so
		 * that no free between two slices is missed.  Other threads
		 * are asked for the items they cache.
		 */
		if (!sleeping) {
			sleeping = true;
			if (zone->uz_sleepers++ == 0)
				atomic_fetch_or(&zone->uz_freeslow, UMA_FREESLOW_SLEEPERS);
			kmem_wait_enter(&st);
		}
		atomic_fetch_add(&uma_drain_gen, 1);
		atomic_fetch_add(&zone->uz_sleeps, 1);
		(void)kp_cond_timedwait(&zone->uz_cv, &zone->uz_lock, UMA_SLEEP_NS);
		trimmed = false;
		if (kmem_wait_stuck(&st)) {
			char where[UMA_NAME_MAX + 64];

			snprintf(where, sizeof(where), "zone %s (limit %" PRIu64
			    " items)", zone->uz_name, zone->uz_max_items);
			kp_mutex_unlock(&zone->uz_lock);
			kmem_deadlock("uma_zalloc", zone->uz_size, where, &st);
		}
	}
	if (sleeping && --zone->uz_sleepers == 0)
		atomic_fetch_and(&zone->uz_freeslow, ~(uint32_t)UMA_FREESLOW_SLEEPERS);
	kp_mutex_unlock(&zone->uz_lock);
	if (sleeping)
		kmem_wait_leave();
	return (want);
}

/* Gives back limit room for n items and wakes sleepers. */
static void
zone_limit_put(struct uma_zone *zone, int n)
{
	atomic_fetch_sub(&zone->uz_items, (uint64_t)n);
	if (zone->uz_max_items != 0 &&
	    (atomic_load(&zone->uz_freeslow) & UMA_FREESLOW_SLEEPERS)) {
		kp_mutex_lock(&zone->uz_lock);
		kp_cond_broadcast(&zone->uz_cv);
		kp_mutex_unlock(&zone->uz_lock);
	}
}

/*
 * Whether a free item of the zone holds defined contents: an init or
 * UMA_ZONE_ZINIT made it (kmem_debug.h, section 8).
 */
static bool
zone_item_defined(const struct uma_zone *zone)
{
	const struct uma_keg *keg = zone->uz_keg;

	return (zone->uz_init != NULL || keg->uk_init != NULL ||
	    (keg->uk_flags & UMA_ZONE_ZINIT) != 0);
}

/* ---- the double-free check (section 11 of uma_int.h) ------------------------- */

/*
 * The state byte of item in a uk_dfmeta keg.  The item comes from the
 * caller on a free: it must be the start of an item of the keg, or the
 * byte would be another's (or outside the header).
 */
static uint8_t *
zone_dfmeta(struct uma_zone *zone, void *item, bool check)
{
	struct uma_keg *keg = zone->uz_keg;
	struct uma_slab *slab = uma_item_slab(item);
	uint32_t idx;

	if (check) {
		if (slab == NULL || slab->us_keg != keg)
			kp_fatal("uma_zfree: %p was not allocated from zone %s", item,
			    zone->uz_name);
		idx = keg_item_index(keg, slab, item, zone->uz_name);
	} else {
		idx = uma_slab_index(keg, slab, item);
	}
	return ((uint8_t *)slab->us_meta + idx);
}

/*
 * A free of item to zone: aborts if the item is free already (the key in
 * its first word, or its state byte says so).  Before the dtor runs.
 */
static void
zone_df_check(struct uma_zone *zone, void *item)
{
	if (zone->uz_dfkey != 0) {
		if (KP_UNLIKELY(*(uma_dfword_t *)item == zone->uz_dfkey))
			kp_fatal("uma_zfree: %p: double free in zone %s", item,
			    zone->uz_name);
	} else if (zone->uz_flags & UMA_ZFLAG_DFMETA) {
		if (KP_UNLIKELY(*zone_dfmeta(zone, item, true) != UMA_DFMETA_LIVE))
			kp_fatal("uma_zfree: %p: double free in zone %s", item,
			    zone->uz_name);
	}
}

/* item becomes free: it takes the key, or its byte says so. */
static void
zone_df_free(struct uma_zone *zone, void *item)
{
	if (zone->uz_dfkey != 0)
		*(uma_dfword_t *)item = zone->uz_dfkey;
	else if (zone->uz_flags & UMA_ZFLAG_DFMETA)
		*zone_dfmeta(zone, item, false) = UMA_DFMETA_FREE;
}

/* item is handed out: the key goes, or its byte says so.  Before the ctor. */
static void
zone_df_live(struct uma_zone *zone, void *item)
{
	if (zone->uz_dfkey != 0)
		*(uma_dfword_t *)item = 0;
	else if (zone->uz_flags & UMA_ZFLAG_DFMETA)
		*zone_dfmeta(zone, item, false) = UMA_DFMETA_LIVE;
}

/*
 * How many items a bucket of n entries takes from the keg.  A kmalloc zone
 * writes the free-item key into every item it takes, so the pages of those
 * items become resident whether the program uses them or not: a fill
 * takes at most UMA_FILL_BYTES of items (at least one).  Buckets hold 16
 * KiB of items but at least 5, so this binds above 3 KiB: one
 * malloc(8192) makes 16 KiB resident, not the 40 KiB of a 5-item bucket;
 * buckets filled by frees are as large as before.
 */
static int
zone_fill_max(const struct uma_zone *zone, int n)
{
	if (zone->uz_flags & UMA_ZFLAG_BUCKETMETA) {
		uint32_t rsize = zone->uz_keg->uk_rsize;
		if ((uint64_t)rsize * (uint32_t)n > UMA_FILL_BYTES)
			n = rsize >= UMA_FILL_BYTES ? 1 : (int)(UMA_FILL_BYTES / rsize);
	}
	return (n);
}

/*
 * Takes up to max items for the zone from its keg: limit, keg, then the
 * secondary zone's init.  metas: as keg_fetch()'s (kmalloc zones only,
 * which all have a keg).  Returns how many.
 */
static int
zone_import(struct uma_zone *zone, void **items, void **metas, int max,
    int flags)
{
	int allowed, n;

	allowed = zone_limit_take(zone, max, flags);
	if (allowed == 0)
		return (0);
	if (zone->uz_import != NULL)
		n = zone->uz_import(zone, items, allowed, flags);
	else
		n = keg_fetch(zone->uz_keg, items, metas, allowed, flags);
	if (zone->uz_import == NULL && zone->uz_keg->uk_trash)
		for (int i = 0; i < n; i++) {
			kdbg_trash_check(items[i], zone->uz_keg->uk_rsize,
			    zone->uz_name, (zone->uz_flags & UMA_ZONE_MALLOC) != 0,
			    true);
			/* slab_take_many() left the key to us */
			if (metas != NULL && (zone->uz_flags & UMA_ZONE_MALLOC))
				uma_mkey_set(items[i]);
		}
	if (zone->uz_import == NULL && zone->uz_keg->uk_annot)
		for (int i = 0; i < n; i++)
			kdbg_mem_open(items[i], zone->uz_keg->uk_rsize,
			    zone_item_defined(zone));
	if (n < allowed)
		zone_limit_put(zone, allowed - n);
	/*
	 * A secondary zone with an init over a keg whose items take the key:
	 * the key must not survive into what init makes (section 11).
	 */
	if (zone->uz_import == NULL && zone->uz_keg->uk_dfkey &&
	    zone->uz_dfkey == 0)
		for (int i = 0; i < n; i++)
			*(uma_dfword_t *)items[i] = 0;
	if (zone->uz_init != NULL) {
		for (int i = 0; i < n; i++) {
			if (zone->uz_init(items[i], (int)zone->uz_size,
			    flags & (M_NOWAIT | M_WAITOK)) != 0) {
				/* Give back this one and the rest. */
				if (zone->uz_release != NULL)
					zone->uz_release(zone, &items[i], n - i);
				else
					keg_release(zone->uz_keg, &items[i], n - i,
					    zone->uz_name, 0);
				zone_limit_put(zone, n - i);
				n = i;
				break;
			}
		}
	}
	return (n);
}

/* Returns items from the zone to its keg (lastuse: see keg_release()). */
static void
zone_release(struct uma_zone *zone, void **items, int n, uint32_t lastuse)
{
	if (n == 0)
		return;
	if (zone->uz_fini != NULL)
		for (int i = 0; i < n; i++)
			zone->uz_fini(items[i], (int)zone->uz_size);
	if (zone->uz_release != NULL)
		zone->uz_release(zone, items, n);
	else
		keg_release(zone->uz_keg, items, n, zone->uz_name, lastuse);
	zone_limit_put(zone, n);
}

/* One item straight from the keg (no cache), with ctor and M_ZERO. */
static void *
zone_alloc_item(struct uma_zone *zone, void *arg, int flags)
{
	void *item;

	if (zone_import(zone, &item, NULL, 1, flags) != 1) {
		atomic_fetch_add(&zone->uz_fails, 1);
		return (NULL);
	}
	/* A kmalloc item back in its slab may still hold the key. */
	if ((zone->uz_flags & UMA_ZONE_MALLOC) && !zone->uz_keg->uk_annot)
		uma_mkey_clear(item);
	/* kmalloc's blocks are annotated by kmalloc, with their own sizes. */
	if (zone->uz_keg != NULL && zone->uz_keg->uk_annot &&
	    !(zone->uz_flags & UMA_ZONE_MALLOC))
		kdbg_block_alloc(item, zone->uz_keg->uk_rsize, item, zone->uz_size,
		    zone_item_defined(zone));
	zone_df_live(zone, item);
	if (zone->uz_ctor != NULL &&
	    zone->uz_ctor(item, (int)zone->uz_size, arg, flags) != 0) {
		zone_df_free(zone, item);
		zone_free_item(zone, item, arg, false);
		atomic_fetch_add(&zone->uz_fails, 1);
		return (NULL);
	}
	atomic_fetch_add(&zone->uz_allocs, 1);
	if (flags & M_ZERO)
		memset(item, 0, zone->uz_size);
	return (item);
}

/*
 * One item straight back to the keg (no cache).  A kmalloc zone (no dtor)
 * is passed the type index that freed the item as arg.
 */
static void
zone_free_item(struct uma_zone *zone, void *item, void *arg, bool dtor)
{
	if (dtor && zone->uz_dtor != NULL)
		zone->uz_dtor(item, (int)zone->uz_size, arg);
	if (zone->uz_keg != NULL && zone->uz_keg->uk_annot &&
	    !(zone->uz_flags & UMA_ZONE_MALLOC))
		kdbg_block_free(item, item, zone->uz_keg->uk_rsize);
	zone_release(zone, &item, 1, (zone->uz_flags & UMA_ZONE_MALLOC) ?
	    (uint32_t)(uintptr_t)arg : 0);
}

/* ---- buckets ----------------------------------------------------------------- */

static int
bucket_zone_for(uint32_t entries)
{
	int z = 0;

	for (int i = 0; i < UMA_NBUCKETZONES; i++)
		if (uma_bucket_entries[i] <= entries)
			z = i;
	return (z);
}

/*
 * Buckets of the kmalloc zones keep the metadata address of entry n at
 * ub_bucket[UMA_BUCKET_METAOFF + n] (section 3 of uma_int.h), so they all
 * come from the largest bucket zone, whatever their entries.
 */
_Static_assert(UMA_BUCKET_METAOFF >= 125 &&
    UMA_BUCKET_METAOFF + 125 <= 253, "kmalloc buckets: 125 entries at most, "
    "with their metadata addresses, in a bucket of the largest zone");

/* The entries of the buckets zone wants now. */
static uint32_t
bucket_want(const struct uma_zone *zone)
{
	return (uma_bucket_entries[bucket_zone_for(
	    UMA_STAT_LOAD(zone->uz_bucket_size))]);
}

/* The per-item metadata address of item (kegs with uk_itemmeta). */
static void *
item_meta(const struct uma_keg *keg, void *item)
{
	struct uma_slab *slab = uma_item_slab(item);

	return ((char *)uma_slab_meta(keg, slab) +
	    (size_t)uma_slab_index(keg, slab, item) * keg->uk_itemmeta);
}

/* Stores item as entry n of a bucket of zone's (its items[]). */
static inline void
bucket_store(const struct uma_zone *zone, void **items, uint32_t n,
    void *item)
{
	items[n] = item;
	if (zone->uz_flags & UMA_ZFLAG_BUCKETMETA)
		items[UMA_BUCKET_METAOFF + n] = item_meta(zone->uz_keg, item);
	if ((zone->uz_flags & UMA_ZONE_MALLOC) && !zone->uz_keg->uk_annot)
		uma_mkey_set(item);
}

void *
uma_mkey_fail(void *item)
{
	const struct uma_slab *slab = uma_item_slab(item);

	kp_fatal("%p: written after it was freed (zone %s: its bytes 8..15 are "
	    "%#jx, not the free-item key); found as it was about to be "
	    "allocated again", item, slab->us_keg->uk_primary->uz_name,
	    (uintmax_t)((const uint64_t *)item)[UMA_MKEY_WORD]);
	return (NULL);
}

/*
 * Sub-buckets (uma_int.h, section 3).  A kmalloc bucket keeps entry n's
 * metadata address UMA_BUCKET_METAOFF (128) words after the entry, so a
 * bucket of e entries spans 128 + e words however small e is.  Buckets of
 * 5, 13, 29 and 61 entries take e + 3 = 8, 16, 32 or 64 words with their
 * header: 128 / (e + 3) of them share one 2 KiB block of the largest bucket
 * zone, piece k at word k * (e + 3), its metadata addresses in the block's
 * second half at the same distance as a whole bucket's.  A 13-entry
 * bucket so costs 256 bytes instead of 2 KiB.  Word 128 of a block, which
 * no piece uses (the metadata of piece 0's header), counts its free
 * pieces; a block all of whose pieces are free goes back to its zone once
 * another block's worth of pieces of that size is free.
 */
#define UMA_SUB_PIECE 0x80000000u /* ub_bzone of a piece: | index << 8 | z */

static kp_mutex_t uma_sub_lock = KP_MUTEX_INITIALIZER; /* a leaf lock */
static struct uma_bucketlist uma_sub_free[UMA_NBUCKETZONES - 2] = {
	TAILQ_HEAD_INITIALIZER(uma_sub_free[0]),
	TAILQ_HEAD_INITIALIZER(uma_sub_free[1]),
	TAILQ_HEAD_INITIALIZER(uma_sub_free[2]),
	TAILQ_HEAD_INITIALIZER(uma_sub_free[3]),
};
static uint32_t uma_sub_nfree[UMA_NBUCKETZONES - 2]; /* pieces on the lists */
_Static_assert(UMA_NBUCKETZONES == 6 && UMA_BUCKET_METAOFF == 128 &&
    UMA_BUCKET_HDR == 3 * sizeof(void *),
    "pieces of 8, 16, 32 and 64 words in the first half of a 256-word block");

/* Words of a piece of size z (its entries, its header). */
static inline uint32_t
subbucket_words(int z)
{
	return ((uint32_t)uma_bucket_entries[z] + 3);
}

/* The free-piece count of the block that holds b. */
static inline uint32_t *
subbucket_count(void **block)
{
	return ((uint32_t *)&block[UMA_BUCKET_METAOFF]);
}

static inline void **
subbucket_block(const struct uma_bucket *b)
{
	uint32_t k = (b->ub_bzone & ~UMA_SUB_PIECE) >> 8;

	return ((void **)b - (size_t)k * subbucket_words((int)(b->ub_bzone & 0xff)));
}

static struct uma_bucket *
subbucket_alloc(int z, int flags)
{
	struct uma_bucket *b;
	uint32_t w = subbucket_words(z), n = UMA_BUCKET_METAOFF / w;

	kp_mutex_lock(&uma_sub_lock);
	b = TAILQ_FIRST(&uma_sub_free[z]);
	if (b != NULL) {
		TAILQ_REMOVE(&uma_sub_free[z], b, ub_link);
		uma_sub_nfree[z]--;
		(*subbucket_count(subbucket_block(b)))--;
		kp_mutex_unlock(&uma_sub_lock);
		return (b);
	}
	kp_mutex_unlock(&uma_sub_lock);
	void **block = zone_alloc_item(
	    &uma_bucket_zk[UMA_NBUCKETZONES - 1].zk_zone, NULL, flags);
	if (block == NULL)
		return (NULL);
	*subbucket_count(block) = n - 1;
	for (uint32_t k = 0; k < n; k++) {
		struct uma_bucket *p = (struct uma_bucket *)(block + (size_t)k * w);
		p->ub_bzone = UMA_SUB_PIECE | k << 8 | (uint32_t)z;
	}
	kp_mutex_lock(&uma_sub_lock);
	for (uint32_t k = 1; k < n; k++)
		TAILQ_INSERT_TAIL(&uma_sub_free[z],
		    (struct uma_bucket *)(block + (size_t)k * w), ub_link);
	uma_sub_nfree[z] += n - 1;
	kp_mutex_unlock(&uma_sub_lock);
	return ((struct uma_bucket *)block);
}

static void
subbucket_free(struct uma_bucket *b)
{
	int z = (int)(b->ub_bzone & 0xff);
	uint32_t w = subbucket_words(z), n = UMA_BUCKET_METAOFF / w;
	void **block = subbucket_block(b);

	kp_mutex_lock(&uma_sub_lock);
	TAILQ_INSERT_HEAD(&uma_sub_free[z], b, ub_link);
	uma_sub_nfree[z]++;
	if (++*subbucket_count(block) < n || uma_sub_nfree[z] < 2 * n) {
		kp_mutex_unlock(&uma_sub_lock);
		return;
	}
	/* Every piece of the block is free, and others are: it goes back. */
	for (uint32_t k = 0; k < n; k++)
		TAILQ_REMOVE(&uma_sub_free[z],
		    (struct uma_bucket *)(block + (size_t)k * w), ub_link);
	uma_sub_nfree[z] -= n;
	kp_mutex_unlock(&uma_sub_lock);
	zone_free_item(&uma_bucket_zk[UMA_NBUCKETZONES - 1].zk_zone, block, NULL,
	    false);
}

/* Gives b's memory back: to its bucket zone, or as a piece of a block. */
static void
bucket_free_mem(struct uma_bucket *b)
{
	if (b->ub_bzone & UMA_SUB_PIECE)
		subbucket_free(b);
	else
		zone_free_item(&uma_bucket_zk[b->ub_bzone].zk_zone, b, NULL, false);
}

/* An empty bucket: a spare of the zone's, or a new one. */
static struct uma_bucket *
bucket_alloc(struct uma_zone *zone, int flags)
{
	struct uma_bucket *b;
	int want = bucket_zone_for(UMA_STAT_LOAD(zone->uz_bucket_size));
	int z = (zone->uz_flags & UMA_ZFLAG_BUCKETMETA) ? UMA_NBUCKETZONES - 1 :
	    want;

	kp_mutex_lock(&zone->uz_lock);
	b = TAILQ_FIRST(&zone->uz_empty);
	if (b != NULL && b->ub_entries >= uma_bucket_entries[want]) {
		TAILQ_REMOVE(&zone->uz_empty, b, ub_link);
		zone->uz_nempty--;
		kp_mutex_unlock(&zone->uz_lock);
		return (b);
	}
	kp_mutex_unlock(&zone->uz_lock);
	flags = (flags & ~(M_WAITOK | M_ZERO | M_USE_RESERVE)) | M_NOWAIT;
	if (z != want && want < UMA_NBUCKETZONES - 2) {
		/* A kmalloc bucket of fewer than 125 entries: a piece of one. */
		b = subbucket_alloc(want, flags);
		if (b == NULL)
			return (NULL);
		b->ub_cnt = 0;
		b->ub_entries = uma_bucket_entries[want];
		return (b);
	}
	b = zone_alloc_item(&uma_bucket_zk[z].zk_zone, NULL, flags);
	if (b == NULL)
		return (NULL);
	b->ub_cnt = 0;
	b->ub_entries = uma_bucket_entries[want];
	b->ub_bzone = (uint32_t)z;
	return (b);
}

/*
 * Whether the zone keeps one more empty bucket; zone lock held.  A few
 * always, and as many as held the most items its bucket cache has had
 * since the last trim: the frees of a program that allocates and frees in
 * phases want them back, and making and freeing buckets costs a visit to
 * the buckets' keg each.
 */
static bool
zone_keeps_empty(const struct uma_zone *zone)
{
	return (zone->uz_nempty < UMA_EMPTY_BUCKETS ||
	    (uint64_t)zone->uz_nempty * UMA_STAT_LOAD(zone->uz_bucket_size) <
	    zone->uz_bkt_imax);
}

static void
bucket_free(struct uma_zone *zone, struct uma_bucket *b)
{
	if (zone != NULL) {
		kp_mutex_lock(&zone->uz_lock);
		if (zone_keeps_empty(zone)) {
			TAILQ_INSERT_HEAD(&zone->uz_empty, b, ub_link);
			zone->uz_nempty++;
			kp_mutex_unlock(&zone->uz_lock);
			return;
		}
		kp_mutex_unlock(&zone->uz_lock);
	}
	bucket_free_mem(b);
}

/* Empties a bucket into the keg and frees it. */
static void
bucket_drain(struct uma_zone *zone, struct uma_bucket *b)
{
	zone_release(zone, b->ub_bucket, b->ub_cnt, 0);
	b->ub_cnt = 0;
	bucket_free_mem(b);
}

/* Puts a bucket with items in the zone's bucket cache; zone lock held. */
static void
zone_put_bucket(struct uma_zone *zone, struct uma_bucket *b)
{
	TAILQ_INSERT_HEAD(&zone->uz_full, b, ub_link);
	zone->uz_nfull++;
	zone->uz_bkt_count += b->ub_cnt;
	if (zone->uz_bkt_count > zone->uz_bkt_imax)
		zone->uz_bkt_imax = zone->uz_bkt_count;
}

/* Takes a bucket with items from the zone's bucket cache; zone lock held. */
static struct uma_bucket *
zone_get_bucket(struct uma_zone *zone)
{
	struct uma_bucket *b = TAILQ_FIRST(&zone->uz_full);

	if (b == NULL)
		return (NULL);
	TAILQ_REMOVE(&zone->uz_full, b, ub_link);
	zone->uz_nfull--;
	zone->uz_bkt_count -= b->ub_cnt;
	if (zone->uz_bkt_count < zone->uz_bkt_imin)
		zone->uz_bkt_imin = zone->uz_bkt_count;
	return (b);
}

/*
 * Releases the buckets of the bucket cache beyond `keep` items to the keg.
 */
static void
zone_trim_buckets(struct uma_zone *zone, uint64_t keep)
{
	struct uma_bucketlist out = TAILQ_HEAD_INITIALIZER(out);
	struct uma_bucket *b;

	kp_mutex_lock(&zone->uz_lock);
	while ((b = TAILQ_LAST(&zone->uz_full, uma_bucketlist)) != NULL &&
	    zone->uz_bkt_count > keep) {
		TAILQ_REMOVE(&zone->uz_full, b, ub_link);
		zone->uz_nfull--;
		zone->uz_bkt_count -= b->ub_cnt;
		TAILQ_INSERT_HEAD(&out, b, ub_link);
	}
	/* Empty buckets: none kept with the items, else what keep calls for. */
	uint64_t keep_empty = keep == 0 ? 0 : UMA_EMPTY_BUCKETS +
	    keep / UMA_STAT_LOAD(zone->uz_bucket_size);
	while (zone->uz_nempty > keep_empty &&
	    (b = TAILQ_FIRST(&zone->uz_empty)) != NULL) {
		TAILQ_REMOVE(&zone->uz_empty, b, ub_link);
		zone->uz_nempty--;
		TAILQ_INSERT_HEAD(&out, b, ub_link);
	}
	zone->uz_bkt_imin = zone->uz_bkt_imax = zone->uz_bkt_count;
	kp_mutex_unlock(&zone->uz_lock);
	while ((b = TAILQ_FIRST(&out)) != NULL) {
		TAILQ_REMOVE(&out, b, ub_link);
		bucket_drain(zone, b);
	}
}

/* ---- thread caches -------------------------------------------------------------- */

/* Swaps the alloc and free buckets (slow path; owner only). */
static void
cache_swap(struct uma_cache *c)
{
	void **ai = c->uc_aitems;
	uint32_t acnt = c->uc_acnt, aent = c->uc_aentries;

	c->uc_aitems = c->uc_fitems;
	c->uc_aentries = c->uc_fentries;
	UMA_STAT_STORE(c->uc_acnt, c->uc_fcnt);
	c->uc_fitems = ai;
	c->uc_fentries = aent;
	UMA_STAT_STORE(c->uc_fcnt, acnt);
}

/* Installs b (cnt items) as the alloc bucket; returns the old one. */
static struct uma_bucket *
cache_set_alloc(struct uma_cache *c, struct uma_bucket *b, uint32_t cnt)
{
	struct uma_bucket *old = uma_bucket_of(c->uc_aitems);

	if (old != NULL)
		old->ub_cnt = (uint16_t)c->uc_acnt;
	UMA_STAT_STORE(c->uc_acnt, 0);
	c->uc_aitems = b != NULL ? b->ub_bucket : NULL;
	c->uc_aentries = b != NULL ? b->ub_entries : 0;
	UMA_STAT_STORE(c->uc_acnt, cnt);
	return (old);
}

/* Installs b (cnt items) as the free bucket; returns the old one. */
static struct uma_bucket *
cache_set_free(struct uma_cache *c, struct uma_bucket *b, uint32_t cnt)
{
	struct uma_bucket *old = uma_bucket_of(c->uc_fitems);

	if (old != NULL)
		old->ub_cnt = (uint16_t)c->uc_fcnt;
	UMA_STAT_STORE(c->uc_fcnt, 0);
	c->uc_fitems = b != NULL ? b->ub_bucket : NULL;
	c->uc_fentries = b != NULL ? b->ub_entries : 0;
	UMA_STAT_STORE(c->uc_fcnt, cnt);
	return (old);
}

/*
 * Empties one slot of a thread cache into its zone: counts folded into the
 * zone's, buckets to the bucket cache (or to the keg if to_keg).  Caller
 * holds uma_tc_lock, so that readers never count a thread's share twice or
 * not at all.
 */
static void
cache_flush(struct uma_zone *zone, struct uma_cache *c, bool to_keg)
{
	struct uma_bucket *b[2];

	atomic_fetch_add(&zone->uz_allocs, UMA_STAT_LOAD(c->uc_allocs));
	UMA_STAT_STORE(c->uc_allocs, 0);
	b[0] = uma_bucket_of(c->uc_aitems);
	b[1] = uma_bucket_of(c->uc_fitems);
	if (b[0] != NULL)
		b[0]->ub_cnt = (uint16_t)c->uc_acnt;
	if (b[1] != NULL)
		b[1]->ub_cnt = (uint16_t)c->uc_fcnt;
	UMA_STAT_STORE(c->uc_acnt, 0);
	UMA_STAT_STORE(c->uc_fcnt, 0);
	c->uc_aentries = c->uc_fentries = 0;
	c->uc_aitems = c->uc_fitems = NULL;
	for (int i = 0; i < 2; i++) {
		if (b[i] == NULL)
			continue;
		if (b[i]->ub_cnt == 0) {
			bucket_free(zone, b[i]);
		} else if (to_keg) {
			bucket_drain(zone, b[i]);
		} else {
			kp_mutex_lock(&zone->uz_lock);
			zone_put_bucket(zone, b[i]);
			kp_mutex_unlock(&zone->uz_lock);
		}
	}
}

/* Empties every slot of tc; uma_zones_lock and uma_tc_lock held. */
static void
tcache_flush_locked(struct uma_tcache *tc, bool to_keg)
{
	for (unsigned id = 1; id < UMA_CACHE_ZONES; id++) {
		struct uma_cache *c = &tc->tc_cache[id];
		if (c->uc_aitems == NULL && c->uc_fitems == NULL &&
		    c->uc_allocs == 0)
			continue;
		if (uma_zone_by_id[id] != NULL)
			cache_flush(uma_zone_by_id[id], c, to_keg);
	}
}

static void
tcache_flush(struct uma_tcache *tc, bool to_keg)
{
	kp_mutex_lock(&uma_zones_lock);
	kp_mutex_lock(&uma_tc_lock);
	tcache_flush_locked(tc, to_keg);
	kp_mutex_unlock(&uma_tc_lock);
	kp_mutex_unlock(&uma_zones_lock);
}

/* Thread exit: everything back to the zones, the cache to the map. */
static void
tcache_destroy(void *arg)
{
	struct uma_tcache *tc = arg;

	if (tc == NULL || tc == &uma_tcache_empty)
		return;
	uma_tc_exited = true;
	uma_tc = (struct uma_tcache *)&uma_tcache_empty;
	kp_mutex_lock(&uma_zones_lock);
	kp_mutex_lock(&uma_tc_lock);
	tcache_flush_locked(tc, false);
	LIST_REMOVE(tc, tc_link);
	bool keep = uma_tc_nretired < UMA_TC_RETIRED;
	if (keep) {
		LIST_INSERT_HEAD(&uma_tc_retired, tc, tc_link);
		uma_tc_nretired++;
	}
	kp_mutex_unlock(&uma_tc_lock);
	kp_mutex_unlock(&uma_zones_lock);
	if (!keep)
		kmem_region_free(kmem_meta_arena(), tc, sizeof(*tc), KMC_META);
}

/* The calling thread's cache, made on first use; NULL if it cannot be. */
static struct uma_tcache *
tcache_get(void)
{
	struct uma_tcache *tc = uma_tc;

	if (KP_LIKELY(tc != &uma_tcache_empty))
		return (tc);
	if (uma_tc_exited)
		return (NULL);
	kp_mutex_lock(&uma_tc_lock);
	if ((tc = LIST_FIRST(&uma_tc_retired)) != NULL) {
		LIST_REMOVE(tc, tc_link);
		uma_tc_nretired--;
	}
	kp_mutex_unlock(&uma_tc_lock);
	if (tc != NULL)
		memset(tc, 0, sizeof(*tc)); /* as the map gives it */
	else
		tc = kmem_region_alloc(kmem_meta_arena(), sizeof(*tc), M_NOWAIT,
		    KMC_META, "uma thread cache");
	if (tc == NULL)
		return (NULL);
	tc->tc_tid = kp_thread_id();
	tc->tc_drain_gen = atomic_load(&uma_drain_gen);
	kp_mutex_lock(&uma_tc_lock);
	LIST_INSERT_HEAD(&uma_tcaches, tc, tc_link);
	kp_mutex_unlock(&uma_tc_lock);
	pthread_setspecific(uma_tc_key, tc);
	uma_tc = tc;
	return (tc);
}

struct uma_tcache *
uma_tcache_own(void)
{
	struct uma_tcache *tc = uma_tc;

	return (tc != &uma_tcache_empty ? tc : NULL);
}

/* ---- housekeeping: drain requests and the periodic trim -------------------------- */

static void uma_trim_all(void);

/* Slow paths between two looks at the clock, per thread (a power of 2). */
#define UMA_HK_EVERY 32
static __thread uint32_t uma_hk_tick __attribute__((tls_model("initial-exec")));

static void
uma_housekeeping(void)
{
	struct uma_tcache *tc = uma_tc;
	uint64_t gen = atomic_load_explicit(&uma_drain_gen, memory_order_relaxed);
	uint64_t now, due;

	if (tc != &uma_tcache_empty && tc->tc_drain_gen != gen) {
		tc->tc_drain_gen = gen;
		tcache_flush(tc, true);
	}
	/*
	 * The clock costs as much as a bucket swap: the periodic trim is
	 * looked for on one slow path in UMA_HK_EVERY of each thread.
	 */
	if ((++uma_hk_tick & (UMA_HK_EVERY - 1)) != 0)
		return;
	now = kp_clock_ns();
	due = atomic_load_explicit(&uma_next_trim, memory_order_relaxed);
	if (now >= due && atomic_compare_exchange_strong(&uma_next_trim, &due,
	    now + UMA_TRIM_NS))
		uma_trim_all();
}

/* ---- allocation and free ------------------------------------------------------- */


void *
uma_zalloc_arg(uma_zone_t zone, void *arg, int flags)
{
	return (uma_zalloc_keyed(zone, arg, flags));
}

void
uma_zfree_arg(uma_zone_t zone, void *item, void *arg)
{
	uma_zfree_keyed(zone, item, arg);
}

static void
uma_check_flags(const char *what, uma_zone_t zone, int flags)
{
	int w = flags & (M_NOWAIT | M_WAITOK);

	if (KP_UNLIKELY(w != M_NOWAIT && w != M_WAITOK))
		kp_fatal("%s: zone %s: flags 0x%x must contain exactly one of "
		    "M_NOWAIT and M_WAITOK", what, zone->uz_name, (unsigned)flags);
}

/* Runs the ctor and M_ZERO on an item from the cache. */
static void *
zalloc_finish(uma_zone_t zone, void *item, void *arg, int flags)
{
	zone_df_live(zone, item);
	if (zone->uz_ctor != NULL &&
	    zone->uz_ctor(item, (int)zone->uz_size, arg, flags) != 0) {
		/* The item goes back without its dtor: it was never made. */
		uma_zfree_slow(zone, item, (void *)&uma_tcache_empty);
		atomic_fetch_add(&zone->uz_fails, 1);
		return (NULL);
	}
	if (flags & M_ZERO)
		memset(item, 0, zone->uz_size);
	return (item);
}

/*
 * The state byte of an item of a uk_dfmeta keg that a caller frees, or
 * NULL if item is not the start of one of its items (the full check then
 * says what is wrong).  As keg_item_index(), with a shift for the usual
 * power-of-two sizes.
 */
static inline uint8_t *
item_dfmeta_checked(const struct uma_keg *keg, void *item)
{
	struct uma_slab *slab = uma_item_slab(item);
	uintptr_t off;
	uint32_t idx;

	if (KP_UNLIKELY(slab == NULL || slab->us_keg != keg))
		return (NULL);
	off = (uintptr_t)item - (uintptr_t)slab->us_data;
	if (KP_LIKELY(keg->uk_rshift >= 0)) {
		idx = (uint32_t)(off >> keg->uk_rshift);
		if (KP_UNLIKELY((off & (keg->uk_rsize - 1)) != 0))
			return (NULL);
	} else {
		idx = (uint32_t)(off / keg->uk_rsize);
		if (KP_UNLIKELY(off % keg->uk_rsize != 0))
			return (NULL);
	}
	/* An address below the first item wraps to a huge offset. */
	if (KP_UNLIKELY(off >= (uintptr_t)keg->uk_ipers * keg->uk_rsize))
		return (NULL);
	return ((uint8_t *)slab->us_meta + idx);
}

/*
 * The DFMETA zones' fast path (section 11 of uma_int.h), at the head of
 * the slow paths: what uma_zalloc_keyed() and uma_zfree_keyed() do, with
 * the state byte instead of the key; NULL or false when the general path
 * must run (an empty or full bucket, a ctor, a dtor, M_ZERO, failure
 * injection, bad flags, a suspect free).
 */
static inline void *
zalloc_dfmeta_fast(uma_zone_t zone, int flags)
{
	struct uma_cache *c = &uma_tc->tc_cache[zone->uz_id];
	int w = flags & (M_NOWAIT | M_WAITOK);
	uint32_t n = c->uc_acnt;
	void *item;

	if (KP_UNLIKELY(n == 0 || (flags & zone->uz_allocslow) != 0 ||
	    (w != M_NOWAIT && w != M_WAITOK)))
		return (NULL);
	n--;
	item = c->uc_aitems[n];
	UMA_STAT_STORE(c->uc_acnt, n);
	UMA_STAT_INC(c->uc_allocs);
	/* The byte's address came with the item (section 3). */
	*(uint8_t *)*uma_cache_ameta(c, n) = UMA_DFMETA_LIVE;
	return (item);
}

static inline bool
zfree_dfmeta_fast(uma_zone_t zone, void *item)
{
	struct uma_cache *c = &uma_tc->tc_cache[zone->uz_id];
	uint32_t n = c->uc_acnt;
	uint8_t *meta;

	if (KP_UNLIKELY(n >= c->uc_aentries || item == NULL ||
	    atomic_load_explicit(&zone->uz_freeslow, memory_order_relaxed) != 0))
		return (false);
	meta = item_dfmeta_checked(zone->uz_keg, item);
	if (KP_UNLIKELY(meta == NULL || *meta != UMA_DFMETA_LIVE))
		return (false);
	*meta = UMA_DFMETA_FREE;
	c->uc_aitems[n] = item;
	*uma_cache_ameta(c, n) = meta;
	UMA_STAT_STORE(c->uc_acnt, n + 1);
	return (true);
}

static KP_NOINLINE void *
zalloc_slow(uma_zone_t zone, void *arg, int flags)
{
	struct uma_tcache *tc;
	struct uma_cache *c;
	struct uma_bucket *b, *old;
	void *item;

	uma_check_flags("uma_zalloc", zone, flags);
	if (KP_UNLIKELY(zone->uz_flags & UMA_ZFLAG_FAILINJ) &&
	    kdbg_fail_now(zone->uz_name, flags)) {
		atomic_fetch_add(&zone->uz_fails, 1);
		return (NULL);
	}
	uma_housekeeping();
	if (zone->uz_id == UMA_SLOT_NONE ||
	    (atomic_load(&zone->uz_freeslow) & UMA_FREESLOW_NOCACHE) ||
	    (tc = tcache_get()) == NULL)
		return (zone_alloc_item(zone, arg, flags));
	c = &tc->tc_cache[zone->uz_id];
	for (;;) {
		uint32_t n = c->uc_acnt;
		if (n > 0) {
			item = c->uc_aitems[n - 1];
			if ((zone->uz_flags & UMA_ZONE_MALLOC) &&
			    !zone->uz_keg->uk_annot) {
				if (!uma_mkey_ok(item))
					return (uma_mkey_fail(item));
				uma_mkey_clear(item);
			}
			UMA_STAT_STORE(c->uc_acnt, n - 1);
			item = zalloc_finish(zone, item, arg, flags);
			if (item != NULL)
				UMA_STAT_INC(c->uc_allocs);
			return (item);
		}
		if (c->uc_fcnt > 0) {
			cache_swap(c);
			continue;
		}
		/*
		 * A bucket from the zone's bucket cache; the empty alloc bucket
		 * becomes a spare in the same visit.
		 */
		old = cache_set_alloc(c, NULL, 0);
		if (!kp_mutex_trylock(&zone->uz_lock)) {
			kp_mutex_lock(&zone->uz_lock);
			/* Contention: bigger buckets mean fewer visits. */
			if (zone->uz_bucket_size < zone->uz_bucket_size_max) {
				int z = bucket_zone_for(zone->uz_bucket_size);
				if (z + 1 < UMA_NBUCKETZONES &&
				    uma_bucket_entries[z + 1] <= zone->uz_bucket_size_max)
					UMA_STAT_STORE(zone->uz_bucket_size,
					    uma_bucket_entries[z + 1]);
			}
		}
		b = zone_get_bucket(zone);
		if (old != NULL && old->ub_cnt == 0 && zone_keeps_empty(zone)) {
			TAILQ_INSERT_HEAD(&zone->uz_empty, old, ub_link);
			zone->uz_nempty++;
			old = NULL;
		}
		kp_mutex_unlock(&zone->uz_lock);
		if (old != NULL)
			bucket_free(NULL, old);
		if (b == NULL) {
			/* Fill one from the keg. */
			if (flags & M_USE_RESERVE)
				return (zone_alloc_item(zone, arg, flags));
			b = bucket_alloc(zone, flags);
			if (b == NULL)
				return (zone_alloc_item(zone, arg, flags));
			/* A kmalloc zone's bucket gets its tags' addresses too. */
			void **metas = (zone->uz_flags & UMA_ZFLAG_BUCKETMETA) ?
			    b->ub_bucket + UMA_BUCKET_METAOFF : NULL;
			int got = zone_import(zone, b->ub_bucket, metas,
			    zone_fill_max(zone, b->ub_entries), flags);
			if (got == 0) {
				bucket_free(zone, b);
				atomic_fetch_add(&zone->uz_fails, 1);
				return (NULL);
			}
			b->ub_cnt = (uint16_t)got;
		}
		old = cache_set_alloc(c, b, b->ub_cnt);
		if (old != NULL) {
			if (old->ub_cnt > 0) { /* refilled meanwhile by a callback */
				kp_mutex_lock(&zone->uz_lock);
				zone_put_bucket(zone, old);
				kp_mutex_unlock(&zone->uz_lock);
			} else {
				bucket_free(zone, old);
			}
		}
	}
}

static KP_NOINLINE void
zfree_slow(uma_zone_t zone, void *item, void *arg)
{
	struct uma_tcache *tc;
	struct uma_cache *c;
	struct uma_bucket *b, *old;

	if (item == NULL)
		return;
	/*
	 * memguard, and the other zones whose frees go to the slab at once
	 * (section 11): a bad free must not reach the dtor (section 10).
	 */
	if (KP_UNLIKELY(zone->uz_flags & UMA_ZFLAG_DFSLAB)) {
		uint32_t idx;
		kp_mutex_lock(&zone->uz_keg->uk_lock);
		(void)keg_check_item(zone->uz_keg, item, zone->uz_name, &idx);
		kp_mutex_unlock(&zone->uz_keg->uk_lock);
	}
	/* A double free aborts here, before the dtor (section 11). */
	zone_df_check(zone, item);
	/* arg == &uma_tcache_empty: a ctor failed; no dtor. */
	bool dtor = arg != (void *)&uma_tcache_empty;
	if (!dtor)
		arg = NULL;
	if (dtor && zone->uz_dtor != NULL)
		zone->uz_dtor(item, (int)zone->uz_size, arg);
	zone_df_free(zone, item);
	uint32_t fs = atomic_load(&zone->uz_freeslow);
	if (zone->uz_id == UMA_SLOT_NONE ||
	    (fs & (UMA_FREESLOW_SLEEPERS | UMA_FREESLOW_NOCACHE)) ||
	    (uma_tc == &uma_tcache_empty &&
	    uma_tc_handover++ < UMA_HANDOVER_FREES) ||
	    (tc = tcache_get()) == NULL) {
		zone_free_item(zone, item, arg, false);
		return;
	}
	uma_housekeeping();
	c = &tc->tc_cache[zone->uz_id];
	for (;;) {
		uint32_t n = c->uc_acnt;
		if (n < c->uc_aentries) {
			bucket_store(zone, c->uc_aitems, n, item);
			UMA_STAT_STORE(c->uc_acnt, n + 1);
			return;
		}
		/*
		 * The fast paths push and pop the alloc bucket only, so the
		 * spare with room becomes the alloc bucket: the frees after
		 * this one are fast again.
		 */
		if (c->uc_fcnt < c->uc_fentries) {
			cache_swap(c);
			continue;
		}
		/*
		 * Hand the full bucket to the zone and take a spare empty one in
		 * one visit; make a new one if there is none.
		 */
		old = cache_set_free(c, NULL, 0);
		kp_mutex_lock(&zone->uz_lock);
		if (old != NULL && old->ub_cnt > 0) {
			zone_put_bucket(zone, old);
			old = NULL;
		}
		b = TAILQ_FIRST(&zone->uz_empty);
		if (b != NULL && b->ub_entries >= bucket_want(zone)) {
			TAILQ_REMOVE(&zone->uz_empty, b, ub_link);
			zone->uz_nempty--;
		} else {
			b = NULL;
		}
		kp_mutex_unlock(&zone->uz_lock);
		if (old != NULL)
			bucket_free(zone, old); /* an empty one */
		if (b == NULL)
			b = bucket_alloc(zone, M_NOWAIT);
		if (b == NULL) {
			zone_free_item(zone, item, NULL, false);
			return;
		}
		b->ub_cnt = 0;
		(void)cache_set_free(c, b, 0);
	}
}

/*
 * The slow paths proper are zalloc_slow() and zfree_slow(); these heads
 * take the DFMETA zones' fast path first, without the frame the full
 * paths need.
 */
KP_NOINLINE void *
uma_zalloc_slow(uma_zone_t zone, void *arg, int flags)
{
	if (zone->uz_flags & UMA_ZFLAG_DFMETA) {
		void *item = zalloc_dfmeta_fast(zone, flags);
		if (KP_LIKELY(item != NULL))
			return (item);
	}
	return (zalloc_slow(zone, arg, flags));
}

KP_NOINLINE void
uma_zfree_slow(uma_zone_t zone, void *item, void *arg)
{
	if ((zone->uz_flags & UMA_ZFLAG_DFMETA) && zfree_dfmeta_fast(zone, item))
		return;
	zfree_slow(zone, item, arg);
}

/* ---- zone creation and destruction ------------------------------------------------- */

static void
zone_init_common(struct uma_zone *zone, const char *name, size_t size,
    uma_ctor ctor, uma_dtor dtor, uint32_t flags)
{
	kp_mutex_init(&zone->uz_lock);
	kp_cond_init(&zone->uz_cv);
	TAILQ_INIT(&zone->uz_full);
	TAILQ_INIT(&zone->uz_empty);
	snprintf(zone->uz_name, sizeof(zone->uz_name), "%s", name);
	zone->uz_size = (uint32_t)size;
	zone->uz_ctor = ctor;
	zone->uz_dtor = dtor;
	zone->uz_flags = flags;
	zone->uz_allocslow = ctor != NULL ? ~0u : (uint32_t)M_ZERO;
	zone->uz_freeslow = (dtor != NULL ? UMA_FREESLOW_DTOR : 0) |
	    ((flags & UMA_ZONE_MALLOC) ? UMA_FREESLOW_META : 0);
	zone->uz_primary = zone;
}

/* A caller's zone that failure injection applies to takes the slow path. */
static void
zone_debug_init(struct uma_zone *zone)
{
	zone->uz_flags &= ~(uint32_t)UMA_ZFLAG_FAILINJ;
	if (kdbg_fail_applies(zone->uz_name)) {
		zone->uz_flags |= UMA_ZFLAG_FAILINJ;
		zone->uz_allocslow |= (uint32_t)M_NOWAIT;
	}
}

static void
zone_set_bucket_sizes(struct uma_zone *zone, uint32_t rsize)
{
	uint32_t max = uma_bucket_entries[0];

	/*
	 * The largest bucket whose items come to at most UMA_BUCKET_BYTES, as
	 * FreeBSD's bucket zones do (128 bytes: 125, 1024: 13): what a cache
	 * holds of a zone is a few buckets, and a program that uses many zones
	 * from many threads (or frees in one thread what another allocated)
	 * keeps that much of every zone in each thread.
	 */
	for (int i = UMA_NBUCKETZONES - 1; i > 0; i--) {
		if ((uint64_t)uma_bucket_entries[i] * rsize <= UMA_BUCKET_BYTES) {
			max = uma_bucket_entries[i];
			break;
		}
	}
	/* One size below the most; contention on the zone lock grows it. */
	uint32_t start = max > 5 ? (max - 3) / 2 : max;
	/*
	 * Buckets of the kmalloc zones keep their metadata addresses after
	 * UMA_BUCKET_METAOFF entries: 125 entries at most, and a smaller one
	 * is a piece of a 2 KiB block (bucket_alloc()).  They start at their
	 * most, since a smaller start would stay small in a program with one
	 * thread (nothing contends) and visit the zone that much more often.
	 */
	if (zone->uz_flags & UMA_ZFLAG_BUCKETMETA) {
		if (max > uma_bucket_entries[UMA_NBUCKETZONES - 2])
			max = uma_bucket_entries[UMA_NBUCKETZONES - 2];
		start = max;
	}
	zone->uz_bucket_size_max = zone->uz_bucket_size_base = max;
	zone->uz_bucket_size = start;
}

static void
keg_init(struct uma_keg *keg, struct uma_zone *zone, size_t size,
    uma_init uminit, uma_fini fini, uint32_t align, uint32_t flags,
    bool inline_hdr, uint32_t itemmeta, bool guard)
{
	kp_mutex_init(&keg->uk_lock);
	LIST_INIT(&keg->uk_part);
	LIST_INIT(&keg->uk_full);
	LIST_INIT(&keg->uk_free);
	keg->uk_size = (uint32_t)size;
	keg->uk_align = align;
	keg->uk_flags = flags;
	keg->uk_init = uminit;
	keg->uk_fini = fini;
	keg->uk_primary = zone;
	keg->uk_itemmeta = itemmeta;
	keg->uk_ptclass = (flags & UMA_ZONE_MALLOC) ? KPT_MSLAB : KMC_SLAB;
	/* kmem's own zones keep their slabs with the rest of the metadata. */
	keg->uk_arena = inline_hdr ? kmem_meta_arena() : kmem_map_arena();
	/* kmem_debug.h, section 2: what trash=1 covers. */
	keg->uk_guard = guard;
	keg->uk_trash = kdbg_trash_enabled() && !inline_hdr && !guard &&
	    !(flags & (UMA_ZFLAG_INTERNAL | UMA_ZONE_ZINIT)) && uminit == NULL &&
	    fini == NULL;
	/* kmem_debug.h, section 8: what the annotations cover. */
	keg->uk_annot = kdbg_annotating() && !inline_hdr &&
	    !(flags & UMA_ZFLAG_INTERNAL) && !guard; /* memguard's pages fault */
	/*
	 * uma_int.h, section 11: which double-free check the items take.
	 * The debug modes' kegs have no caches (their frees go back to the
	 * slab and its bitset at once) and their free items must not be
	 * written; kmalloc's have type tags; kmem's own have neither.
	 */
	bool dfany = !inline_hdr && !guard && !keg->uk_trash && !keg->uk_annot &&
	    !(flags & (UMA_ZFLAG_INTERNAL | UMA_ZONE_MALLOC));
	bool typestable = uminit != NULL || fini != NULL ||
	    (flags & UMA_ZONE_ZINIT) != 0;
	keg->uk_dfkey = dfany && !typestable;
	keg->uk_dfmeta = dfany && typestable && itemmeta == 0;
	if (keg->uk_dfmeta) {
		keg->uk_itemmeta = 1;
		/* Now: the bucket sizes depend on it (zone_register() again). */
		zone->uz_flags |= UMA_ZFLAG_DFMETA;
	}
	keg_layout(keg, inline_hdr);
	zone->uz_keg = keg;
}

/* One of kmem's own zones, in static storage: no cache, inline headers. */
static void
uma_internal_zone(struct uma_zk *zk, const char *name, size_t size)
{
	zone_init_common(&zk->zk_zone, name, size, NULL, NULL,
	    UMA_ZONE_NOBUCKET | UMA_ZFLAG_INTERNAL);
	zk->zk_zone.uz_internal = true;
	zk->zk_zone.uz_cacheoff = (uint32_t)offsetof(struct uma_tcache, tc_cache);
	zk->zk_zone.uz_freeslow |= UMA_FREESLOW_NOCACHE;
	/* Cache-line aligned: slab headers must be (page table pointers). */
	keg_init(&zk->zk_keg, &zk->zk_zone, size, NULL, NULL, UMA_CACHE_LINE - 1,
	    UMA_ZONE_NOBUCKET, true, 0, false);
	LIST_INSERT_HEAD(&uma_zones, &zk->zk_zone, uz_link);
}

/*
 * The map ran short: everything cached goes back, the calling thread's own
 * cache included (the slow paths that can get here keep their cache
 * consistent across the allocation), and the other threads are asked.
 */
static void
uma_lowmem(void *arg, int flags)
{
	uma_reclaim(UMA_RECLAIM_DRAIN_CPU);
}

static void
uma_startup(void)
{
	char name[UMA_NAME_MAX];

	if (!kmem_ready())
		return;
	kp_mutex_lock(&uma_startup_lock);
	if (atomic_load(&uma_ready)) {
		kp_mutex_unlock(&uma_startup_lock);
		return;
	}
	while (uma_mkey == 0)
		uma_mkey = kp_random64();
	/* Best effort: where it fails, the page stays writable and zero. */
	(void)kp_protect(&uma_tcache_empty_pages, sizeof(uma_tcache_empty_pages),
	    KP_PROT_READ);
	kp_mutex_lock(&uma_zones_lock);
	for (int i = 0; i < UMA_NBUCKETZONES; i++) {
		snprintf(name, sizeof(name), "%u Bucket",
		    (unsigned)uma_bucket_entries[i]);
		uma_internal_zone(&uma_bucket_zk[i], name,
		    UMA_BUCKET_HDR + (size_t)uma_bucket_entries[i] * sizeof(void *));
	}
	for (int i = 0; i < UMA_NHDRZONES; i++) {
		snprintf(name, sizeof(name), "UMA Slabs %u",
		    (unsigned)uma_hdr_sizes[i]);
		uma_internal_zone(&uma_hdr_zk[i], name, uma_hdr_sizes[i]);
	}
	uma_internal_zone(&uma_zones_zk, "UMA Zones", sizeof(struct uma_zk));
	kp_mutex_unlock(&uma_zones_lock);
	if (pthread_key_create(&uma_tc_key, tcache_destroy) != 0)
		kp_fatal("uma: cannot create the thread-cache key");
	atomic_store(&uma_next_trim, kp_clock_ns() + UMA_TRIM_NS);
	/* Odd: never 0, which would match a word of zeros. */
	uma_dfkey = kp_random64() | 1;
	(void)kmem_lowmem_register(uma_lowmem, NULL);
	atomic_store(&uma_ready, true);
	kp_mutex_unlock(&uma_startup_lock);
}

static bool
uma_up(void)
{
	if (KP_LIKELY(atomic_load_explicit(&uma_ready, memory_order_acquire)))
		return (true);
	uma_startup();
	return (atomic_load(&uma_ready));
}

/* A free slot id, or UMA_SLOT_NONE; uma_zones_lock held. */
static uint32_t
uma_id_alloc(struct uma_zone *zone)
{
	for (uint32_t id = 1; id < UMA_CACHE_ZONES; id++) {
		if (uma_zone_by_id[id] == NULL) {
			uma_zone_by_id[id] = zone;
			return (id);
		}
	}
	return (UMA_SLOT_NONE);
}

/* Registers a new zone: slot and list; takes uma_zones_lock. */
static void
zone_register(struct uma_zone *zone, bool cache)
{
	/* The debug modes check on the slow paths (kmem_debug.h, section 1). */
	if (zone->uz_keg != NULL && (zone->uz_keg->uk_trash ||
	    zone->uz_keg->uk_guard ||
	    zone->uz_keg->uk_annot ||
	    ((zone->uz_flags & UMA_ZONE_MALLOC) && kopt.redzone)))
		cache = false;
	/*
	 * uma_int.h, section 11: the key for the zones whose free items may
	 * be written; the state byte, and no fast path, for those whose keg
	 * keeps items initialised; and no cache for a secondary zone with an
	 * init over a keg of the first kind, whose slabs' bitsets then see
	 * every free.
	 */
	struct uma_keg *keg = zone->uz_keg;
	zone->uz_dfkey = 0;
	/* A secondary zone's flags came from its primary: chosen anew. */
	zone->uz_flags &= ~(uint32_t)(UMA_ZFLAG_DFMETA | UMA_ZFLAG_DFSLAB);
	if (keg != NULL && keg->uk_dfkey) {
		if (zone->uz_init == NULL && zone->uz_fini == NULL)
			zone->uz_dfkey = uma_dfkey;
		else
			cache = false;
	}
	if (keg != NULL && keg->uk_dfmeta)
		zone->uz_flags |= UMA_ZFLAG_DFMETA;
	else if (keg != NULL && zone->uz_dfkey == 0 &&
	    !(zone->uz_flags & (UMA_ZONE_MALLOC | UMA_ZFLAG_INTERNAL)))
		zone->uz_flags |= UMA_ZFLAG_DFSLAB;
	kp_mutex_lock(&uma_zones_lock);
	zone->uz_id = cache ? uma_id_alloc(zone) : UMA_SLOT_NONE;
	/* The fast paths see the DFMETA zones' caches as empty, slot 0's. */
	zone->uz_cacheoff = (uint32_t)(offsetof(struct uma_tcache, tc_cache) +
	    ((zone->uz_flags & UMA_ZFLAG_DFMETA) ? UMA_SLOT_NONE : zone->uz_id) *
	    sizeof(struct uma_cache));
	if (zone->uz_keg != NULL && zone->uz_keg->uk_primary == zone)
		zone->uz_keg->uk_cacheoff = zone->uz_cacheoff;
	if (zone->uz_id == UMA_SLOT_NONE)
		atomic_fetch_or(&zone->uz_freeslow, UMA_FREESLOW_NOCACHE);
	LIST_INSERT_HEAD(&uma_zones, zone, uz_link);
	kp_mutex_unlock(&uma_zones_lock);
}

uma_zone_t
uma_zcreate(const char *name, size_t size, uma_ctor ctor, uma_dtor dtor,
    uma_init uminit, uma_fini fini, int align, uint32_t flags)
{
	struct uma_zk *zk;
	uint32_t amask;
	const uint32_t known = UMA_ZONE_ZINIT | UMA_ZONE_NOFREE |
	    UMA_ZONE_NOBUCKET;

	if (name == NULL || name[0] == '\0' || strlen(name) >= UMA_NAME_MAX) {
		kp_log("uma_zcreate: a zone name must be 1 to %d characters",
		    UMA_NAME_MAX - 1);
		return (NULL);
	}
	if (size == 0 || size > ((size_t)1 << 30)) {
		kp_log("uma_zcreate(%s): item size %zu must be 1 byte to 1 GiB",
		    name, size);
		return (NULL);
	}
	amask = align == UMA_ALIGN_CACHE ? UMA_CACHE_LINE - 1 : (uint32_t)align;
	if (align < -1 || (amask & (amask + 1)) != 0 ||
	    amask >= kmem_page_size()) {
		kp_log("uma_zcreate(%s): alignment mask %d is not a power of two "
		    "less one below the page size", name, align);
		return (NULL);
	}
	if ((flags & ~known) != 0) {
		kp_log("uma_zcreate(%s): unknown flags 0x%x", name,
		    (unsigned)(flags & ~known));
		return (NULL);
	}
	if (!uma_up())
		return (NULL);
	zk = zone_alloc_item(&uma_zones_zk.zk_zone, NULL, M_WAITOK);
	if (zk == NULL)
		return (NULL);
	memset(zk, 0, sizeof(*zk));
	zone_init_common(&zk->zk_zone, name, size, ctor, dtor, flags);
	zone_debug_init(&zk->zk_zone);
	/*
	 * memguard guards callers' zones by name; not NOFREE ones, whose
	 * items may be read after their free (type-stable memory).
	 */
	keg_init(&zk->zk_keg, &zk->zk_zone, size, uminit, fini, amask, flags,
	    false, 0, !(flags & UMA_ZONE_NOFREE) && kdbg_guarded(name));
	zone_set_bucket_sizes(&zk->zk_zone, zk->zk_keg.uk_rsize);
	zone_register(&zk->zk_zone, (flags & UMA_ZONE_NOBUCKET) == 0);
	return (&zk->zk_zone);
}

uma_zone_t
uma_zcreate_internal(const char *name, size_t size, int align, uint32_t flags,
    uint32_t itemmeta)
{
	struct uma_zk *zk;

	if (!uma_up())
		return (NULL);
	zk = zone_alloc_item(&uma_zones_zk.zk_zone, NULL, M_WAITOK);
	if (zk == NULL)
		return (NULL);
	memset(zk, 0, sizeof(*zk));
	zone_init_common(&zk->zk_zone, name, size, NULL, NULL, flags);
	keg_init(&zk->zk_keg, &zk->zk_zone, size, NULL, NULL, (uint32_t)align,
	    flags, false, itemmeta, false);
	zone_set_bucket_sizes(&zk->zk_zone, zk->zk_keg.uk_rsize);
	zone_register(&zk->zk_zone, (flags & UMA_ZONE_NOBUCKET) == 0);
	return (&zk->zk_zone);
}

uma_zone_t
uma_zsecond_create(const char *name, uma_ctor ctor, uma_dtor dtor,
    uma_init zinit, uma_fini zfini, uma_zone_t primary)
{
	struct uma_zk *zk;

	if (primary == NULL ||
	    (primary->uz_flags & (UMA_ZFLAG_SECONDARY | UMA_ZFLAG_CACHE))) {
		kp_log("uma_zsecond_create(%s): the primary must be a primary zone",
		    name != NULL ? name : "NULL");
		return (NULL);
	}
	if (name == NULL || name[0] == '\0' || strlen(name) >= UMA_NAME_MAX) {
		kp_log("uma_zsecond_create: a zone name must be 1 to %d characters",
		    UMA_NAME_MAX - 1);
		return (NULL);
	}
	if (!uma_up())
		return (NULL);
	zk = zone_alloc_item(&uma_zones_zk.zk_zone, NULL, M_WAITOK);
	if (zk == NULL)
		return (NULL);
	memset(zk, 0, sizeof(*zk));
	zone_init_common(&zk->zk_zone, name, primary->uz_size, ctor, dtor,
	    (primary->uz_flags & ~UMA_ZFLAG_INTERNAL) | UMA_ZFLAG_SECONDARY);
	zone_debug_init(&zk->zk_zone);
	zk->zk_zone.uz_init = zinit;
	zk->zk_zone.uz_fini = zfini;
	zk->zk_zone.uz_keg = primary->uz_keg;
	zk->zk_zone.uz_primary = primary;
	zk->zk_zone.uz_bucket_size = primary->uz_bucket_size;
	zk->zk_zone.uz_bucket_size_max = primary->uz_bucket_size_max;
	zk->zk_zone.uz_bucket_size_base = primary->uz_bucket_size_base;
	kp_mutex_lock(&primary->uz_lock);
	primary->uz_nsecondary++;
	kp_mutex_unlock(&primary->uz_lock);
	zone_register(&zk->zk_zone,
	    (primary->uz_flags & UMA_ZONE_NOBUCKET) == 0);
	return (&zk->zk_zone);
}

void
uma_zdestroy(uma_zone_t zone)
{
	struct uma_keg *keg;
	uint64_t lost;

	if (zone == NULL)
		return;
	if (zone->uz_internal)
		kp_fatal("uma_zdestroy: zone %s is one of kmem's own", zone->uz_name);
	if (zone->uz_nsecondary != 0)
		kp_fatal("uma_zdestroy: zone %s still has %u secondary zones",
		    zone->uz_name, zone->uz_nsecondary);
	/* Nobody may use the zone now: take its items out of every cache. */
	kp_mutex_lock(&uma_zones_lock);
	LIST_REMOVE(zone, uz_link);
	kp_mutex_lock(&uma_tc_lock);
	if (zone->uz_id != UMA_SLOT_NONE) {
		struct uma_tcache *tc;
		LIST_FOREACH(tc, &uma_tcaches, tc_link)
			cache_flush(zone, &tc->tc_cache[zone->uz_id], true);
		uma_zone_by_id[zone->uz_id] = NULL;
	}
	kp_mutex_unlock(&uma_tc_lock);
	kp_mutex_unlock(&uma_zones_lock);
	zone_trim_buckets(zone, 0);

	keg = zone->uz_keg;
	lost = atomic_load(&zone->uz_items);
	if (lost != 0 && !(zone->uz_flags & UMA_ZFLAG_CACHE))
		kp_log("uma_zdestroy: zone %s: %" PRIu64 " items (%" PRIu64
		    " bytes) still allocated; their memory is given back", zone->uz_name,
		    lost, lost * zone->uz_size);
	if (zone->uz_flags & UMA_ZFLAG_SECONDARY) {
		struct uma_zone *p = zone->uz_primary;
		kp_mutex_lock(&p->uz_lock);
		p->uz_nsecondary--;
		kp_mutex_unlock(&p->uz_lock);
		/* The secondary's items stay lost to the primary's keg. */
	} else if (keg != NULL) {
		/* Every slab goes back, used or not, and freed guarded ones. */
		struct uma_slablist *lists[3] = {&keg->uk_part, &keg->uk_full,
		    &keg->uk_free};
		struct uma_slab *slab;
		if (keg->uk_guard) {
			struct keg_purge kp = {keg,
			    LIST_HEAD_INITIALIZER(kp.kp_list)};
			memguard_purge(keg_guard_release, keg_guard_take, &kp);
			while ((slab = LIST_FIRST(&kp.kp_list)) != NULL) {
				LIST_REMOVE(slab, us_link);
				keg_guard_release(slab);
			}
		}
		for (int i = 0; i < 3; i++) {
			while ((slab = LIST_FIRST(lists[i])) != NULL) {
				LIST_REMOVE(slab, us_link);
				keg_free_slab(keg, slab, false);
			}
		}
		kp_mutex_destroy(&keg->uk_lock);
	}
	kp_cond_destroy(&zone->uz_cv);
	kp_mutex_destroy(&zone->uz_lock);
	zone_free_item(&uma_zones_zk.zk_zone, zone, NULL, false);
}

/* ---- limits, reserves, preallocation ----------------------------------------- */

/*
 * Fits the caching of a zone to its limit and reserve; zone lock held.
 * Items in caches count against the limit, so buckets stay small against
 * it, and below 64 items there are no per-thread caches at all, so that the
 * limit is what one can allocate.  A zone with a reserve has none either:
 * a cached item cannot tell whether it may be handed to an ordinary
 * request.  Lifting the limit or the reserve gives the caches back.
 */
static void
zone_fit_caching(struct uma_zone *zone)
{
	uint32_t bmax = zone->uz_bucket_size_base;
	uint64_t max = zone->uz_max_items;
	bool nocache = zone->uz_id == UMA_SLOT_NONE || zone->uz_reserve > 0 ||
	    (max != 0 && max < 64);

	if (max != 0 && max / 8 < bmax)
		bmax = max / 8 < 5 ? 5 : (uint32_t)(max / 8);
	zone->uz_bucket_size_max = bmax;
	if (zone->uz_bucket_size > bmax)
		UMA_STAT_STORE(zone->uz_bucket_size, bmax);
	if (nocache)
		atomic_fetch_or(&zone->uz_freeslow, UMA_FREESLOW_NOCACHE);
	else
		atomic_fetch_and(&zone->uz_freeslow, ~(uint32_t)UMA_FREESLOW_NOCACHE);
}

int
uma_zone_set_max(uma_zone_t zone, int nitems)
{
	uint64_t max = nitems > 0 ? (uint64_t)nitems : 0;

	kp_mutex_lock(&zone->uz_lock);
	zone->uz_max_items = max;
	zone_fit_caching(zone);
	kp_cond_broadcast(&zone->uz_cv);
	kp_mutex_unlock(&zone->uz_lock);
	/*
	 * Ask threads for items they cache beyond the new limit, and give
	 * back the caller's at once: its fast path would hand them out past
	 * a limit set below what it caches.
	 */
	if (max != 0) {
		struct uma_tcache *tc = uma_tc;
		atomic_fetch_add(&uma_drain_gen, 1);
		if (tc != &uma_tcache_empty && zone->uz_id != UMA_SLOT_NONE) {
			kp_mutex_lock(&uma_tc_lock);
			cache_flush(zone, &tc->tc_cache[zone->uz_id], true);
			kp_mutex_unlock(&uma_tc_lock);
		}
	}
	return ((int)max);
}

int
uma_zone_get_max(uma_zone_t zone)
{
	return ((int)zone->uz_max_items);
}

void
uma_zone_set_warning(uma_zone_t zone, const char *warning)
{
	kp_mutex_lock(&zone->uz_lock);
	snprintf(zone->uz_warning, sizeof(zone->uz_warning), "%s",
	    warning != NULL ? warning : "");
	kp_mutex_unlock(&zone->uz_lock);
}

void
uma_zone_set_maxaction(uma_zone_t zone, uma_maxaction_t fn)
{
	kp_mutex_lock(&zone->uz_lock);
	zone->uz_maxaction = fn;
	kp_mutex_unlock(&zone->uz_lock);
}

void
uma_zone_reserve(uma_zone_t zone, int nitems)
{
	struct uma_keg *keg = zone->uz_keg;
	uint64_t n = nitems > 0 ? (uint64_t)nitems : 0;

	kp_mutex_lock(&zone->uz_lock);
	zone->uz_reserve = n;
	zone_fit_caching(zone);
	kp_mutex_unlock(&zone->uz_lock);
	if (n > 0) {
		/* What the caches hold goes back where the reserve can see it. */
		struct uma_tcache *tc = uma_tc;
		atomic_fetch_add(&uma_drain_gen, 1);
		if (tc != &uma_tcache_empty && zone->uz_id != UMA_SLOT_NONE) {
			kp_mutex_lock(&uma_tc_lock);
			cache_flush(zone, &tc->tc_cache[zone->uz_id], true);
			kp_mutex_unlock(&uma_tc_lock);
		}
		zone_trim_buckets(zone, 0);
	}
	if (keg == NULL)
		return;
	kp_mutex_lock(&keg->uk_lock);
	keg->uk_reserve = (uint32_t)n;
	kp_mutex_unlock(&keg->uk_lock);
}

void
uma_prealloc(uma_zone_t zone, int itemcnt)
{
	struct uma_keg *keg = zone->uz_keg;

	if (itemcnt <= 0 || keg == NULL)
		return;
	/*
	 * The slabs missing now, and no more: a reclaim while they are made
	 * (the low-memory run of a refused commit starts one) may give free
	 * slabs back, and making them again could then go on for ever.
	 */
	kp_mutex_lock(&keg->uk_lock);
	uint64_t missing = keg->uk_free_items >= (uint64_t)itemcnt ? 0 :
	    ((uint64_t)itemcnt - keg->uk_free_items + keg->uk_ipers - 1) /
	    keg->uk_ipers;
	kp_mutex_unlock(&keg->uk_lock);
	for (; missing > 0; missing--) {
		struct uma_slab *slab = keg_alloc_slab(keg, M_WAITOK);
		if (slab == NULL) {
			kp_log("uma_prealloc: zone %s: could not make a slab",
			    zone->uz_name);
			return;
		}
		kp_mutex_lock(&keg->uk_lock);
		keg->uk_nslabs++;
		keg->uk_free_items += keg->uk_ipers;
		keg_file_slab(keg, slab);
		kp_mutex_unlock(&keg->uk_lock);
	}
}

/* ---- reclaim ------------------------------------------------------------------- */

static void
zone_reclaim_locked(struct uma_zone *zone, int req)
{
	uint64_t keep = 0;

	if (req == UMA_RECLAIM_TRIM) {
		kp_mutex_lock(&zone->uz_lock);
		zone->uz_wss = zone->uz_bkt_imax - zone->uz_bkt_imin;
		keep = zone->uz_wss;
		kp_mutex_unlock(&zone->uz_lock);
	}
	zone_trim_buckets(zone, keep);
	if (!(zone->uz_flags & UMA_ZFLAG_SECONDARY) && zone->uz_keg != NULL)
		keg_drain(zone->uz_keg);
}

/* Free slabs of kmem's own zones (buckets, slab headers) go back too. */
static void
uma_drain_internal(void)
{
	for (int i = 0; i < UMA_NBUCKETZONES; i++)
		keg_drain(&uma_bucket_zk[i].zk_keg);
	for (int i = 0; i < UMA_NHDRZONES; i++)
		keg_drain(&uma_hdr_zk[i].zk_keg);
}

static void
uma_check_req(const char *what, int req)
{
	if (req != UMA_RECLAIM_DRAIN && req != UMA_RECLAIM_DRAIN_CPU &&
	    req != UMA_RECLAIM_TRIM)
		kp_fatal("%s: unknown request %d", what, req);
}

void
uma_zone_reclaim(uma_zone_t zone, int req)
{
	uma_check_req("uma_zone_reclaim", req);
	if (req == UMA_RECLAIM_DRAIN_CPU) {
		struct uma_tcache *tc = uma_tc;
		atomic_fetch_add(&uma_drain_gen, 1);
		if (tc != &uma_tcache_empty && zone->uz_id != UMA_SLOT_NONE) {
			kp_mutex_lock(&uma_tc_lock);
			cache_flush(zone, &tc->tc_cache[zone->uz_id], true);
			kp_mutex_unlock(&uma_tc_lock);
		}
	}
	zone_reclaim_locked(zone, req);
	/* A secondary's items live in the primary's keg. */
	if (zone->uz_flags & UMA_ZFLAG_SECONDARY)
		keg_drain(zone->uz_keg);
	uma_drain_internal();
}

void
uma_reclaim(int req)
{
	struct uma_zone *zone;

	uma_check_req("uma_reclaim", req);
	if (!atomic_load(&uma_ready))
		return;
	if (req == UMA_RECLAIM_DRAIN_CPU) {
		struct uma_tcache *tc = uma_tc;
		atomic_fetch_add(&uma_drain_gen, 1);
		if (tc != &uma_tcache_empty) {
			tc->tc_drain_gen = atomic_load(&uma_drain_gen);
			tcache_flush(tc, true);
		}
	}
	kp_mutex_lock(&uma_zones_lock);
	/* Secondaries first, so that their buckets reach the kegs drained. */
	LIST_FOREACH(zone, &uma_zones, uz_link)
		if (zone->uz_flags & UMA_ZFLAG_SECONDARY)
			zone_reclaim_locked(zone, req);
	LIST_FOREACH(zone, &uma_zones, uz_link)
		if (!(zone->uz_flags & UMA_ZFLAG_SECONDARY))
			zone_reclaim_locked(zone, req);
	kp_mutex_unlock(&uma_zones_lock);
	/* Buckets and headers freed above may have emptied their slabs. */
	uma_drain_internal();
}

/* The periodic trim (from uma_housekeeping). */
static void
uma_trim_all(void)
{
	uma_reclaim(UMA_RECLAIM_TRIM);
}

/* ---- names and statistics -------------------------------------------------------- */

const char *
uma_zone_name(uma_zone_t zone)
{
	return (zone->uz_name);
}

size_t
uma_zone_size(uma_zone_t zone)
{
	return (zone->uz_size);
}

/* Adds one thread cache slot's counts (racy reads of single words). */
static void
cache_read(const struct uma_cache *c, uint64_t *allocs, uint64_t *cached)
{
	*allocs += UMA_STAT_LOAD(c->uc_allocs);
	*cached += (uint64_t)UMA_STAT_LOAD(c->uc_acnt) + UMA_STAT_LOAD(c->uc_fcnt);
}

void
uma_zone_get_stats(uma_zone_t zone, struct uma_zone_stats *st)
{
	struct uma_keg *keg = zone->uz_keg;
	uint64_t allocs = 0, cached = 0, items, bkt;

	memset(st, 0, sizeof(*st));
	kp_mutex_lock(&uma_tc_lock);
	if (zone->uz_id != UMA_SLOT_NONE) {
		struct uma_tcache *tc;
		LIST_FOREACH(tc, &uma_tcaches, tc_link)
			cache_read(&tc->tc_cache[zone->uz_id], &allocs, &cached);
	}
	allocs += atomic_load(&zone->uz_allocs);
	items = atomic_load(&zone->uz_items);
	kp_mutex_unlock(&uma_tc_lock);
	kp_mutex_lock(&zone->uz_lock);
	bkt = zone->uz_bkt_count;
	st->zs_bucket_size = zone->uz_bucket_size;
	st->zs_wss = zone->uz_wss;
	kp_mutex_unlock(&zone->uz_lock);
	/* Items the zone holds are in use, in thread caches or in buckets. */
	uint64_t used = items > cached + bkt ? items - cached - bkt : 0;

	snprintf(st->zs_name, sizeof(st->zs_name), "%s", zone->uz_name);
	st->zs_size = zone->uz_size;
	st->zs_rsize = keg != NULL ? keg->uk_rsize : zone->uz_size;
	st->zs_limit = zone->uz_max_items;
	st->zs_requests = allocs;
	st->zs_used = used;
	st->zs_frees = allocs > used ? allocs - used : 0;
	st->zs_free_cache = cached;
	st->zs_free_bucket = bkt;
	if (!(zone->uz_flags & UMA_ZFLAG_SECONDARY) && keg != NULL) {
		kp_mutex_lock(&keg->uk_lock);
		st->zs_free_slab = keg->uk_free_items;
		st->zs_slabs = keg->uk_nslabs;
		kp_mutex_unlock(&keg->uk_lock);
		st->zs_ipers = keg->uk_ipers;
		st->zs_slab_pages = keg->uk_ppera;
		st->zs_pages = st->zs_slabs * keg->uk_ppera;
	}
	st->zs_free = st->zs_free_cache + st->zs_free_bucket + st->zs_free_slab;
	st->zs_failures = atomic_load(&zone->uz_fails);
	st->zs_sleeps = atomic_load(&zone->uz_sleeps);
	st->zs_flags = zone->uz_flags & 0xffff;
	st->zs_secondary = (zone->uz_flags & UMA_ZFLAG_SECONDARY) != 0;
	st->zs_internal = zone->uz_internal;
	st->zs_kmem = zone->uz_internal || (zone->uz_flags & UMA_ZFLAG_INTERNAL);
	st->zs_keg = keg != NULL;
}

int
uma_zone_get_cur(uma_zone_t zone)
{
	struct uma_zone_stats st;

	uma_zone_get_stats(zone, &st);
	return ((int)st.zs_used);
}

void
uma_zone_foreach(void (*fn)(uma_zone_t zone, void *arg), void *arg)
{
	struct uma_zone *zone;

	if (!atomic_load(&uma_ready))
		return;
	kp_mutex_lock(&uma_zones_lock);
	LIST_FOREACH(zone, &uma_zones, uz_link)
		fn(zone, arg);
	kp_mutex_unlock(&uma_zones_lock);
}

/* ---- vmem's quantum caches ------------------------------------------------------ */

static int
uma_qc_import(struct uma_zone *zone, void **store, int cnt, int flags)
{
	return (vmem_qc_import(zone->uz_arg, zone->uz_size, (vmem_addr_t *)store,
	    cnt, flags));
}

static void
uma_qc_release(struct uma_zone *zone, void **store, int cnt)
{
	vmem_qc_release(zone->uz_arg, zone->uz_size, (const vmem_addr_t *)store,
	    cnt);
}

/* A cache-only zone over segments of size of vm. */
static void *
uma_qc_create(vmem_t *vm, const char *name, vmem_size_t size)
{
	struct uma_zk *zk;

	if (size > UINT32_MAX || !uma_up())
		return (NULL);
	zk = zone_alloc_item(&uma_zones_zk.zk_zone, NULL, M_NOWAIT);
	if (zk == NULL)
		return (NULL);
	memset(zk, 0, sizeof(*zk));
	zone_init_common(&zk->zk_zone, name, size, NULL, NULL, UMA_ZFLAG_CACHE);
	zk->zk_zone.uz_import = uma_qc_import;
	zk->zk_zone.uz_release = uma_qc_release;
	zk->zk_zone.uz_arg = vm;
	/* Small buckets: what the caches hold is taken from the arena. */
	zk->zk_zone.uz_bucket_size_max = zk->zk_zone.uz_bucket_size_base = 29;
	zk->zk_zone.uz_bucket_size = 13;
	zone_register(&zk->zk_zone, true);
	return (&zk->zk_zone);
}

static void
uma_qc_destroy(void *zone)
{
	uma_zdestroy(zone);
}

static int
uma_qc_alloc(void *zone, int flags, vmem_addr_t *addrp)
{
	/* The raw fast path: the segment may have no memory (section 11). */
	void *p = uma_zalloc_fast(zone, NULL, flags & (M_NOWAIT | M_WAITOK));

	if (p == NULL)
		return (ENOMEM);
	*addrp = (vmem_addr_t)p;
	return (0);
}

static void
uma_qc_free(void *zone, vmem_addr_t addr)
{
	uma_zfree_fast(zone, (void *)addr, NULL);
}

/* The calling thread's cached segments and the zone's buckets go back. */
static void
uma_qc_drain(void *arg)
{
	struct uma_zone *zone = arg;
	struct uma_tcache *tc = uma_tc;

	if (tc != &uma_tcache_empty && zone->uz_id != UMA_SLOT_NONE) {
		kp_mutex_lock(&uma_tc_lock);
		cache_flush(zone, &tc->tc_cache[zone->uz_id], true);
		kp_mutex_unlock(&uma_tc_lock);
	}
	zone_trim_buckets(zone, 0);
}

static const struct vmem_qcache_ops uma_vmem_qcache_ops = {
	.vqo_create = uma_qc_create,
	.vqo_destroy = uma_qc_destroy,
	.vqo_alloc = uma_qc_alloc,
	.vqo_free = uma_qc_free,
	.vqo_drain = uma_qc_drain,
};

/* ---- fork (uma_int.h, section 9; the order is in prim.h) ------------------- */

void
uma_prefork_setup(void)
{
	kp_mutex_lock(&uma_startup_lock);
}

void
uma_postfork_setup(void)
{
	kp_mutex_unlock(&uma_startup_lock);
}

void
uma_prefork(void)
{
	struct uma_zone *zone;

	kp_mutex_lock(&uma_zones_lock);
	kp_mutex_lock(&uma_tc_lock);
	LIST_FOREACH(zone, &uma_zones, uz_link)
		kp_mutex_lock_fork(&zone->uz_lock);
	LIST_FOREACH(zone, &uma_zones, uz_link)
		if (zone->uz_keg != NULL && zone->uz_keg->uk_primary == zone)
			kp_mutex_lock_fork(&zone->uz_keg->uk_lock);
	kp_mutex_lock_fork(&uma_sub_lock);
}

/* Releases what uma_prefork() took; in the child, resets the sleepers. */
static void
uma_postfork(bool child)
{
	struct uma_zone *zone;

	kp_mutex_unlock_fork(&uma_sub_lock);
	LIST_FOREACH(zone, &uma_zones, uz_link)
		if (zone->uz_keg != NULL && zone->uz_keg->uk_primary == zone)
			kp_mutex_unlock_fork(&zone->uz_keg->uk_lock);
	LIST_FOREACH(zone, &uma_zones, uz_link) {
		kp_mutex_unlock_fork(&zone->uz_lock);
		if (child) {
			kp_mutex_lock(&zone->uz_lock);
			zone->uz_sleepers = 0;
			atomic_fetch_and(&zone->uz_freeslow,
			    ~(uint32_t)UMA_FREESLOW_SLEEPERS);
			kp_cond_init(&zone->uz_cv);
			kp_mutex_unlock(&zone->uz_lock);
		}
	}
	if (child && uma_tc != &uma_tcache_empty)
		uma_tc->tc_tid = kp_thread_id();
	kp_mutex_unlock(&uma_tc_lock);
	kp_mutex_unlock(&uma_zones_lock);
}

void
uma_postfork_parent(void)
{
	uma_postfork(false);
}

void
uma_postfork_child(void)
{
	uma_postfork(true);
}

static const struct kp_fork_ops uma_fork_setup_ops = {
	.kfo_prepare = uma_prefork_setup,
	.kfo_parent = uma_postfork_setup,
	.kfo_child = uma_postfork_setup,
};

static const struct kp_fork_ops uma_fork_ops = {
	.kfo_prepare = uma_prefork,
	.kfo_parent = uma_postfork_parent,
	.kfo_child = uma_postfork_child,
};

static void __attribute__((constructor))
uma_install_qcache(void)
{
	vmem_set_qcache_ops(&uma_vmem_qcache_ops);
	kp_fork_register(KP_FORK_UMA_SETUP, &uma_fork_setup_ops);
	kp_fork_register(KP_FORK_UMA, &uma_fork_ops);
}

/* ---- the debug layer ------------------------------------------------------------ */

/* Checks the junk of one keg's free items; uk_lock held.  Problems found. */
static int
keg_check_trash(struct uma_keg *keg, const char *zname)
{
	struct uma_slablist *lists[] = {&keg->uk_part, &keg->uk_free};
	struct uma_slab *slab;
	int bad = 0;

	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		LIST_FOREACH(slab, lists[l], us_link) {
			for (uint32_t i = 0; i < keg->uk_ipers; i++) {
				if (!(slab->us_free[i / 64] & (UINT64_C(1) << (i % 64))))
					continue;
				if (!kdbg_trash_check(slab->us_data +
				    (size_t)i * keg->uk_rsize, keg->uk_rsize, zname,
				    (keg->uk_flags & UMA_ZONE_MALLOC) != 0, false))
					bad++;
			}
		}
	}
	return (bad);
}

int
uma_check_trash(void)
{
	struct uma_zone *zone;
	int bad = 0;

	if (!atomic_load(&uma_ready))
		return (0);
	kp_mutex_lock(&uma_zones_lock);
	LIST_FOREACH(zone, &uma_zones, uz_link) {
		struct uma_keg *keg = zone->uz_keg;
		if (keg == NULL || keg->uk_primary != zone || !keg->uk_trash)
			continue;
		kp_mutex_lock(&keg->uk_lock);
		bad += keg_check_trash(keg, zone->uz_name);
		kp_mutex_unlock(&keg->uk_lock);
	}
	kp_mutex_unlock(&uma_zones_lock);
	return (bad);
}
