/*
 * <kmem/vmem.h> -- general purpose resource allocator, after FreeBSD's
 * vmem(9) and Bonwick & Adams, "Magazines and Vmem" (USENIX 2001).
 *
 * An arena manages a set of integer ranges (spans) and hands out segments of
 * them.  Instant-fit allocation (the default) and free take constant time in
 * the number of segments; best fit, next fit and constrained requests may
 * search.  An arena can import spans from a parent arena on demand, and manages any integers,
 * not only addresses.  See vmem(3).
 */
#ifndef KMEM_VMEM_H
#define KMEM_VMEM_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/kmem.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

typedef struct vmem vmem_t;
typedef uintptr_t vmem_addr_t;
typedef size_t vmem_size_t;

#define VMEM_ADDR_MIN 0
#define VMEM_ADDR_QCACHE_MIN 1
#define VMEM_ADDR_MAX (~(vmem_addr_t)0)

/* vmem_size() type mask */
#define VMEM_ALLOC 0x01   /* bytes allocated */
#define VMEM_FREE 0x02    /* bytes free */
#define VMEM_MAXFREE 0x10 /* size of the largest free segment */

/* Quantum caches cover at most this many quanta. */
#define VMEM_QCACHE_IDX_MAX 16

typedef int(vmem_import_t)(void *arg, vmem_size_t size, int flags,
    vmem_addr_t *addrp);
typedef void(vmem_release_t)(void *arg, vmem_addr_t addr, vmem_size_t size);
typedef void(vmem_reclaim_t)(vmem_t *vm, int flags);

vmem_t *vmem_create(const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum, vmem_size_t qcache_max, int flags);
void vmem_destroy(vmem_t *vm);

void vmem_set_import(vmem_t *vm, vmem_import_t *importfn,
    vmem_release_t *releasefn, void *arg, vmem_size_t import_quantum);
void vmem_set_limit(vmem_t *vm, vmem_size_t limit);
void vmem_set_reclaim(vmem_t *vm, vmem_reclaim_t *reclaimfn);

int vmem_add(vmem_t *vm, vmem_addr_t addr, vmem_size_t size, int flags);

int vmem_alloc(vmem_t *vm, vmem_size_t size, int flags, vmem_addr_t *addrp);
void vmem_free(vmem_t *vm, vmem_addr_t addr, vmem_size_t size);

int vmem_xalloc(vmem_t *vm, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
    vmem_addr_t maxaddr, int flags, vmem_addr_t *addrp);
void vmem_xfree(vmem_t *vm, vmem_addr_t addr, vmem_size_t size);

vmem_size_t vmem_roundup_size(vmem_t *vm, vmem_size_t size);
vmem_size_t vmem_size(vmem_t *vm, int typemask);
const char *vmem_name(const vmem_t *vm);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* KMEM_VMEM_H */
