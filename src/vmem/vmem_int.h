/*
 * vmem_int.h -- vmem internals.  Not for use outside kmem.
 *
 * (The big theory statement, struct definitions and lock order go here.)
 */
#ifndef KMEM_VMEM_INT_H
#define KMEM_VMEM_INT_H

#include <kmem/vmem.h>

#include "../platform/prim.h"

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
 */
struct vmem_meta_ops {
	void *(*vmo_alloc)(size_t size, int flags);
	void (*vmo_free)(void *addr, size_t size);
};
void vmem_set_meta_ops(const struct vmem_meta_ops *ops);

/*
 * Creates an arena in caller-provided storage (the map's arena is static).
 * Same arguments and behaviour as vmem_create() otherwise.
 */
vmem_t *vmem_init(vmem_t *vm, const char *name, vmem_addr_t base,
    vmem_size_t size, vmem_size_t quantum, vmem_size_t qcache_max, int flags);

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

/*
 * Checks every invariant of the arena (tags in address order, no overlap,
 * free segments coalesced and on the right list, hash consistent, counters
 * exact).  Returns 0, or aborts with a message naming the arena and the
 * broken invariant.  Takes the arena lock; O(segments).
 */
int vmem_check(vmem_t *vm);

#endif /* KMEM_VMEM_INT_H */
