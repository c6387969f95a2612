/*
 * kt_malloc.h -- what the kmalloc tests share: the size classes as the
 * tests expect them (written out, not taken from the library), what a
 * request must get, krealloc's keep rule, random sizes and content marks.
 */
#ifndef KMEM_KT_MALLOC_H
#define KMEM_KT_MALLOC_H

#include <kmem/kmem.h>

#include "kt.h"

#define NCLASSES 44

static const size_t classes[NCLASSES] = {16, 32, 48, 64, 80, 96,
    112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
    10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768, 40960, 49152,
    57344, 65536};

static inline size_t
page_round(size_t n)
{
	size_t ps = kmem_page_size();

	return ((n + ps - 1) / ps * ps);
}

/* The class index of a request, or -1 for a large one. */
static inline int
class_of(size_t size)
{
	for (int c = 0; c < NCLASSES; c++)
		if (size <= classes[c])
			return (c);
	return (-1);
}

/* What kmalloc_usable_size() must say for a request of size bytes. */
static inline size_t
usable_of(size_t size)
{
	int c = class_of(size);

	return (c >= 0 ? classes[c] : page_round(size));
}

/*
 * Is usable what a request of size bytes may get?  A small request gets its
 * class; a large one its pages.
 */
static inline int
usable_fits(size_t size, size_t usable)
{
	return (usable == usable_of(size));
}

/* Would krealloc keep a block of usable bytes for size bytes? */
static inline int
keeps(size_t usable, size_t size)
{
	if (usable <= 65536)
		return (size <= usable && (size > usable / 2 || usable == 16));
	return (size <= usable && size > usable / 2 && size > 65536);
}

/* Sizes of the random mixes: small, middling, up to a class, large. */
static inline size_t
random_size(uint64_t *rs)
{
	switch (kt_rand(rs) % 4) {
	case 0:
		return (1 + kt_rand(rs) % 256);
	case 1:
		return (1 + kt_rand(rs) % 4096);
	case 2:
		return (1 + kt_rand(rs) % 65536);
	default:
		return (1 + kt_rand(rs) % 100000);
	}
}

/* Marks a block's first bytes and its last byte with a pattern of seed. */
static inline void
mark(unsigned char *p, size_t size, uint32_t seed)
{
	size_t n = size <= 16 ? (size > 0 ? size - 1 : 0) : 16;

	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
	if (size > 0)
		p[size - 1] = (unsigned char)(seed ^ 0x5a);
}

/* In a child: checks the marks of the first keep bytes. */
static inline void
check_mark(const unsigned char *p, size_t size, size_t keep, uint32_t seed)
{
	size_t n = size <= 16 ? (size > 0 ? size - 1 : 0) : 16;

	for (size_t i = 0; i < n && i < keep; i++)
		KT_EQ(p[i], (unsigned char)(seed + i * 7));
	if (size > 0 && size - 1 < keep)
		KT_EQ(p[size - 1], (unsigned char)(seed ^ 0x5a));
}

#endif /* KMEM_KT_MALLOC_H */
