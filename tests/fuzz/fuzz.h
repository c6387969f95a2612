/*
 * fuzz.h -- what the libFuzzer harnesses share: a reader that turns the
 * input bytes into numbers (zeros once they run out), and the check that
 * stops a harness with one line naming the input's operation and the
 * broken property.
 */
#ifndef KMEM_FUZZ_H
#define KMEM_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_in {
	const uint8_t *fi_p; /* next byte */
	size_t fi_n;         /* bytes left */
	unsigned fi_op;      /* operations decoded so far */
};

static inline void
fz_init(struct fz_in *in, const uint8_t *data, size_t size)
{
	in->fi_p = data;
	in->fi_n = size;
	in->fi_op = 0;
}

static inline int
fz_more(const struct fz_in *in)
{
	return (in->fi_n > 0);
}

static inline uint64_t
fz_bytes(struct fz_in *in, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n && in->fi_n > 0; i++, in->fi_p++, in->fi_n--)
		v |= (uint64_t)*in->fi_p << (8 * i);
	return (v);
}

static inline unsigned
fz_u8(struct fz_in *in)
{
	return ((unsigned)fz_bytes(in, 1));
}

static inline unsigned
fz_u16(struct fz_in *in)
{
	return ((unsigned)fz_bytes(in, 2));
}

static inline uint64_t
fz_u64(struct fz_in *in)
{
	return (fz_bytes(in, 8));
}

/* A number below n (n > 0). */
static inline uint64_t
fz_below(struct fz_in *in, uint64_t n)
{
	uint64_t v = n <= 256 ? fz_u8(in) : n <= 65536 ? fz_u16(in) :
	    fz_u64(in);

	return (v % n);
}

static inline __attribute__((noreturn, format(printf, 3, 4))) void
fz_fail(const struct fz_in *in, const char *harness, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: operation %u: ", harness,
	    in != NULL ? in->fi_op : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#endif /* KMEM_FUZZ_H */
