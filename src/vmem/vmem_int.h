/*
 * vmem_int.h -- vmem internals.  Not for use outside kmem.
 *
 * Big theory statement
 * ====================
 *
 * 1. General concepts
 *
 * 1.1 Arenas, spans and segments.  An arena (vmem_t) manages a set of
 *     integers, in units of its quantum (a power of two).  The integers are
 *     given to it as spans: ranges [start, start + size) added with
 *     vmem_add() (or at vmem_create()), or imported from a source, usually
 *     another arena, when the arena runs dry.  A span is cut into segments,
 *     each either free or allocated ("busy").  Nothing requires the integers
 *     to be addresses: an arena with base 1, size 1000 and quantum 1 is an
 *     allocator of identifiers.
 *
 * 1.2 Allocation.  vmem_alloc(size) returns the start of a busy segment of
 *     at least size (rounded up to the quantum).  vmem_xalloc() adds
 *     constraints: the start is `phase` past a multiple of `align`, the
 *     segment does not cross a multiple of `nocross`, and it lies within
 *     [minaddr, maxaddr] (maxaddr is the last integer the segment may
 *     cover).  A request with constraints finds a fit whenever one exists.
 *     Frees name the start and the size of the allocation; the free segment
 *     is merged with free neighbours, so that a span with nothing allocated
 *     is one free segment.
 *
 * 1.3 Policies.  Three ways to choose among the free segments:
 *     - instant fit (M_FIRSTFIT, the default): the first segment of the
 *       smallest free list whose every member is large enough; constant
 *       time, and within a factor of two of the best fit;
 *     - best fit (M_BESTFIT): the smallest free segment that fits;
 *     - next fit (M_NEXTFIT): the first free segment that fits at or after
 *       the last allocation, in address order, wrapping around (a rotor);
 *       it hands out identifiers in increasing order before reusing any.
 *
 * 1.4 Import.  With vmem_set_import(), an arena that has no fit calls its
 *     import function for a span of the request size (rounded up to the
 *     import quantum, and grown by what alignment constraints may waste),
 *     adds the span and retries.  The import function is called with the
 *     arena lock dropped and the request's M_NOWAIT or M_WAITOK, so an
 *     M_WAITOK import from a parent arena may sleep in the parent.  An
 *     import that does not help (the constraints are not met in the new
 *     span) is given back at once.  When a free leaves an imported span with
 *     nothing allocated, the span goes back through the release function.
 *     vmem_set_limit() bounds the arena's total span size: an import that
 *     would pass the limit is not made.
 *
 * 1.5 Waiting.  M_NOWAIT requests that find no fit return ENOMEM.  M_WAITOK
 *     requests call the reclaim function (vmem_set_reclaim()), then sleep
 *     until a free or vmem_add() makes room; the sleep times out every
 *     VMEM_WAIT_NS so that a failed import is retried (the source may have
 *     been freed into by someone else).  A request that can never fit (no
 *     span could hold it even when free, and no import could bring one)
 *     returns ENOMEM at once, M_WAITOK or not.
 *
 * 1.6 Quantum caches.  Bonwick's arenas front small sizes (up to
 *     qcache_max, at most VMEM_QCACHE_IDX_MAX quanta) with object caches of
 *     whole quanta.  Here those caches are UMA zones: the zone layer
 *     installs struct vmem_qcache_ops when the library loads, vmem_init()
 *     makes one cache-only zone per size of 1..qcache_max/quantum quanta,
 *     and vmem_alloc() and vmem_free() of those sizes go through the zone
 *     (per-thread caches, buckets), which imports segments from the arena
 *     in batches with vmem_qc_import().  Segments in the caches count as
 *     allocated in vmem_size().  When a request finds no fit, the arena
 *     drains its quantum caches and searches again before it imports,
 *     fails or sleeps.  As in FreeBSD, the caches hand out segments from
 *     VMEM_ADDR_QCACHE_MIN up, because a cache cannot tell address 0 from
 *     "nothing": an arena with qcache_max > 0 never hands out 0 for those
 *     sizes.  Without the zone layer (or when a zone cannot be made) the
 *     sizes go straight to the arena.
 *
 * 2. Implementation
 *
 * 2.1 Boundary tags.  Every span and every segment is described by a
 *     boundary tag (struct vmem_btag) of one of four types: static span,
 *     imported span, free segment, busy segment.  All tags of an arena are
 *     on one list, vm_seglist, in address order; a span's tag comes right
 *     before the segments that cut it, and the segments of a span cover it
 *     exactly.  Span tags also sit on vm_spanlist (address order), so that
 *     adding a span and the "can this ever fit" test cost O(spans).  Ends
 *     are computed inclusively (start + size - 1) so that a span may reach
 *     the last integer, VMEM_ADDR_MAX.
 *
 * 2.2 Free lists.  Free segments sit on VMEM_MAXORDER power-of-two lists:
 *     list i holds sizes of [2^i, 2^(i+1)) quanta, newest first.  A bitmap,
 *     vm_freemap, has bit i set exactly when list i is not empty.  Instant
 *     fit rounds the request up to a power of two 2^i quanta and takes the
 *     first member of the first non-empty list at or above i (a find-first-
 *     set on the bitmap): every member there is large enough.  Best fit
 *     starts at list floor(log2(quanta)), whose members may or may not fit,
 *     and scans upward; the first list holding a fit holds the smallest
 *     fit, since every member of a higher list is larger.  A constrained
 *     request tries the first member of each list like instant fit, and
 *     falls back to the exhaustive best-fit scan when those fail, so that a
 *     fit is found whenever one exists.  Next fit walks vm_seglist from the
 *     rotor, vm_rotor: the tag after the last allocation.  When a tag the
 *     rotor points at leaves the list, the rotor moves to the tag that
 *     absorbed it (coalescing) or to the next one.
 *
 * 2.3 The allocated-segment hash.  vmem_free() finds the busy tag by
 *     address in a hash table of vm_hashsize buckets (a power of two), so
 *     frees cost O(1).  An arena starts with VMEM_HASHSIZE_MIN buckets
 *     inside the vmem_t (no memory needed); when the busy segments
 *     outnumber the buckets, the table grows to the next power of two
 *     above their number, so the load stays between 1/2 and 1 (each chain
 *     link is a cache miss, so it is kept short).  Growth is a slow
 *     path run after the operation that noticed (vm_hashgrow_at), with no
 *     arena lock held: mark the arena as rehashing (so no other thread
 *     starts too), allocate the new table through the meta ops, lock, move
 *     every busy tag, unlock, free the old table through the free function
 *     that allocated it.  A thread that is itself inside a
 *     meta-ops call (vmem_meta_depth) never starts a rehash, so rehashing
 *     never nests.  If the table cannot be had, the old one stays; lookups
 *     get slower but stay correct.  Tables never shrink.
 *
 * 2.4 Where boundary tags come from (the populate problem).  A split takes
 *     up to two new tags and an import two more (span tag and free
 *     segment), VMEM_BT_MAXALLOC in all.  Every arena keeps a small cache
 *     of unused tags, vm_freetags; before any step that may create tags the
 *     arena tops it up to VMEM_BT_MAXALLOC under its own lock, in batches
 *     from the global tag pool (the pool lock nests inside the arena lock),
 *     so that the step itself cannot run short.  Frees give tags back to
 *     the cache; past VMEM_BT_MAXFREE the surplus returns to the pool.
 *     The pool starts with a static array of VMEM_BT_SEED tags, so creating
 *     the first arenas needs no memory.  When the pool cannot supply, the
 *     arena lock is dropped and the pool is grown by one page of tags from
 *     the meta ops; then the arena is relocked and the step retried from
 *     the start (the arena may have changed meanwhile).  Tags are one
 *     cache line each, which matters once an arena holds more tags than
 *     the caches do.
 *
 *     The meta ops of the map allocate from the map's own arena with
 *     vmem_xalloc(M_NOWAIT), and that nested call needs tags too.  Two rules
 *     make it always find them:
 *       - meta ops are never called with an arena lock held, so the nested
 *         call can lock any arena, including the one that ran short;
 *       - the pool keeps VMEM_BT_RESERVE tags that only the thread growing
 *         the pool may take.  Growth is serialized by a grow mutex, and the
 *         grower marks itself with a thread-local flag (vmem_bt_grower)
 *         around the meta-ops call.  A grower that runs short even of the
 *         reserve fails its nested call with ENOMEM instead of growing
 *         again: growth never recurses.
 *     If the meta ops return NULL, an M_NOWAIT operation fails with ENOMEM
 *     and an M_WAITOK one waits (on the pool's condition variable, timed)
 *     and retries.  Each tag page keeps count of its tags in the pool (its
 *     header takes the first tag slot); tags are taken from the static
 *     seed first, then from pages with tags in use, then from idle pages,
 *     so that pages empty out, and idle pages beyond VMEM_BT_IDLE_KEEP are
 *     given back to the meta ops after a free, with no arena lock held.
 *     vmem_meta_bytes() counts tag pages with the hashes and arenas.
 *
 * 2.5 Meta ops.  Metadata (tag pages, hash tables, the vmem_t of
 *     vmem_create()) comes from the meta ops installed with
 *     vmem_set_meta_ops(), by default the platform's kp_reserve() and
 *     kp_commit().  Each hash table and each vmem_t remembers the free
 *     function of the ops that allocated it and its size, so that it is
 *     returned correctly even after the ops were switched.
 *
 * 2.6 Checking.  vmem_check() walks the whole arena and aborts naming the
 *     arena and the invariant at the first fault: tags in address order,
 *     segments tiling their spans, no two free neighbours, free lists and
 *     bitmap exact, hash holding exactly the busy segments, counters exact.
 *     Programming errors (bad flags, size 0, bad constraints, freeing what
 *     was not allocated or with the wrong size, overlapping spans) abort at
 *     once with one line naming the function and the arena.
 *
 * 2.7 Lock order: see the end of this file.
 */
#ifndef KMEM_VMEM_INT_H
#define KMEM_VMEM_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <kmem/vmem.h>

#include "../platform/prim.h"

/* ---- tunable constants ------------------------------------------------ */

#define VMEM_NAME_MAX 32          /* bytes of an arena name, with its NUL */
#define VMEM_MAXORDER 64          /* free lists: one per bit of a size */
#define VMEM_HASHSIZE_MIN 16      /* buckets of the built-in hash table */
#define VMEM_HASHSIZE_MAX (1u << 22) /* largest hash table */
#define VMEM_BT_MAXALLOC 4        /* tags one allocation step may create */
#define VMEM_BT_BATCH 16          /* tags moved from the pool at a time */
#define VMEM_BT_MAXFREE 64        /* cached tags past which some go back */
#define VMEM_BT_SEED 128          /* static tags the pool starts with */
#define VMEM_BT_RESERVE 32        /* pool tags only the pool grower takes */
#define VMEM_WAIT_NS 100000000ull /* M_WAITOK sleeps at most this long */

_Static_assert(VMEM_MAXORDER <= 64, "the free bitmap is one uint64_t");
_Static_assert((VMEM_HASHSIZE_MIN & (VMEM_HASHSIZE_MIN - 1)) == 0,
    "hash sizes are powers of two");

/* ---- boundary tags ------------------------------------------------------- */

enum vmem_bt_type {
	BT_TYPE_FREE = 1,        /* free segment */
	BT_TYPE_BUSY = 2,        /* allocated segment */
	BT_TYPE_SPAN_STATIC = 3, /* span from vmem_add() or vmem_create() */
	BT_TYPE_SPAN_IMPORT = 4, /* span from the import function */
};

/* A tag is one cache line (64 bytes, aligned): a lookup touches one line. */
struct vmem_btag {
	_Alignas(64)
	TAILQ_ENTRY(vmem_btag) bt_seglist; /* vm_seglist, address order */
	LIST_ENTRY(vmem_btag) bt_link;     /* free list/hash/span list/cache */
	vmem_addr_t bt_start;              /* first integer covered */
	vmem_size_t bt_size;               /* integers covered (> 0) */
	enum vmem_bt_type bt_type;         /* what the tag describes */
};

TAILQ_HEAD(vmem_seglist, vmem_btag);
LIST_HEAD(vmem_btlist, vmem_btag);

/* ---- arenas ----------------------------------------------------------- */

typedef void(vmem_meta_free_t)(void *addr, size_t size);

struct vmem {
	/* Constant after vmem_init(): read without the lock. */
	vmem_size_t vm_quantum_mask;      /* quantum - 1 */
	int vm_quantum_shift;             /* log2(quantum) */
	int vm_flags;                     /* VMEM_F_* */
	vmem_size_t vm_qcache_max;        /* largest size sent to qc_alloc */
	char vm_name[VMEM_NAME_MAX];      /* for messages and reports */
	vmem_meta_free_t *vm_storage_free; /* frees this vmem_t, or NULL */
	size_t vm_storage_size;           /* bytes of that allocation */

	/* The lock, and what sleepers wait on. */
	kp_mutex_t vm_lock;               /* guards everything below */
	kp_cond_t vm_cv;                  /* M_WAITOK sleepers wait here */

	/* Hot: every allocation and free. */
	uint64_t vm_freemap;              /* bit i: vm_freelist[i] not empty */
	struct vmem_btlist *vm_hashlist;  /* busy segments by address */
	int vm_hashshift;                 /* 64 - log2(vm_hashsize) */
	int vm_nfreetags;                 /* length of vm_freetags */
	struct vmem_btlist vm_freetags;   /* unused tags for this arena */
	uint64_t vm_hashgrow_at;          /* grow the hash past this nbusy */
	int vm_nwaiters;                  /* threads asleep on vm_cv */
	struct vmem_btag *vm_rotor;       /* next fit starts here; NULL: head */
	vmem_size_t vm_size;              /* bytes in spans */
	vmem_size_t vm_inuse;             /* bytes in busy segments */
	uint64_t vm_nfree;                /* free segments */
	uint64_t vm_nbusy;                /* busy segments */
	uint64_t vm_nallocs;              /* successful allocations */
	uint64_t vm_nfrees;               /* frees */
	struct vmem_btlist vm_freelist[VMEM_MAXORDER]; /* free segs by order */
	struct vmem_seglist vm_seglist;   /* every tag, in address order */

	/* Colder: spans, import, waiting, the hash's own bookkeeping. */
	struct vmem_btlist vm_spanlist;   /* span tags, in address order */
	uint64_t vm_nspans;               /* spans */
	uint64_t vm_nfailures;            /* allocations that got ENOMEM */
	uint64_t vm_nwaits;               /* M_WAITOK sleeps */
	vmem_size_t vm_imported;          /* bytes in imported spans */
	vmem_size_t vm_importing;         /* bytes of imports in flight */
	vmem_size_t vm_limit;             /* imports stop at this; 0: none */
	vmem_import_t *vm_importfn;       /* brings a span, or NULL */
	vmem_release_t *vm_releasefn;     /* takes an imported span back */
	void *vm_importarg;               /* first argument of both */
	vmem_size_t vm_import_quantum;    /* imports are multiples of this */
	vmem_reclaim_t *vm_reclaimfn;     /* called before M_WAITOK sleeps */
	size_t vm_hashsize;               /* buckets (a power of two) */
	bool vm_rehashing;                /* a thread is growing the hash */
	vmem_meta_free_t *vm_hashfree;    /* frees vm_hashlist, or NULL */
	void *vm_qcache[VMEM_QCACHE_IDX_MAX]; /* quantum cache zones, by
					     size in quanta less one */
	size_t vm_hashbytes;              /* bytes of that allocation */
	struct vmem_btlist vm_hash0[VMEM_HASHSIZE_MIN]; /* the first buckets */
	LIST_ENTRY(vmem) vm_alllink;      /* vmem_arenas, under
					     vmem_arenas_lock (fork) */
};

#define VMEM_F_CREATED 0x1 /* storage from vmem_create() */

/* Allocation flag inside kmem: a quantum cache filling itself (no drain). */
#define VMEM_QCIMPORT 0x40000000

/* ---- interface to the layers above (the map) ------------------------ */

/*
 * Where vmem gets memory for its own metadata: pages of boundary tags, hash
 * tables and vmem_t structures of vmem_create().  Until the map installs its
 * own, the platform provides committed pages directly.  alloc returns
 * committed, zeroed, page-aligned memory of `size` bytes (a multiple of the
 * page size) or NULL; flags are M_NOWAIT or M_WAITOK.  alloc may itself call
 * vmem_xalloc() on an arena (the map allocates metadata from its own arena);
 * vmem guarantees such a nested call never needs metadata itself, by keeping
 * a reserve of boundary tags for it (see the big theory statement).
 * vmem keeps the pointer: the ops must stay valid (static storage).
 * vmem_set_meta_ops(NULL) restores the platform's ops.
 */
struct vmem_meta_ops {
	void *(*vmo_alloc)(size_t size, int flags); /* zeroed pages */
	vmem_meta_free_t *vmo_free;                 /* gives them back */
};
void vmem_set_meta_ops(const struct vmem_meta_ops *ops);

/*
 * Creates an arena in caller-provided storage (the map's arena is static).
 * Same arguments and behaviour as vmem_create() otherwise.
 */
vmem_t *vmem_init(vmem_t *vm, const char *name, vmem_addr_t base,
    vmem_size_t size, vmem_size_t quantum, vmem_size_t qcache_max, int flags);

/*
 * Quantum caches (theory statement, 1.6): the zone layer installs these at
 * load time.  create makes a cache-only zone whose items are segments of
 * `size` of the arena, filled and emptied with vmem_qc_import() and
 * vmem_qc_release(); NULL leaves that size uncached.  alloc returns 0 or
 * ENOMEM.  drain gives every cached segment the calling thread and the
 * zone hold back to the arena.
 */
struct vmem_qcache_ops {
	void *(*vqo_create)(vmem_t *vm, const char *name, vmem_size_t size);
	void (*vqo_destroy)(void *zone);
	int (*vqo_alloc)(void *zone, int flags, vmem_addr_t *addrp);
	void (*vqo_free)(void *zone, vmem_addr_t addr);
	void (*vqo_drain)(void *zone);
};
void vmem_set_qcache_ops(const struct vmem_qcache_ops *ops);
/* Fills store[] with up to cnt segments of size; returns how many. */
int vmem_qc_import(vmem_t *vm, vmem_size_t size, vmem_addr_t *store, int cnt,
    int flags);
/* Gives cnt segments of size back to the arena. */
void vmem_qc_release(vmem_t *vm, vmem_size_t size, const vmem_addr_t *store,
    int cnt);

/* Counters for reports and tests. */
struct vmem_stats {
	vmem_size_t vs_size;      /* bytes in spans */
	vmem_size_t vs_inuse;     /* bytes allocated */
	vmem_size_t vs_maxfree;   /* largest free segment */
	vmem_size_t vs_imported;  /* bytes imported from the source */
	uint64_t vs_nfree;        /* free segments */
	uint64_t vs_nbusy;        /* allocated segments */
	uint64_t vs_nspans;       /* spans */
	uint64_t vs_nallocs;      /* successful allocations */
	uint64_t vs_nfrees;       /* frees */
	uint64_t vs_nfailures;    /* allocations that returned ENOMEM */
	uint64_t vs_nwaits;       /* M_WAITOK sleeps */
	size_t vs_hashsize;       /* buckets in the allocated-segment hash */
};
void vmem_get_stats(vmem_t *vm, struct vmem_stats *st);

/* Bytes of metadata vmem holds (boundary tag pages, hashes, arenas). */
size_t vmem_meta_bytes(void);

/* The global boundary-tag pool, for reports and tests. */
struct vmem_bt_stats {
	uint64_t vbs_pages;    /* tag pages obtained from the meta ops */
	uint64_t vbs_tags;     /* tags in existence (seed and pages) */
	uint64_t vbs_free;     /* tags in the pool, reserve included */
	uint64_t vbs_grows;    /* pool growths attempted */
	uint64_t vbs_growfail; /* of which the meta ops returned NULL */
	uint64_t vbs_shrinks;  /* idle tag pages given back */
};
void vmem_bt_stats(struct vmem_bt_stats *st);

/*
 * Checks every invariant of the arena (tags in address order, no overlap,
 * free segments coalesced and on the right list, hash consistent, counters
 * exact).  Returns 0, or aborts with a message naming the arena and the
 * broken invariant.  Takes the arena lock; O(segments).
 */
int vmem_check(vmem_t *vm);

/*
 * fork() (prim.h): vmem_prefork_grow() takes the grow lock (rank
 * KP_FORK_VMEM_GROW, before the layers above: the meta ops it is held
 * across may run the map's low-memory handlers); vmem_prefork() takes the
 * list of arenas, every arena and the tag pool (rank KP_FORK_VMEM).  In the
 * child the condition variables are made anew and what only another thread
 * could have been doing is forgotten: its waits, a rehash (the table it was
 * getting is lost), an import in flight (the span is lost to the arena).
 */
void vmem_prefork_grow(void);
void vmem_postfork_grow(void); /* parent and child */
void vmem_prefork(void);
void vmem_postfork_parent(void);
void vmem_postfork_child(void);

/*
 * Lock order
 *
 *   vmem_bt_grow_lock        held across the meta-ops call that grows the
 *                            tag pool; taken with no arena lock held
 *     -> vmem_arenas_lock    the list of every arena (fork only: held
 *                            alone otherwise, to add or remove one)
 *       -> vm_lock           one arena at a time: the import, release and
 *                            reclaim functions and the meta ops are called
 *                            with it dropped, so an arena's lock never
 *                            nests inside another's (fork takes them all,
 *                            in list order)
 *         -> vmem_bt_pool.bp_lock   the tag pool (a leaf)
 *
 * The platform's locks are leaves below all of these.
 */

#endif /* KMEM_VMEM_INT_H */
