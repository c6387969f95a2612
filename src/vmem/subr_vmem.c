/*
 * subr_vmem.c -- the vmem resource allocator: boundary tags, power-of-two
 * free lists with instant fit, best fit, next fit, constrained allocation,
 * spans added or imported, and the global boundary-tag pool.
 *
 * The data structures, their invariants, the tag reserve, the rehash and the
 * lock order are described in the big theory statement at the top of
 * vmem_int.h.  The file reads bottom up: metadata and the tag pool, the
 * free lists and the hash, spans, fitting, then the public functions.
 */
#include "vmem_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define VMEM_POLICY_MASK (M_FIRSTFIT | M_BESTFIT | M_NEXTFIT)
#define VMEM_WAIT_MASK (M_NOWAIT | M_WAITOK)

/* Last integer a tag covers; never overflows for a valid tag. */
#define BT_END(bt) ((bt)->bt_start + ((bt)->bt_size - 1))

/* ---- metadata ------------------------------------------------------------ */

static void *vmem_default_meta_alloc(size_t size, int flags);
static void vmem_default_meta_free(void *addr, size_t size);

static const struct vmem_meta_ops vmem_default_meta_ops = {
	.vmo_alloc = vmem_default_meta_alloc,
	.vmo_free = vmem_default_meta_free,
};

/* The ops in force; replaced by the map once it is up. */
static const struct vmem_meta_ops *vmem_meta_ops = &vmem_default_meta_ops;

/* Bytes of metadata held, by kind (updated atomically). */
static size_t vmem_meta_tag_bytes;
static size_t vmem_meta_hash_bytes;
static size_t vmem_meta_arena_bytes;

/* Inside a meta-ops call: such a thread never starts a rehash. */
static _Thread_local int vmem_meta_depth
    __attribute__((tls_model("initial-exec")));
/* This thread is growing the tag pool and may take the reserve. */
static _Thread_local bool vmem_bt_grower
    __attribute__((tls_model("initial-exec")));

static void *
vmem_default_meta_alloc(size_t size, int flags)
{
	void *p;

	(void)flags;
	if (kp_reserve(size, 0, &p) != 0)
		return (NULL);
	if (kp_commit(p, size) != 0) {
		kp_release(p, size);
		return (NULL);
	}
	return (p);
}

static void
vmem_default_meta_free(void *addr, size_t size)
{
	kp_release(addr, size);
}

void
vmem_set_meta_ops(const struct vmem_meta_ops *ops)
{
	if (ops == NULL)
		ops = &vmem_default_meta_ops;
	__atomic_store_n(&vmem_meta_ops, ops, __ATOMIC_RELEASE);
}

static size_t
vmem_page_roundup(size_t n)
{
	size_t pg = kp_page_size();

	return ((n + pg - 1) & ~(pg - 1));
}

/*
 * Allocates metadata through the ops in force and tells which free function
 * gives it back.  Never called with an arena lock held.
 */
static void *
vmem_meta_alloc(size_t size, int flags, vmem_meta_free_t **freefnp)
{
	const struct vmem_meta_ops *ops;
	void *p;

	ops = __atomic_load_n(&vmem_meta_ops, __ATOMIC_ACQUIRE);
	vmem_meta_depth++;
	p = ops->vmo_alloc(size, flags);
	vmem_meta_depth--;
	*freefnp = ops->vmo_free;
	return (p);
}

static void
vmem_meta_free(vmem_meta_free_t *freefn, void *p, size_t size)
{
	vmem_meta_depth++;
	freefn(p, size);
	vmem_meta_depth--;
}

size_t
vmem_meta_bytes(void)
{
	return (__atomic_load_n(&vmem_meta_tag_bytes, __ATOMIC_RELAXED) +
	    __atomic_load_n(&vmem_meta_hash_bytes, __ATOMIC_RELAXED) +
	    __atomic_load_n(&vmem_meta_arena_bytes, __ATOMIC_RELAXED));
}

/* ---- the global boundary-tag pool ---------------------------------------- */

/*
 * Tags live on pages from the meta ops.  The first tag-sized slot of each
 * page is its header: how many of the page's tags are in the pool, and
 * those tags.  Pages whose tags are all in the pool ("idle") beyond
 * VMEM_BT_IDLE_KEEP are given back to the meta ops, so the tags of a burst
 * of segments do not stay forever.  Tags are taken from the seed first,
 * then from pages in use, then from idle pages, so that pages empty out.
 */
struct vmem_bt_page {
	_Alignas(64)
	LIST_ENTRY(vmem_bt_page) bpg_link; /* bp_partial or bp_idle */
	struct vmem_btlist bpg_free;       /* this page's tags in the pool */
	uint32_t bpg_nfree;                /* their number */
	bool bpg_idle;                     /* on bp_idle */
	vmem_meta_free_t *bpg_freefn;      /* gives the page back */
};
_Static_assert(sizeof(struct vmem_bt_page) <= sizeof(struct vmem_btag),
    "the page header fits in one tag slot");
LIST_HEAD(vmem_bt_pagelist, vmem_bt_page);

#define VMEM_BT_IDLE_KEEP 2 /* idle tag pages kept */

static struct vmem_bt_pool {
	kp_mutex_t bp_lock;          /* guards the pool (a leaf lock) */
	kp_cond_t bp_cv;             /* M_WAITOK waiters for tags */
	bool bp_ready;               /* seeded and bp_cv initialised */
	struct vmem_btlist bp_seed;  /* free tags of the static seed */
	struct vmem_bt_pagelist bp_partial; /* pages with tags in use */
	struct vmem_bt_pagelist bp_idle; /* pages with none in use */
	uint64_t bp_nidle;           /* pages on bp_idle */
	uint64_t bp_nfree;           /* tags in the pool */
	uint64_t bp_ntags;           /* tags in existence */
	uint64_t bp_pages;           /* tag pages from the meta ops */
	uint64_t bp_grows;           /* growths attempted */
	uint64_t bp_growfail;        /* growths the meta ops refused */
	uint64_t bp_shrinks;         /* pages given back */
	int bp_nwaiters;             /* threads asleep on bp_cv */
} vmem_bt_pool = { .bp_lock = KP_MUTEX_INITIALIZER };

/* Serializes growth and shrinking of the pool; theory statement, 2.4. */
static kp_mutex_t vmem_bt_grow_lock = KP_MUTEX_INITIALIZER;

/* Every arena, so that fork() can take them all (vmem_prefork). */
static kp_mutex_t vmem_arenas_lock = KP_MUTEX_INITIALIZER;
static LIST_HEAD(, vmem) vmem_arenas = LIST_HEAD_INITIALIZER(vmem_arenas);

/* The tags the pool starts with, so that bootstrap needs no memory. */
static struct vmem_btag vmem_bt_seed[VMEM_BT_SEED];

static inline size_t
bt_per_page(void)
{
	return (kp_page_size() / sizeof(struct vmem_btag) - 1);
}

static inline bool
bt_is_seed(const struct vmem_btag *bt)
{
	return (bt >= vmem_bt_seed && bt < vmem_bt_seed + VMEM_BT_SEED);
}

static inline struct vmem_bt_page *
bt_page_of(const struct vmem_btag *bt)
{
	return ((struct vmem_bt_page *)((uintptr_t)bt &
	    ~(uintptr_t)(kp_page_size() - 1)));
}

/* Pool locked. */
static void
bt_pool_ready(void)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;

	if (KP_LIKELY(bp->bp_ready))
		return;
	kp_cond_init(&bp->bp_cv);
	LIST_INIT(&bp->bp_seed);
	LIST_INIT(&bp->bp_partial);
	LIST_INIT(&bp->bp_idle);
	for (size_t i = 0; i < VMEM_BT_SEED; i++)
		LIST_INSERT_HEAD(&bp->bp_seed, &vmem_bt_seed[i], bt_link);
	bp->bp_nfree = bp->bp_ntags = VMEM_BT_SEED;
	bp->bp_ready = true;
}

/* A tag from the pool (which has one); pool locked. */
static struct vmem_btag *
bt_pool_take(void)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;
	struct vmem_bt_page *pg;
	struct vmem_btag *bt = LIST_FIRST(&bp->bp_seed);

	if (bt != NULL) {
		LIST_REMOVE(bt, bt_link);
		bp->bp_nfree--;
		return (bt);
	}
	pg = LIST_FIRST(&bp->bp_partial);
	if (pg == NULL) {
		pg = LIST_FIRST(&bp->bp_idle);
		if (pg == NULL)
			kp_fatal("vmem: the tag pool counts %ju free tags but has none",
			    (uintmax_t)bp->bp_nfree);
		LIST_REMOVE(pg, bpg_link);
		pg->bpg_idle = false;
		__atomic_store_n(&bp->bp_nidle, bp->bp_nidle - 1, __ATOMIC_RELAXED);
		LIST_INSERT_HEAD(&bp->bp_partial, pg, bpg_link);
	}
	bt = LIST_FIRST(&pg->bpg_free);
	LIST_REMOVE(bt, bt_link);
	if (--pg->bpg_nfree == 0)
		LIST_REMOVE(pg, bpg_link); /* all in use: on no list */
	bp->bp_nfree--;
	return (bt);
}

/* Puts a tag back in the pool; pool locked. */
static void
bt_pool_put(struct vmem_btag *bt)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;
	struct vmem_bt_page *pg;

	bp->bp_nfree++;
	if (bt_is_seed(bt)) {
		LIST_INSERT_HEAD(&bp->bp_seed, bt, bt_link);
		return;
	}
	pg = bt_page_of(bt);
	LIST_INSERT_HEAD(&pg->bpg_free, bt, bt_link);
	if (pg->bpg_nfree++ == 0)
		LIST_INSERT_HEAD(&bp->bp_partial, pg, bpg_link);
	if (pg->bpg_nfree == bt_per_page()) {
		LIST_REMOVE(pg, bpg_link);
		LIST_INSERT_HEAD(&bp->bp_idle, pg, bpg_link);
		pg->bpg_idle = true;
		__atomic_store_n(&bp->bp_nidle, bp->bp_nidle + 1, __ATOMIC_RELAXED);
	}
}

void
vmem_bt_stats(struct vmem_bt_stats *st)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;

	kp_mutex_lock(&bp->bp_lock);
	bt_pool_ready();
	st->vbs_pages = bp->bp_pages;
	st->vbs_tags = bp->bp_ntags;
	st->vbs_free = bp->bp_nfree;
	st->vbs_grows = bp->bp_grows;
	st->vbs_growfail = bp->bp_growfail;
	st->vbs_shrinks = bp->bp_shrinks;
	kp_mutex_unlock(&bp->bp_lock);
}

/*
 * Gives idle tag pages beyond VMEM_BT_IDLE_KEEP back, keeping the reserve.
 * Called with no arena lock held (the meta ops may take any).
 */
static KP_NOINLINE void
bt_pool_shrink(void)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;
	struct vmem_bt_pagelist out = LIST_HEAD_INITIALIZER(out);
	struct vmem_bt_page *pg;
	size_t per = bt_per_page(), pgsz = kp_page_size();

	if (vmem_meta_depth > 0 || vmem_bt_grower)
		return; /* inside the meta ops: later */
	if (!kp_mutex_trylock(&vmem_bt_grow_lock))
		return; /* someone grows or shrinks: later */
	kp_mutex_lock(&bp->bp_lock);
	while (bp->bp_nidle > VMEM_BT_IDLE_KEEP &&
	    bp->bp_nfree - per >= VMEM_BT_RESERVE + VMEM_BT_BATCH) {
		pg = LIST_FIRST(&bp->bp_idle);
		LIST_REMOVE(pg, bpg_link);
		__atomic_store_n(&bp->bp_nidle, bp->bp_nidle - 1, __ATOMIC_RELAXED);
		bp->bp_nfree -= per;
		bp->bp_ntags -= per;
		bp->bp_pages--;
		bp->bp_shrinks++;
		LIST_INSERT_HEAD(&out, pg, bpg_link);
	}
	kp_mutex_unlock(&bp->bp_lock);
	while ((pg = LIST_FIRST(&out)) != NULL) {
		LIST_REMOVE(pg, bpg_link);
		vmem_meta_free(pg->bpg_freefn, pg, pgsz);
		__atomic_sub_fetch(&vmem_meta_tag_bytes, pgsz, __ATOMIC_RELAXED);
	}
	kp_mutex_unlock(&vmem_bt_grow_lock);
}

/* Cheap test, no lock: are there idle pages to give back? */
static inline void
bt_pool_maybe_shrink(void)
{
	if (KP_UNLIKELY(__atomic_load_n(&vmem_bt_pool.bp_nidle,
	    __ATOMIC_RELAXED) > VMEM_BT_IDLE_KEEP))
		bt_pool_shrink();
}

/*
 * Adds a page of tags to the pool, unless someone else just did.  Called
 * with no arena lock held.  When the meta ops have no page, M_NOWAIT gets
 * ENOMEM and M_WAITOK waits a while for tags to come back (0: try again).
 */
static KP_NOINLINE int
bt_pool_grow(int flags)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;
	vmem_meta_free_t *freefn;
	struct vmem_bt_page *pg = NULL;
	size_t pgsz = kp_page_size(), n;
	bool enough;

	kp_mutex_lock(&vmem_bt_grow_lock);
	kp_mutex_lock(&bp->bp_lock);
	enough = bp->bp_nfree >= VMEM_BT_RESERVE + VMEM_BT_BATCH;
	if (!enough)
		bp->bp_grows++;
	kp_mutex_unlock(&bp->bp_lock);
	if (!enough) {
		vmem_bt_grower = true;
		pg = vmem_meta_alloc(pgsz, M_NOWAIT, &freefn);
		vmem_bt_grower = false;
	}
	if (pg != NULL) {
		struct vmem_btag *tags = (struct vmem_btag *)pg;
		n = bt_per_page();
		pg->bpg_freefn = freefn;
		LIST_INIT(&pg->bpg_free);
		pg->bpg_nfree = 0;
		pg->bpg_idle = false;
		kp_mutex_lock(&bp->bp_lock);
		bp->bp_ntags += n;
		bp->bp_pages++;
		for (size_t i = 1; i <= n; i++)
			bt_pool_put(&tags[i]);
		if (bp->bp_nwaiters > 0)
			kp_cond_broadcast(&bp->bp_cv);
		kp_mutex_unlock(&bp->bp_lock);
		__atomic_add_fetch(&vmem_meta_tag_bytes, pgsz, __ATOMIC_RELAXED);
	} else if (!enough) {
		kp_mutex_lock(&bp->bp_lock);
		bp->bp_growfail++;
		kp_mutex_unlock(&bp->bp_lock);
	}
	kp_mutex_unlock(&vmem_bt_grow_lock);

	if (enough || pg != NULL)
		return (0);
	if (flags & M_NOWAIT)
		return (ENOMEM);
	kp_mutex_lock(&bp->bp_lock);
	bp->bp_nwaiters++;
	kp_cond_timedwait(&bp->bp_cv, &bp->bp_lock, VMEM_WAIT_NS);
	bp->bp_nwaiters--;
	kp_mutex_unlock(&bp->bp_lock);
	return (0);
}

/*
 * Tops the arena's tag cache up to VMEM_BT_MAXALLOC.  Arena locked; the
 * lock may be dropped and retaken (to grow the pool), so the caller must
 * look at the arena afresh afterwards.  Returns 0 or ENOMEM.
 */
static KP_NOINLINE int
bt_refill(vmem_t *vm, int flags)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;
	struct vmem_btag *bt;
	uint64_t floor;
	int error, want;

	for (;;) {
		/* A grower takes only what it needs, reserve included. */
		if (vmem_bt_grower) {
			want = VMEM_BT_MAXALLOC - vm->vm_nfreetags;
			floor = 0;
		} else {
			want = VMEM_BT_BATCH;
			floor = VMEM_BT_RESERVE;
		}
		kp_mutex_lock(&bp->bp_lock);
		bt_pool_ready();
		while (want > 0 && bp->bp_nfree > floor) {
			bt = bt_pool_take();
			LIST_INSERT_HEAD(&vm->vm_freetags, bt, bt_link);
			vm->vm_nfreetags++;
			want--;
		}
		kp_mutex_unlock(&bp->bp_lock);
		if (vm->vm_nfreetags >= VMEM_BT_MAXALLOC)
			return (0);
		if (vmem_bt_grower)
			return (ENOMEM); /* growth never recurses */
		kp_mutex_unlock(&vm->vm_lock);
		error = bt_pool_grow(flags);
		kp_mutex_lock(&vm->vm_lock);
		if (error != 0)
			return (error);
	}
}

/* Makes sure the next step cannot run out of tags.  Arena locked. */
static inline int
bt_reserve(vmem_t *vm, int flags)
{
	if (KP_LIKELY(vm->vm_nfreetags >= VMEM_BT_MAXALLOC))
		return (0);
	return (bt_refill(vm, flags));
}

/* Gives surplus cached tags back to the pool.  Arena locked. */
static KP_NOINLINE void
bt_trim(vmem_t *vm, int keep)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;
	struct vmem_btag *bt;

	kp_mutex_lock(&bp->bp_lock);
	while (vm->vm_nfreetags > keep) {
		bt = LIST_FIRST(&vm->vm_freetags);
		LIST_REMOVE(bt, bt_link);
		vm->vm_nfreetags--;
		bt_pool_put(bt);
	}
	if (bp->bp_nwaiters > 0)
		kp_cond_broadcast(&bp->bp_cv);
	kp_mutex_unlock(&bp->bp_lock);
}

/* Arena locked; bt_reserve() made sure there is one. */
static inline struct vmem_btag *
bt_alloc(vmem_t *vm)
{
	struct vmem_btag *bt = LIST_FIRST(&vm->vm_freetags);

	if (KP_UNLIKELY(bt == NULL))
		kp_fatal("vmem: arena %s: out of cached boundary tags",
		    vm->vm_name);
	LIST_REMOVE(bt, bt_link);
	vm->vm_nfreetags--;
	return (bt);
}

static inline void
bt_free(vmem_t *vm, struct vmem_btag *bt)
{
	LIST_INSERT_HEAD(&vm->vm_freetags, bt, bt_link);
	if (KP_UNLIKELY(++vm->vm_nfreetags > VMEM_BT_MAXFREE))
		bt_trim(vm, VMEM_BT_MAXFREE / 2);
}

/* ---- free lists, the hash, the segment list ------------------------------ */

/* floor(log2(q)), q > 0. */
static inline int
vmem_order(vmem_size_t q)
{
	return (63 - __builtin_clzll((unsigned long long)q));
}

static inline struct vmem_btlist *
bt_freehead(vmem_t *vm, vmem_size_t size)
{
	return (&vm->vm_freelist[vmem_order(size >> vm->vm_quantum_shift)]);
}

static inline void
bt_insfree(vmem_t *vm, struct vmem_btag *bt)
{
	int i = vmem_order(bt->bt_size >> vm->vm_quantum_shift);

	bt->bt_type = BT_TYPE_FREE;
	LIST_INSERT_HEAD(&vm->vm_freelist[i], bt, bt_link);
	vm->vm_freemap |= 1ull << i;
	vm->vm_nfree++;
}

static inline void
bt_remfree(vmem_t *vm, struct vmem_btag *bt)
{
	int i = vmem_order(bt->bt_size >> vm->vm_quantum_shift);

	LIST_REMOVE(bt, bt_link);
	if (LIST_EMPTY(&vm->vm_freelist[i]))
		vm->vm_freemap &= ~(1ull << i);
	vm->vm_nfree--;
}

/* Fibonacci hashing of the address in quanta: keep the top bits. */
static inline uint64_t
bt_hash(const vmem_t *vm, vmem_addr_t addr)
{
	return ((uint64_t)(addr >> vm->vm_quantum_shift) *
	    0x9e3779b97f4a7c15ull);
}

static inline struct vmem_btlist *
bt_hashhead(vmem_t *vm, vmem_addr_t addr)
{
	return (&vm->vm_hashlist[bt_hash(vm, addr) >> vm->vm_hashshift]);
}

static inline struct vmem_btag *
bt_lookupbusy(vmem_t *vm, vmem_addr_t addr)
{
	struct vmem_btag *bt;

	LIST_FOREACH(bt, bt_hashhead(vm, addr), bt_link) {
		if (bt->bt_start == addr)
			return (bt);
	}
	return (NULL);
}

/*
 * The tag before bt on the segment list, for a segment (which always has
 * its span's tag or a segment before it).  TAILQ_PREV() would read the tag
 * before that one too; the previous tag's tqe_next field, which bt's
 * tqe_prev points at, is the start of that tag.
 */
static inline struct vmem_btag *
bt_prev(struct vmem_btag *bt)
{
	_Static_assert(offsetof(struct vmem_btag, bt_seglist.tqe_next) == 0,
	    "bt_seglist must open the tag");
	return ((struct vmem_btag *)(void *)bt->bt_seglist.tqe_prev);
}

/* Takes bt off the segment list; the rotor, if on it, moves to heir. */
static inline void
bt_remseg(vmem_t *vm, struct vmem_btag *bt, struct vmem_btag *heir)
{
	if (vm->vm_rotor == bt)
		vm->vm_rotor = heir;
	TAILQ_REMOVE(&vm->vm_seglist, bt, bt_seglist);
}

/* ---- hash growth --------------------------------------------------------- */

/*
 * Grows the allocated-segment hash (theory statement, 2.3).  Called with no
 * lock held after an allocation found vm_nbusy past vm_hashgrow_at.
 */
static KP_NOINLINE void
vmem_rehash(vmem_t *vm)
{
	struct vmem_btlist *newh, *oldh = NULL;
	vmem_meta_free_t *newfree = NULL, *oldfree = NULL;
	size_t newsize, bytes, oldbytes = 0;
	struct vmem_btag *bt;
	int shift;

	if (vmem_meta_depth > 0)
		return;
	kp_mutex_lock(&vm->vm_lock);
	if (vm->vm_rehashing || vm->vm_nbusy <= vm->vm_hashgrow_at) {
		kp_mutex_unlock(&vm->vm_lock);
		return;
	}
	newsize = VMEM_HASHSIZE_MIN;
	while (newsize <= vm->vm_nbusy && newsize < VMEM_HASHSIZE_MAX)
		newsize <<= 1;
	vm->vm_rehashing = true;
	vm->vm_hashgrow_at = UINT64_MAX;
	kp_mutex_unlock(&vm->vm_lock);

	/* A power of two times the page size is still a power of two. */
	bytes = vmem_page_roundup(newsize * sizeof(*newh));
	newsize = bytes / sizeof(*newh);
	newh = vmem_meta_alloc(bytes, M_NOWAIT, &newfree);

	kp_mutex_lock(&vm->vm_lock);
	if (newh != NULL) {
		shift = 64 - __builtin_ctzll((unsigned long long)newsize);
		for (size_t i = 0; i < newsize; i++)
			LIST_INIT(&newh[i]);
		oldh = vm->vm_hashlist;
		oldfree = vm->vm_hashfree;
		oldbytes = vm->vm_hashbytes;
		for (size_t i = 0; i < vm->vm_hashsize; i++) {
			while ((bt = LIST_FIRST(&oldh[i])) != NULL) {
				LIST_REMOVE(bt, bt_link);
				LIST_INSERT_HEAD(
				    &newh[bt_hash(vm, bt->bt_start) >> shift],
				    bt, bt_link);
			}
		}
		vm->vm_hashlist = newh;
		vm->vm_hashsize = newsize;
		vm->vm_hashshift = shift;
		vm->vm_hashfree = newfree;
		vm->vm_hashbytes = bytes;
		vm->vm_hashgrow_at = newsize >= VMEM_HASHSIZE_MAX ?
		    UINT64_MAX : (uint64_t)newsize;
		__atomic_add_fetch(&vmem_meta_hash_bytes, bytes,
		    __ATOMIC_RELAXED);
	} else {
		/* Try again when the arena has doubled. */
		vm->vm_hashgrow_at = 2 * vm->vm_nbusy;
	}
	vm->vm_rehashing = false;
	kp_mutex_unlock(&vm->vm_lock);
	if (oldh != NULL && oldfree != NULL) {
		vmem_meta_free(oldfree, oldh, oldbytes);
		__atomic_sub_fetch(&vmem_meta_hash_bytes, oldbytes,
		    __ATOMIC_RELAXED);
	}
}

/* ---- spans --------------------------------------------------------------- */

/*
 * Adds the span [addr, addr + size) and its free segment.  Arena locked,
 * two tags reserved.  An overlap with a span already there is fatal.
 */
static void
vmem_add_span(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
    enum vmem_bt_type type, const char *fn)
{
	struct vmem_btag *span, *seg, *t, *after = NULL, *next;
	vmem_addr_t end = addr + (size - 1);

	LIST_FOREACH(t, &vm->vm_spanlist, bt_link) {
		if (end >= t->bt_start && addr <= BT_END(t)) {
			kp_fatal("%s: arena %s: span 0x%jx (size %zu) overlaps "
			    "span 0x%jx (size %zu)", fn, vm->vm_name,
			    (uintmax_t)addr, size, (uintmax_t)t->bt_start,
			    t->bt_size);
		}
		if (t->bt_start > addr)
			break;
		after = t;
	}
	span = bt_alloc(vm);
	span->bt_type = type;
	span->bt_start = addr;
	span->bt_size = size;
	if (after == NULL) {
		LIST_INSERT_HEAD(&vm->vm_spanlist, span, bt_link);
		TAILQ_INSERT_HEAD(&vm->vm_seglist, span, bt_seglist);
	} else {
		LIST_INSERT_AFTER(after, span, bt_link);
		next = LIST_NEXT(span, bt_link);
		if (next != NULL)
			TAILQ_INSERT_BEFORE(next, span, bt_seglist);
		else
			TAILQ_INSERT_TAIL(&vm->vm_seglist, span, bt_seglist);
	}
	seg = bt_alloc(vm);
	seg->bt_start = addr;
	seg->bt_size = size;
	TAILQ_INSERT_AFTER(&vm->vm_seglist, span, seg, bt_seglist);
	bt_insfree(vm, seg);

	vm->vm_size += size;
	vm->vm_nspans++;
	if (type == BT_TYPE_SPAN_IMPORT)
		vm->vm_imported += size;
}

/*
 * Takes away a span whose only segment, seg, is free (and already off its
 * free list).  Arena locked.  The caller gives the range back to its owner.
 */
static void
vmem_drop_span(vmem_t *vm, struct vmem_btag *span, struct vmem_btag *seg)
{
	struct vmem_btag *heir = TAILQ_NEXT(seg, bt_seglist);

	bt_remseg(vm, seg, heir);
	bt_remseg(vm, span, heir);
	LIST_REMOVE(span, bt_link);
	vm->vm_size -= span->bt_size;
	vm->vm_nspans--;
	if (span->bt_type == BT_TYPE_SPAN_IMPORT)
		vm->vm_imported -= span->bt_size;
	bt_free(vm, seg);
	bt_free(vm, span);
}

/* ---- fitting ------------------------------------------------------------- */

/* One allocation request, after checking and rounding. */
struct vmem_req {
	vmem_size_t vr_size;    /* rounded size */
	vmem_size_t vr_align;   /* alignment, a power of two >= quantum */
	vmem_size_t vr_phase;   /* offset from alignment */
	vmem_size_t vr_nocross; /* boundary not to cross, or 0 */
	vmem_addr_t vr_minaddr; /* lowest start */
	vmem_addr_t vr_maxaddr; /* highest integer covered */
	bool vr_simple;         /* no constraint but vr_minaddr */
};

/* The first x >= start with x = phase (mod align), or false on overflow. */
static inline bool
vmem_alignup(const struct vmem_req *r, vmem_addr_t start, vmem_addr_t *xp)
{
	vmem_addr_t off = (start - r->vr_phase) & (r->vr_align - 1);

	if (off == 0) {
		*xp = start;
		return (true);
	}
	*xp = start + (r->vr_align - off);
	return (*xp > start);
}

static inline bool
vmem_crosses(const struct vmem_req *r, vmem_addr_t x)
{
	return (r->vr_nocross != 0 &&
	    ((x ^ (x + (r->vr_size - 1))) & ~(r->vr_nocross - 1)) != 0);
}

/*
 * Finds where the request fits within [start, end] (inclusive), honouring
 * every constraint.  Crossing a nocross boundary is fixed by moving to the
 * next boundary once: if the request crosses from there too, it crosses
 * from every candidate.
 */
static bool
vmem_fit(const struct vmem_req *r, vmem_addr_t start, vmem_addr_t end,
    vmem_addr_t *addrp)
{
	vmem_addr_t x, b;

	if (start < r->vr_minaddr)
		start = r->vr_minaddr;
	if (end > r->vr_maxaddr)
		end = r->vr_maxaddr;
	if (start > end || end - start < r->vr_size - 1)
		return (false);
	if (!vmem_alignup(r, start, &x) || x > end ||
	    end - x < r->vr_size - 1)
		return (false);
	if (vmem_crosses(r, x)) {
		b = (x | (r->vr_nocross - 1)) + 1;
		if (b == 0 || !vmem_alignup(r, b, &x) || x > end ||
		    end - x < r->vr_size - 1 || vmem_crosses(r, x))
			return (false);
	}
	*addrp = x;
	return (true);
}

static inline bool
vmem_fit_bt(const struct vmem_req *r, const struct vmem_btag *bt,
    vmem_addr_t *addrp)
{
	if (bt->bt_size < r->vr_size)
		return (false);
	if (KP_LIKELY(r->vr_simple && bt->bt_start >= r->vr_minaddr)) {
		*addrp = bt->bt_start;
		return (true);
	}
	return (vmem_fit(r, bt->bt_start, BT_END(bt), addrp));
}

/*
 * Best fit: the smallest free segment that fits.  Every member of list i is
 * smaller than every member of list i + 1, so the first list holding a fit
 * holds the smallest.  Exhaustive: finds a fit whenever one exists.
 */
static struct vmem_btag *
vmem_find_best(vmem_t *vm, const struct vmem_req *r, vmem_addr_t *addrp)
{
	int lo = vmem_order(r->vr_size >> vm->vm_quantum_shift);
	uint64_t map = vm->vm_freemap & (~0ull << lo);
	struct vmem_btag *bt, *best = NULL;
	vmem_addr_t a, besta = 0;

	while (map != 0) {
		LIST_FOREACH(bt, &vm->vm_freelist[__builtin_ctzll(map)],
		    bt_link) {
			if (best != NULL && bt->bt_size >= best->bt_size)
				continue;
			if (!vmem_fit_bt(r, bt, &a))
				continue;
			best = bt;
			besta = a;
			if (bt->bt_size == r->vr_size)
				break;
		}
		if (best != NULL) {
			*addrp = besta;
			return (best);
		}
		map &= map - 1;
	}
	return (NULL);
}

/*
 * Instant fit: the first member of the first non-empty list whose every
 * member is large enough.  When constraints make those candidates fail, or
 * only the list below holds segments large enough, fall back to the
 * exhaustive search.
 */
static inline struct vmem_btag *
vmem_find_instant(vmem_t *vm, const struct vmem_req *r, vmem_addr_t *addrp)
{
	vmem_size_t q = r->vr_size >> vm->vm_quantum_shift;
	int i = vmem_order(q) + ((q & (q - 1)) != 0);
	uint64_t map = i < VMEM_MAXORDER ? vm->vm_freemap & (~0ull << i) : 0;
	struct vmem_btag *bt;

	while (map != 0) {
		bt = LIST_FIRST(&vm->vm_freelist[__builtin_ctzll(map)]);
		if (KP_LIKELY(vmem_fit_bt(r, bt, addrp)))
			return (bt);
		map &= map - 1;
	}
	return (vmem_find_best(vm, r, addrp));
}

/* Next fit: address order from the rotor, wrapping around once. */
static struct vmem_btag *
vmem_find_next(vmem_t *vm, const struct vmem_req *r, vmem_addr_t *addrp)
{
	struct vmem_btag *first, *bt;

	first = vm->vm_rotor != NULL ? vm->vm_rotor :
	    TAILQ_FIRST(&vm->vm_seglist);
	if ((bt = first) == NULL)
		return (NULL);
	do {
		if (bt->bt_type == BT_TYPE_FREE && vmem_fit_bt(r, bt, addrp))
			return (bt);
		bt = TAILQ_NEXT(bt, bt_seglist);
		if (bt == NULL)
			bt = TAILQ_FIRST(&vm->vm_seglist);
	} while (bt != first);
	return (NULL);
}

static inline struct vmem_btag *
vmem_find(vmem_t *vm, const struct vmem_req *r, int policy,
    vmem_addr_t *addrp)
{
	if (KP_LIKELY(policy == 0 || policy == M_FIRSTFIT))
		return (vmem_find_instant(vm, r, addrp));
	if (policy == M_BESTFIT)
		return (vmem_find_best(vm, r, addrp));
	return (vmem_find_next(vm, r, addrp));
}

/*
 * Makes [addr, addr + size) of the free segment bt busy, splitting off the
 * free rest before and after (two tags at most).  Arena locked.
 */
static inline void
vmem_clip(vmem_t *vm, struct vmem_btag *bt, vmem_addr_t addr,
    vmem_size_t size, int policy)
{
	struct vmem_btag *t;

	bt_remfree(vm, bt);
	if (addr > bt->bt_start) {
		t = bt_alloc(vm);
		t->bt_start = bt->bt_start;
		t->bt_size = addr - bt->bt_start;
		TAILQ_INSERT_BEFORE(bt, t, bt_seglist);
		bt_insfree(vm, t);
		bt->bt_start = addr;
		bt->bt_size -= t->bt_size;
	}
	if (bt->bt_size > size) {
		t = bt_alloc(vm);
		t->bt_start = addr + size;
		t->bt_size = bt->bt_size - size;
		TAILQ_INSERT_AFTER(&vm->vm_seglist, bt, t, bt_seglist);
		bt_insfree(vm, t);
		bt->bt_size = size;
	}
	bt->bt_type = BT_TYPE_BUSY;
	LIST_INSERT_HEAD(bt_hashhead(vm, addr), bt, bt_link);
	vm->vm_nbusy++;
	vm->vm_inuse += size;
	vm->vm_nallocs++;
	if (policy == M_NEXTFIT)
		vm->vm_rotor = TAILQ_NEXT(bt, bt_seglist);
}

/* ---- import -------------------------------------------------------------- */

/* Size of the span to import for r, or 0 if it cannot be expressed. */
static vmem_size_t
vmem_import_size(vmem_t *vm, const struct vmem_req *r)
{
	vmem_size_t q = vm->vm_quantum_mask + 1, iq = vm->vm_import_quantum;
	vmem_size_t size, n;

	/* Room to align a start that is only quantum aligned. */
	if (__builtin_add_overflow(r->vr_size, r->vr_align - q, &size))
		return (0);
	/* Room for a whole nocross block. */
	if (r->vr_nocross != 0) {
		if (r->vr_nocross > (~(vmem_size_t)0 - q) / 2)
			return (0);
		if (size < 2 * r->vr_nocross - q)
			size = 2 * r->vr_nocross - q;
	}
	n = size / iq + (size % iq != 0);
	if (__builtin_mul_overflow(n, iq, &size))
		return (0);
	return (size);
}

/*
 * Imports a span for r.  Arena locked; dropped around the import function.
 * Returns 0 with the span added, or ENOMEM.
 */
static int
vmem_import(vmem_t *vm, const struct vmem_req *r, int flags,
    vmem_addr_t *addrp, vmem_size_t *sizep)
{
	vmem_import_t *importfn = vm->vm_importfn;
	vmem_release_t *releasefn = vm->vm_releasefn;
	void *arg = vm->vm_importarg;
	vmem_size_t size = vmem_import_size(vm, r), held;
	vmem_addr_t addr;
	int error;

	if (size == 0)
		return (ENOMEM);
	held = vm->vm_size + vm->vm_importing;
	if (vm->vm_limit != 0 &&
	    (held > vm->vm_limit || size > vm->vm_limit - held))
		return (ENOMEM);
	vm->vm_importing += size;
	kp_mutex_unlock(&vm->vm_lock);
	error = importfn(arg, size, flags & VMEM_WAIT_MASK, &addr);
	kp_mutex_lock(&vm->vm_lock);
	if (error == 0 && ((addr & vm->vm_quantum_mask) != 0 ||
	    addr + (size - 1) < addr)) {
		kp_fatal("vmem_xalloc: arena %s: import function gave 0x%jx "
		    "(size %zu), not aligned to the quantum %zu", vm->vm_name,
		    (uintmax_t)addr, size, (size_t)vm->vm_quantum_mask + 1);
	}
	if (error == 0 && bt_reserve(vm, flags) != 0) {
		kp_mutex_unlock(&vm->vm_lock);
		if (releasefn != NULL)
			releasefn(arg, addr, size);
		kp_mutex_lock(&vm->vm_lock);
		error = ENOMEM;
	}
	vm->vm_importing -= size;
	if (error != 0)
		return (ENOMEM);
	vmem_add_span(vm, addr, size, BT_TYPE_SPAN_IMPORT, "vmem_xalloc");
	*addrp = addr;
	*sizep = size;
	return (0);
}

/*
 * Gives back a span imported by this request that did not help (the
 * constraints were not met in it), if it is still wholly free.  Arena
 * locked; dropped around the release function.
 */
static void
vmem_unimport(vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	vmem_release_t *releasefn = vm->vm_releasefn;
	struct vmem_btag *span, *seg;

	if (releasefn == NULL)
		return;
	LIST_FOREACH(span, &vm->vm_spanlist, bt_link) {
		if (span->bt_start == addr)
			break;
	}
	if (span == NULL || span->bt_type != BT_TYPE_SPAN_IMPORT ||
	    span->bt_size != size)
		return;
	seg = TAILQ_NEXT(span, bt_seglist);
	if (seg->bt_type != BT_TYPE_FREE || seg->bt_size != size)
		return;
	bt_remfree(vm, seg);
	vmem_drop_span(vm, span, seg);
	kp_mutex_unlock(&vm->vm_lock);
	releasefn(vm->vm_importarg, addr, size);
	kp_mutex_lock(&vm->vm_lock);
}

/*
 * Could r ever be met: by a span that is here now, were it free, or by an
 * import the limit allows once every other imported span went back?
 */
static bool
vmem_can_ever_fit(vmem_t *vm, const struct vmem_req *r)
{
	struct vmem_btag *span;
	vmem_size_t size, fixed;
	vmem_addr_t a;

	LIST_FOREACH(span, &vm->vm_spanlist, bt_link) {
		if (vmem_fit(r, span->bt_start, BT_END(span), &a))
			return (true);
	}
	if (vm->vm_importfn == NULL)
		return (false);
	if ((size = vmem_import_size(vm, r)) == 0)
		return (false);
	fixed = vm->vm_size - vm->vm_imported;
	return (vm->vm_limit == 0 ||
	    (size <= vm->vm_limit && fixed <= vm->vm_limit - size));
}

/* ---- allocation ---------------------------------------------------------- */

static KP_COLD KP_NORETURN void
vmem_bad_flags(const vmem_t *vm, int flags, const char *fn)
{
	int wait = flags & VMEM_WAIT_MASK;

	kp_fatal("%s: arena %s: bad flags 0x%x (%s)", fn, vm->vm_name, flags,
	    wait != M_NOWAIT && wait != M_WAITOK ?
	    "need exactly one of M_NOWAIT and M_WAITOK" :
	    "more than one of M_FIRSTFIT, M_BESTFIT and M_NEXTFIT");
}

static inline void
vmem_check_flags(const vmem_t *vm, int flags, const char *fn)
{
	int wait = flags & VMEM_WAIT_MASK, policy = flags & VMEM_POLICY_MASK;

	if (KP_UNLIKELY((wait != M_NOWAIT && wait != M_WAITOK) ||
	    (policy & (policy - 1)) != 0))
		vmem_bad_flags(vm, flags, fn);
}

static void qc_drain(vmem_t *vm);

/*
 * Everything but the first try: refilling tags, importing, reclaiming,
 * sleeping.  Called and returns with the arena locked.  `searched` tells
 * that the caller already searched, in vain, with the lock still held.
 * Each round (ended by a sleep) imports at most once; a span imported for
 * nothing goes straight back.
 */
static KP_NOINLINE int
vmem_xalloc_slow(vmem_t *vm, const struct vmem_req *r, int flags,
    vmem_addr_t *addrp, bool searched)
{
	int policy = flags & VMEM_POLICY_MASK;
	bool imported = false, tried = false, reclaimed = false, drained = false;
	vmem_addr_t ia = 0, addr;
	vmem_size_t is = 0;
	struct vmem_btag *bt;
	vmem_reclaim_t *reclaimfn;

	for (;;) {
		if (!searched) {
			if (bt_reserve(vm, flags) != 0)
				break;
			bt = vmem_find(vm, r, policy, &addr);
			if (bt != NULL) {
				vmem_clip(vm, bt, addr, r->vr_size, policy);
				*addrp = addr;
				return (0);
			}
		}
		searched = false;
		if (imported) {
			vmem_unimport(vm, ia, is);
			imported = false;
		} else if (!tried && vm->vm_importfn != NULL) {
			tried = true;
			if (vmem_import(vm, r, flags, &ia, &is) == 0) {
				imported = true;
				continue;
			}
		}
		if (!drained && vm->vm_qcache_max != 0 &&
		    (flags & VMEM_QCIMPORT) == 0 && vm->vm_qcache[0] != NULL) {
			/* Segments may sit in the quantum caches. */
			drained = true;
			kp_mutex_unlock(&vm->vm_lock);
			qc_drain(vm);
			kp_mutex_lock(&vm->vm_lock);
			continue;
		}
		if (flags & M_NOWAIT)
			break;
		if (!vmem_can_ever_fit(vm, r))
			break;
		if (vm->vm_reclaimfn != NULL && !reclaimed) {
			reclaimed = true;
			reclaimfn = vm->vm_reclaimfn;
			kp_mutex_unlock(&vm->vm_lock);
			reclaimfn(vm, flags);
			kp_mutex_lock(&vm->vm_lock);
			continue;
		}
		vm->vm_nwaiters++;
		vm->vm_nwaits++;
		kp_cond_timedwait(&vm->vm_cv, &vm->vm_lock, VMEM_WAIT_NS);
		vm->vm_nwaiters--;
		reclaimed = false;
		tried = false;
		drained = false;
	}
	vm->vm_nfailures++;
	return (ENOMEM);
}

static inline int
vmem_xalloc_int(vmem_t *vm, const struct vmem_req *r, int flags,
    vmem_addr_t *addrp)
{
	int policy = flags & VMEM_POLICY_MASK, error = 0;
	struct vmem_btag *bt = NULL;
	vmem_addr_t addr;
	bool grow, searched = false;

	kp_mutex_lock(&vm->vm_lock);
	if (KP_LIKELY(vm->vm_nfreetags >= VMEM_BT_MAXALLOC)) {
		bt = vmem_find(vm, r, policy, &addr);
		searched = true;
	}
	if (KP_LIKELY(bt != NULL)) {
		vmem_clip(vm, bt, addr, r->vr_size, policy);
		*addrp = addr;
	} else {
		error = vmem_xalloc_slow(vm, r, flags, addrp, searched);
	}
	grow = vm->vm_nbusy > vm->vm_hashgrow_at;
	kp_mutex_unlock(&vm->vm_lock);
	if (KP_UNLIKELY(grow))
		vmem_rehash(vm);
	return (error);
}

/*
 * Quantum caches (theory statement, 1.6).  Requests of at most
 * vm_qcache_max bytes go to the zone of their size when there is one, else
 * straight to the arena, from VMEM_ADDR_QCACHE_MIN up as a cache would.
 */
static const struct vmem_qcache_ops *vmem_qc_ops;

void
vmem_set_qcache_ops(const struct vmem_qcache_ops *ops)
{
	__atomic_store_n(&vmem_qc_ops, ops, __ATOMIC_RELEASE);
}


static inline void *
qc_zone(const vmem_t *vm, vmem_size_t size)
{
	return (vm->vm_qcache[((size + vm->vm_quantum_mask) >>
	    vm->vm_quantum_shift) - 1]);
}

static void
qc_create(vmem_t *vm)
{
	const struct vmem_qcache_ops *ops =
	    __atomic_load_n(&vmem_qc_ops, __ATOMIC_ACQUIRE);
	char name[VMEM_NAME_MAX];
	vmem_size_t n = vm->vm_qcache_max >> vm->vm_quantum_shift;

	if (ops == NULL)
		return;
	for (vmem_size_t i = 0; i < n; i++) {
		vmem_size_t size = (i + 1) << vm->vm_quantum_shift;
		snprintf(name, sizeof(name), "%.20s-%zu", vm->vm_name, (size_t)size);
		vm->vm_qcache[i] = ops->vqo_create(vm, name, size);
	}
}

static void
qc_destroy(vmem_t *vm)
{
	const struct vmem_qcache_ops *ops =
	    __atomic_load_n(&vmem_qc_ops, __ATOMIC_ACQUIRE);

	for (int i = 0; i < VMEM_QCACHE_IDX_MAX; i++) {
		if (vm->vm_qcache[i] != NULL && ops != NULL)
			ops->vqo_destroy(vm->vm_qcache[i]);
		vm->vm_qcache[i] = NULL;
	}
}

/* Gives what the quantum caches hold back to the arena; lock not held. */
static void
qc_drain(vmem_t *vm)
{
	const struct vmem_qcache_ops *ops =
	    __atomic_load_n(&vmem_qc_ops, __ATOMIC_ACQUIRE);

	for (int i = 0; i < VMEM_QCACHE_IDX_MAX && ops != NULL; i++)
		if (vm->vm_qcache[i] != NULL)
			ops->vqo_drain(vm->vm_qcache[i]);
}

static int
qc_alloc_direct(vmem_t *vm, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	struct vmem_req r = {
		.vr_size = vmem_roundup_size(vm, size),
		.vr_align = vm->vm_quantum_mask + 1,
		.vr_minaddr = VMEM_ADDR_QCACHE_MIN,
		.vr_maxaddr = VMEM_ADDR_MAX,
		.vr_simple = true,
	};

	return (vmem_xalloc_int(vm, &r, flags, addrp));
}

static int
qc_alloc(vmem_t *vm, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	void *zone = qc_zone(vm, size);

	if (zone != NULL)
		return (vmem_qc_ops->vqo_alloc(zone, flags, addrp));
	return (qc_alloc_direct(vm, size, flags, addrp));
}

static void vmem_xfree_int(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
    const char *fn);

static void
qc_free(vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	void *zone = qc_zone(vm, size);

	if (zone != NULL)
		vmem_qc_ops->vqo_free(zone, addr);
	else
		vmem_xfree_int(vm, addr, size, "vmem_free");
}

int
vmem_qc_import(vmem_t *vm, vmem_size_t size, vmem_addr_t *store, int cnt,
    int flags)
{
	int n = 0;
	int wait = flags & VMEM_WAIT_MASK;

	while (n < cnt) {
		/* Only the first may wait: a short batch is fine. */
		if (qc_alloc_direct(vm, size,
		    (n == 0 ? wait : M_NOWAIT) | M_FIRSTFIT | VMEM_QCIMPORT,
		    &store[n]) != 0)
			break;
		n++;
	}
	return (n);
}

void
vmem_qc_release(vmem_t *vm, vmem_size_t size, const vmem_addr_t *store,
    int cnt)
{
	for (int i = 0; i < cnt; i++)
		vmem_xfree_int(vm, store[i], size, "vmem_free");
}

vmem_size_t
vmem_roundup_size(vmem_t *vm, vmem_size_t size)
{
	return ((size + vm->vm_quantum_mask) & ~vm->vm_quantum_mask);
}

int
vmem_alloc(vmem_t *vm, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	struct vmem_req r;

	vmem_check_flags(vm, flags, "vmem_alloc");
	if (KP_UNLIKELY(size == 0))
		kp_fatal("vmem_alloc: arena %s: size 0", vm->vm_name);
	if (size <= vm->vm_qcache_max)
		return (qc_alloc(vm, size, flags, addrp));
	if (KP_UNLIKELY(size > ~vm->vm_quantum_mask)) {
		kp_mutex_lock(&vm->vm_lock);
		vm->vm_nfailures++;
		kp_mutex_unlock(&vm->vm_lock);
		return (ENOMEM);
	}
	r.vr_size = vmem_roundup_size(vm, size);
	r.vr_align = vm->vm_quantum_mask + 1;
	r.vr_phase = 0;
	r.vr_nocross = 0;
	r.vr_minaddr = VMEM_ADDR_MIN;
	r.vr_maxaddr = VMEM_ADDR_MAX;
	r.vr_simple = true;
	return (vmem_xalloc_int(vm, &r, flags, addrp));
}

int
vmem_xalloc(vmem_t *vm, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
    vmem_addr_t maxaddr, int flags, vmem_addr_t *addrp)
{
	vmem_size_t q = vm->vm_quantum_mask + 1;
	struct vmem_req r;

	vmem_check_flags(vm, flags, "vmem_xalloc");
	if (size == 0)
		kp_fatal("vmem_xalloc: arena %s: size 0", vm->vm_name);
	if (align == 0)
		align = q;
	if ((align & (align - 1)) != 0 || (align & vm->vm_quantum_mask) != 0)
		kp_fatal("vmem_xalloc: arena %s: align 0x%zx is not a power of "
		    "two multiple of the quantum 0x%zx", vm->vm_name, align, q);
	if (phase >= align || (phase & vm->vm_quantum_mask) != 0)
		kp_fatal("vmem_xalloc: arena %s: phase 0x%zx is not a multiple "
		    "of the quantum below align 0x%zx", vm->vm_name, phase,
		    align);
	if (minaddr > maxaddr)
		kp_fatal("vmem_xalloc: arena %s: minaddr 0x%jx above maxaddr "
		    "0x%jx", vm->vm_name, (uintmax_t)minaddr,
		    (uintmax_t)maxaddr);
	if (size > ~vm->vm_quantum_mask) {
		kp_mutex_lock(&vm->vm_lock);
		vm->vm_nfailures++;
		kp_mutex_unlock(&vm->vm_lock);
		return (ENOMEM);
	}
	r.vr_size = vmem_roundup_size(vm, size);
	if (nocross != 0 &&
	    ((nocross & (nocross - 1)) != 0 || nocross < r.vr_size))
		kp_fatal("vmem_xalloc: arena %s: nocross 0x%zx is not a power "
		    "of two of at least the size 0x%zx", vm->vm_name, nocross,
		    r.vr_size);
	r.vr_align = align;
	r.vr_phase = phase;
	r.vr_nocross = nocross;
	r.vr_minaddr = minaddr;
	r.vr_maxaddr = maxaddr;
	r.vr_simple = align == q && phase == 0 && nocross == 0 &&
	    maxaddr == VMEM_ADDR_MAX;
	return (vmem_xalloc_int(vm, &r, flags, addrp));
}

/* ---- freeing ------------------------------------------------------------- */

static KP_COLD KP_NORETURN void
vmem_bad_free(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
    const struct vmem_btag *bt, const char *fn)
{
	if (bt == NULL)
		kp_fatal("%s: arena %s: 0x%jx (size %zu) was not allocated",
		    fn, vm->vm_name, (uintmax_t)addr, size);
	kp_fatal("%s: arena %s: 0x%jx allocated with size %zu, freed with "
	    "size %zu", fn, vm->vm_name, (uintmax_t)addr, bt->bt_size, size);
}

static void
vmem_xfree_int(vmem_t *vm, vmem_addr_t addr, vmem_size_t size,
    const char *fn)
{
	vmem_release_t *releasefn;
	struct vmem_btag *bt, *t;
	vmem_size_t rsize = vmem_roundup_size(vm, size);
	bool wake;

	kp_mutex_lock(&vm->vm_lock);
	bt = bt_lookupbusy(vm, addr);
	if (KP_UNLIKELY(bt == NULL || bt->bt_size != rsize))
		vmem_bad_free(vm, addr, size, bt, fn);
	LIST_REMOVE(bt, bt_link);
	vm->vm_nbusy--;
	vm->vm_inuse -= rsize;
	vm->vm_nfrees++;

	/* Coalesce with the free neighbours; spans' tags stop it. */
	t = TAILQ_NEXT(bt, bt_seglist);
	if (t != NULL && t->bt_type == BT_TYPE_FREE) {
		bt_remfree(vm, t);
		bt->bt_size += t->bt_size;
		bt_remseg(vm, t, bt);
		bt_free(vm, t);
	}
	t = bt_prev(bt);
	if (t->bt_type == BT_TYPE_FREE) {
		bt_remfree(vm, t);
		bt->bt_start = t->bt_start;
		bt->bt_size += t->bt_size;
		bt_remseg(vm, t, bt);
		bt_free(vm, t);
		t = bt_prev(bt);
	}

	wake = vm->vm_nwaiters > 0;
	releasefn = vm->vm_releasefn;
	if (t->bt_type == BT_TYPE_SPAN_IMPORT && t->bt_size == bt->bt_size &&
	    releasefn != NULL) {
		/* The imported span is wholly free: give it back. */
		vmem_addr_t saddr = t->bt_start;
		vmem_size_t ssize = t->bt_size;
		void *arg = vm->vm_importarg;

		vmem_drop_span(vm, t, bt);
		kp_mutex_unlock(&vm->vm_lock);
		releasefn(arg, saddr, ssize);
		bt_pool_maybe_shrink();
		if (wake) {
			kp_mutex_lock(&vm->vm_lock);
			kp_cond_broadcast(&vm->vm_cv);
			kp_mutex_unlock(&vm->vm_lock);
		}
		return;
	}
	bt_insfree(vm, bt);
	if (wake)
		kp_cond_broadcast(&vm->vm_cv);
	kp_mutex_unlock(&vm->vm_lock);
	bt_pool_maybe_shrink();
}

void
vmem_free(vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	if (size != 0 && size <= vm->vm_qcache_max)
		qc_free(vm, addr, size);
	else
		vmem_xfree_int(vm, addr, size, "vmem_free");
}

void
vmem_xfree(vmem_t *vm, vmem_addr_t addr, vmem_size_t size)
{
	vmem_xfree_int(vm, addr, size, "vmem_xfree");
}

/* ---- arenas -------------------------------------------------------------- */

/* Checks vmem_create()'s arguments; logs and returns false if bad. */
static bool
vmem_args_ok(const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum)
{
	if (quantum == 0 || (quantum & (quantum - 1)) != 0) {
		kp_log("vmem_create: arena %s: quantum %zu is not a power of "
		    "two", name, quantum);
		return (false);
	}
	if (((base | size) & (quantum - 1)) != 0) {
		kp_log("vmem_create: arena %s: base 0x%jx or size %zu is not "
		    "a multiple of the quantum %zu", name, (uintmax_t)base,
		    size, quantum);
		return (false);
	}
	if (size != 0 && base + (size - 1) < base) {
		kp_log("vmem_create: arena %s: span 0x%jx (size %zu) wraps "
		    "around", name, (uintmax_t)base, size);
		return (false);
	}
	return (true);
}

vmem_t *
vmem_init(vmem_t *vm, const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum, vmem_size_t qcache_max, int flags)
{
	int error = 0;

	kp_init();
	if (name == NULL)
		name = "vmem";
	if (!vmem_args_ok(name, base, size, quantum))
		return (NULL);
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->vm_name, sizeof(vm->vm_name), "%s", name);
	vm->vm_quantum_mask = quantum - 1;
	vm->vm_quantum_shift = __builtin_ctzll((unsigned long long)quantum);
	if (qcache_max > VMEM_QCACHE_IDX_MAX * quantum ||
	    quantum > ~(vmem_size_t)0 / VMEM_QCACHE_IDX_MAX)
		qcache_max = VMEM_QCACHE_IDX_MAX * quantum;
	vm->vm_qcache_max = (qcache_max + vm->vm_quantum_mask) &
	    ~vm->vm_quantum_mask;
	kp_mutex_init(&vm->vm_lock);
	kp_cond_init(&vm->vm_cv);
	for (int i = 0; i < VMEM_MAXORDER; i++)
		LIST_INIT(&vm->vm_freelist[i]);
	for (int i = 0; i < VMEM_HASHSIZE_MIN; i++)
		LIST_INIT(&vm->vm_hash0[i]);
	vm->vm_hashlist = vm->vm_hash0;
	vm->vm_hashsize = VMEM_HASHSIZE_MIN;
	vm->vm_hashshift = 64 - __builtin_ctz(VMEM_HASHSIZE_MIN);
	vm->vm_hashgrow_at = VMEM_HASHSIZE_MIN;
	TAILQ_INIT(&vm->vm_seglist);
	LIST_INIT(&vm->vm_spanlist);
	LIST_INIT(&vm->vm_freetags);
	vm->vm_import_quantum = quantum;

	if (size != 0) {
		kp_mutex_lock(&vm->vm_lock);
		error = bt_reserve(vm,
		    (flags & M_NOWAIT) ? M_NOWAIT : M_WAITOK);
		if (error == 0)
			vmem_add_span(vm, base, size, BT_TYPE_SPAN_STATIC,
			    "vmem_create");
		kp_mutex_unlock(&vm->vm_lock);
	}
	if (error != 0) {
		kp_log("vmem_create: arena %s: no memory for boundary tags",
		    vm->vm_name);
		kp_mutex_lock(&vm->vm_lock);
		bt_trim(vm, 0);
		kp_mutex_unlock(&vm->vm_lock);
		kp_cond_destroy(&vm->vm_cv);
		kp_mutex_destroy(&vm->vm_lock);
		return (NULL);
	}
	kp_mutex_lock(&vmem_arenas_lock);
	LIST_INSERT_HEAD(&vmem_arenas, vm, vm_alllink);
	kp_mutex_unlock(&vmem_arenas_lock);
	if (vm->vm_qcache_max != 0)
		qc_create(vm);
	return (vm);
}

vmem_t *
vmem_create(const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum, vmem_size_t qcache_max, int flags)
{
	vmem_meta_free_t *freefn;
	size_t bytes;
	vmem_t *vm;
	void *p;

	kp_init();
	if (!vmem_args_ok(name != NULL ? name : "vmem", base, size, quantum))
		return (NULL);
	bytes = vmem_page_roundup(sizeof(*vm));
	p = vmem_meta_alloc(bytes, (flags & M_NOWAIT) ? M_NOWAIT : M_WAITOK,
	    &freefn);
	if (p == NULL) {
		kp_log("vmem_create: arena %s: no memory for the arena",
		    name != NULL ? name : "vmem");
		return (NULL);
	}
	vm = vmem_init(p, name, base, size, quantum, qcache_max, flags);
	if (vm == NULL) {
		vmem_meta_free(freefn, p, bytes);
		return (NULL);
	}
	vm->vm_flags |= VMEM_F_CREATED;
	vm->vm_storage_free = freefn;
	vm->vm_storage_size = bytes;
	__atomic_add_fetch(&vmem_meta_arena_bytes, bytes, __ATOMIC_RELAXED);
	return (vm);
}

void
vmem_destroy(vmem_t *vm)
{
	struct vmem_btag *span, *bt;
	vmem_release_t *releasefn;
	vmem_addr_t saddr;
	vmem_size_t ssize;
	bool give;

	kp_mutex_lock(&vmem_arenas_lock);
	LIST_REMOVE(vm, vm_alllink);
	kp_mutex_unlock(&vmem_arenas_lock);
	/* The caches' segments go back first; the rest is the callers'. */
	qc_destroy(vm);
	kp_mutex_lock(&vm->vm_lock);
	if (vm->vm_nbusy > 0) {
		kp_log("vmem_destroy: arena %s: %ju segments (%zu bytes) "
		    "still allocated", vm->vm_name, (uintmax_t)vm->vm_nbusy,
		    vm->vm_inuse);
	}
	releasefn = vm->vm_releasefn;
	while ((span = LIST_FIRST(&vm->vm_spanlist)) != NULL) {
		/* Tear the span's segments down, then the span. */
		while ((bt = TAILQ_NEXT(span, bt_seglist)) != NULL &&
		    bt->bt_type != BT_TYPE_SPAN_STATIC &&
		    bt->bt_type != BT_TYPE_SPAN_IMPORT) {
			if (bt->bt_type == BT_TYPE_FREE) {
				bt_remfree(vm, bt);
			} else {
				LIST_REMOVE(bt, bt_link);
				vm->vm_nbusy--;
				vm->vm_inuse -= bt->bt_size;
			}
			bt_remseg(vm, bt, NULL);
			bt_free(vm, bt);
		}
		saddr = span->bt_start;
		ssize = span->bt_size;
		give = span->bt_type == BT_TYPE_SPAN_IMPORT &&
		    releasefn != NULL;
		bt_remseg(vm, span, NULL);
		LIST_REMOVE(span, bt_link);
		vm->vm_size -= ssize;
		vm->vm_nspans--;
		if (span->bt_type == BT_TYPE_SPAN_IMPORT)
			vm->vm_imported -= ssize;
		bt_free(vm, span);
		if (give) {
			kp_mutex_unlock(&vm->vm_lock);
			releasefn(vm->vm_importarg, saddr, ssize);
			kp_mutex_lock(&vm->vm_lock);
		}
	}
	bt_trim(vm, 0);
	kp_mutex_unlock(&vm->vm_lock);

	if (vm->vm_hashfree != NULL) {
		vmem_meta_free(vm->vm_hashfree, vm->vm_hashlist,
		    vm->vm_hashbytes);
		__atomic_sub_fetch(&vmem_meta_hash_bytes, vm->vm_hashbytes,
		    __ATOMIC_RELAXED);
	}
	kp_cond_destroy(&vm->vm_cv);
	kp_mutex_destroy(&vm->vm_lock);
	if (vm->vm_flags & VMEM_F_CREATED) {
		vmem_meta_free_t *freefn = vm->vm_storage_free;
		size_t bytes = vm->vm_storage_size;

		vmem_meta_free(freefn, vm, bytes);
		__atomic_sub_fetch(&vmem_meta_arena_bytes, bytes,
		    __ATOMIC_RELAXED);
	}
}

int
vmem_add(vmem_t *vm, vmem_addr_t addr, vmem_size_t size, int flags)
{
	int wait = flags & VMEM_WAIT_MASK;

	if (wait != M_NOWAIT && wait != M_WAITOK)
		vmem_bad_flags(vm, flags, "vmem_add");
	if (size == 0 || ((addr | size) & vm->vm_quantum_mask) != 0 ||
	    addr + (size - 1) < addr)
		kp_fatal("vmem_add: arena %s: span 0x%jx (size %zu) is empty, "
		    "wraps or is not a multiple of the quantum %zu",
		    vm->vm_name, (uintmax_t)addr, size,
		    (size_t)vm->vm_quantum_mask + 1);
	kp_mutex_lock(&vm->vm_lock);
	if (bt_reserve(vm, flags) != 0) {
		kp_mutex_unlock(&vm->vm_lock);
		return (ENOMEM);
	}
	vmem_add_span(vm, addr, size, BT_TYPE_SPAN_STATIC, "vmem_add");
	if (vm->vm_nwaiters > 0)
		kp_cond_broadcast(&vm->vm_cv);
	kp_mutex_unlock(&vm->vm_lock);
	return (0);
}

void
vmem_set_import(vmem_t *vm, vmem_import_t *importfn,
    vmem_release_t *releasefn, void *arg, vmem_size_t import_quantum)
{
	kp_mutex_lock(&vm->vm_lock);
	vm->vm_importfn = importfn;
	vm->vm_releasefn = releasefn;
	vm->vm_importarg = arg;
	if (import_quantum == 0)
		import_quantum = vm->vm_quantum_mask + 1;
	vm->vm_import_quantum = vmem_roundup_size(vm, import_quantum);
	kp_mutex_unlock(&vm->vm_lock);
}

void
vmem_set_limit(vmem_t *vm, vmem_size_t limit)
{
	kp_mutex_lock(&vm->vm_lock);
	vm->vm_limit = limit;
	if (vm->vm_nwaiters > 0)
		kp_cond_broadcast(&vm->vm_cv);
	kp_mutex_unlock(&vm->vm_lock);
}

void
vmem_set_reclaim(vmem_t *vm, vmem_reclaim_t *reclaimfn)
{
	kp_mutex_lock(&vm->vm_lock);
	vm->vm_reclaimfn = reclaimfn;
	kp_mutex_unlock(&vm->vm_lock);
}

/* ---- sizes, statistics, checking ----------------------------------------- */

/* The largest free segment.  Arena locked. */
static vmem_size_t
vmem_maxfree(vmem_t *vm)
{
	struct vmem_btag *bt;
	vmem_size_t max = 0;

	if (vm->vm_freemap == 0)
		return (0);
	LIST_FOREACH(bt, &vm->vm_freelist[63 - __builtin_clzll(vm->vm_freemap)],
	    bt_link) {
		if (bt->bt_size > max)
			max = bt->bt_size;
	}
	return (max);
}

vmem_size_t
vmem_size(vmem_t *vm, int typemask)
{
	vmem_size_t n;

	kp_mutex_lock(&vm->vm_lock);
	switch (typemask) {
	case VMEM_ALLOC:
		n = vm->vm_inuse;
		break;
	case VMEM_FREE:
		n = vm->vm_size - vm->vm_inuse;
		break;
	case VMEM_ALLOC | VMEM_FREE:
		n = vm->vm_size;
		break;
	case VMEM_MAXFREE:
		n = vmem_maxfree(vm);
		break;
	default:
		kp_fatal("vmem_size: arena %s: bad type mask 0x%x",
		    vm->vm_name, typemask);
	}
	kp_mutex_unlock(&vm->vm_lock);
	return (n);
}

const char *
vmem_name(const vmem_t *vm)
{
	return (vm->vm_name);
}

void
vmem_get_stats(vmem_t *vm, struct vmem_stats *st)
{
	kp_mutex_lock(&vm->vm_lock);
	st->vs_size = vm->vm_size;
	st->vs_inuse = vm->vm_inuse;
	st->vs_maxfree = vmem_maxfree(vm);
	st->vs_imported = vm->vm_imported;
	st->vs_nfree = vm->vm_nfree;
	st->vs_nbusy = vm->vm_nbusy;
	st->vs_nspans = vm->vm_nspans;
	st->vs_nallocs = vm->vm_nallocs;
	st->vs_nfrees = vm->vm_nfrees;
	st->vs_nfailures = vm->vm_nfailures;
	st->vs_nwaits = vm->vm_nwaits;
	st->vs_hashsize = vm->vm_hashsize;
	kp_mutex_unlock(&vm->vm_lock);
}

static KP_COLD KP_NORETURN KP_PRINTF(2, 3) void
vmem_check_fail(const vmem_t *vm, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kp_fatal("vmem_check: arena %s: %s", vm->vm_name, buf);
}

#define VMEM_CHECK(cond, ...)                                              \
	do {                                                               \
		if (KP_UNLIKELY(!(cond)))                                  \
			vmem_check_fail(vm, __VA_ARGS__);                  \
	} while (0)

/* Is bt linked consistently into vm's segment list? */
static bool
bt_onseglist(vmem_t *vm, struct vmem_btag *bt)
{
	struct vmem_btag *next = TAILQ_NEXT(bt, bt_seglist);

	if (*bt->bt_seglist.tqe_prev != bt)
		return (false);
	if (next != NULL)
		return (next->bt_seglist.tqe_prev == &bt->bt_seglist.tqe_next);
	return (vm->vm_seglist.tqh_last == &bt->bt_seglist.tqe_next);
}

int
vmem_check(vmem_t *vm)
{
	struct vmem_btag *bt, *prev = NULL, *span = NULL, *nextspan;
	vmem_addr_t next = 0, span_end = 0;
	vmem_size_t size = 0, inuse = 0, imported = 0;
	uint64_t nfree = 0, nbusy = 0, nspans = 0, n, total;
	bool covered = true, rotor_seen;
	int ntags;

	kp_mutex_lock(&vm->vm_lock);
	rotor_seen = vm->vm_rotor == NULL;
	nextspan = LIST_FIRST(&vm->vm_spanlist);
	TAILQ_FOREACH(bt, &vm->vm_seglist, bt_seglist) {
		if (bt == vm->vm_rotor)
			rotor_seen = true;
		VMEM_CHECK(bt->bt_size != 0 &&
		    ((bt->bt_start | bt->bt_size) & vm->vm_quantum_mask) == 0 &&
		    BT_END(bt) >= bt->bt_start,
		    "tag 0x%jx (size %zu) is empty, wraps or is not quantum "
		    "aligned", (uintmax_t)bt->bt_start, bt->bt_size);
		switch (bt->bt_type) {
		case BT_TYPE_SPAN_STATIC:
		case BT_TYPE_SPAN_IMPORT:
			VMEM_CHECK(covered, "span 0x%jx begins before the "
			    "previous span is covered by segments",
			    (uintmax_t)bt->bt_start);
			VMEM_CHECK(span == NULL || bt->bt_start > span_end,
			    "span 0x%jx out of address order or overlapping",
			    (uintmax_t)bt->bt_start);
			VMEM_CHECK(bt == nextspan, "span 0x%jx is not next on "
			    "the span list", (uintmax_t)bt->bt_start);
			nextspan = LIST_NEXT(bt, bt_link);
			span = bt;
			span_end = BT_END(bt);
			next = bt->bt_start;
			covered = false;
			nspans++;
			size += bt->bt_size;
			if (bt->bt_type == BT_TYPE_SPAN_IMPORT)
				imported += bt->bt_size;
			break;
		case BT_TYPE_FREE:
		case BT_TYPE_BUSY:
			VMEM_CHECK(span != NULL && !covered, "segment 0x%jx "
			    "outside any span", (uintmax_t)bt->bt_start);
			VMEM_CHECK(bt->bt_start == next, "segment 0x%jx does "
			    "not follow the previous one (expected 0x%jx)",
			    (uintmax_t)bt->bt_start, (uintmax_t)next);
			VMEM_CHECK(bt->bt_size - 1 <= span_end - bt->bt_start,
			    "segment 0x%jx (size %zu) runs past its span",
			    (uintmax_t)bt->bt_start, bt->bt_size);
			if (BT_END(bt) == span_end)
				covered = true;
			else
				next = BT_END(bt) + 1;
			if (bt->bt_type == BT_TYPE_FREE) {
				VMEM_CHECK(prev->bt_type != BT_TYPE_FREE,
				    "free segments 0x%jx and 0x%jx are "
				    "adjacent", (uintmax_t)prev->bt_start,
				    (uintmax_t)bt->bt_start);
				nfree++;
			} else {
				VMEM_CHECK(bt_lookupbusy(vm, bt->bt_start) ==
				    bt, "busy segment 0x%jx is not in the "
				    "hash", (uintmax_t)bt->bt_start);
				nbusy++;
				inuse += bt->bt_size;
			}
			break;
		default:
			VMEM_CHECK(0, "tag 0x%jx has bad type %d",
			    (uintmax_t)bt->bt_start, (int)bt->bt_type);
		}
		prev = bt;
	}
	VMEM_CHECK(covered, "the last span is not covered by segments");
	VMEM_CHECK(nextspan == NULL, "span 0x%jx is on the span list only",
	    (uintmax_t)nextspan->bt_start);
	VMEM_CHECK(rotor_seen, "the rotor is not on the segment list");

	total = 0;
	for (int i = 0; i < VMEM_MAXORDER; i++) {
		n = 0;
		LIST_FOREACH(bt, &vm->vm_freelist[i], bt_link) {
			VMEM_CHECK(bt->bt_type == BT_TYPE_FREE, "tag 0x%jx "
			    "of type %d on free list %d",
			    (uintmax_t)bt->bt_start, (int)bt->bt_type, i);
			VMEM_CHECK(bt_freehead(vm, bt->bt_size) ==
			    &vm->vm_freelist[i], "free segment 0x%jx (size "
			    "%zu) on free list %d", (uintmax_t)bt->bt_start,
			    bt->bt_size, i);
			VMEM_CHECK(bt_onseglist(vm, bt), "free segment 0x%jx "
			    "is not on the segment list",
			    (uintmax_t)bt->bt_start);
			n++;
		}
		VMEM_CHECK(((vm->vm_freemap >> i) & 1) == (n != 0),
		    "free bitmap bit %d is %d, list has %ju segments", i,
		    (int)((vm->vm_freemap >> i) & 1), (uintmax_t)n);
		total += n;
	}
	VMEM_CHECK(total == nfree && nfree == vm->vm_nfree, "free segments: "
	    "%ju on the lists, %ju on the segment list, count %ju",
	    (uintmax_t)total, (uintmax_t)nfree, (uintmax_t)vm->vm_nfree);

	total = 0;
	for (size_t i = 0; i < vm->vm_hashsize; i++) {
		LIST_FOREACH(bt, &vm->vm_hashlist[i], bt_link) {
			VMEM_CHECK(bt->bt_type == BT_TYPE_BUSY, "tag 0x%jx "
			    "of type %d in the hash", (uintmax_t)bt->bt_start,
			    (int)bt->bt_type);
			VMEM_CHECK(bt_hashhead(vm, bt->bt_start) ==
			    &vm->vm_hashlist[i], "busy segment 0x%jx in the "
			    "wrong hash bucket", (uintmax_t)bt->bt_start);
			VMEM_CHECK(bt_onseglist(vm, bt), "busy segment 0x%jx "
			    "is not on the segment list",
			    (uintmax_t)bt->bt_start);
			total++;
		}
	}
	VMEM_CHECK(total == nbusy && nbusy == vm->vm_nbusy, "busy segments: "
	    "%ju in the hash, %ju on the segment list, count %ju",
	    (uintmax_t)total, (uintmax_t)nbusy, (uintmax_t)vm->vm_nbusy);

	VMEM_CHECK(nspans == vm->vm_nspans, "%ju spans, count %ju",
	    (uintmax_t)nspans, (uintmax_t)vm->vm_nspans);
	VMEM_CHECK(size == vm->vm_size, "span bytes %zu, count %zu", size,
	    vm->vm_size);
	VMEM_CHECK(inuse == vm->vm_inuse, "busy bytes %zu, count %zu", inuse,
	    vm->vm_inuse);
	VMEM_CHECK(imported == vm->vm_imported, "imported bytes %zu, count "
	    "%zu", imported, vm->vm_imported);
	ntags = 0;
	LIST_FOREACH(bt, &vm->vm_freetags, bt_link)
		ntags++;
	VMEM_CHECK(ntags == vm->vm_nfreetags, "%d cached tags, count %d",
	    ntags, vm->vm_nfreetags);
	kp_mutex_unlock(&vm->vm_lock);
	return (0);
}

/* ---- fork (vmem_int.h; the order is in prim.h) ---------------------------- */

void
vmem_prefork_grow(void)
{
	kp_mutex_lock(&vmem_bt_grow_lock);
}

void
vmem_postfork_grow(void)
{
	kp_mutex_unlock(&vmem_bt_grow_lock);
}

void
vmem_prefork(void)
{
	vmem_t *vm;

	kp_mutex_lock(&vmem_arenas_lock);
	LIST_FOREACH(vm, &vmem_arenas, vm_alllink)
		kp_mutex_lock_fork(&vm->vm_lock);
	kp_mutex_lock(&vmem_bt_pool.bp_lock);
}

void
vmem_postfork_parent(void)
{
	vmem_t *vm;

	kp_mutex_unlock(&vmem_bt_pool.bp_lock);
	LIST_FOREACH(vm, &vmem_arenas, vm_alllink)
		kp_mutex_unlock_fork(&vm->vm_lock);
	kp_mutex_unlock(&vmem_arenas_lock);
}

void
vmem_postfork_child(void)
{
	struct vmem_bt_pool *bp = &vmem_bt_pool;
	vmem_t *vm;

	/* Only the forking thread exists: nobody waits, rehashes or imports. */
	bp->bp_nwaiters = 0;
	if (bp->bp_ready)
		kp_cond_init(&bp->bp_cv);
	kp_mutex_unlock(&bp->bp_lock);
	LIST_FOREACH(vm, &vmem_arenas, vm_alllink) {
		kp_mutex_unlock_fork(&vm->vm_lock);
		kp_mutex_lock(&vm->vm_lock);
		vm->vm_nwaiters = 0;
		if (vm->vm_rehashing) {
			vm->vm_rehashing = false;
			vm->vm_hashgrow_at = vm->vm_hashsize;
		}
		vm->vm_importing = 0;
		kp_cond_init(&vm->vm_cv);
		kp_mutex_unlock(&vm->vm_lock);
	}
	kp_mutex_unlock(&vmem_arenas_lock);
}

static const struct kp_fork_ops vmem_fork_grow_ops = {
	.kfo_prepare = vmem_prefork_grow,
	.kfo_parent = vmem_postfork_grow,
	.kfo_child = vmem_postfork_grow,
};

static const struct kp_fork_ops vmem_fork_ops = {
	.kfo_prepare = vmem_prefork,
	.kfo_parent = vmem_postfork_parent,
	.kfo_child = vmem_postfork_child,
};

static void __attribute__((constructor))
vmem_fork_register(void)
{
	kp_fork_register(KP_FORK_VMEM_GROW, &vmem_fork_grow_ops);
	kp_fork_register(KP_FORK_VMEM, &vmem_fork_ops);
}
