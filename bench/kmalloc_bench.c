/*
 * kmalloc_bench.c -- typed malloc, kmalloc(size, M_BENCH, M_WAITOK) +
 * kfree(p, M_BENCH), against general-purpose malloc(3) implementations.
 *
 * The same program measures either malloc(size) + free() -- whichever
 * malloc the process has: glibc's, or a peer put in front of it with
 * LD_PRELOAD -- or, with --kmem, kmalloc() + kfree() on the malloc type
 * M_BENCH (kmem linked statically).  One mode per run; each prints one line
 * of numbers for bench/kmalloc.sh, which interleaves the allocators, takes
 * medians and prints the tables.
 *
 * SIZE is a number of bytes, or "mix": sizes drawn uniformly from 1..1024
 * (a fixed table of 4096 sizes, the same in every run).
 *
 *   kmalloc_bench [--kmem] --instr SIZE LIVE OPS
 *	Fill a ring of LIVE blocks, then OPS pairs (free the oldest block,
 *	allocate a new one in its place), untimed.  Run under callgrind with
 *	two values of OPS (bench/instr.sh, bench/cgsplit.sh): the difference
 *	of the counts over the difference of OPS is the work per pair.  The
 *	loop is ring_malloc() or ring_kmalloc(), so a callgrind profile tells
 *	the benchmark's own instructions from the allocator's.
 *   kmalloc_bench [--kmem [--nowait]] --st SIZE OPS
 *	One thread, a ring of 1000 live blocks, OPS pairs.  Prints pairs/s.
 *	With --nowait the ring's kmalloc() calls are M_NOWAIT and one that
 *	returns NULL (failure injection) is made again (bench/debug.sh).
 *   kmalloc_bench [--kmem] --waste N
 *	N live blocks of sizes drawn uniformly from 1..4096 (fixed seed),
 *	each written over its whole requested size.  Prints the requested
 *	bytes and the resident bytes (/proc/self/statm) before and with the
 *	blocks live; with --kmem also kmem's own accounting with the blocks
 *	live: the bytes of type M_BENCH (sizes rounded up to their class),
 *	the bytes of the kmalloc zones' items, used and cached ((count +
 *	free) * rsize, from memstat), and the growth of kmem_map_size().
 *	One allocation and free of one byte before the first reading sets
 *	the allocator up; the pointer array comes from mmap(2) and is
 *	touched before the first reading, so it is in both readings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <kmem/malloc.h>
#include <kmem/memstat.h>

#define BENCH_NAME "kmalloc_bench"
#define BENCH_USAGE "usage: kmalloc_bench [--kmem] --instr SIZE LIVE OPS | " \
    "[--kmem [--nowait]] --st SIZE OPS | [--kmem] --waste N   (SIZE: bytes " \
    "or \"mix\")"
#include "benchlib.h"

#define RING_LIVE 1000 /* live blocks in the timed ring */
#define MIX_N 4096     /* sizes in the "mix" table, a power of two */
#define MIX_MAX 1024   /* mix: sizes 1..MIX_MAX */
#define WASTE_MAX 4096 /* waste: sizes 1..WASTE_MAX */
#define SEED 20240601u
#define NOWAIT_TRIES 1000 /* --nowait: failures in a row that end the run */

MALLOC_DEFINE(M_BENCH, "bench", "kmalloc benchmark blocks");

static bool use_kmem;   /* --kmem: kmalloc/kfree, else malloc/free */
static bool use_nowait; /* --nowait: the ring's kmalloc() is M_NOWAIT */
/* Sizes of the ring's blocks: block k is size_table[k & mask]. */
static uint32_t size_table[MIX_N];

/* splitmix64: the same sequence on every run and every allocator. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31));
}

/* ---- the two allocators, behind one pair of inline calls ---------------- */

static inline __attribute__((always_inline)) void *
blk_alloc(bool kmem, bool nowait, size_t size)
{
	void *p;

	if (kmem && nowait) {
		/* An injected failure is asked again; the map running out
		   is not. */
		for (int tries = 0; tries < NOWAIT_TRIES; tries++)
			if ((p = kmalloc(size, M_BENCH, M_NOWAIT)) != NULL)
				return (p);
		die("M_NOWAIT allocation failed 1000 times in a row");
	}
	p = kmem ? kmalloc(size, M_BENCH, M_WAITOK) : malloc(size);
	if (bench_unlikely(p == NULL))
		die("allocation failed");
	return (p);
}

static inline __attribute__((always_inline)) void
blk_free(bool kmem, void *p)
{
	if (kmem)
		kfree(p, M_BENCH);
	else
		free(p);
}

/*
 * The ring: ops pairs, each freeing the oldest of `live` blocks and
 * allocating a new one in its place, of size size_table[k & mask] (mask 0:
 * one size).  Writing a byte of the new block keeps the compiler from pairing
 * the malloc with a free and removing both.  Specialised per allocator so
 * the loop carries no test of which one.
 */
static inline __attribute__((always_inline)) void
ring_run(void **ring, size_t live, uint64_t ops, uint32_t mask, bool kmem,
    bool nowait)
{
	size_t i = 0;

	for (uint64_t k = 0; k < ops; k++) {
		blk_free(kmem, ring[i]);
		ring[i] = blk_alloc(kmem, nowait, size_table[k & mask]);
		*(volatile char *)ring[i] = (char)k;
		if (++i == live)
			i = 0;
	}
}

static void __attribute__((noinline))
ring_malloc(void **ring, size_t live, uint64_t ops, uint32_t mask)
{
	ring_run(ring, live, ops, mask, false, false);
}

static void __attribute__((noinline))
ring_kmalloc(void **ring, size_t live, uint64_t ops, uint32_t mask)
{
	ring_run(ring, live, ops, mask, true, false);
}

static void __attribute__((noinline))
ring_kmalloc_nowait(void **ring, size_t live, uint64_t ops, uint32_t mask)
{
	ring_run(ring, live, ops, mask, true, true);
}

static void
ring_churn(void **ring, size_t live, uint64_t ops, uint32_t mask)
{
	if (use_kmem && use_nowait)
		ring_kmalloc_nowait(ring, live, ops, mask);
	else if (use_kmem)
		ring_kmalloc(ring, live, ops, mask);
	else
		ring_malloc(ring, live, ops, mask);
}

static void
ring_fill(void **ring, size_t live, uint32_t mask)
{
	for (size_t i = 0; i < live; i++) {
		ring[i] = blk_alloc(use_kmem, false, size_table[i & mask]);
		*(volatile char *)ring[i] = (char)i;
	}
}

static void
ring_empty(void **ring, size_t live)
{
	for (size_t i = 0; i < live; i++)
		blk_free(use_kmem, ring[i]);
}

/* ---- sizes ------------------------------------------------------------------ */

/* Sets the table up for SIZE (a number or "mix"); returns the mask. */
static uint32_t
sizes_for(const char *arg)
{
	char *end;
	unsigned long v;

	if (strcmp(arg, "mix") == 0) {
		uint64_t s = SEED;
		for (uint32_t i = 0; i < MIX_N; i++)
			size_table[i] = 1 + (uint32_t)(rnd(&s) % MIX_MAX);
		return (MIX_N - 1);
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v == 0 || v > 1u << 30)
		die("SIZE must be a number of bytes or \"mix\"");
	size_table[0] = (uint32_t)v;
	return (0);
}

/* ---- single thread ------------------------------------------------------ */

static double
bench_st(uint32_t mask, uint64_t ops)
{
	static void *ring[RING_LIVE];
	uint64_t t0, t1;

	ring_fill(ring, RING_LIVE, mask);
	ring_churn(ring, RING_LIVE, 10 * RING_LIVE, mask); /* warm */
	t0 = now_ns();
	ring_churn(ring, RING_LIVE, ops, mask);
	t1 = now_ns();
	ring_empty(ring, RING_LIVE);
	return ((double)ops * 1e9 / (double)(t1 - t0));
}

/* ---- waste ---------------------------------------------------------------- */

/*
 * kmem's accounting: *type_bytes = bytes of M_BENCH (class sizes),
 * *zone_bytes = (count + free) * rsize summed over the kmalloc zones.
 */
static void
kmem_accounting(uint64_t *type_bytes, uint64_t *zone_bytes)
{
	struct memory_type_list *list = memstat_mtl_alloc();
	struct memory_type *mtp;

	if (list == NULL || memstat_self_all(list) != 0)
		die("memstat_self_all failed");
	*type_bytes = *zone_bytes = 0;
	for (mtp = memstat_mtl_first(list); mtp != NULL;
	    mtp = memstat_mtl_next(mtp)) {
		if (memstat_get_allocator(mtp) == ALLOCATOR_MALLOC &&
		    strcmp(memstat_get_name(mtp), "bench") == 0)
			*type_bytes = memstat_get_bytes(mtp);
		else if (memstat_get_allocator(mtp) == ALLOCATOR_UMA &&
		    memstat_get_malloc_backed(mtp))
			*zone_bytes += (memstat_get_count(mtp) +
			    memstat_get_free(mtp)) * memstat_get_rsize(mtp);
	}
	memstat_mtl_free(list);
}

static void
bench_waste(size_t n)
{
	uint64_t before, live, map0 = 0, map1 = 0, type_bytes, zone_bytes;
	uint64_t requested = 0, s = SEED;
	void **p;

	p = mmap(NULL, n * sizeof(void *), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap failed");
	memset(p, 0, n * sizeof(void *));
	blk_free(use_kmem, blk_alloc(use_kmem, false, 1)); /* set it up */
	if (use_kmem)
		map0 = kmem_map_size();
	before = rss_bytes();
	for (size_t i = 0; i < n; i++) {
		size_t size = 1 + (size_t)(rnd(&s) % WASTE_MAX);
		p[i] = blk_alloc(use_kmem, false, size);
		memset(p[i], (int)(i & 0xff), size);
		requested += size;
	}
	live = rss_bytes();
	if (use_kmem) {
		map1 = kmem_map_size();
		kmem_accounting(&type_bytes, &zone_bytes);
		printf("%ju %ju %ju %ju %ju %ju\n", (uintmax_t)requested,
		    (uintmax_t)before, (uintmax_t)live, (uintmax_t)type_bytes,
		    (uintmax_t)zone_bytes, (uintmax_t)(map1 - map0));
	} else {
		printf("%ju %ju %ju\n", (uintmax_t)requested, (uintmax_t)before,
		    (uintmax_t)live);
	}
	for (size_t i = 0; i < n; i++)
		blk_free(use_kmem, p[i]);
	munmap(p, n * sizeof(void *));
}

/* ---- main ---------------------------------------------------------------- */

static void __attribute__((noreturn))
usage(void)
{
	die(BENCH_USAGE);
}

int
main(int argc, char **argv)
{
	int a = 1;

	if (a < argc && strcmp(argv[a], "--kmem") == 0) {
		use_kmem = true;
		a++;
		if (a < argc && strcmp(argv[a], "--nowait") == 0) {
			use_nowait = true;
			a++;
		}
	}
	if (a + 1 >= argc)
		usage();
	if (use_nowait && strcmp(argv[a], "--st") != 0)
		die("--nowait goes with --st only");
	if (strcmp(argv[a], "--instr") == 0 && a + 4 == argc) {
		uint32_t mask = sizes_for(argv[a + 1]);
		size_t live = number(argv[a + 2]);
		void **ring = calloc(live, sizeof(*ring));

		if (ring == NULL)
			die("out of memory");
		ring_fill(ring, live, mask);
		ring_churn(ring, live, number(argv[a + 3]), mask);
		ring_empty(ring, live);
		free(ring);
	} else if (strcmp(argv[a], "--st") == 0 && a + 3 == argc) {
		uint32_t mask = sizes_for(argv[a + 1]);
		printf("%.0f\n", bench_st(mask, number(argv[a + 2])));
	} else if (strcmp(argv[a], "--waste") == 0 && a + 2 == argc) {
		bench_waste(number(argv[a + 1]));
	} else {
		usage();
	}
	return (0);
}
