/*
 * kmem_int.h -- the bounded kernel map.  Not for use outside kmem.
 *
 * 1. The map
 *
 *    All memory kmem hands out comes from one range of address space of
 *    kmem_size() bytes, reserved (not committed) when kmem is first used and
 *    carved by a vmem arena, the map arena "kmem_map", with a quantum of one
 *    page.  An allocation takes a range from the arena, then commits its
 *    pages; a free decommits them (the memory goes back to the system at
 *    once) and returns the range.  Nothing outside the map grows with use:
 *    kmem's own metadata -- the page table, vmem's boundary tags and hash
 *    tables, arena structures, the zones of buckets and slab headers,
 *    thread caches -- is allocated from the map too, so kmem_size() bounds
 *    everything.  Apart from the page table, metadata comes from a second
 *    arena, kmem_meta, that imports chunks of the map (1/64 of it, 64 KiB
 *    to 2 MiB) and gives each back when it is wholly free: bookkeeping then
 *    sits in a few chunks instead of between slabs and large allocations,
 *    where it would cut the free space into small pieces.
 *
 *    The map is sized from what really exists (the second seed's lesson):
 *    the smallest of physical memory / kmem_size_scale and the cgroup memory
 *    limit, clamped to [kmem_size_min, kmem_size_max], and never more than
 *    7/8 of the address space RLIMIT_AS still leaves, since the reservation
 *    itself is address space.  kmem_size=... in KMEM_OPTIONS overrides.  If
 *    the reservation still fails, the size is halved until it succeeds or
 *    drops below kmem_size_min.  kmem_report() says which figure won.
 *
 * 2. Owners and the page table
 *
 *    Every page of the map has one word in the page table saying who owns
 *    it, so that upper layers find the owner of any pointer in O(1):
 *
 *        entry = payload << KPT_SHIFT | [KPT_TAIL] | class
 *
 *    class is one of enum kmem_class.  For a run of pages (metadata, direct
 *    kmem_malloc, large allocations) the first page holds the run's length
 *    in pages and the others KPT_TAIL and their distance to the first page.
 *    Slab pages (uma) hold a pointer to the slab on every page instead, with
 *    the class in the low bits (slab headers are 32-byte aligned).  A page
 *    that is free or inside an unused part of a submap reads KMC_FREE (0).
 *
 *        map:  | page table | dirty bits | tags | slab | free ... | submap .. |
 *        pt:   | 0 ...                   | META n=1 | SLAB p | 0 | DIRECT n=2 |
 *
 *    The page table is the first allocation from the map and maps the whole
 *    map, but not itself nor the dirty bits (a bit a page): their words
 *    would be 8 bytes for every 4 KiB of page table, pages of it that
 *    nothing else needs (96 KiB in every process with the default map), so
 *    those words stay 0 and kmem_pt_word() says KMC_META for them in
 *    messages.  It is committed at once but the system only backs the
 *    parts that are written.
 *
 * 3. Submaps
 *
 *    kmem_submap_create() takes a range of the map (counted as KMC_SUBMAP
 *    for the map) and makes a vmem arena over it, with its own bound: a
 *    submap filling up never takes memory from the rest of the map and the
 *    rest of the map filling up never takes memory from it.  Pages
 *    allocated from a submap are entered in the page table like direct
 *    allocations; which submap owns an address is found from the ranges.
 *
 * 4. Running out
 *
 *    An allocation that does not fit (or whose commit fails) runs the
 *    low-memory handlers once, without any kmem lock held, and retries.  If
 *    it still fails, M_NOWAIT returns NULL (errno ENOMEM) and counts a
 *    failure; M_WAITOK waits on the map's condition variable until a free
 *    makes room, then retries, and while waiting prints a rate-limited line
 *    naming the request, the map, how long it waited and the largest owners.
 *    A request larger than the region less what metadata and submaps hold
 *    at that moment can never fit: it fails at once with a message, for
 *    M_WAITOK too.  Nothing on these paths panics or aborts, except for
 *    the deadlock below.
 *
 *    A wait that nothing can ever end is a deadlock, not a wait: when
 *    every thread of the process (kmem's own excepted, kp_app_threads()) is
 *    inside an M_WAITOK wait -- for the map, a submap or a zone's limit --
 *    and no thread has freed map memory or left a wait for wait_deadlock_ms,
 *    no thread is left that could free anything.  The waiter that sees it
 *    first prints the map report under a first line naming the request and
 *    the region, and aborts (kp_fatal, so the statistics file says FATAL).
 *    Waiters register in km_nstuck from their first wait until their
 *    request is served; leaving bumps km_stuck_epoch.  Each waiter samples
 *    after every wait slice (kmem_wait_stuck()): the verdict needs the count
 *    of waiters to reach the count of threads at every sample of a whole
 *    grace period, with neither the free generation nor the epoch moving.
 *    A thread blocked anywhere else (a read(2), a lock of the program) is
 *    not a waiter, so it keeps the verdict away: it may free later.  kmem's
 *    own threads are not counted as threads, and they never wait.  When
 *    /proc cannot be read, the verdict is never given.
 *
 *    Lost wake-ups are avoided with a free generation: a waiter registers,
 *    then compares the generation it saw before its attempt; a free bumps
 *    the generation, then wakes waiters if there are any.  Both sides use
 *    sequentially consistent atomics, so one of them sees the other.  Waits
 *    are also bounded (KMEM_WAIT_SLICE_NS) as a safety net.
 *
 *    A request refused because the system would not commit the pages, not
 *    for want of room in the region, does not wait for a free: it tries
 *    again after KMEM_COMMIT_RETRY_NS, doubling up to half a slice, and is
 *    not counted as a waiter (the system may recover without any free).
 *
 * 5. Lock order
 *
 *    km_init_lock -> km_region_lock -> vmem arena locks -> km_wait_lock.
 *    km_lowmem_run is held while handlers run and may be followed by any
 *    other lock (handlers free memory); it is never taken recursively
 *    (a thread-local flag keeps a handler's own shortage from re-running
 *    the handlers).  km_lowmem_lock guards the handler table only and is a
 *    leaf.
 *
 * 6. fork()
 *
 *    The map's locks take two places in kmem's order around fork() (see
 *    prim.h): kmem_init_lock and km_region_lock are held across the set-up
 *    and across vmem_create() of a submap, whose metadata allocation may run
 *    the low-memory handlers (uma's locks), so they come before the layers
 *    above (kmem_prefork_setup); km_wait_lock and km_lowmem_lock are leaves
 *    and come after vmem (kmem_prefork).  km_lowmem_run is not taken: the
 *    child reinitialises it if a vanished thread held it.  The child also
 *    makes km_wait_cv anew and forgets the waiters, which were other
 *    threads.
 */
#ifndef KMEM_KMEM_INT_H
#define KMEM_KMEM_INT_H

#include <kmem/kmem.h>
#include <kmem/vmem.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../platform/options.h"
#include "../platform/prim.h"

/* Who owns a page of the map. */
enum kmem_class {
	KMC_FREE = 0,   /* not allocated */
	KMC_META = 1,   /* kmem's own metadata */
	KMC_DIRECT = 2, /* kmem_malloc()/kmem_arena_malloc() */
	KMC_LARGE = 3,  /* large kmalloc() allocations */
	KMC_SLAB = 4,   /* uma slabs */
	KMC_SUBMAP = 5, /* reserved for a submap (map accounting only) */
	KMC_NCLASSES
};

/*
 * A page-table class of its own for the slabs of the kmalloc zones, so that
 * kfree() tells its blocks from other zones' items with the one test it
 * makes anyway.  Their bytes are counted as KMC_SLAB.
 */
#define KPT_MSLAB 6
/* True for both kinds of slab page (KMC_SLAB = 4, KPT_MSLAB = 6). */
#define KPT_IS_SLAB(e) (((e) & (KPT_CLASS_MASK & ~(uintptr_t)2)) == KMC_SLAB)

#define KPT_CLASS_MASK ((uintptr_t)0xf)
#define KPT_TAIL ((uintptr_t)0x10)
#define KPT_SHIFT 5
#define KPT_CLASS(e) ((enum kmem_class)((e)&KPT_CLASS_MASK))
#define KPT_PAYLOAD(e) ((e) >> KPT_SHIFT)
#define KPT_PTR(e) ((void *)((e) & ~(((uintptr_t)1 << KPT_SHIFT) - 1)))

#define KMEM_SUBMAP_MAX 64
#define KMEM_NAME_MAX 32
#define KMEM_SIZE_FLOOR ((size_t)1 << 20)      /* smallest map */
#define KMEM_WAIT_SLICE_NS (250u * 1000 * 1000) /* longest single wait */
#define KMEM_LOWMEM_RETRY_NS (1000u * 1000 * 1000) /* handlers rerun while waiting */
#define KMEM_COMMIT_RETRY_NS (1000u * 1000) /* first retry after a commit failed */
#define KMEM_DIRTY_RING 256        /* freed ranges left committed, at most */
#define KMEM_DIRTY_MAX ((size_t)64 << 20) /* their bytes, at most */
#define KMEM_DIRTY_FLOOR ((size_t)16 << 20) /* ... beyond the live bytes' peak */
#define KMEM_DIRTY_AGE_NS (2ull * 1000 * 1000 * 1000) /* and their age */
#define KMEM_DIRTY_TRY 4           /* dirty runs a placement tries */
/*
 * A flag of kmem_region_alloc()'s callers (above the public M_ flags): the
 * caller does not need zeroed memory, so pages of a range freed dirty are
 * not cleared.
 */
#define KMEM_DIRTY_OK 0x40000000

/* A region: the whole map or one submap. */
struct kmem_region {
	vmem_t *kr_arena;                /* the arena carving it */
	char kr_name[KMEM_NAME_MAX];     /* "kmem_map" or the submap's name */
	uintptr_t kr_base;               /* first address */
	size_t kr_size;                  /* bytes */
	_Atomic size_t kr_inuse;         /* bytes allocated (submaps) */
	_Atomic uint64_t kr_nallocs;     /* successful allocations */
	_Atomic uint64_t kr_nfrees;      /* frees */
	_Atomic uint64_t kr_nfailures;   /* M_NOWAIT requests that got NULL */
	_Atomic uint64_t kr_nwaits;      /* M_WAITOK waits (slices) */
	_Atomic uint64_t kr_nneverfit;   /* requests that could never fit */
	_Atomic uint64_t kr_ncommitfail; /* commits the system refused */
};

/* The map.  One per process. */
struct kmem_map {
	/* read-mostly, set once at init */
	atomic_bool km_ready;         /* set up and usable */
	uintptr_t km_base;            /* first address of the map */
	size_t km_size;               /* kmem_size() */
	size_t km_pagesize;           /* page size */
	unsigned km_pageshift;        /* log2(page size) */
	_Atomic(uintptr_t) *km_pt;    /* page table, one word per page */
	size_t km_ptbytes;            /* bytes of the page table */
	_Atomic uint64_t *km_dirty;   /* a bit per page: free but committed */
	size_t km_dirtybytes;         /* bytes of the dirty bits */
	struct kmem_region km_map;    /* the whole map */
	struct kmem_region km_meta;   /* metadata, in chunks of the map */
	size_t km_meta_quantum;       /* bytes of a metadata chunk, at least */
	char km_tune_why[512];        /* how kmem_size was chosen */
	int km_init_error;            /* errno of a failed set-up, or 0 */
	atomic_bool km_init_failed;   /* set-up failed; not tried again */

	/* accounting of the whole map, by owner class */
	_Atomic size_t km_class_bytes[KMC_NCLASSES];

	/* submaps; the table only grows, entries are never removed */
	kp_mutex_t km_region_lock;    /* guards submap creation */
	_Atomic unsigned km_nsubmaps; /* entries in km_submaps */
	struct kmem_region km_submaps[KMEM_SUBMAP_MAX];

	/* waiting for memory */
	kp_mutex_t km_wait_lock;      /* guards the condition variable */
	kp_cond_t km_wait_cv;         /* broadcast when memory is freed */
	_Atomic unsigned km_waiters;  /* threads waiting */
	_Atomic uint64_t km_free_gen; /* bumped by every free */
	_Atomic uint64_t km_last_warn_ns; /* last "waiting" line */
	_Atomic unsigned km_nstuck;   /* threads inside an M_WAITOK wait */
	_Atomic uint64_t km_stuck_epoch; /* bumped when one leaves its wait */
	atomic_bool km_deadlock;      /* a waiter is reporting a deadlock */

	/* freed large ranges left committed (kmem_region_free_dirty()) */
	kp_mutex_t km_dirty_lock;     /* guards the ring below (a leaf) */
	_Atomic size_t km_dirty_bytes; /* bytes free in the map but committed */
	unsigned km_dirty_head;       /* oldest entry of the ring */
	unsigned km_dirty_n;          /* entries in the ring */
	struct kmem_dirty {
		uintptr_t kd_addr;    /* a range freed dirty ... */
		size_t kd_pages;      /* ... of this many pages ... */
		uint64_t kd_when;     /* ... at this time */
	} km_dirty_ring[KMEM_DIRTY_RING];
	_Atomic size_t km_live_hwm[2]; /* peak live bytes: this period, the last */
	uint64_t km_live_since;       /* when this period began */

	/* low-memory handlers */
	kp_mutex_t km_lowmem_lock;    /* guards the table */
	kp_mutex_t km_lowmem_run;     /* held while handlers run */
	struct {
		void (*lh_fn)(void *, int); /* handler */
		void *lh_arg;               /* its argument */
	} km_lowmem[KMEM_LOWMEM_MAX];
	unsigned km_nlowmem;          /* handlers registered */
	_Atomic uint64_t km_lowmem_runs; /* times the handlers ran */
};

extern struct kmem_map kmem_map_store
    __attribute__((visibility("hidden")));

/* Sets the map up if needed; 0 or errno. */
int kmem_init_slow(void);

static inline bool
kmem_ready(void)
{
	if (KP_LIKELY(atomic_load_explicit(&kmem_map_store.km_ready,
	    memory_order_acquire)))
		return (true);
	if (atomic_load_explicit(&kmem_map_store.km_init_failed,
	    memory_order_relaxed))
		return (false);
	return (kmem_init_slow() == 0);
}

/* ---- page table ---------------------------------------------------------- */

/*
 * log2 of the page size, which indexes the page table.  Where the
 * architecture fixes the page size (x86: 4 KiB; set-up checks it) it is a
 * constant, and a look-up loads no shift.
 */
#if defined(__x86_64__) || defined(__i386__)
#define KMEM_PAGE_SHIFT_FIXED 12
#define KMEM_PT_SHIFT(km) ((void)(km), KMEM_PAGE_SHIFT_FIXED)
#else
#define KMEM_PT_SHIFT(km) ((km)->km_pageshift)
#endif

/* The page table word of the page holding addr; 0 outside the map. */
static inline uintptr_t
kmem_pt_get(const void *addr)
{
	const struct kmem_map *km = &kmem_map_store;
	uintptr_t off = (uintptr_t)addr - km->km_base;

	if (KP_UNLIKELY(off >= km->km_size))
		return (0);
	return (atomic_load_explicit(&km->km_pt[off >> KMEM_PT_SHIFT(km)],
	    memory_order_relaxed));
}

/*
 * kmem_pt_get() for messages and slow paths: the pages of the page table
 * and of the dirty bits have no word of their own (their words would take
 * pages of the page table that nothing else needs), so this says
 * KMC_META for them.
 */
uintptr_t kmem_pt_word(const void *addr);

/* The page table word of addr, which must be in the map. */
static inline uintptr_t
kmem_pt_get_inmap(const void *addr)
{
	const struct kmem_map *km = &kmem_map_store;

	return (atomic_load_explicit(&km->km_pt[((uintptr_t)addr - km->km_base) >>
	    KMEM_PT_SHIFT(km)], memory_order_relaxed));
}

static inline bool
kmem_in_map(const void *addr)
{
	return ((uintptr_t)addr - kmem_map_store.km_base <
	    kmem_map_store.km_size);
}

/* Enters a run of npages pages owned by cls (head holds the length). */
void kmem_pt_set_run(void *addr, size_t npages, enum kmem_class cls);
/* Enters npages pages that all point at owner (32-byte aligned). */
void kmem_pt_set_ptr(void *addr, size_t npages, enum kmem_class cls,
    const void *owner);
/* Marks npages pages free. */
void kmem_pt_clear(void *addr, size_t npages);

/* ---- allocation for the layers above --------------------------------------- */

/*
 * Allocates size bytes (rounded up to pages) of committed, zeroed memory
 * from arena (the map arena or a submap) for owner class cls, following the
 * exhaustion protocol above.  For cls other than KMC_SLAB the pages are
 * entered as a run; slab pages are entered by the caller.  `what` names
 * the request in messages ("kmem_malloc", "uma", ...).  NULL with errno
 * ENOMEM on failure.
 */
void *kmem_region_alloc(vmem_t *arena, size_t size, int flags,
    enum kmem_class cls, const char *what);
/*
 * kmem_region_alloc() with the first address a multiple of align (a power
 * of two; at most a page means a page).  The range is given back with
 * kmem_region_free() like any other.
 */
void *kmem_region_xalloc(vmem_t *arena, size_t size, size_t align, int flags,
    enum kmem_class cls, const char *what);
/*
 * The arena of kmem's own metadata (layers above use it for their internal
 * structures: zones of buckets and slab headers, thread caches), so that
 * metadata stays in a few chunks of the map.
 */
vmem_t *kmem_meta_arena(void);
/* Gives back what kmem_region_alloc() gave (no validation). */
void kmem_region_free(vmem_t *arena, void *addr, size_t size,
    enum kmem_class cls);

/*
 * kmem_region_free() for a large block of the map that may well be asked
 * for again soon: its pages stay committed ("dirty") in the map's free
 * space, where vmem coalesces them with their free neighbours, and the
 * map's allocations go to them first (kmem_dirty_place(): the smallest run
 * of dirty pages that holds the request, else the run that holds most of
 * it), so that they find them resident instead of faulting them in again;
 * a request whose pages are all dirty costs no system call.  A range not
 * taken within KMEM_DIRTY_AGE_NS goes back to the system as
 * kmem_region_free() would, and so do the oldest ranges while the dirty
 * bytes exceed KMEM_DIRTY_FLOOR plus how far the live bytes of the map
 * fell from their recent peak, or KMEM_DIRTY_MAX: the resident memory
 * stays within the recent peak of the live bytes plus the floor.  An
 * allocation that falls on dirty pages has them zeroed unless its flags
 * hold KMEM_DIRTY_OK.  Submaps free at once.
 */
void kmem_region_free_dirty(vmem_t *arena, void *addr, size_t size,
    enum kmem_class cls);
/* Gives every dirty range back to the system (low memory, tests). */
void kmem_dirty_purge(void);
/* Bytes in dirty ranges now. */
size_t kmem_dirty_bytes(void);

/* ---- deadlock detection (section 4) ---------------------------------------- */

/* One waiter's view of whether every thread waits. */
struct kmem_stuck {
	uint64_t kst_since; /* first sample that saw every thread wait; 0: none */
	uint64_t kst_gen;   /* km_free_gen at that sample */
	uint64_t kst_epoch; /* km_stuck_epoch at that sample */
	int kst_threads;    /* threads counted then */
};
/* The calling thread starts waiting for memory (once per request). */
void kmem_wait_enter(struct kmem_stuck *st);
/* Its request was served, or gave up. */
void kmem_wait_leave(void);
/*
 * After each wait slice: true when every thread has been waiting, with
 * nothing freed, for wait_deadlock_ms.
 */
bool kmem_wait_stuck(struct kmem_stuck *st);
/*
 * Prints the deadlock line and the map report for what(size), waiting in
 * `where`, and aborts.  Call with no kmem lock held.
 */
KP_NORETURN void kmem_deadlock(const char *what, size_t size,
    const char *where, const struct kmem_stuck *st);

/* ---- reporting helpers --------------------------------------------------------- */

extern const char *const kmem_class_names[KMC_NCLASSES];
/* Formats a byte count as "12.3 MiB" ("unlimited" for KP_UNLIMITED). */
void kmem_fmt_size(char *buf, size_t len, uint64_t v);

/* The map's figures at one moment (the statistics file's map section). */
struct kmem_figures {
	uint64_t kf_size, kf_pagesize;
	uint64_t kf_class[KMC_NCLASSES]; /* bytes by owner class (KMC_FREE: 0) */
	uint64_t kf_free, kf_maxfree, kf_nfree;
	uint64_t kf_failures, kf_waits;  /* of the whole map */
};
/* Fills *f; false (and zeros) when the map is not set up. */
bool kmem_get_figures(struct kmem_figures *f);

/* ---- auto-tuning (pure, for tests) ------------------------------------------ */

struct kmem_tune {
	/* inputs */
	uint64_t kt_physmem;  /* physical memory (KP_UNLIMITED if unknown) */
	uint64_t kt_cgroup;   /* cgroup limit or KP_UNLIMITED */
	uint64_t kt_as_free;  /* RLIMIT_AS headroom or KP_UNLIMITED */
	uint64_t kt_explicit; /* kmem_size tunable, 0 = auto */
	uint64_t kt_scale;    /* kmem_size_scale */
	uint64_t kt_min;      /* kmem_size_min */
	uint64_t kt_max;      /* kmem_size_max */
	size_t kt_pagesize;   /* page size */
	/* outputs */
	uint64_t kt_size;     /* chosen size, a multiple of the page size */
	const char *kt_winner; /* which figure decided */
	char kt_why[512];     /* one line: the figures and the decision */
};
void kmem_tune_size(struct kmem_tune *t);

/* ---- fork (section 6) -------------------------------------------------------- */

void kmem_prefork_setup(void);  /* rank KP_FORK_MAP_SETUP */
void kmem_postfork_setup(void); /* parent and child */
void kmem_prefork(void);        /* rank KP_FORK_MAP */
void kmem_postfork_parent(void);
void kmem_postfork_child(void);

#endif /* KMEM_KMEM_INT_H */
