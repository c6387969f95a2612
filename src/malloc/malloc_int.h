/*
 * malloc_int.h -- typed malloc internals.  Not for use outside kmem.
 *
 * 1. Sizes
 *
 *    kmalloc() rounds a request up to one of 44 kmalloc classes: 16-byte
 *    steps up to 128, then four classes per doubling (160, 192, 224, 256,
 *    320, ... 1024, 1280, ... 57344, 65536).  FreeBSD has 14 classes, the
 *    powers of two and 384; the finer table halves the waste of sizes
 *    spread over 1..4096 (bench/kmalloc.sh measures it) at no cost on the
 *    fast path, which finds the zone's cache in the thread's tcache with
 *    one table look-up: by size up to 1024 bytes, by 256-byte steps above
 *    (every class boundary there is a multiple of 256).  Each class is served by a uma zone named after its size
 *    and flagged UMA_ZONE_MALLOC (so that totals do not count the bytes both as
 *    a zone's and as a type's).  Larger requests take whole pages of the
 *    map (class KMC_LARGE); their first page's page-table word points at a
 *    small record {address, pages, requested size, type}.
 *
 * 2. Types and the tag of every item
 *
 *    MALLOC_DEFINE makes a struct malloc_type and a constructor that
 *    registers it: the type gets an index (1..MT_MAX-1; 0 means "no type")
 *    and a struct mt_type with its totals.  Every small item carries its
 *    type's index out of band, in a uint16_t per item in the slab header
 *    (uma keeps uk_itemmeta bytes per item there, off the item's pages):
 *    kmalloc() writes it, kfree() checks it against the type it is given and
 *    sets it back to MT_TAG_FREE.  So kfree() catches, in one comparison, a
 *    free with the wrong type and a double free (the tag is MT_TAG_FREE),
 *    and the per-type counts cannot drift.  No tag is 0, so a match also
 *    says that the type has an index.  Through the page table kfree() also
 *    catches addresses kmem never gave, interior pointers and frees of
 *    pages that are not kmalloc's; each aborts with one line naming
 *    address, zone or type and fault.
 *
 *    The common kmalloc() and kfree() are leaf functions that tail-call
 *    their slow paths.  kmalloc() pops an item from the thread's cache of
 *    the zone and writes the tag through the address the bucket keeps
 *    beside the item (uma_int.h, section 3): no page-table look-up.
 *    kfree() makes one page-table look-up (class KPT_MSLAB says "a block
 *    of a kmalloc zone"), finds the item's index by a reciprocal
 *    multiplication with the slab header's copy of the keg's magic
 *    (kmalloc slabs have no waste, so any address falls in an item),
 *    makes one comparison for "start of the item" and one for "tagged
 *    with this type", writes the free-item key into the item (uma_int.h,
 *    section 3: the next kmalloc() that pops it checks it, and catches a
 *    write after the free) and pushes the item and its tag's address on
 *    the cache; anything else goes to kfree_slow(), which finds and names
 *    the fault.

 *    A type that still holds memory when it unregisters keeps its index
 *    (items tagged with it must never match a new type); indices of types
 *    that hold nothing are reused.
 *
 * 3. Statistics
 *
 *    Each thread counts, per type and per size class, allocations and frees
 *    in a per-thread block (struct mt_tblock) that grows with the largest
 *    type index the thread used: for each class an array of allocations
 *    by type index and one of frees.  The thread's cache line of each
 *    kmalloc zone (struct uma_cache, uc_uallocs, uc_ufrees, uc_ucapm1)
 *    points at that class's two arrays, so the fast paths count with the
 *    base pointer they already hold for the zone's cache: one load and
 *    one increment, and "1 <= index <= uc_ucapm1" is the one comparison
 *    that also says the type is registered and kmalloc set up (a line that
 *    points nowhere has uc_ucapm1 0).  The slow paths point a thread's
 *    lines at its block when either is new, and at nothing when the
 *    thread exits.  A read sums the blocks of all threads and what exited
 *    threads left in the type's totals; in-use counts and bytes follow
 *    from allocations less frees per class.  Large
 *    allocations, rare and slow anyway, are counted in the type's atomic
 *    totals with their exact sizes.  The high-water mark is the most bytes
 *    in use that a statistics read, a large allocation or a failed
 *    allocation (every type's, at most every 10 ms) has seen.
 *
 * 4. Lock order
 *
 *    km_startup_lock (kmalloc's set-up) -> uma's and the map's locks.
 *    mt_lock (types and thread blocks) -> uma's and the map's locks.
 *
 * 5. fork()
 *
 *    km_startup_lock is held while the kmalloc zones are made, which
 *    allocates, so it comes before the data locks of every layer (rank
 *    KP_FORK_MALLOC_SETUP in prim.h); mt_lock comes right before uma's
 *    (rank KP_FORK_MALLOC).  The child releases both.  The count blocks of
 *    the threads that do not exist in the child stay on mt_tblocks and are
 *    summed as before: the blocks those threads allocated are still
 *    allocated in the child, so the per-type figures stay exact.
 */
#ifndef KMEM_MALLOC_INT_H
#define KMEM_MALLOC_INT_H

#include <sys/queue.h>

#include <kmem/malloc.h>
#include <stdatomic.h>

#include "../kmem/kmem_int.h"
#include "../uma/uma_int.h"

#define KM_NCLASSES 44      /* kmalloc zones */
#define KM_LARGE KM_NCLASSES /* the class index of large allocations */
#define KM_MAXSMALL 65536   /* largest size served by a zone */
#define MT_MAX 4096         /* malloc types at most (tags are uint16_t) */
#define MT_NAME_MAX 32      /* bytes of a type name kept, with its NUL */
#define MT_TAG_FREE 0xffff  /* the tag of a free item (uma's initial
			       metadata): neither a type's index nor 0 */
_Static_assert(MT_MAX <= MT_TAG_FREE, "type indices are never MT_TAG_FREE");
_Static_assert(MT_TAG_FREE == (UMA_ITEMMETA_INIT << 8 | UMA_ITEMMETA_INIT),
    "new slabs' tags read MT_TAG_FREE");

#define KM_TABMAX 1024     /* sizes the fast path finds by one look-up */

/*
 * A thread's counts, for types 0..mb_cap-1: for each class, an array of
 * allocations by type index, then one of frees (mt_allocs(), mt_frees()).
 */
struct mt_tblock {
	LIST_ENTRY(mt_tblock) mb_link; /* mt_tblocks, under mt_lock */
	uint32_t mb_cap;               /* types covered */
	uint32_t mb_bytes;             /* bytes of this block */
	uint64_t mb_counts[];          /* 2 * KM_NCLASSES arrays of mb_cap */
};
#define MT_TB_WORDS(cap) ((size_t)2 * KM_NCLASSES * (cap))

/* Allocations of class cls in tb, by type index. */
static inline uint64_t *
mt_allocs(const struct mt_tblock *tb, int cls)
{
	return ((uint64_t *)tb->mb_counts + (size_t)2 * cls * tb->mb_cap);
}

/* Frees of class cls in tb, by type index. */
static inline uint64_t *
mt_frees(const struct mt_tblock *tb, int cls)
{
	return ((uint64_t *)tb->mb_counts + ((size_t)2 * cls + 1) * tb->mb_cap);
}

/* kmem's bookkeeping of one type. */
struct mt_type {
	struct malloc_type *mt_public;   /* the caller's struct, or NULL once
					    unregistered */
	char mt_name[MT_NAME_MAX];       /* copy of ks_shortdesc */
	uint32_t mt_index;               /* its index */
	bool mt_live;                    /* registered */
	/* totals folded from exited threads and large allocations */
	_Atomic uint64_t mt_allocs[KM_NCLASSES + 1];
	_Atomic uint64_t mt_frees[KM_NCLASSES + 1];
	_Atomic uint64_t mt_large_bytes; /* bytes of large allocations live */
	_Atomic uint64_t mt_failures;    /* allocations that returned NULL */
	_Atomic uint64_t mt_hwm;         /* high-water mark of bytes in use */
};

/* A large allocation (its first page's page-table word points here). */
struct km_large {
	_Alignas(32)
	void *kl_addr;                  /* the block: its first page, or inside
					   its pages under memguard */
	size_t kl_pages;                /* pages of the block */
	size_t kl_size;                 /* bytes asked for */
	size_t kl_usable;               /* bytes from kl_addr that are its */
	void *kl_base;                  /* memguard: first page of the run
					   (guard page included) */
	uint32_t kl_type;               /* type index */
	uint8_t kl_guard;               /* 0, or KL_GUARD_* (memguard) */
};

/* Snapshot of one type, for memstat. */
struct mt_stats {
	char ms_name[MT_NAME_MAX];
	uint64_t ms_numallocs;
	uint64_t ms_numfrees;
	uint64_t ms_count;     /* in use */
	uint64_t ms_bytes;     /* bytes in use */
	uint64_t ms_hwm;       /* high-water mark of bytes */
	uint64_t ms_failures;
	uint64_t ms_sizemask;  /* bit c: class c used (vmstat's Size(s)) */
	bool ms_live;
};

/*
 * For the preload shim (src/shim), whose free() and realloc() are not told
 * the type.  kmalloc_aligned() returns a block whose address is a multiple
 * of align (a power of two): a kmalloc class whose size is a multiple of
 * align, or whole pages of the map.  kfree_any() and krealloc_any()
 * validate the address as kfree() does (foreign, interior, double free
 * abort with one line) and take the type from the block's tag; a block
 * realloc moves keeps its type (type is used for addr NULL only).
 */
bool kmalloc_init(void); /* sets the map and the kmalloc zones up */
void kfree_any_slow(void *addr, const char *fn); /* fn names the caller */
void *kmalloc_aligned(size_t size, size_t align, struct malloc_type *type,
    int flags);
void kfree_any(void *addr);
void *krealloc_any(void *addr, size_t size, struct malloc_type *type,
    int flags);
/* ---- the fast paths, shared with the preload shim ------------------------- */

/*
 * The benchmark build KMEM_BENCH_NO_TYPE_STATS leaves the counting out, to
 * measure its cost; no product build does.
 */
#ifdef KMEM_BENCH_NO_TYPE_STATS
#define MT_COUNTING 0
#else
#define MT_COUNTING 1
#endif

/*
 * The fast path's class look-up: for each size 0..KM_TABMAX, the byte
 * offset of its zone's cache from the first slot of a tcache (0, the slot
 * that stays empty, until kmalloc is set up); above, by 256-byte steps.
 */
extern uint16_t km_slotoff[KM_TABMAX + 1];
extern uint16_t km_slotoff256[KM_MAXSMALL / 256 + 1];
void *kmalloc_slow(size_t size, struct malloc_type *type, int flags);
/* kmalloc_slow() of the type of index idx (a registered one). */
void *kmalloc_slow_idx(size_t size, uint32_t idx, int flags);

/*
 * The fast paths' test of the type: an index this thread's line of the
 * zone counts (so a registered type, and kmalloc is set up), or with the
 * counting compiled out any registered type.
 */
static inline bool
mt_fast_ok(const struct uma_cache *c, uint32_t idx)
{
	if (MT_COUNTING)
		return (idx - 1 < c->uc_ucapm1);
	return (idx != 0);
}

/*
 * kmalloc() and the preload shim's malloc(): the fast path inline, the
 * rest in kmalloc_slow().  The shim passes its type as the index only
 * (type NULL, idx its ks_index, never 0): its slow path is then
 * kmalloc_slow_idx().
 */
static KP_ALWAYS_INLINE void *
kmalloc_fast(size_t size, struct malloc_type *type, uint32_t idx, int flags)
{
	size_t slot;

	/*
	 * Inline: sizes of the kmalloc zones, a type this thread counts already
	 * (so kmalloc is set up), an item in the zone's cache, no M_ZERO (the
	 * kmalloc zones have no ctor: M_ZERO is all their uz_allocslow holds).
	 * Everything else, and every failure, is kmalloc_slow()'s.
	 */
	if (KP_LIKELY(size <= KM_TABMAX))
		slot = __atomic_load_n(&km_slotoff[size], __ATOMIC_RELAXED);
	else if (size <= KM_MAXSMALL)
		slot = __atomic_load_n(&km_slotoff256[(size + 255) / 256],
		    __ATOMIC_RELAXED);
	else
		goto slow;
	struct uma_cache *c = (struct uma_cache *)((char *)uma_tc->tc_cache + slot);
	size_t n = c->uc_acnt;
	if (type != NULL)
		idx = __atomic_load_n(&type->ks_index, __ATOMIC_RELAXED);
	if (KP_UNLIKELY(n == 0 || (flags & M_ZERO) != 0 || !mt_fast_ok(c, idx)))
		goto slow;
	n--;
	UMA_STAT_STORE(c->uc_acnt, n);
	UMA_STAT_INC(c->uc_allocs);
	void *item = c->uc_aitems[n];
	/* The bucket has the address of the item's tag beside it. */
	uint16_t *tag = *uma_cache_ameta(c, n);
	/*
	 * The block the next call hands out comes into the cache while the
	 * caller works: its key is read then, and the caller writes it.  (With
	 * n 0 the word read is the bucket's own, before its items; a prefetch
	 * never faults.)
	 */
	__builtin_prefetch(c->uc_aitems[(ptrdiff_t)n - 1], 1);
	uint64_t *counts = c->uc_uallocs;
	/*
	 * A free item that lost its key was written after its free.  (What
	 * the bucket and the cache hold is read first: the item's words might
	 * be anything as far as the compiler knows.)
	 */
	if (KP_UNLIKELY(!uma_mkey_ok(item)))
		return (uma_mkey_fail(item));
	uma_mkey_clear(item);
	*tag = (uint16_t)idx;
	if (MT_COUNTING)
		UMA_STAT_INC(counts[idx]);
	return (item);
slow:
	if (type != NULL)
		return (kmalloc_slow(size, type, flags));
	return (kmalloc_slow_idx(size, idx, flags));
}

static KP_ALWAYS_INLINE void *
kmalloc_inline(size_t size, struct malloc_type *type, int flags)
{
	return (kmalloc_fast(size, type, 0, flags));
}

/*
 * kfree_any() and the preload shim's free(): the fast path inline, the
 * rest in slow (kfree_any_slow() or a caller's that ends there).
 */
static inline void
kfree_any_inline(void *addr, void (*slow)(void *, const char *))
{
	uintptr_t e = kmem_pt_get(addr) - KPT_MSLAB;

	/* kfree()'s fast path, with the type read from the block's tag. */
	if (KP_UNLIKELY((e & (((uintptr_t)1 << KPT_SHIFT) - 1)) != 0))
		return (slow(addr, "free"));
	struct uma_slab *slab = (struct uma_slab *)e;
	uintptr_t off = (uintptr_t)addr - (uintptr_t)slab->us_data;
	uintptr_t i;
	bool start = uma_slab_mindex(slab, off, &i);
	uint16_t *tag = (uint16_t *)slab->us_meta + i;
	uint32_t idx = *tag;
	struct uma_cache *c = (struct uma_cache *)((char *)uma_tc + slab->us_cacheoff);
	size_t n = c->uc_acnt, ent = c->uc_aentries;
	/*
	 * "1 <= idx <= uc_ucapm1" also turns away a free block's tag
	 * (MT_TAG_FREE is larger than any capacity) and a thread that counts
	 * nothing yet (uc_ucapm1 0).
	 */
	if (KP_UNLIKELY(!start || n >= ent ||
	    (MT_COUNTING ? idx - 1 >= c->uc_ucapm1 : idx - 1 >= MT_MAX - 1)))
		return (slow(addr, "free"));
	void **items = c->uc_aitems;
	*tag = MT_TAG_FREE;
	uma_mkey_set(addr);
	UMA_STAT_STORE(c->uc_acnt, (uint32_t)n + 1);
	items[n] = addr;
	items[UMA_BUCKET_METAOFF + n] = tag;
	if (MT_COUNTING)
		UMA_STAT_INC(c->uc_ufrees[idx]);
}

/* fork() (section 5). */
void malloc_prefork_setup(void);  /* rank KP_FORK_MALLOC_SETUP */
void malloc_postfork_setup(void); /* parent and child */
void malloc_prefork(void);        /* rank KP_FORK_MALLOC */
void malloc_postfork(void);       /* parent and child */

/* Calls fn for every type with an index, under mt_lock. */
void mt_foreach(void (*fn)(const struct mt_stats *st, void *arg), void *arg);
/* The name of the type of index idx ("?" if none); never locks. */
const char *mt_name_of(uint32_t idx);
/* The size of kmalloc class i. */
uint32_t km_class_size(int cls);

#endif /* KMEM_MALLOC_INT_H */
