/*
 * <kmem/uma.h> -- zones of fixed-size items, after FreeBSD's uma(9).
 *
 * A zone hands out items of one size.  Items come from slabs (runs of pages
 * of the map) cut into equal pieces; freed items go to a per-thread cache in
 * front of the zone and are handed out again from there, so the common
 * allocation and free touch no lock and no shared cache line.  Items are
 * type-stable: init runs once when an item's slab is made and fini when the
 * slab is given back, while ctor and dtor run on every allocation and free.
 * Zones can be limited, reserved, preallocated and reclaimed.  See uma(3).
 */
#ifndef KMEM_UMA_H
#define KMEM_UMA_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/kmem.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct uma_zone;
typedef struct uma_zone *uma_zone_t;

/*
 * Item constructor: runs on every allocation, with the arg of
 * uma_zalloc_arg() and the allocation's flags.  Returns 0, or an errno
 * value to make the allocation fail (the item goes back to the zone).
 */
typedef int (*uma_ctor)(void *mem, int size, void *arg, int flags);
/* Item destructor: runs on every free, with the arg of uma_zfree_arg(). */
typedef void (*uma_dtor)(void *mem, int size, void *arg);
/*
 * Item initialiser: runs once when the item enters the zone (its slab is
 * made), not on every allocation.  Returns 0 or an errno value (the slab is
 * then given back and the allocation fails).
 */
typedef int (*uma_init)(void *mem, int size, int flags);
/* Item finaliser: runs when the item leaves the zone (its slab is freed). */
typedef void (*uma_fini)(void *mem, int size);
/* Called when an allocation finds the zone at its limit. */
typedef void (*uma_maxaction_t)(uma_zone_t zone, int unused);

/* uma_zcreate() flags (FreeBSD's values). */
#define UMA_ZONE_ZINIT 0x0002    /* items start zeroed (init with zeros) */
#define UMA_ZONE_NOFREE 0x0020   /* slabs are never given back to the map */
#define UMA_ZONE_NOBUCKET 0x0400 /* no per-thread caches: every allocation
                                    and free goes to the zone itself */

/* Alignment masks for uma_zcreate(): the item start is a multiple of
 * mask + 1. */
#define UMA_ALIGN_PTR (sizeof(void *) - 1)
#define UMA_ALIGN_LONG (sizeof(long) - 1)
#define UMA_ALIGN_INT (sizeof(int) - 1)
#define UMA_ALIGN_SHORT (sizeof(short) - 1)
#define UMA_ALIGN_CHAR (sizeof(char) - 1)
#define UMA_ALIGN_CACHE (-1) /* the cache line size */
#define UMA_ALIGNOF(type) (_Alignof(type) - 1)

/* Reclaim requests (FreeBSD's values). */
#define UMA_RECLAIM_DRAIN 1     /* release the zones' bucket caches */
#define UMA_RECLAIM_DRAIN_CPU 2 /* ... and the per-thread caches */
#define UMA_RECLAIM_TRIM 3      /* trim bucket caches to the working set */

/*
 * Creates a zone of items of `size` bytes.  Returns NULL (with a message)
 * for a size of 0, an alignment mask that is not a power of two less one,
 * unknown flags, or when the map has no room for the zone's structures.
 */
uma_zone_t uma_zcreate(const char *name, size_t size, uma_ctor ctor,
    uma_dtor dtor, uma_init uminit, uma_fini fini, int align, uint32_t flags);

/*
 * Creates a secondary zone over the items of `primary`: it has its own
 * caches, ctor and dtor, and its zinit/zfini run when an item passes from
 * the primary's slabs into this zone and back.
 */
uma_zone_t uma_zsecond_create(const char *name, uma_ctor ctor, uma_dtor dtor,
    uma_init zinit, uma_fini zfini, uma_zone_t primary);

/*
 * Destroys a zone.  Items still allocated are reported by count and name
 * on stderr; their memory is given back anyway.
 */
void uma_zdestroy(uma_zone_t zone);

/*
 * Allocates an item.  flags: exactly one of M_NOWAIT and M_WAITOK, and
 * M_ZERO, M_USE_RESERVE.  M_NOWAIT returns NULL when the zone is at its
 * limit or the map is short; M_WAITOK waits instead and returns NULL only
 * when a ctor or init fails.
 */
void *uma_zalloc_arg(uma_zone_t zone, void *arg, int flags);
/* Frees an item; item NULL is a no-op. */
void uma_zfree_arg(uma_zone_t zone, void *item, void *arg);

static inline void *
uma_zalloc(uma_zone_t zone, int flags)
{
	return (uma_zalloc_arg(zone, NULL, flags));
}

static inline void
uma_zfree(uma_zone_t zone, void *item)
{
	uma_zfree_arg(zone, item, NULL);
}

/*
 * Limits the items of the zone (in use and in caches) to nitems; 0 removes
 * the limit.  Returns the effective limit.
 */
int uma_zone_set_max(uma_zone_t zone, int nitems);
/* The limit, or 0 for none. */
int uma_zone_get_max(uma_zone_t zone);
/* Items allocated and not freed. */
int uma_zone_get_cur(uma_zone_t zone);
/* Printed (rate-limited) when an allocation finds the zone at its limit. */
void uma_zone_set_warning(uma_zone_t zone, const char *warning);
/* Called when an allocation finds the zone at its limit. */
void uma_zone_set_maxaction(uma_zone_t zone, uma_maxaction_t fn);
/*
 * Keeps nitems items for M_USE_RESERVE allocations: other allocations
 * fail (or wait) rather than take the last nitems free items.
 */
void uma_zone_reserve(uma_zone_t zone, int nitems);
/* Allocates slabs for itemcnt items now. */
void uma_prealloc(uma_zone_t zone, int itemcnt);

/* Gives cached memory back to the map (see the UMA_RECLAIM_ requests). */
void uma_reclaim(int req);
void uma_zone_reclaim(uma_zone_t zone, int req);

/* The zone's name and item size. */
const char *uma_zone_name(uma_zone_t zone);
size_t uma_zone_size(uma_zone_t zone);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* KMEM_UMA_H */
