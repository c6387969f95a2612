/*
 * reenter.c -- preloaded before libkmem-preload.so, it replaces
 * secure_getenv(), which kmem calls while it sets itself up inside the first
 * malloc(): the allocations made here arrive while kmem is initialising on
 * the same thread, and the shim serves them from its bootstrap buffer.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int calls;

char *
secure_getenv(const char *name)
{
	char *p = malloc(40);

	if (p == NULL)
		abort();
	strcpy(p, "reentered");
	p = realloc(p, 4000);
	if (p == NULL || strcmp(p, "reentered") != 0 ||
	    malloc_usable_size(p) < 4000)
		abort();
	free(p);
	void *z = calloc(10, 10);
	void *a = NULL;
	if (z == NULL || ((char *)z)[99] != 0 || posix_memalign(&a, 256, 10) != 0 ||
	    ((unsigned long)a & 255) != 0)
		abort();
	free(z);
	free(a);
	calls++;
	return (getenv(name));
}

static void __attribute__((destructor))
reenter_fini(void)
{
	static const char msg[] = "reenter: ok\n";

	if (calls > 0)
		(void)!write(2, msg, sizeof(msg) - 1);
}
