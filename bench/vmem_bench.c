/*
 * vmem_bench.c -- vmem allocation and free speed against the number of live
 * segments.
 *
 * For 10, 10^3 and 10^6 live segments and for instant fit (M_FIRSTFIT) and
 * best fit (M_BESTFIT): fill an arena with that many segments of random
 * small sizes (1 to 16 quanta), churn it as long again so that the free
 * space is fragmented, then time a loop that frees a random live segment
 * and allocates one of a new random size, keeping the count constant.  One
 * operation is one vmem_free() plus one vmem_alloc().  The arena is large
 * (2^40 bytes from 2^20, quantum 4096) and manages integers, not memory.
 *
 *   vmem_bench           the full run (well under a minute)
 *   vmem_bench --quick   a smoke run of a few seconds
 *   vmem_bench --instr LIVE OPS
 *                        fill to LIVE segments, then OPS instant-fit
 *                        operations, untimed: bench/run.sh runs this under
 *                        callgrind with two values of OPS, and the
 *                        difference of the instruction counts divided by
 *                        the difference of OPS is the work per operation,
 *                        free of the cache misses that dominate the timed
 *                        runs at 10^6 segments.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kmem/vmem.h>

#include "vmem/vmem_int.h"

#define BENCH_BASE ((vmem_addr_t)1 << 20)
#define BENCH_SIZE ((vmem_size_t)1 << 40)
#define BENCH_QUANTUM ((vmem_size_t)4096)
#define BENCH_MAXQ 16 /* largest size, in quanta */

struct seg {
	vmem_addr_t s_addr;
	vmem_size_t s_size;
};

static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (x * 0x2545F4914F6CDD1DULL);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

static vmem_size_t
rnd_size(uint64_t *s)
{
	return ((1 + rnd(s) % BENCH_MAXQ) * BENCH_QUANTUM);
}

static void
die(const char *what)
{
	fprintf(stderr, "vmem_bench: %s\n", what);
	exit(1);
}

/* One pair: free live[i], allocate a new one in its place. */
static inline void
churn(vmem_t *vm, struct seg *live, size_t n, int policy, uint64_t *s)
{
	size_t i = rnd(s) % n;

	vmem_free(vm, live[i].s_addr, live[i].s_size);
	live[i].s_size = rnd_size(s);
	if (vmem_alloc(vm, live[i].s_size, M_NOWAIT | policy,
	    &live[i].s_addr) != 0)
		die("allocation failed");
}

/* Returns nanoseconds per operation. */
static double
run(size_t n, int policy, uint64_t iters, struct seg *live,
    struct vmem_stats *st)
{
	uint64_t s = 0x9e3779b97f4a7c15ull ^ n ^ (uint64_t)policy;
	uint64_t t0, t1;
	vmem_t *vm;

	vm = vmem_create("bench", BENCH_BASE, BENCH_SIZE, BENCH_QUANTUM, 0,
	    M_WAITOK);
	if (vm == NULL)
		die("vmem_create failed");
	for (size_t i = 0; i < n; i++) {
		live[i].s_size = rnd_size(&s);
		if (vmem_alloc(vm, live[i].s_size, M_WAITOK | policy,
		    &live[i].s_addr) != 0)
			die("fill failed");
	}
	for (size_t i = 0; i < n; i++) /* fragment */
		churn(vm, live, n, policy, &s);

	t0 = now_ns();
	for (uint64_t k = 0; k < iters; k++)
		churn(vm, live, n, policy, &s);
	t1 = now_ns();

	vmem_get_stats(vm, st);
	for (size_t i = 0; i < n; i++)
		vmem_free(vm, live[i].s_addr, live[i].s_size);
	vmem_destroy(vm);
	return ((double)(t1 - t0) / (double)iters);
}

int
main(int argc, char **argv)
{
	static const size_t counts[] = {10, 1000, 1000000};
	static const struct {
		int flag;
		const char *name;
	} policies[] = {{M_FIRSTFIT, "M_FIRSTFIT"}, {M_BESTFIT, "M_BESTFIT"}};
	uint64_t iters = 2000000;
	struct vmem_stats st;
	struct seg *live;

	if (argc == 4 && strcmp(argv[1], "--instr") == 0) {
		size_t n = strtoull(argv[2], NULL, 10);
		live = calloc(n, sizeof(*live));
		if (n == 0 || live == NULL)
			die("usage: vmem_bench --instr LIVE OPS");
		(void)run(n, M_FIRSTFIT, strtoull(argv[3], NULL, 10), live, &st);
		free(live);
		return (0);
	}
	if (argc > 1 && strcmp(argv[1], "--quick") == 0)
		iters = 200000;
	else if (argc > 1)
		die("usage: vmem_bench [--quick | --instr LIVE OPS]");
	live = calloc(counts[2], sizeof(*live));
	if (live == NULL)
		die("out of memory");

	printf("## vmem: alloc + free with N live segments\n\n");
	printf("One op = vmem_free() of a random live segment + vmem_alloc() "
	    "of 1-%d quanta; %ju ops per row.  The goal is flat: the cost "
	    "should not grow with the number of live segments.\n\n",
	    BENCH_MAXQ, (uintmax_t)iters);
	printf("| live segments | policy | Mops/s | ns/op | free segs | "
	    "hash buckets |\n");
	printf("|---:|---|---:|---:|---:|---:|\n");
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]);
		    p++) {
			double ns = run(counts[c], policies[p].flag, iters,
			    live, &st);

			printf("| %zu | %s | %.2f | %.1f | %ju | %zu |\n",
			    counts[c], policies[p].name, 1000.0 / ns, ns,
			    (uintmax_t)st.vs_nfree, st.vs_hashsize);
			fflush(stdout);
		}
	}
	printf("\nvmem metadata held: %zu KiB (boundary-tag pages and "
	    "hashes)\n", vmem_meta_bytes() / 1024);
	free(live);
	return (0);
}
