/*
 * uma_stats.h -- zone statistics for the layers above and for tests.  Not for
 * use outside kmem.
 */
#ifndef KMEM_UMA_STATS_H
#define KMEM_UMA_STATS_H

#include <kmem/uma.h>
#include <stdbool.h>
#include <stdint.h>

/* A snapshot of one zone, exact when no thread uses the zone meanwhile. */
struct uma_zone_stats {
	char zs_name[32];       /* zone name */
	uint64_t zs_size;       /* item size asked for */
	uint64_t zs_rsize;      /* item size in the slab (aligned) */
	uint64_t zs_limit;      /* uma_zone_set_max() limit, 0 = none */
	uint64_t zs_used;       /* items allocated and not freed */
	uint64_t zs_free;       /* free items: caches + bucket cache + slabs */
	uint64_t zs_free_cache; /* ... in per-thread caches */
	uint64_t zs_free_bucket; /* ... in the zone's bucket cache */
	uint64_t zs_free_slab;  /* ... in the keg's slabs */
	uint64_t zs_requests;   /* successful allocations */
	uint64_t zs_frees;      /* frees */
	uint64_t zs_failures;   /* allocations that returned NULL */
	uint64_t zs_sleeps;     /* M_WAITOK sleeps at the limit */
	uint64_t zs_pages;      /* pages of the map held by the keg's slabs */
	uint64_t zs_slabs;      /* slabs */
	uint64_t zs_ipers;      /* items per slab */
	uint64_t zs_slab_pages; /* pages per slab */
	uint64_t zs_bucket_size; /* current bucket size (items) */
	uint64_t zs_wss;        /* working-set estimate of the bucket cache */
	uint32_t zs_flags;      /* UMA_ZONE_* flags */
	bool zs_secondary;      /* made by uma_zsecond_create() */
	bool zs_internal;       /* one of kmem's own zones, slabs in metadata */
	bool zs_kmem;           /* kmem's own (internal, or kmalloc's records) */
	bool zs_keg;            /* items live in slabs (not a cache-only zone) */
};

void uma_zone_get_stats(uma_zone_t zone, struct uma_zone_stats *st);

/* Calls fn for every zone (kmem's own included), under the zone list lock. */
void uma_zone_foreach(void (*fn)(uma_zone_t zone, void *arg), void *arg);

#endif /* KMEM_UMA_STATS_H */
