/*
 * <kmem/memstat.h> -- reading kmem's statistics, after FreeBSD's
 * libmemstat(3).
 *
 * A struct memory_type_list holds a snapshot of every malloc type
 * (ALLOCATOR_MALLOC) and uma zone (ALLOCATOR_UMA); iterate it with
 * memstat_mtl_first()/memstat_mtl_next(), look a type up with
 * memstat_mtl_find(), and read each with the memstat_get_* getters.  See
 * memstat(3).
 */
#ifndef KMEM_MEMSTAT_H
#define KMEM_MEMSTAT_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define MEMTYPE_MAXNAME 32

#define ALLOCATOR_UNKNOWN 0
#define ALLOCATOR_MALLOC 1
#define ALLOCATOR_UMA 2
#define ALLOCATOR_ANY 255

#define MEMSTAT_ERROR_UNDEFINED 0  /* no error */
#define MEMSTAT_ERROR_NOMEMORY 1   /* out of memory */
#define MEMSTAT_ERROR_VERSION 2    /* statistics of another layout version */
#define MEMSTAT_ERROR_PERMISSION 3 /* not allowed to read them */
#define MEMSTAT_ERROR_DATAERROR 5  /* corrupt or truncated statistics */
#define MEMSTAT_ERROR_NOTFOUND 6   /* no such process or file */
#define MEMSTAT_ERROR_NOTSTATS 7   /* not a kmem statistics file */
#define MEMSTAT_ERROR_TRUNCATED 8  /* statistics file cut short */

struct memory_type;
struct memory_type_list;

struct memory_type_list *memstat_mtl_alloc(void);
void memstat_mtl_free(struct memory_type_list *list);
struct memory_type *memstat_mtl_first(struct memory_type_list *list);
struct memory_type *memstat_mtl_next(struct memory_type *mtp);
struct memory_type *memstat_mtl_find(struct memory_type_list *list,
    int allocator, const char *name);
int memstat_mtl_geterror(struct memory_type_list *list);
const char *memstat_strerror(int error);

/*
 * Fill list with the types and zones of this process, of the live process
 * pid (through its statistics file, which it refreshes on request), or of
 * the statistics file at path (live or left by a dead process).  Each
 * returns 0, or -1 with the reason in memstat_mtl_geterror(list).
 */
int memstat_self_all(struct memory_type_list *list);
int memstat_pid_all(struct memory_type_list *list, pid_t pid);
int memstat_file_all(struct memory_type_list *list, const char *path);

/* What the process was in when the snapshot was taken (mk_state). */
#define MEMSTAT_STATE_RUNNING 1 /* running (or killed without a word) */
#define MEMSTAT_STATE_EXITED 2  /* exited normally (file kept: stats_keep=1) */
#define MEMSTAT_STATE_FATAL 3   /* kmem aborted it (bad free, corruption) */

/*
 * The snapshot's origin and the kmem map at that moment: where every byte
 * of the map is (the lines from mk_malloc to mk_free sum to mk_size).
 */
struct memstat_kmem {
	uint64_t mk_pid;          /* the process */
	uint64_t mk_version;      /* statistics layout version */
	uint64_t mk_state;        /* MEMSTAT_STATE_* */
	uint64_t mk_live;         /* 1: the process is alive now */
	int64_t mk_start_ns;      /* when it started (CLOCK_REALTIME ns) */
	int64_t mk_time_ns;       /* when the snapshot was taken (same clock) */
	uint64_t mk_generation;   /* snapshots published so far */
	char mk_command[64];      /* its program name */
	uint64_t mk_size;         /* kmem_size: the map's bytes */
	uint64_t mk_pagesize;     /* page size */
	uint64_t mk_malloc;       /* blocks of the kmalloc zones in use */
	uint64_t mk_large;        /* large kmalloc allocations (pages) */
	uint64_t mk_zone_used;    /* items in use, other zones */
	uint64_t mk_zone_cached;  /* free items in per-thread and zone caches */
	uint64_t mk_zone_slabfree; /* rest of the slab pages: free items, headers */
	uint64_t mk_direct;       /* kmem_malloc() pages */
	uint64_t mk_submaps;      /* reserved by submaps */
	uint64_t mk_meta;         /* kmem's metadata */
	uint64_t mk_free;         /* free */
	uint64_t mk_maxfree;      /* largest free extent */
	uint64_t mk_nfree;        /* free extents */
	uint64_t mk_failures;     /* map requests that returned NULL */
	uint64_t mk_waits;        /* M_WAITOK sleeps for map space */
	uint64_t mk_reserved[8];
};
/* Copies the list's map figures to *mk; 0, or -1 if the list is empty. */
int memstat_get_kmem(const struct memory_type_list *list,
    struct memstat_kmem *mk);

const char *memstat_get_name(const struct memory_type *mtp);
int memstat_get_allocator(const struct memory_type *mtp);
uint64_t memstat_get_size(const struct memory_type *mtp);      /* item size */
uint64_t memstat_get_rsize(const struct memory_type *mtp);     /* in slab */
uint64_t memstat_get_countlimit(const struct memory_type *mtp); /* 0: none */
uint64_t memstat_get_sizemask(const struct memory_type *mtp);  /* classes */
uint64_t memstat_get_numallocs(const struct memory_type *mtp);
uint64_t memstat_get_numfrees(const struct memory_type *mtp);
uint64_t memstat_get_count(const struct memory_type *mtp);     /* in use */
uint64_t memstat_get_bytes(const struct memory_type *mtp);     /* in use */
uint64_t memstat_get_highbytes(const struct memory_type *mtp); /* most */
uint64_t memstat_get_free(const struct memory_type *mtp);      /* cached */
uint64_t memstat_get_free_cache(const struct memory_type *mtp);
uint64_t memstat_get_free_bucket(const struct memory_type *mtp);
uint64_t memstat_get_free_slab(const struct memory_type *mtp);
uint64_t memstat_get_failures(const struct memory_type *mtp);
uint64_t memstat_get_sleeps(const struct memory_type *mtp);
uint64_t memstat_get_pages(const struct memory_type *mtp);     /* of slabs */
/* 1 for the kmalloc zones, whose bytes the malloc types count already. */
int memstat_get_malloc_backed(const struct memory_type *mtp);
/* 1 for kmem's own zones: buckets, slab headers, zone structures. */
int memstat_get_internal(const struct memory_type *mtp);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* KMEM_MEMSTAT_H */
