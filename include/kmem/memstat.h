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

/* Fills list with this process's types and zones; 0, or -1 (see geterror). */
int memstat_self_all(struct memory_type_list *list);

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

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* KMEM_MEMSTAT_H */
