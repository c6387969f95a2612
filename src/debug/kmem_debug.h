/*
 * kmem_debug.h -- the debug layer: trash checks, redzones, failure
 * injection, memguard, and annotations for valgrind and AddressSanitizer.
 * Not for use outside kmem.
 *
 * 1. Switches
 *
 *    Each mode is a tunable read once, when a zone is made (trash) or when
 *    kmalloc is set up (redzone); both refuse to change after first use.
 *    A mode does not add a test to any fast path: a zone it covers is made
 *    without a per-thread cache slot (uz_id UMA_SLOT_NONE), so every
 *    allocation and free of it already takes the slow path, where the
 *    checks are.  Off, nothing of this layer runs.
 *
 * 2. Trash (trash=1)
 *
 *    A free item of a covered zone holds KDBG_JUNK in every 32-bit word.
 *    uma fills an item when it goes back to its slab (after the free was
 *    validated: a double free or a foreign pointer aborts before anything
 *    is written) and when a new slab is made, and checks it when it leaves
 *    the slab again, before init and ctor run.  The items of the kmalloc
 *    zones keep, in their last 8 bytes, the index of the malloc type that
 *    freed them (as FreeBSD's mtrash does), so a modification names the
 *    type that last used the memory.  Covered: callers' zones whose keg has
 *    no init or fini (those keep state across a free) and no
 *    UMA_ZONE_ZINIT, and the kmalloc zones; kmem's own zones are not.
 *    Without caches a free item is always in its slab, so every free item
 *    is checked by kmem_check().
 *
 *        free item:   | junk ... junk | (kmalloc zones) type index, 8 bytes |
 *
 * 3. Redzones (redzone=1)
 *
 *    kmalloc(size) takes an item of the class of size + KDBG_RZ_OVERHEAD and
 *    returns the address KDBG_RZ_FRONT bytes into it:
 *
 *        | front guard | size bytes        | back guard ...      |
 *        0             32                  32 + size             rsize
 *
 *    The guards hold KDBG_RZ_BYTE.  The record (struct kdbg_rz, kept off the
 *    item in a zone of its own, in a hash table of every live block by
 *    address) keeps the block's size, type and the call stack of the
 *    allocation (backtrace(3)).  kfree() checks both guards before the block goes back;
 *    kmem_check() checks every block on the list.  Blocks larger than the
 *    largest kmalloc zone less the overhead are whole pages and have no
 *    redzones.
 *
 * 4. Lock order
 *
 *    rz_lock (the live blocks) is a leaf: records are allocated before it
 *    is taken and freed after it is dropped.
 *
 * (Failure injection and memguard.)
 * Everything here is off unless a tunable turns it on, and costs nothing on
 * the fast paths then: the layers below divert requests to their slow
 * paths through flags those fast paths test anyway, and only the slow
 * paths call in here.
 *
 * 5. Failure injection (failure_rate, failure_seed, failure_only)
 *
 *    One counter per process counts the M_NOWAIT requests that may fail:
 *    those of the zones callers create (uma_zcreate, uma_zsecond_create),
 *    of kmalloc (small and large) and of kmem_malloc / kmem_arena_malloc.
 *    With failure_seed 0 the request that brings the counter to a multiple
 *    of failure_rate fails; with a seed, a request fails when a hash of the
 *    seed and the counter is a multiple of failure_rate, one in N on
 *    average, in the same pattern at every run.  failure_only limits it to
 *    the malloc type, zone or map region of that name (requests of other
 *    names are not counted).  M_WAITOK requests never fail and are not
 *    counted.  A failure is counted where a real one is: the zone's
 *    uz_fails, the type's mt_failures, the region's kr_nfailures, so
 *    kmemstat shows it.
 *
 *    Diversion: a caller's zone that injection applies to gets M_NOWAIT in
 *    uz_allocslow and UMA_ZFLAG_FAILINJ in uz_flags at creation; with
 *    failure_rate or memguard set, kmalloc's size-to-cache tables are left
 *    pointing at slot 0 (always empty), so every kmalloc() reaches
 *    kmalloc_slow(), which asks kdbg_fail_now() and kdbg_guarded().
 *    kmem_malloc() is never inline and asks directly.
 *
 *    fail_reserve and fail_commit arm the platform's kp_inject_every() once
 *    the map is set up, so that the map's and the zones' own NULL paths run
 *    (a commit the system refuses, an arena that cannot grow).
 *
 * 6. memguard (memguard, memguard_before, memguard_delay)
 *
 *    Every kmalloc() of a malloc type named in memguard gets pages of its
 *    own from the map, one more than it needs, the extra one made
 *    inaccessible: the guard page.  The block sits at the end of its pages
 *    (rounded down to 16 bytes), so a write past its end faults on the
 *    guard page; memguard_before puts the guard page first and the block
 *    at the start of the page after it, to catch underruns.
 *
 *        after (default):  | .. slack .. block | guard |
 *        before:           | guard | block .. slack .. |
 *
 *    The block is a large kmalloc allocation (page-table class KMC_LARGE)
 *    whose struct km_large has kl_guard set, and every page of the run,
 *    guard page included, points at that record, so kfree() validates it
 *    as it validates any large block and the fault handler finds it from
 *    any address in the run.  kfree() makes the pages inaccessible, marks
 *    the record freed and queues it on a FIFO of memguard_delay records;
 *    only when it falls off the FIFO are its pages given back to the map.
 *    A use after free in the meantime faults at the offending instruction;
 *    a second kfree() is a double free.
 *
 *    Every item of a zone named in memguard (made by uma_zcreate(), not
 *    UMA_ZONE_NOFREE) is guarded the same way, by uma (uma_int.h, section
 *    10): its keg has one item per slab and a guard page, the item ends at
 *    the guard page exactly (its size rounded up to the zone's alignment)
 *    or starts right after it, and a freed item's slab goes on the same
 *    FIFO.  kmalloc's zones ("16", "32", ...) are never guarded this way:
 *    a name matches them only as a malloc type.  A name that matches no
 *    type or zone guards nothing; a zone made later under that name is
 *    guarded.
 *
 *    The FIFO holds (record, release function) pairs, so a zone item can
 *    push a kmalloc block off it and the other way round; uma_zdestroy()
 *    takes its keg's slabs off it (memguard_purge()).
 *
 *    The fault handler (kp_fault_handler(), installed when memguard is on)
 *    looks the address up in the page table and prints one line:
 *
 *        memguard: use after free of ADDR (SIZE bytes, type NAME) at ADDR+OFF
 *        memguard: overflow past ADDR (SIZE bytes, type NAME) by N bytes
 *        memguard: underflow before ADDR (SIZE bytes, type NAME) by N bytes
 *
 *    ("zone NAME" for a zone item, the zone that owns the keg), then lets
 *    the signal end the process.  Faults elsewhere go to the handler that
 *    was installed before.
 *
 * 7. Locks (failure injection and memguard)
 *
 *    mg_lock guards the FIFO; it is taken by kfree() of a guarded block
 *    and by uma_zfree() of a guarded item, with no other lock held, and
 *    released before a run that fell off is given back to the map.  The
 *    counters are atomic.
 *
 * 8. Valgrind and AddressSanitizer (annotations)
 *
 *    With the annotations on, the blocks of kmalloc and the items of the
 *    callers' zones look like heap blocks to the tool: a free one cannot
 *    be touched, an allocated one can in its requested bytes only.  They
 *    are on in a build with -fsanitize=address (always), and in a build
 *    that found valgrind/memcheck.h when the program runs under memcheck
 *    (kdbg_init() asks once: RUNNING_ON_VALGRIND, then a request only
 *    memcheck answers, so callgrind and the other tools see kmem as it
 *    runs normally).  kdbg_annot_on says so; it is set before any zone is
 *    made.
 *
 *    Diversion: as for trash and redzones (section 1), the zones covered
 *    get no per-thread cache slot and kmalloc's size tables stay pointing
 *    at slot 0, so every allocation and free takes a slow path, where the
 *    annotations are, and the fast paths carry no instruction for them.
 *    Covered: the kmalloc zones, large kmalloc blocks and the zones
 *    callers make; kmem's own zones (inline headers or
 *    UMA_ZFLAG_INTERNAL) hold its metadata and are not.
 *
 *    States of an item (uk_annot kegs):
 *
 *        in its slab       no access (a new slab's items, once init and
 *                          the trash fill ran; every item back in its slab)
 *        taken by uma      accessible, undefined (defined when an init or
 *                          UMA_ZONE_ZINIT made it), for init, ctor, M_ZERO
 *        handed out        a heap block of the size asked for (uma: the
 *                          zone's item size; kmalloc: the requested size,
 *                          the rest of the item no access)
 *        being freed       the block is freed, then the whole item is
 *                          accessible and defined for kmem's checks (dtor,
 *                          fini, redzones, trash), until it is in its slab
 *
 *    kmem's own reads and writes of a free item (trash fill and check,
 *    kmem_check()'s walk of guards) open the item around the access.
 *
 *    Valgrind: a block handed out is VALGRIND_MALLOCLIKE_BLOCK (memcheck
 *    records the allocation's stack, marks it undefined or defined, and
 *    counts it in the leak summary), a free VALGRIND_FREELIKE_BLOCK
 *    (memcheck records the free's stack and reports a later access as
 *    inside a freed block); the other states are VALGRIND_MAKE_MEM_*.
 *    The malloclike pair fits better than a mempool: kmem's slabs are not
 *    heap blocks of anyone, and each block is allocated and freed on its
 *    own.  AddressSanitizer: a block handed out is unpoisoned for its
 *    requested bytes, the rest of its item poisoned, so that one byte past
 *    kmalloc(n) is a report; free and no-access items are poisoned
 *    (reported as use-after-poison).  Pages going back to the system are
 *    unpoisoned by the platform, so memory reused by any layer starts
 *    clean.
 *
 *    The requested size of a small kmalloc block is kept in the slab
 *    header (the kmalloc zones' per-item metadata has a second array, of
 *    uint32_t, after the tags); kzfree() clears the block's bytes,
 *    kmalloc_usable_size() hands the caller the whole item (the block
 *    grows to it) and a krealloc() in place resizes the block.  Under
 *    memcheck a small block starts KDBG_VG_FRONT bytes into its item, as
 *    with redzones, so that the slab header's pointer to its first item
 *    is no pointer to a block: a block never freed is "definitely lost".
 *    A large block is at the start of its pages, which its record points
 *    at: one never freed shows as "still reachable"; and so does, for the
 *    same reason, the first item of a zone's slab.
 */
#ifndef KMEM_DEBUG_H
#define KMEM_DEBUG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../platform/options.h"

/* Built with AddressSanitizer (section 8). */
#if defined(__SANITIZE_ADDRESS__)
#define KDBG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KDBG_ASAN 1
#endif
#endif
#ifndef KDBG_ASAN
#define KDBG_ASAN 0
#endif

#if KDBG_ASAN
#include <sanitizer/asan_interface.h>
#elif defined(KMEM_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

#define KDBG_JUNK 0xdeadc0deu /* every word of a free item (trash) */
#define KDBG_RZ_BYTE 0xfdu    /* every byte of a redzone */
#define KDBG_RZ_FRONT 32      /* bytes before a redzoned block */
#define KDBG_RZ_BACK 16       /* guard bytes after it, at least */
#define KDBG_RZ_OVERHEAD (KDBG_RZ_FRONT + KDBG_RZ_BACK)
#define KDBG_RZ_FRAMES 12     /* call-stack frames kept per block */
#define KDBG_TRASH_TAIL 8     /* kmalloc zones: the type index at the end */
#define KDBG_VG_FRONT 16      /* memcheck: bytes before a small kmalloc block */

static inline bool
kdbg_trash_enabled(void)
{
	return (kopt.trash);
}

/*
 * Fills a free item of size bytes with junk; with mtype (a kmalloc zone)
 * its last KDBG_TRASH_TAIL bytes get lastuse, the type index.
 */
void kdbg_trash_fill(void *item, size_t size, bool mtype, uint32_t lastuse);

/*
 * Checks a free item's junk.  On a change: with fatal, aborts with
 * "memory modified after free ADDR (SIZE, ZONE) + OFFSET = VALUE"; else
 * prints that line and returns false.
 */
bool kdbg_trash_check(const void *item, size_t size, const char *zone,
    bool mtype, bool fatal);

static inline bool
kdbg_redzone_enabled(void)
{
	return (kopt.redzone);
}

/* Makes the zone of the records; when kmalloc is set up with redzone=1. */
bool kdbg_rz_init(void);
/*
 * Guards a new block in item (rsize bytes) of size bytes asked for by type;
 * returns the address to hand out, or NULL (no memory for the record).
 */
void *kdbg_rz_arm(void *item, size_t rsize, size_t size, uint32_t type,
    int flags);
/*
 * Checks a block's guards at its free (aborts naming fn on damage), forgets
 * its record and returns its item.
 */
void *kdbg_rz_disarm(const char *fn, void *addr);
/* The size asked for of the live block at addr. */
size_t kdbg_rz_size(const void *addr);

/* uma's part of kmem_check(): the junk of every free item; problems found. */
int uma_check_trash(void);
/* kmalloc's part: the guards of every live redzoned block. */
int km_check_redzones(void);


struct km_large;

/* Set by kdbg_init(); read by the slow paths only. */
extern atomic_bool kdbg_fail_on;     /* failure_rate is set */
extern atomic_bool kdbg_memguard_on; /* memguard names something */

/* Reads the tunables; run once the map is set up. */
void kdbg_init(void);

/* ---- failure injection ------------------------------------------------- */

/* Whether failure injection applies to requests of name. */
bool kdbg_fail_applies(const char *name);
/*
 * Whether this request of name must fail: M_NOWAIT, injection applies to
 * name and the counter says so.  Call only when kdbg_fail_on.
 */
bool kdbg_fail_now(const char *name, int flags);
/* Failures injected so far, and requests counted. */
uint64_t kdbg_fail_injected(void);
uint64_t kdbg_fail_counted(void);

/*
 * Whether kmalloc() must always take its slow path (failure injection,
 * memguard or the annotations are on).
 */
bool kdbg_kmalloc_divert(void);

/* ---- memguard ---------------------------------------------------------- */

#define KL_GUARD_LIVE 1  /* kl_guard: a guarded block in use */
#define KL_GUARD_FREED 2 /* ... freed, on the FIFO */

/* Whether name (a malloc type or a zone) is guarded. */
bool kdbg_guarded(const char *name);
/*
 * Takes pages for a guarded block of size bytes and fills rec's kl_addr,
 * kl_base, kl_pages, kl_usable and kl_guard; enters the run in the page
 * table.  Returns the block, or NULL (errno ENOMEM).
 */
void *memguard_alloc(struct km_large *rec, size_t size, int flags);
/*
 * Frees a guarded block: its pages become inaccessible and rec goes on the
 * FIFO; release(rec) runs when it falls off (memguard_defer()).
 */
void memguard_free(struct km_large *rec, void (*release)(void *rec));
/* Gives the pages of a guarded block back to the map (not rec itself). */
void memguard_large_release(struct km_large *rec);
/*
 * Queues a freed guarded run whose pages are inaccessible already; once
 * memguard_delay more runs have been freed (at once with 0), release(rec)
 * gives its pages back.  release runs without any lock of memguard's.
 */
void memguard_defer(void *rec, void (*release)(void *rec));
/*
 * Takes off the FIFO every run queued with release for which take(rec,
 * arg) is true; take keeps the record, the caller releases it.  take runs
 * under mg_lock: it must not lock or allocate.
 */
void memguard_purge(void (*release)(void *rec), bool (*take)(void *rec,
    void *arg), void *arg);

/* ---- valgrind and AddressSanitizer (section 8) --------------------------- */

/* Set by kdbg_init(): running under memcheck (or built with ASan). */
extern atomic_bool kdbg_annot_on;

/* Whether blocks and items are annotated; constant false without a tool. */
static inline bool
kdbg_annotating(void)
{
#if KDBG_ASAN
	return (true);
#elif defined(KMEM_HAVE_VALGRIND)
	return (atomic_load_explicit(&kdbg_annot_on, memory_order_relaxed));
#else
	return (false);
#endif
}

/*
 * Bytes from the start of a small kmalloc item to its block: the front
 * guard with redzones; under memcheck KDBG_VG_FRONT, so that no pointer
 * of kmem's (a slab header's to its first item) points at a block and
 * hides it from the leak check (section 8).
 */
static inline size_t
kdbg_km_front(void)
{
	if (kdbg_redzone_enabled())
		return (KDBG_RZ_FRONT);
#if !KDBG_ASAN && defined(KMEM_HAVE_VALGRIND)
	if (kdbg_annotating())
		return (KDBG_VG_FRONT);
#endif
	return (0);
}

/* n bytes at p may not be touched (a free item, slack). */
static inline void
kdbg_mem_noaccess(const void *p, size_t n)
{
#if KDBG_ASAN
	ASAN_POISON_MEMORY_REGION(p, n);
#elif defined(KMEM_HAVE_VALGRIND)
	if (kdbg_annotating())
		(void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
#else
	(void)p;
	(void)n;
#endif
}

/* n bytes at p are kmem's to use; their contents are defined or not. */
static inline void
kdbg_mem_open(const void *p, size_t n, bool defined)
{
#if KDBG_ASAN
	(void)defined;
	ASAN_UNPOISON_MEMORY_REGION(p, n);
#elif defined(KMEM_HAVE_VALGRIND)
	if (!kdbg_annotating())
		return;
	if (defined)
		(void)VALGRIND_MAKE_MEM_DEFINED(p, n);
	else
		(void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#else
	(void)p;
	(void)n;
	(void)defined;
#endif
}

/*
 * A block of size bytes at block, inside item (rsize bytes), is handed out;
 * its contents are defined (M_ZERO, a zone's init) or not.
 */
static inline void
kdbg_block_alloc(void *item, size_t rsize, void *block, size_t size,
    bool defined)
{
#if KDBG_ASAN
	(void)defined;
	ASAN_POISON_MEMORY_REGION(item, rsize);
	ASAN_UNPOISON_MEMORY_REGION(block, size);
#elif defined(KMEM_HAVE_VALGRIND)
	if (!kdbg_annotating())
		return;
	(void)VALGRIND_MAKE_MEM_NOACCESS(item, rsize);
	VALGRIND_MALLOCLIKE_BLOCK(block, size, 0, defined);
#else
	(void)item;
	(void)rsize;
	(void)block;
	(void)size;
	(void)defined;
#endif
}

/*
 * The block at block, inside item (rsize bytes), is freed; the item stays
 * accessible to kmem until it is back in its slab (kdbg_mem_noaccess()).
 */
static inline void
kdbg_block_free(void *block, void *item, size_t rsize)
{
#if KDBG_ASAN
	(void)block;
	ASAN_UNPOISON_MEMORY_REGION(item, rsize);
#elif defined(KMEM_HAVE_VALGRIND)
	if (!kdbg_annotating())
		return;
	VALGRIND_FREELIKE_BLOCK(block, 0);
	(void)VALGRIND_MAKE_MEM_DEFINED(item, rsize);
#else
	(void)block;
	(void)item;
	(void)rsize;
#endif
}

/*
 * The block at block (item of rsize bytes) of oldsize bytes now has
 * newsize: kmalloc_usable_size() and a krealloc() in place.
 */
static inline void
kdbg_block_resize(void *block, void *item, size_t rsize, size_t oldsize,
    size_t newsize)
{
#if KDBG_ASAN
	(void)oldsize;
	ASAN_POISON_MEMORY_REGION(item, rsize);
	ASAN_UNPOISON_MEMORY_REGION(block, newsize);
#elif defined(KMEM_HAVE_VALGRIND)
	(void)item;
	(void)rsize;
	if (kdbg_annotating())
		VALGRIND_RESIZEINPLACE_BLOCK(block, oldsize, newsize, 0);
#else
	(void)block;
	(void)item;
	(void)rsize;
	(void)oldsize;
	(void)newsize;
#endif
}

#endif /* KMEM_DEBUG_H */
