/*
 * uma_int.h -- zone allocator internals.  Not for use outside kmem.
 *
 * 1. The hierarchy
 *
 *    A zone hands out items of one size.  From the caller inwards:
 *
 *      thread cache   one struct uma_cache per zone in every thread's
 *                     struct uma_tcache: an alloc bucket and a free bucket
 *            |
 *      zone           a bucket cache (full buckets, and a few empty ones),
 *                     the limit, sleepers, statistics; ctor/dtor
 *            |
 *      keg            slab layout and the slabs: partial, full and free
 *                     lists; init/fini; the reserve
 *            |
 *      slab           a run of pages of the map cut into ipers items, with
 *                     a free bitset; found from any item through the map's
 *                     page table in O(1)
 *            |
 *      map            kmem_region_alloc(..., KMC_SLAB, ...)
 *
 *    A primary zone owns its keg; a secondary zone (uma_zsecond_create)
 *    shares the keg of its primary and has its own caches and ctor/dtor.
 *
 * 2. Allocation, in order
 *
 *    1. uma_zalloc_arg() pops the thread's alloc bucket.  This is the fast
 *       path: no lock, no atomic read-modify-write, no call, one branch
 *       for "empty" and one for "needs work" (a ctor, M_ZERO); it clears
 *       the free key from the item (section 11).
 *    2. If the alloc bucket is empty and the free bucket is not, the two
 *       are swapped (no lock).
 *    3. Else, under the zone lock, a full bucket is taken from the zone's
 *       bucket cache and the empty one is kept as a spare.
 *    4. Else a bucket is filled from the keg (keg lock): items of partial
 *       slabs first, then free slabs, then new slabs from the map (the keg
 *       lock is dropped while the map is asked).  The zone limit is
 *       checked here: items in caches count against it.
 *    Frees mirror this, after the double-free check of section 11: push
 *    on the free bucket; if full and the alloc bucket is empty, swap; else
 *    hand the full bucket to the zone's bucket cache and take an empty
 *    one.  Frees go to the freeing thread's cache,
 *    so a free from another thread costs what a local one does.  Items
 *    return to their slabs only when the bucket cache is trimmed or
 *    drained, so the "slab became empty" transition is never on the
 *    per-pair path.
 *
 * 3. The fast path and its statistics
 *
 *    struct uma_cache is one cache line.  As in FreeBSD, an allocation pops
 *    the alloc bucket and a free pushes onto the alloc bucket while it has
 *    room, else onto the free bucket: alternating allocations and frees
 *    stay on one bucket, reuse the most recently freed (cache-hot) item
 *    and never leave the fast path.  The only counter the fast path keeps
 *    is uc_allocs, one increment; the rest is derived: the items a zone
 *    holds (in use or cached) are uz_items, the cached ones are the bucket
 *    counts, so
 *
 *        used  = uz_items - items in thread caches - items in the
 *                zone's bucket cache
 *        frees = allocations - used
 *
 *    Counts are written by their owner and read by statistics readers in
 *    other threads as single aligned words (see UMA_STAT_STORE); a
 *    snapshot is exact when the zone is quiet, and a thread's allocations
 *    are folded into the zone's (uz_allocs) when its cache is flushed
 *    (thread exit, drain), under the thread-cache list lock, so totals never
 *    lose or double-count a thread.
 *
 *    Buckets of the kmalloc zones (UMA_ZONE_MALLOC) carry more: the
 *    address of each item's per-item metadata in its slab header, entry
 *    n's at ub_bucket[UMA_BUCKET_METAOFF + n], a fixed offset that the
 *    fast paths reach with no arithmetic (such buckets hold at most 125
 *    items; one of 125 is a block of the largest bucket zone, and smaller
 *    ones are pieces of such a block, bucket_alloc() in uma_core.c).
 *    uma stores it with
 *    every item it puts in one of their buckets, and kmalloc's fast paths
 *    pop and push it with the item, so an allocation writes the item's
 *    type tag without a page-table look-up.  The address stays good while
 *    the item is in a bucket: its slab cannot go away meanwhile.  The
 *    buckets of the DFMETA zones (section 11) carry them the same way
 *    (UMA_ZFLAG_BUCKETMETA covers both), for their state bytes.  The
 *    kmalloc zones have no ctor, dtor, limit or reserve, so M_ZERO is all their
 *    uz_allocslow holds, and their uz_freeslow holds UMA_FREESLOW_META
 *    (uma's own inline free, which does not store the address, takes the
 *    slow path) and at most UMA_FREESLOW_NOCACHE besides (they then use
 *    slot 0, which has no room): kfree's fast path need not read it.
 *
 *    Every item in a bucket of a kmalloc zone also holds the free-item key
 *    uma_mkey, a per-process random word, as its word UMA_MKEY_WORD (bytes
 *    8..15; the smallest class is 16 bytes): uma writes it when it puts an
 *    item in one of their buckets (bucket_store(), and zone_import() for a
 *    bucket filled from the keg), kmalloc's fast free when it pushes one,
 *    and every pop from such a bucket checks it (uma_mkey_check()), so a
 *    write into a freed block, or past the end of a block into a free
 *    neighbour in a cache, aborts when the block is handed out again
 *    instead of going unseen.  Costs: a load and a store on the free, a
 *    load, a compare, a branch and a store (uma_mkey_clear(): every item
 *    handed out has the word cleared, so the key never leaves kmem and a
 *    program cannot learn it from its own heap) on the allocation.  Items
 *    annotated for valgrind or ASan (uk_annot) take no key: their free
 *    state is the annotation's.
 *
 *    Every thread's struct uma_tcache has UMA_CACHE_ZONES slots; a zone's
 *    slot is at byte offset uz_cacheoff.  Slot 0 is never used by a zone
 *    and stays empty in every tcache: zones without per-thread caching
 *    (UMA_ZONE_NOBUCKET, small limits, more zones than slots) point there,
 *    and so always take the slow path.  A thread that has no tcache yet
 *    points at uma_tcache_empty, a read-only tcache whose every slot is
 *    empty, so the fast path needs no NULL test either.
 *
 * 4. Slab layout
 *
 *    The keg chooses the item size (size rounded up to the alignment),
 *    the slab size (pages) and the items per slab so that the waste stays
 *    under 1/8 of the slab (UMA_MAX_WASTE_DIV), with at most UMA_SLAB_MAXITEMS
 *    items.  Kegs of the kmalloc zones (UMA_ZONE_MALLOC) take a slab with
 *    no waste at all (384-byte items: a multiple of 3 pages), so that any
 *    address in one of their slabs falls in an item, and mark their pages
 *    with a page-table class of their own (KPT_MSLAB).  The slab is the
 *    smallest such size taken as many times as fit UMA_KMALLOC_SLAB (32
 *    KiB), within the limits on items, pages and header bytes (64 bytes:
 *    8 pages of 512): fewer slabs to make as a heap grows, and blocks
 *    handed out one after the other share a slab header and page-table
 *    lines (python3 on the shim: 5% faster than with one-page slabs).  For kegs of callers' zones the slab header and its free bitset
 *    live off the page, in an item of one of kmem's own slab header zones:
 *    an overflow of an item cannot reach them.
 *
 *        slab pages:  | item 0 | item 1 | ... | item n-1 | waste |
 *        header:      { keg, data, freecount, links, metadata pointer,
 *                       keg's magic, rsize and cache offset (copies),
 *                       free bitset[], per-item metadata[] }
 *
 *    kmem's own zones (buckets, slab headers, zone structures) keep the
 *    header inline at the start of the first page; their items are kmem's
 *    metadata, never a caller's buffer.  Every page of a slab has the slab
 *    header's address in the map's page table (class KMC_SLAB).
 *
 * 5. Limits, reserves, sleeping
 *
 *    uz_items counts the items a zone took from its keg and did not give
 *    back: in use and in caches.  An allocation that would take it past
 *    the limit (less the reserve, unless M_USE_RESERVE) logs the zone's
 *    warning (rate-limited), calls the maxaction, and then fails
 *    (M_NOWAIT) or sleeps (M_WAITOK) on uz_cv.  While anyone sleeps,
 *    uz_freeslow is set and frees bypass the caches and go straight back
 *    to the keg, waking the sleeper.  A keg with a reserve keeps that many
 *    free items for M_USE_RESERVE: other requests take new slabs instead.
 *
 * 6. Reclaim and trim
 *
 *    Each zone tracks the lowest and highest item count of its bucket
 *    cache; every UMA_TRIM_NS (checked on slow paths: no thread of kmem's
 *    own) the working set is the difference, buckets beyond it go back to
 *    the keg, and free slabs go back to the map (UMA_RECLAIM_TRIM).
 *    UMA_RECLAIM_DRAIN empties the bucket caches; UMA_RECLAIM_DRAIN_CPU
 *    also flushes the calling thread's cache at once and asks every other
 *    thread to flush its own on its next slow path (see the divergences).
 *    The map's low-memory handler drains all zones.
 *
 * 7. Divergences from FreeBSD
 *
 *    - Caches are per thread, not per CPU.  User space has no cheap way to
 *      pin a thread to a CPU; restartable sequences would allow per-CPU
 *      caches but make every fast path a kernel-assisted critical section,
 *      and threads are cheap to give their own cache.  The cost: one
 *      cache's worth of items per thread, and a thread that never comes
 *      back to a zone keeps its two buckets until it exits (thread exit
 *      flushes them, through a pthread key destructor).
 *    - Another thread's cache cannot be emptied from outside (FreeBSD binds
 *      to each CPU to drain it): UMA_RECLAIM_DRAIN_CPU asks, and threads
 *      comply on their next slow path.  uma_zdestroy() may empty them all,
 *      since no thread may use a zone being destroyed.
 *    - Trimming runs on the slow paths of any zone once per UMA_TRIM_NS
 *      instead of from a timer thread.
 *    - No NUMA domains, no SMR, no per-CPU zones.  Cache-only zones
 *      (items from an import function, no keg) exist only inside kmem:
 *      they are vmem's quantum caches.
 *    - Zone names are copied into the zone.
 *
 * 8. Lock order
 *
 *    uma_zones_lock (zone list) -> uma_tc_lock (thread-cache list)
 *      -> uz_lock (one zone) -> uk_lock (one keg) -> the map's locks.
 *    A zone lock and a keg lock are never held together on the
 *    allocation paths; the keg lock is dropped before the map is asked
 *    for a slab, and no UMA lock is held while a ctor, dtor, init, fini,
 *    maxaction or the map's low-memory handlers run.
 *
 * 9. fork()
 *
 *    uma_prefork_setup() takes uma_startup_lock, which is held while uma's
 *    own zones are made, before the data locks of every layer (rank
 *    KP_FORK_UMA_SETUP in prim.h); uma_prefork() takes the zone list, the
 *    thread-cache list, every zone's lock and every keg's lock, in that
 *    order (rank KP_FORK_UMA): zone locks never nest with each other, nor
 *    keg locks.  The child releases them, makes every uz_cv anew and
 *    forgets the sleepers at limits (they were other threads).
 *
 *    The caches of the threads that do not exist in the child stay where
 *    they are, on uma_tcaches, as jemalloc keeps the dead threads' caches:
 *    nothing can empty them safely, since a thread may have been stopped
 *    by the fork in the middle of its lock-free fast path or of a bucket
 *    swap, and its cache can be inconsistent.  Their items are lost to the
 *    child, but the accounting stays whole: statistics read those caches
 *    as they read any other, so the items count as free in caches, and
 *    they count against a zone's limit as cached items always do (a zone
 *    whose limit is below 64 items has no thread caches, so loses none).
 *    The child's one thread keeps its own cache.
 *
 * 10. memguard kegs
 *
 *    A caller's zone named in the memguard tunable (kmem_debug.h, section
 *    6) gets a keg whose slabs hold one item each and one more page, the
 *    guard page, made inaccessible when the slab is made.  The item sits
 *    at the end of the pages before the guard (uk_hdroff bytes in, so
 *    that it ends where the guard page starts), or with memguard_before
 *    right after a guard page that comes first:
 *
 *        after:   | .. slack .. | item | guard |
 *        before:  | guard | item | .. slack .. |
 *
 *    The zone has no per-thread cache, so every allocation takes a slab
 *    from the keg (a new one: a freed slab never comes back) and every
 *    free gives the item back to it at once; the counts of section 3
 *    stay exact (used = uz_items) and the limit and reserve apply as to
 *    any zone.  uma_zfree() checks the item (this keg's, the start of it,
 *    not free) before the dtor runs.  The freed item's slab leaves the
 *    keg: fini runs, every page becomes inaccessible, the slab is marked
 *    UMA_SLAB_GUARD_FREED and queued on memguard's FIFO, and only when it
 *    falls off the FIFO do its header and pages go back.  Its pages keep
 *    pointing at the header meanwhile, so a second free is a double free
 *    and the fault handler finds the item from any address of the slab.
 *    uma_zdestroy() takes the keg's slabs off the FIFO first.  Secondary
 *    zones share the keg, and so the guard, of their primary.
 *
 * 11. Double frees
 *
 *    A double free is caught at the free itself, in every build.  A slab's
 *    free bitset sees only the frees that reach it, and a bucket may hand
 *    the same item out twice before it drains, so the caches need a check
 *    of their own; it is one of two, chosen per keg at creation:
 *
 *    - The free key (glibc tcache's idea).  uma_dfkey is a random odd
 *      64-bit secret chosen at start-up (kp_random64()), copied into every
 *      zone that uses it (uz_dfkey, 0 in the others, on the line the fast
 *      path reads anyway).  A free writes it into the item's first word
 *      (items are 8 bytes or more), an allocation writes 0 there before
 *      any ctor or M_ZERO, so a free item holds the key and an item in use
 *      holds it only if the program wrote it there, which the program can
 *      only have read in freed memory.  A free that finds the key aborts
 *      ("uma_zfree: ADDR: double free in zone NAME", the slab check's
 *      words) before the dtor.  Cost on the fast paths: a load, a compare
 *      and a branch folded into the free's existing test, a store on each
 *      side.  Some free items lack the key (those of a fresh slab, those
 *      a secondary zone with an init gave back, below): the check lets
 *      them be, since only an item handed out and freed since can be
 *      freed twice, and that free wrote the key (a free of an item never
 *      handed out is a foreign pointer, for the slab's bitset).  A keg
 *      clears the keys when a slab goes back to the map, so the secret
 *      does not travel with the pages.
 *    - The state byte.  Kegs with an init, a fini or UMA_ZONE_ZINIT keep
 *      their free items initialised (type-stable memory): nothing may be
 *      written into them.  Their slab headers keep one byte per item
 *      (uk_itemmeta = 1, uk_dfmeta; a new slab's are UMA_DFMETA_FREE), set
 *      to UMA_DFMETA_LIVE when an item is handed out and back when it is
 *      freed.  Their zones (UMA_ZFLAG_DFMETA) have no inline fast path:
 *      uz_cacheoff points at slot 0, which is always empty, while the slow
 *      paths use their slot (uz_id), so their items are still cached per
 *      thread, and a fast path of their own at the head of the slow paths
 *      pops and pushes the alloc bucket.  A free finds the byte through
 *      the page table, which also checks that the address is an item of
 *      the keg; the bucket keeps the byte's address beside the item, as
 *      kmalloc's buckets keep the tag's (section 3), so an allocation
 *      writes it with no look-up.
 *
 *    Neither is needed, or allowed, where the free items are not the
 *    zone's to write: kmalloc's zones (their type tags catch double frees
 *    in kfree), cache-only zones (vmem segments, perhaps without memory;
 *    the raw fast paths), kmem's own zones, and the debug modes' kegs
 *    (trash, redzones, annotations, memguard): those have no per-thread
 *    cache, so every free reaches the slab's bitset at once.  A secondary
 *    zone with an init or fini over a keg that takes the key has no cache
 *    either, for the same reason, and clears the key of the items it takes
 *    from the keg before its init runs.  The callers' zones of these kinds
 *    (UMA_ZFLAG_DFSLAB) look the item up in its slab, under the keg lock,
 *    before the dtor runs, as memguard's always did.
 */
#ifndef KMEM_UMA_INT_H
#define KMEM_UMA_INT_H

#include <sys/queue.h>

#include <kmem/uma.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../kmem/kmem_int.h"
#include "../platform/prim.h"
#include "uma_stats.h"

#define UMA_CACHE_ZONES 512      /* zones with a per-thread cache slot */
#define UMA_NAME_MAX 32          /* bytes of a zone name, with its NUL */
#define UMA_MAX_WASTE_DIV 8      /* slab waste stays under 1/8 */
#define UMA_SLAB_MAXITEMS 1024   /* items per slab at most */
#define UMA_SLAB_MAXPAGES 64     /* pages per slab at most */
#define UMA_KMALLOC_SLAB 32768 /* bytes a kmalloc slab grows to, if it can */
#define UMA_FILL_BYTES 16384   /* bytes of items a kmalloc bucket fill takes */
#define UMA_BUCKET_BYTES 16384 /* bytes of items a full bucket holds at most */
#define UMA_CACHE_LINE 64        /* UMA_ALIGN_CACHE */
#define UMA_TRIM_NS (5ull * 1000 * 1000 * 1000) /* trim interval */
#define UMA_SLEEP_NS (100u * 1000 * 1000)       /* longest sleep slice */
#define UMA_WARN_NS (300ull * 1000 * 1000 * 1000) /* zone warning interval */
#define UMA_EMPTY_BUCKETS 4      /* spare empty buckets a zone keeps */
#define UMA_WARN_MAX 128         /* bytes of a zone warning, with its NUL */

/* ---- buckets ------------------------------------------------------------ */

struct uma_bucket {
	TAILQ_ENTRY(uma_bucket) ub_link;  /* zone bucket cache */
	uint16_t ub_cnt;                  /* items, while in the zone cache */
	uint16_t ub_entries;              /* capacity */
	uint32_t ub_bzone;                /* index of its bucket zone */
	void *ub_bucket[];                /* the items */
};
TAILQ_HEAD(uma_bucketlist, uma_bucket);

#define UMA_BUCKET_HDR 24
#define UMA_BUCKET_METAOFF 128 /* kmalloc zones: where the metadata
				  addresses start (section 3) */
_Static_assert(sizeof(struct uma_bucket) == UMA_BUCKET_HDR, "bucket header");

/* ---- per-thread caches ------------------------------------------------- */

/*
 * One zone's cache in one thread: one cache line, written by its owner only
 * (statistics readers read it without locking, see section 3).
 */
struct uma_cache {
	_Alignas(64)
	uint32_t uc_acnt;           /* items in the alloc bucket */
	uint32_t uc_aentries;       /* capacity of the alloc bucket */
	uint32_t uc_fcnt;           /* items in the free bucket */
	uint32_t uc_fentries;       /* capacity of the free bucket */
	void **uc_aitems;           /* the alloc bucket's items, or NULL */
	void **uc_fitems;           /* the free bucket's items, or NULL */
	uint64_t uc_allocs;         /* allocations this cache served */
	/*
	 * Kept for the layer above, on the line its fast paths read anyway
	 * (kmalloc: this thread's counts of the zone's class, by type index;
	 * valid for indices 1..uc_ucapm1).  uma never reads them.
	 */
	uint64_t *uc_uallocs;       /* allocations, by index */
	uint64_t *uc_ufrees;        /* frees, by index */
	uint32_t uc_ucapm1;         /* indices covered, less one; 0: none */
};
_Static_assert(sizeof(struct uma_cache) == 64, "a cache is one line");

/*
 * A thread's caches: a header, then one slot per zone id.  Slot 0 belongs to
 * no zone and stays empty, so zones without a slot (UMA_SLOT_NONE) always
 * take the slow path.
 */
struct uma_tcache {
	_Alignas(64)
	LIST_ENTRY(uma_tcache) tc_link; /* uma_tcaches, under uma_tc_lock */
	uint64_t tc_drain_gen;          /* drain requests complied with */
	uint32_t tc_tid;                /* owner thread */
	bool tc_exiting;                /* the owner is exiting */
	struct uma_cache tc_cache[UMA_CACHE_ZONES]; /* by zone id */
};
#define UMA_SLOT_NONE 0 /* the slot of zones without a per-thread cache */

/* ---- slabs and kegs ---------------------------------------------------- */

struct uma_keg;

struct uma_slab {
	_Alignas(32)
	LIST_ENTRY(uma_slab) us_link;  /* keg partial/full/free list */
	struct uma_keg *us_keg;        /* owner */
	char *us_data;                 /* first item */
	uint16_t us_freecount;         /* free items */
	uint16_t us_flags;             /* UMA_SLAB_* */
	uint32_t us_pad;
	void *us_meta;                 /* per-item metadata (kegs with
					  uk_itemmeta: uk_metaoff bytes in),
					  or NULL */
	/* The keg's, copied so that kfree() needs no keg (it fills the
	   header's alignment: sizeof stays 64). */
	uint64_t us_magic;             /* uk_magic */
	uint32_t us_rsize;             /* uk_rsize */
	uint32_t us_cacheoff;          /* uk_cacheoff */
	uint64_t us_free[];            /* bit i set: item i is free */
};
_Static_assert(sizeof(struct uma_slab) == 64, "a slab header's fixed part");
LIST_HEAD(uma_slablist, uma_slab);
#define UMA_SLAB_INLINE 0x1 /* header inside the slab's first page */
#define UMA_SLAB_GUARD_FREED 0x2 /* memguard: the item was freed, the slab
				    waits on the FIFO (section 10) */

struct uma_keg {
	kp_mutex_t uk_lock;            /* guards the slab lists and counts */
	struct uma_slablist uk_part;   /* slabs with free and used items */
	struct uma_slablist uk_full;   /* slabs with no free item */
	struct uma_slablist uk_free;   /* slabs with no used item */
	uint64_t uk_nslabs;            /* slabs */
	uint64_t uk_free_items;        /* free items in all slabs */
	uint32_t uk_reserve;           /* free items kept for M_USE_RESERVE */
	uint32_t uk_size;              /* requested item size */
	uint32_t uk_rsize;             /* item size in the slab */
	uint32_t uk_align;             /* alignment mask */
	uint32_t uk_ipers;             /* items per slab */
	uint32_t uk_ppera;             /* pages per slab */
	uint32_t uk_flags;             /* UMA_ZONE_* */
	uint32_t uk_hdrsize;           /* bytes of a slab header */
	uint32_t uk_hdroff;            /* items start this far into the slab
					  (inline header, memguard) */
	uint32_t uk_guardoff;          /* memguard: byte offset of the guard
					  page in the slab */
	uint32_t uk_itemmeta;          /* bytes of per-item metadata in the
					  header (after the bitset), or 0;
					  a new slab's are UMA_ITEMMETA_INIT */
	int32_t uk_rshift;             /* log2(uk_rsize) if a power of 2, or -1 */
	uint32_t uk_metaoff;           /* per-item metadata: offset in header */
	uint32_t uk_class;             /* the layer above's tag for the keg
					  (kmalloc: the size class) */
	uint32_t uk_cacheoff;          /* uz_cacheoff of uk_primary (kmalloc's
					  free path reads it from here) */
	uint32_t uk_ptclass;           /* page-table class of its slabs */
	uint64_t uk_magic;             /* kmalloc kegs: index = (offset *
					  uk_magic) >> UMA_MAGIC_SHIFT (see
					  uma_slab_mindex()) */
	bool uk_inline;                /* header inside the slab */
	bool uk_trash;                 /* free items hold junk (kmem_debug.h) */
	bool uk_guard;                 /* memguard: one item and a guard page
					  per slab (section 10) */
	bool uk_annot;                 /* items are annotated for valgrind or
					  AddressSanitizer (kmem_debug.h,
					  section 8) */
	bool uk_dfkey;                 /* free items may hold the free key
					  (section 11) */
	bool uk_dfmeta;                /* the per-item byte is the item's
					  state (section 11) */
	int uk_hdrzone;                /* slab header zone index, or -1 */
	uma_init uk_init;              /* item init */
	uma_fini uk_fini;              /* item fini */
	struct uma_zone *uk_primary;   /* the zone that made the keg */
	vmem_t *uk_arena;              /* where slabs come from */
};

/* ---- zones ------------------------------------------------------------- */

struct uma_zone {
	/* Read by the fast path; constant after creation (uz_freeslow aside). */
	uint32_t uz_cacheoff;          /* byte offset of the slot in a tcache */
	uint32_t uz_allocslow;         /* flags that force the alloc slow path */
	_Atomic uint32_t uz_freeslow;  /* nonzero: frees take the slow path */
	uint32_t uz_id;                /* slot index, 0 = none */
	uint64_t uz_dfkey;             /* the free key, or 0: the zone's items
					  do not take it (section 11) */
	uma_ctor uz_ctor;              /* item constructor */
	uma_dtor uz_dtor;              /* item destructor */
	uma_init uz_init;              /* zone init (secondary zones) */
	uma_fini uz_fini;              /* zone fini (secondary zones) */
	struct uma_keg *uz_keg;        /* where the items come from, or NULL */
	int (*uz_import)(struct uma_zone *, void **, int, int); /* cache-only
					  zones: fill store[] instead */
	void (*uz_release)(struct uma_zone *, void **, int); /* ... and empty */
	void *uz_arg;                  /* cache-only zones: their source */
	uint32_t uz_size;              /* item size asked for */
	uint32_t uz_flags;             /* UMA_ZONE_*, UMA_ZFLAG_* */
	char uz_name[UMA_NAME_MAX];    /* name */

	/* Guarded by uz_lock. */
	_Alignas(64)
	kp_mutex_t uz_lock;            /* bucket cache, limit, sleepers */
	kp_cond_t uz_cv;               /* sleepers at the limit wait here */
	struct uma_bucketlist uz_full; /* full buckets */
	struct uma_bucketlist uz_empty; /* spare empty buckets */
	uint32_t uz_nfull;             /* buckets in uz_full */
	uint32_t uz_nempty;            /* buckets in uz_empty */
	uint64_t uz_bkt_count;         /* items in uz_full */
	uint64_t uz_bkt_imin;          /* least uz_bkt_count this interval */
	uint64_t uz_bkt_imax;          /* most uz_bkt_count this interval */
	uint64_t uz_wss;               /* working-set estimate */
	uint32_t uz_bucket_size;       /* entries of new buckets */
	uint32_t uz_bucket_size_max;   /* ... at most */
	uint32_t uz_bucket_size_base;  /* ... at most, for the item size */
	uint32_t uz_sleepers;          /* threads asleep at the limit */
	uint64_t uz_max_items;         /* limit, 0 = none */
	uint64_t uz_reserve;           /* items kept for M_USE_RESERVE */
	_Atomic uint64_t uz_items;     /* items out of the keg */
	uint64_t uz_last_warn;         /* when the warning was last printed */
	char uz_warning[UMA_WARN_MAX]; /* uma_zone_set_warning() text */
	uma_maxaction_t uz_maxaction;  /* uma_zone_set_maxaction() */

	/* Statistics not kept in thread caches (atomic). */
	_Atomic uint64_t uz_allocs;    /* allocations outside thread caches */
	_Atomic uint64_t uz_fails;     /* allocations that returned NULL */
	_Atomic uint64_t uz_sleeps;    /* sleeps at the limit */

	LIST_ENTRY(uma_zone) uz_link;  /* uma_zones */
	struct uma_zone *uz_primary;   /* primary zone of a secondary, or self */
	uint32_t uz_nsecondary;        /* secondary zones over this keg */
	bool uz_internal;              /* one of kmem's own zones */
};

#define UMA_ZFLAG_SECONDARY 0x10000000 /* made by uma_zsecond_create() */
#define UMA_ZFLAG_DFMETA 0x04000000   /* frees checked by a state byte per
					  item in the slab header (section
					  11); no fast path */
#define UMA_ZFLAG_DFSLAB 0x02000000   /* no key, no state byte, no cache
					  (debug modes, memguard, section
					  11): frees are checked against the
					  slab's bitset before the dtor */
#define UMA_ZFLAG_FAILINJ 0x08000000   /* failure injection applies (the
					  debug layer; M_NOWAIT is in
					  uz_allocslow) */
#define UMA_ZFLAG_INTERNAL 0x20000000  /* kmem's own zone */
#define UMA_ZFLAG_CTORDTOR 0x40000000  /* has a ctor or dtor */
#define UMA_ZFLAG_CACHE 0x80000000     /* cache-only: no keg (vmem qcache) */

/* Every byte of a new slab's per-item metadata. */
#define UMA_ITEMMETA_INIT 0xff

/* The state byte of uk_dfmeta kegs (section 11). */
#define UMA_DFMETA_FREE UMA_ITEMMETA_INIT /* in a cache or a slab */
#define UMA_DFMETA_LIVE 0x00              /* handed out */

/* The free key of section 11 (uma_core.c); odd, so never 0. */
extern uint64_t uma_dfkey __attribute__((visibility("hidden")));
/*
 * An item's first word, where the key goes: items need only be aligned as
 * their zone asks (perhaps not to 8), and the word may be of any type.
 */
typedef uint64_t uma_dfword_t __attribute__((aligned(1), may_alias));

/* Flags inside kmem (the public ones are in <kmem/uma.h>). */
#define UMA_ZONE_MALLOC 0x0010 /* a kmalloc zone: its items are counted by
                                  malloc types, so totals skip it */
/* Zones whose buckets carry their items' metadata addresses (section 3). */
#define UMA_ZFLAG_BUCKETMETA (UMA_ZONE_MALLOC | UMA_ZFLAG_DFMETA)

#define UMA_FREESLOW_DTOR 0x1     /* the zone has a dtor */
#define UMA_FREESLOW_SLEEPERS 0x2 /* someone sleeps at the limit */
#define UMA_FREESLOW_NOCACHE 0x4  /* no per-thread cache */
#define UMA_FREESLOW_META 0x8     /* a kmalloc zone: uma's inline frees do
				     not store the item's metadata address,
				     uma_zfree_slow() does (section 3) */

extern __thread struct uma_tcache *uma_tc
    __attribute__((tls_model("initial-exec"), visibility("hidden")));

/* The slab that holds item, from the map's page table; NULL if none. */
static inline struct uma_slab *
uma_item_slab(const void *item)
{
	uintptr_t e = kmem_pt_get(item);

	if (!KPT_IS_SLAB(e))
		return (NULL);
	return ((struct uma_slab *)KPT_PTR(e));
}

/*
 * Counters written by one thread and read by others.  A plain store of an
 * aligned word is atomic on every target kmem supports, and one add
 * instruction on x86; under ThreadSanitizer the same store is made a
 * relaxed atomic one so that the tool sees what it is.
 */
#if defined(__SANITIZE_THREAD__)
#define UMA_STAT_INC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)
#define UMA_STAT_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UMA_STAT_INC(x) __atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)
#define UMA_STAT_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#endif
#endif
#ifndef UMA_STAT_INC
#define UMA_STAT_INC(x) ((x)++)
#define UMA_STAT_STORE(x, v) ((x) = (v))
#endif
#define UMA_STAT_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* The bucket whose item array is items (NULL for NULL). */
static inline struct uma_bucket *
uma_bucket_of(void **items)
{
	return (items == NULL ? NULL :
				(struct uma_bucket *)((char *)items -
				    offsetof(struct uma_bucket, ub_bucket)));
}

/* Index of item in its slab (no checks). */
static inline uint32_t
uma_slab_index(const struct uma_keg *keg, const struct uma_slab *slab,
    const void *item)
{
	uintptr_t off = (uintptr_t)item - (uintptr_t)slab->us_data;

	if (KP_LIKELY(keg->uk_rshift >= 0))
		return ((uint32_t)(off >> keg->uk_rshift));
	return ((uint32_t)(off / keg->uk_rsize));
}

/*
 * For a kmalloc zone's cache: where the metadata address of entry n of
 * the alloc bucket is kept (section 3).
 */
static inline void **
uma_cache_ameta(struct uma_cache *c, size_t n)
{
	return (&c->uc_aitems[UMA_BUCKET_METAOFF + n]);
}

/*
 * The kmalloc slabs' index by multiplication.  With uk_magic = 2^32 /
 * rsize + 1 (rounded down, plus one) and e = rsize * uk_magic - 2^32
 * (1..rsize), offset i * rsize + r times uk_magic is i * 2^32 + i * e +
 * r * uk_magic: the high half is the index, and the low half is below
 * uk_magic exactly when r is 0, as long as ipers * e < uk_magic keeps it
 * from wrapping.  That holds for every kmalloc slab with 4 KiB pages
 * (keg_layout() checks it), so where the page size is fixed at 4 KiB one
 * multiplication gives the index and the "start of an item" test;
 * elsewhere the shift is 40 and the start is checked by multiplying back.
 */
#ifdef KMEM_PAGE_SHIFT_FIXED
#define UMA_MAGIC_SHIFT 32
#else
#define UMA_MAGIC_SHIFT 40
#endif

/*
 * The index of the item at byte offset off of a kmalloc slab (no waste:
 * any offset is in an item); true if off is the item's start.
 */
static inline bool
uma_slab_mindex(const struct uma_slab *slab, uintptr_t off, uintptr_t *i)
{
	uint64_t p = off * slab->us_magic;

	*i = p >> UMA_MAGIC_SHIFT;
	if (UMA_MAGIC_SHIFT == 32)
		return ((uint32_t)p < (uint32_t)slab->us_magic);
	return (off == *i * slab->us_rsize);
}

/* The per-item metadata array of a slab (kegs with uk_itemmeta). */
static inline void *
uma_slab_meta(const struct uma_keg *keg, struct uma_slab *slab)
{
	(void)keg;
	return (slab->us_meta);
}

/*
 * A zone for kmem's layers above uma: flags may include UMA_ZONE_MALLOC,
 * and itemmeta bytes of metadata per item are kept in the slab header
 * (off the item's pages).
 */
uma_zone_t uma_zcreate_internal(const char *name, size_t size, int align,
    uint32_t flags, uint32_t itemmeta);

/* The cache slot of zone in tcache tc. */
static inline struct uma_cache *
uma_cache_of(struct uma_tcache *tc, const struct uma_zone *zone)
{
	return ((struct uma_cache *)((char *)tc + zone->uz_cacheoff));
}

/* The calling thread's tcache, or NULL while it has none of its own. */
struct uma_tcache *uma_tcache_own(void);

/* fork() (section 9). */
void uma_prefork_setup(void);  /* rank KP_FORK_UMA_SETUP */
void uma_postfork_setup(void); /* parent and child */
void uma_prefork(void);        /* rank KP_FORK_UMA */
void uma_postfork_parent(void);
void uma_postfork_child(void);

void *uma_zalloc_slow(uma_zone_t zone, void *arg, int flags);
void uma_zfree_slow(uma_zone_t zone, void *item, void *arg);

/* The free-item key of the kmalloc zones' cached items (section 3). */
#define UMA_MKEY_WORD 1
extern uint64_t uma_mkey __attribute__((visibility("hidden")));
/*
 * item, popped from a kmalloc zone's bucket, lost its key: aborts.  (Not
 * declared noreturn, so that the fast paths can tail-call it and keep
 * their leaf shape.)
 */
void *uma_mkey_fail(void *item);

static inline void
uma_mkey_set(void *item)
{
	((uint64_t *)item)[UMA_MKEY_WORD] = uma_mkey;
}

static inline bool
uma_mkey_ok(const void *item)
{
	return (((const uint64_t *)item)[UMA_MKEY_WORD] == uma_mkey);
}

/* item is being handed out: the key does not leave kmem. */
static inline void
uma_mkey_clear(void *item)
{
	((uint64_t *)item)[UMA_MKEY_WORD] = 0;
}

/*
 * The fast paths (section 2, step 1), inline for the layers above.  The
 * pop from the alloc bucket, for both fast paths of allocation; keyed:
 * the item's free key goes (uma_zalloc_keyed()).
 */
static inline void *
uma_zalloc_pop(uma_zone_t zone, void *arg, int flags, bool keyed)
{
	struct uma_cache *c = uma_cache_of(uma_tc, zone);
	uint32_t n = c->uc_acnt;

	if (KP_UNLIKELY(n == 0 || (flags & zone->uz_allocslow) != 0))
		return (uma_zalloc_slow(zone, arg, flags));
	n--;
	UMA_STAT_STORE(c->uc_acnt, n);
	UMA_STAT_INC(c->uc_allocs);
	void *item = c->uc_aitems[n];
	if (keyed)
		*(uma_dfword_t *)item = 0; /* the key goes: the item is in use */
	return (item);
}

/*
 * The raw fast paths neither check nor write the item (section 11):
 * kmalloc (whose items carry type tags) and the cache-only zones (whose
 * "items" are addresses of vmem segments, perhaps without memory) use them.
 */
static inline void *
uma_zalloc_fast(uma_zone_t zone, void *arg, int flags)
{
	return (uma_zalloc_pop(zone, arg, flags, false));
}

static inline void
uma_zfree_fast(uma_zone_t zone, void *item, void *arg)
{
	struct uma_cache *c = uma_cache_of(uma_tc, zone);
	size_t n = c->uc_acnt;

	if (KP_UNLIKELY(n >= c->uc_aentries || item == NULL ||
	    atomic_load_explicit(&zone->uz_freeslow, memory_order_relaxed) != 0)) {
		uma_zfree_slow(zone, item, arg);
		return;
	}
	c->uc_aitems[n] = item;
	UMA_STAT_STORE(c->uc_acnt, (uint32_t)(n + 1));
}

/* uma_zfree_fast() of an item known not to be NULL, without a ctor arg. */
static inline void
uma_zfree_fast_nonnull(uma_zone_t zone, void *item)
{
	struct uma_cache *c = uma_cache_of(uma_tc, zone);
	size_t n = c->uc_acnt;

	if (KP_UNLIKELY(n >= c->uc_aentries ||
	    atomic_load_explicit(&zone->uz_freeslow, memory_order_relaxed) != 0)) {
		uma_zfree_slow(zone, item, NULL);
		return;
	}
	c->uc_aitems[n] = item;
	UMA_STAT_STORE(c->uc_acnt, (uint32_t)(n + 1));
}

/*
 * uma_zalloc_arg() and uma_zfree_arg(): the raw fast paths plus the free
 * key of section 11.  Only zones with uz_dfkey set reach the key code: the
 * zones whose items must not be written (init, fini, ZINIT: their fast
 * path is off) and those without a cache take the slow path, and the
 * kmalloc zones' frees do (UMA_FREESLOW_META).  A kmalloc item handed out
 * here has its first word cleared, which costs it nothing.
 */
static inline void *
uma_zalloc_keyed(uma_zone_t zone, void *arg, int flags)
{
	return (uma_zalloc_pop(zone, arg, flags, true));
}

static inline void
uma_zfree_keyed(uma_zone_t zone, void *item, void *arg)
{
	struct uma_cache *c = uma_cache_of(uma_tc, zone);
	size_t n = c->uc_acnt;
	uint64_t key = zone->uz_dfkey;

	/* The key already there: a double free, which the slow path reports. */
	if (KP_UNLIKELY(n >= c->uc_aentries || item == NULL ||
	    atomic_load_explicit(&zone->uz_freeslow, memory_order_relaxed) != 0 ||
	    *(uma_dfword_t *)item == key)) {
		uma_zfree_slow(zone, item, arg);
		return;
	}
	*(uma_dfword_t *)item = key;
	c->uc_aitems[n] = item;
	UMA_STAT_STORE(c->uc_acnt, (uint32_t)(n + 1));
}

#endif /* KMEM_UMA_INT_H */
