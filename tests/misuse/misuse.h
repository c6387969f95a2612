/*
 * misuse.h -- shared by the programs of the misuse matrix (matrix.sh).
 *
 * Each program makes one mistake with libc's allocation functions and
 * nothing else of kmem, so that it runs the same way under any allocator
 * given by LD_PRELOAD.  The calls go through volatile pointers, so the
 * compiler neither sees the mistake nor removes it.  A program that runs
 * to its end prints "ran to the end" on standard output and exits 0: the
 * allocator let the mistake pass.  Programs write nothing on standard
 * error, so what is there is the allocator's.
 */
#ifndef KMEM_MISUSE_H
#define KMEM_MISUSE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*volatile m_malloc)(size_t) = malloc;
static void (*volatile m_free)(void *) = free;
static void *(*volatile m_realloc)(void *, size_t) = realloc;

/* Stores v at p[off], a store the compiler cannot drop. */
static inline void
m_store(void *p, long off, unsigned char v)
{
	((volatile unsigned char *)p)[off] = v;
}

/* Reads p[off]. */
static inline unsigned char
m_load(const void *p, long off)
{
	return (((const volatile unsigned char *)p)[off]);
}

/*
 * Allocates and frees n blocks of size bytes, holding them all at once:
 * the allocator hands out again what was freed, and checks it.
 */
static inline void
m_churn(size_t size, int n)
{
	void *held[256];

	if (n > 256)
		n = 256;
	for (int i = 0; i < n; i++) {
		held[i] = m_malloc(size);
		if (held[i] != NULL)
			memset(held[i], 0x5a, size);
	}
	for (int i = 0; i < n; i++)
		m_free(held[i]);
}

static inline int
m_done(void)
{
	printf("ran to the end\n");
	fflush(stdout);
	return (0);
}

#endif /* KMEM_MISUSE_H */
