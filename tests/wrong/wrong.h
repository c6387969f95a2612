/*
 * wrong.h -- helpers of the misuse programs (tests/wrong/README).
 *
 * Each program sets the tunables it needs, prints on standard output the one
 * line kmem must write on standard error (expect()), then makes its one
 * mistake.  run.sh checks the signal and the line.
 */
#ifndef KMEM_WRONG_H
#define KMEM_WRONG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/uma.h>

/* Sets name=value before kmem is used; exits 2 if refused. */
static inline void
wrong_opt(const char *name, const char *value)
{
	if (kmem_setopt(name, value) != 0) {
		fprintf(stderr, "wrong: kmem_setopt(%s, %s) refused\n", name, value);
		exit(2);
	}
}

/* Sets the map up with the debug modes in opts ("trash", "redzone", ""). */
static inline void
wrong_setup(const char *opts)
{
	wrong_opt("kmem_size", "64M");
	wrong_opt("stats", "0");
	if (strstr(opts, "trash") != NULL)
		wrong_opt("trash", "1");
	if (strstr(opts, "redzone") != NULL)
		wrong_opt("redzone", "1");
	if (kmem_init() != 0)
		exit(2);
}

/* The line expected on stderr, "kmem: " and the message. */
__attribute__((format(printf, 1, 2))) static inline void
expect(const char *fmt, ...)
{
	va_list ap;

	fputs("kmem: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Keeps the compiler from dropping a store to freed memory. */
static inline void
wrong_store(void *p, ptrdiff_t off, unsigned char v)
{
	((volatile unsigned char *)p)[off] = v;
}

#endif /* KMEM_WRONG_H */
