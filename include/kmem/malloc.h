/*
 * <kmem/malloc.h> -- typed allocation, after FreeBSD's malloc(9).
 *
 * Every allocation is charged to a malloc type declared with MALLOC_DEFINE.
 * Small sizes are served by the kmalloc zones ("16", "32", ... "65536"),
 * larger ones by whole pages of the map.  Per-type statistics (in use,
 * bytes, high-water mark, requests, size classes, failures) are exact and
 * always on, and kfree() checks through the map's page table that the
 * address is the start of a live allocation of that type.  See kmalloc(3).
 */
#ifndef KMEM_MALLOC_H
#define KMEM_MALLOC_H

#include <stddef.h>
#include <stdint.h>

#include <kmem/kmem.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define M_MAGIC 0x6b6d7479u /* a struct malloc_type of this layout */

/*
 * A malloc type.  Define one with MALLOC_DEFINE at file scope; the fields
 * are kmem's, set when the type registers itself.
 */
struct malloc_type {
	uint32_t ks_magic;        /* M_MAGIC */
	uint32_t ks_index;        /* kmem's number for the type; 0 = none */
	const char *ks_shortdesc; /* name, as vmstat -m prints it */
	const char *ks_longdesc;  /* description */
	void *ks_handle;          /* kmem's bookkeeping */
};

/* Registration, done by MALLOC_DEFINE when its object is loaded/unloaded. */
void malloc_type_register(struct malloc_type *type);
void malloc_type_unregister(struct malloc_type *type);

#define MALLOC_DEFINE(type, shortdesc, longdesc)                          \
	struct malloc_type type[1] = {                                      \
	    {M_MAGIC, 0, shortdesc, longdesc, NULL}};                        \
	static void __attribute__((constructor)) kmem_mt_init_##type(void)  \
	{                                                                    \
		malloc_type_register(type);                                      \
	}                                                                    \
	static void __attribute__((destructor)) kmem_mt_fini_##type(void)   \
	{                                                                    \
		malloc_type_unregister(type);                                    \
	}                                                                    \
	struct kmem_mt_semicolon_##type

#define MALLOC_DECLARE(type) extern struct malloc_type type[1]

void *kmalloc(size_t size, struct malloc_type *type, int flags);
void kfree(void *addr, struct malloc_type *type);
void kzfree(void *addr, struct malloc_type *type);
void *krealloc(void *addr, size_t size, struct malloc_type *type, int flags);
void *kreallocf(void *addr, size_t size, struct malloc_type *type, int flags);
void *kmallocarray(size_t nmemb, size_t size, struct malloc_type *type,
    int flags);
size_t kmalloc_usable_size(const void *addr);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* KMEM_MALLOC_H */
