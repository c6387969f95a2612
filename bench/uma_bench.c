/*
 * uma_bench.c -- a UMA zone of 64-byte items against general-purpose
 * malloc(3) implementations.
 *
 * The same program measures either malloc(64) + free() -- whichever malloc
 * the process has: glibc's, or a peer put in front of it with LD_PRELOAD --
 * or, with --kmem, uma_zalloc() + uma_zfree() on a zone made with
 *
 *	uma_zcreate("bench64", 64, NULL, NULL, NULL, NULL, UMA_ALIGN_PTR, 0)
 *
 * or, with --kmem --init, the same zone with an init and a fini (a keg of
 * type-stable items, whose double-free check takes the slow paths: see
 * section 11 of src/uma/uma_int.h).
 *
 * One mode per run; each prints one line of numbers for bench/uma.sh,
 * which interleaves the allocators, takes medians and prints the tables.
 *
 *   uma_bench [--kmem] --instr LIVE OPS
 *	Fill a ring of LIVE items, then OPS pairs (free the oldest item,
 *	allocate a new one in its place), untimed.  Run under callgrind with
 *	two values of OPS (bench/instr.sh): the difference of the counts over
 *	the difference of OPS is the work per pair.  The loop is
 *	ring_malloc() or ring_zone(), so a callgrind profile tells the
 *	benchmark's own calls from the allocator's.
 *   uma_bench [--kmem [--nowait]] --st OPS
 *	One thread, a ring of 1000 live items, OPS pairs.  Prints pairs/s.
 *	With --nowait the ring's uma_zalloc() calls are M_NOWAIT and one that
 *	returns NULL (failure injection) is made again (bench/debug.sh).
 *   uma_bench [--kmem] --mt OPS
 *	Two threads, pinned to CPUs 0 and 1, each doing OPS pairs on its own
 *	ring of 1000 items.  Prints aggregate pairs/s (total pairs over the
 *	time from the first start to the last finish).
 *   uma_bench [--kmem] --pc OPS
 *	Producer/consumer: one thread allocates batches of 1000 items and
 *	hands each batch to the other through a single-producer,
 *	single-consumer lock-free ring of batches; the other frees them.
 *	Prints pairs/s (OPS rounded up to whole batches).
 *   uma_bench [--kmem] --rss N
 *	Prints resident bytes at the start, with N live items (each written
 *	to), and after freeing them all -- for kmem after
 *	uma_zone_reclaim(zone, UMA_RECLAIM_DRAIN_CPU), for malloc with no
 *	trim call.  The pointer array comes from mmap(2) and is touched
 *	before the first reading, so it is in every reading.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <kmem/uma.h>

#define BENCH_NAME "uma_bench"
#define BENCH_USAGE "usage: uma_bench [--kmem [--init]] --instr LIVE OPS | " \
    "[--kmem [--init] [--nowait]] --st OPS | [--kmem] --mt OPS | --pc OPS | --rss N"
#include "benchlib.h"

#define ITEM_SIZE 64
#define RING_LIVE 1000 /* live items per ring */
#define PC_BATCH 1000  /* items per producer/consumer batch */
#define PC_NBATCH 8    /* batches in flight, a power of two */
#define NOWAIT_TRIES 1000 /* --nowait: failures in a row that end the run */

static uma_zone_t zone; /* the zone with --kmem, else NULL: use malloc */
static bool use_nowait; /* --nowait: the ring's uma_zalloc() is M_NOWAIT */

/* ---- the two allocators, behind one pair of inline calls ---------------- */

static inline __attribute__((always_inline)) void *
item_alloc(bool kmem, bool nowait)
{
	void *p;

	if (kmem && nowait) {
		/* An injected failure is asked again; the map running out
		   is not. */
		for (int tries = 0; tries < NOWAIT_TRIES; tries++)
			if ((p = uma_zalloc(zone, M_NOWAIT)) != NULL)
				return (p);
		die("M_NOWAIT allocation failed 1000 times in a row");
	}
	p = kmem ? uma_zalloc(zone, M_WAITOK) : malloc(ITEM_SIZE);

	if (bench_unlikely(p == NULL))
		die("allocation failed");
	return (p);
}

static inline __attribute__((always_inline)) void
item_free(bool kmem, void *p)
{
	if (kmem)
		uma_zfree(zone, p);
	else
		free(p);
}

/*
 * The ring: ops pairs, each freeing the oldest of `live` items and
 * allocating a new one in its place.  Writing to the new item keeps the
 * compiler from pairing the malloc with a free and removing both.
 * Specialised per allocator so the loop carries no test of which one.
 */
static inline __attribute__((always_inline)) void
ring_run(void **ring, size_t live, uint64_t ops, bool kmem, bool nowait)
{
	size_t i = 0;

	for (uint64_t k = 0; k < ops; k++) {
		item_free(kmem, ring[i]);
		ring[i] = item_alloc(kmem, nowait);
		*(uint64_t *)ring[i] = k;
		if (++i == live)
			i = 0;
	}
}

static void __attribute__((noinline))
ring_malloc(void **ring, size_t live, uint64_t ops)
{
	ring_run(ring, live, ops, false, false);
}

static void __attribute__((noinline))
ring_zone(void **ring, size_t live, uint64_t ops)
{
	ring_run(ring, live, ops, true, false);
}

static void __attribute__((noinline))
ring_zone_nowait(void **ring, size_t live, uint64_t ops)
{
	ring_run(ring, live, ops, true, true);
}

static void
ring_churn(void **ring, size_t live, uint64_t ops)
{
	if (zone != NULL && use_nowait)
		ring_zone_nowait(ring, live, ops);
	else if (zone != NULL)
		ring_zone(ring, live, ops);
	else
		ring_malloc(ring, live, ops);
}

static void
ring_fill(void **ring, size_t live)
{
	for (size_t i = 0; i < live; i++) {
		ring[i] = item_alloc(zone != NULL, false);
		*(uint64_t *)ring[i] = i;
	}
}

static void
ring_empty(void **ring, size_t live)
{
	for (size_t i = 0; i < live; i++)
		item_free(zone != NULL, ring[i]);
}

/* ---- single thread ---------------------------------------------------- */

static double
bench_st(uint64_t ops)
{
	static void *ring[RING_LIVE];
	uint64_t t0, t1;

	ring_fill(ring, RING_LIVE);
	ring_churn(ring, RING_LIVE, 10 * RING_LIVE); /* warm the caches */
	t0 = now_ns();
	ring_churn(ring, RING_LIVE, ops);
	t1 = now_ns();
	ring_empty(ring, RING_LIVE);
	return ((double)ops * 1e9 / (double)(t1 - t0));
}

/* ---- threads ------------------------------------------------------------ */

static void
pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Best effort: with one CPU the threads share it. */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

struct mt_arg {
	pthread_barrier_t *ma_barrier; /* all threads start together */
	uint64_t ma_ops;               /* pairs to do */
	int ma_cpu;                    /* CPU to run on */
	uint64_t ma_t0, ma_t1;         /* start and end of the timed loop */
};

static void *
mt_thread(void *varg)
{
	struct mt_arg *a = varg;
	void **ring;

	pin_self(a->ma_cpu);
	/* Each thread's ring on its own pages: no false sharing. */
	ring = mmap(NULL, RING_LIVE * sizeof(void *), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ring == MAP_FAILED)
		die("mmap failed");
	ring_fill(ring, RING_LIVE);
	ring_churn(ring, RING_LIVE, 10 * RING_LIVE);
	pthread_barrier_wait(a->ma_barrier);
	a->ma_t0 = now_ns();
	ring_churn(ring, RING_LIVE, a->ma_ops);
	a->ma_t1 = now_ns();
	ring_empty(ring, RING_LIVE);
	munmap(ring, RING_LIVE * sizeof(void *));
	return (NULL);
}

static double
bench_mt(uint64_t ops)
{
	pthread_barrier_t barrier;
	struct mt_arg args[2];
	pthread_t th[2];
	uint64_t t0, t1;

	pthread_barrier_init(&barrier, NULL, 2);
	for (int i = 0; i < 2; i++) {
		args[i] = (struct mt_arg){.ma_barrier = &barrier,
		    .ma_ops = ops, .ma_cpu = i};
		if (pthread_create(&th[i], NULL, mt_thread, &args[i]) != 0)
			die("pthread_create failed");
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	t0 = args[0].ma_t0 < args[1].ma_t0 ? args[0].ma_t0 : args[1].ma_t0;
	t1 = args[0].ma_t1 > args[1].ma_t1 ? args[0].ma_t1 : args[1].ma_t1;
	return (2.0 * (double)ops * 1e9 / (double)(t1 - t0));
}

/* ---- producer / consumer ----------------------------------------------- */

/*
 * Two single-producer, single-consumer rings of batch numbers: `full`
 * carries filled batches to the consumer, `empty` carries emptied ones
 * back.  Head and tail sit on their own cache lines; a side that finds its
 * ring empty spins briefly, then yields.
 */
struct spsc {
	_Alignas(64) _Atomic uint32_t q_head; /* next slot to take */
	_Alignas(64) _Atomic uint32_t q_tail; /* next slot to fill */
	_Alignas(64) uint32_t q_slot[PC_NBATCH];
};

static struct spsc pc_full, pc_empty;
static void *pc_batch[PC_NBATCH][PC_BATCH];

static void
spsc_put(struct spsc *q, uint32_t v)
{
	uint32_t t = atomic_load_explicit(&q->q_tail, memory_order_relaxed);

	/* Never full: at most PC_NBATCH batch numbers exist. */
	q->q_slot[t % PC_NBATCH] = v;
	atomic_store_explicit(&q->q_tail, t + 1, memory_order_release);
}

static uint32_t
spsc_get(struct spsc *q)
{
	uint32_t h = atomic_load_explicit(&q->q_head, memory_order_relaxed);
	uint32_t v;

	for (int spin = 0;
	    atomic_load_explicit(&q->q_tail, memory_order_acquire) == h;
	    spin++) {
		if (spin < 1000)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
	v = q->q_slot[h % PC_NBATCH];
	atomic_store_explicit(&q->q_head, h + 1, memory_order_release);
	return (v);
}

#define PC_STOP UINT32_MAX

static void *
pc_consumer(void *varg)
{
	bool kmem = zone != NULL;
	uint32_t b;

	pin_self(1);
	while ((b = spsc_get(&pc_full)) != PC_STOP) {
		for (size_t i = 0; i < PC_BATCH; i++)
			item_free(kmem, pc_batch[b][i]);
		spsc_put(&pc_empty, b);
	}
	return (NULL);
}

static void
pc_produce(uint64_t nbatch)
{
	bool kmem = zone != NULL;

	for (uint64_t n = 0; n < nbatch; n++) {
		uint32_t b = spsc_get(&pc_empty);

		for (size_t i = 0; i < PC_BATCH; i++) {
			pc_batch[b][i] = item_alloc(kmem, false);
			*(uint64_t *)pc_batch[b][i] = i;
		}
		spsc_put(&pc_full, b);
	}
}

static double
bench_pc(uint64_t ops)
{
	uint64_t nbatch = (ops + PC_BATCH - 1) / PC_BATCH;
	uint64_t t0, t1;
	pthread_t th;

	pin_self(0);
	for (uint32_t b = 0; b < PC_NBATCH; b++)
		spsc_put(&pc_empty, b);
	if (pthread_create(&th, NULL, pc_consumer, NULL) != 0)
		die("pthread_create failed");
	pc_produce(PC_NBATCH); /* warm up both sides */
	for (uint32_t b = 0; b < PC_NBATCH; b++) /* all batches back */
		(void)spsc_get(&pc_empty);
	for (uint32_t b = 0; b < PC_NBATCH; b++)
		spsc_put(&pc_empty, b);
	t0 = now_ns();
	pc_produce(nbatch);
	/* Wait until the consumer has handed every batch back. */
	for (uint32_t b = 0; b < PC_NBATCH; b++)
		(void)spsc_get(&pc_empty);
	t1 = now_ns();
	spsc_put(&pc_full, PC_STOP);
	pthread_join(th, NULL);
	return ((double)(nbatch * PC_BATCH) * 1e9 / (double)(t1 - t0));
}

/* ---- resident memory ---------------------------------------------------- */

static void
bench_rss(size_t n)
{
	uint64_t before, live, after;
	bool kmem = zone != NULL;
	void **p;

	p = mmap(NULL, n * sizeof(void *), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap failed");
	memset(p, 0, n * sizeof(void *));
	before = rss_bytes();
	for (size_t i = 0; i < n; i++) {
		p[i] = item_alloc(kmem, false);
		*(uint64_t *)p[i] = i;
	}
	live = rss_bytes();
	for (size_t i = 0; i < n; i++)
		item_free(kmem, p[i]);
	if (kmem)
		uma_zone_reclaim(zone, UMA_RECLAIM_DRAIN_CPU);
	after = rss_bytes();
	printf("%ju %ju %ju\n", (uintmax_t)before, (uintmax_t)live,
	    (uintmax_t)after);
	munmap(p, n * sizeof(void *));
}

/* ---- main ---------------------------------------------------------------- */

/* --init: the zone's init and fini, which keep a word of the item. */
static int
item_init(void *mem, int size, int flags)
{
	(void)size;
	(void)flags;
	((uint64_t *)mem)[1] = 1;
	return (0);
}

static void
item_fini(void *mem, int size)
{
	(void)size;
	((uint64_t *)mem)[1] = 0;
}

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
		bool init = a + 1 < argc && strcmp(argv[a + 1], "--init") == 0;

		zone = uma_zcreate("bench64", ITEM_SIZE, NULL, NULL,
		    init ? item_init : NULL, init ? item_fini : NULL,
		    UMA_ALIGN_PTR, 0);
		if (zone == NULL)
			die("uma_zcreate failed");
		a += init ? 2 : 1;
		if (a < argc && strcmp(argv[a], "--nowait") == 0) {
			use_nowait = true;
			a++;
		}
	}
	if (a + 1 >= argc)
		usage();
	if (use_nowait && strcmp(argv[a], "--st") != 0)
		die("--nowait goes with --st only");
	if (strcmp(argv[a], "--instr") == 0 && a + 3 == argc) {
		size_t live = number(argv[a + 1]);
		void **ring = calloc(live, sizeof(*ring));

		if (ring == NULL)
			die("out of memory");
		ring_fill(ring, live);
		ring_churn(ring, live, number(argv[a + 2]));
		ring_empty(ring, live);
		free(ring);
	} else if (a + 2 != argc) {
		usage();
	} else if (strcmp(argv[a], "--st") == 0) {
		printf("%.0f\n", bench_st(number(argv[a + 1])));
	} else if (strcmp(argv[a], "--mt") == 0) {
		printf("%.0f\n", bench_mt(number(argv[a + 1])));
	} else if (strcmp(argv[a], "--pc") == 0) {
		printf("%.0f\n", bench_pc(number(argv[a + 1])));
	} else if (strcmp(argv[a], "--rss") == 0) {
		bench_rss(number(argv[a + 1]));
	} else {
		usage();
	}
	return (0);
}
