/*
 * dlmod.c -- a loadable module with a malloc type of its own, for
 * test_malloc_dl: its type registers when the module is loaded and
 * unregisters when it is unloaded.
 */
#include <kmem/malloc.h>

MALLOC_DEFINE(M_DLMOD, "dlmod", "blocks of a loadable module");

void *dlmod_alloc(size_t size);
void dlmod_free(void *p);
struct malloc_type *dlmod_type(void);

void *
dlmod_alloc(size_t size)
{
	return (kmalloc(size, M_DLMOD, M_WAITOK));
}

void
dlmod_free(void *p)
{
	kfree(p, M_DLMOD);
}

struct malloc_type *
dlmod_type(void)
{
	return (M_DLMOD);
}
