/*
 * <kmem/kmem.h> -- allocation flags, the bounded kernel map, tunables and the
 * map report.
 *
 * kmem carves all of its memory out of one reserved address range of
 * kmem_size() bytes, the map.  Pages are committed when they are handed out
 * and returned to the system when they are given back.  Running out of the map
 * is never fatal: M_NOWAIT requests get NULL, M_WAITOK requests wait for
 * memory that other threads free, and a request that can never fit fails at
 * once with a message.  See kmem_malloc(3).
 */
#ifndef KMEM_KMEM_H
#define KMEM_KMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/*
 * Flags, with FreeBSD's values.  Exactly one of M_NOWAIT and M_WAITOK must be
 * given to every allocating call.
 */
#define M_NOWAIT 0x0001      /* do not block: return NULL on shortage */
#define M_WAITOK 0x0002      /* wait for memory; never NULL if it can fit */
#define M_ZERO 0x0100        /* zero the allocation */
#define M_NOVM 0x0200        /* do not grow the map to satisfy the request */
#define M_USE_RESERVE 0x0400 /* may dip into a zone's reserve */
#define M_FIRSTFIT 0x1000    /* vmem: instant fit (default) */
#define M_BESTFIT 0x2000     /* vmem: best fit */
#define M_NEXTFIT 0x8000     /* vmem: next fit after the last allocation */

struct vmem;

/*
 * The map.  kmem_malloc() and kmem_free() deal in whole pages: the size is
 * rounded up to a multiple of kmem_page_size(), and kmem_free() must be given
 * the same size (before or after rounding) that was asked of kmem_malloc().
 */
void *kmem_malloc(size_t size, int flags);
void kmem_free(void *addr, size_t size);

size_t kmem_size(void);      /* bytes of address space in the map */
size_t kmem_map_size(void);  /* bytes of the map in use */
size_t kmem_map_free(void);  /* bytes of the map free */
size_t kmem_page_size(void); /* the map's page size */

/* The arena of the whole map: kmem_malloc() is kmem_arena_malloc() on it. */
struct vmem *kmem_map_arena(void);

/*
 * Submaps: child arenas with their own bound, carved from the map at
 * creation.  kmem_arena_malloc() and kmem_arena_free() give and take back
 * committed pages from a submap (or from kmem_map_arena()).
 */
struct vmem *kmem_submap_create(const char *name, size_t size);
void *kmem_arena_malloc(struct vmem *arena, size_t size, int flags);
void kmem_arena_free(struct vmem *arena, void *addr, size_t size);

/*
 * Low-memory handlers run, in registration order and without any kmem lock
 * held, when an allocation finds the map (or a submap) full, before the
 * allocation is retried and before anyone is made to wait.  flags are the
 * flags of the request that ran short (M_NOWAIT or M_WAITOK).  At most
 * KMEM_LOWMEM_MAX handlers; register returns 0, EINVAL (fn NULL) or ENOSPC;
 * deregister returns 0 or ENOENT (no such fn and arg).  A run already under
 * way when a handler is deregistered may still call it once.
 */
#define KMEM_LOWMEM_MAX 32
int kmem_lowmem_register(void (*fn)(void *arg, int flags), void *arg);
int kmem_lowmem_deregister(void (*fn)(void *arg, int flags), void *arg);

/*
 * Writes where every byte of the map is: in use by each owner class, free,
 * the largest free extent, fragmentation, submaps, the waits and failures,
 * how kmem_size was chosen and the tunables in force with their origin.  The
 * classes sum exactly to kmem_size().  Returns 0, or -1 with errno set.
 */
int kmem_report(FILE *out);

/*
 * Tunables.  They come from the environment variable KMEM_OPTIONS
 * (comma-separated name=value, e.g. "kmem_size=64M,wait_warn_ms=500"), read
 * once when kmem is first used, and from kmem_setopt() before that.
 * KMEM_OPTIONS is applied after kmem_setopt(), so the person running a
 * program has the last word.  kmem_setopt() returns 0, EINVAL for an unknown
 * name or a bad value (with a message naming it on stderr) or EBUSY for a
 * tunable that can only be set before first use.
 */
int kmem_setopt(const char *name, const char *value);

/*
 * Checks what the debug tunables guard: with trash=1, that no free item of
 * a checked zone was written to; with redzone=1, the guards of every live
 * kmalloc block.  Each problem is printed on stderr as one line, in the
 * format the check at allocation or free would abort with.  Returns the
 * number of problems (0 with both tunables off).
 */
int kmem_check(void);

/*
 * Sets the map up now instead of at first use.  Returns 0 or an errno value
 * (ENOMEM when the address space cannot be reserved).  Idempotent: set-up is
 * tried once; if it failed, every later call returns the same error and
 * every allocation, M_WAITOK included, returns NULL with errno ENOMEM.
 */
int kmem_init(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* KMEM_KMEM_H */
