/*
 * mallocwork.c -- allocation-heavy workloads over plain malloc(3), for
 * bench/preload.sh: the program links nothing of kmem, so the allocator is
 * whichever the process has (glibc's, a peer's or kmem's shim, put in
 * front with LD_PRELOAD).
 *
 *   mallocwork MODE SCALE
 *
 * SCALE multiplies the work (1: the size of one quick run).  Every block
 * carries a tag derived from its size, written when it is allocated (first
 * and last byte; for blocks of pages one byte per page as well) and
 * checked before it is freed; a wrong tag ends the run with status 2.  The
 * run prints one line on the standard output, "MODE DIGEST", the same on
 * every allocator: a result that differs from glibc's is a wrong result.
 * On the standard error it prints "final-rss KB", the resident memory of
 * the process once the workload has freed what it frees (read from
 * /proc/self/statm just before the exit).
 *
 * Modes (sizes in bytes; random numbers from xorshift64 with fixed seeds;
 * "threads" are THREADS = 2 besides the main thread, which waits):
 *
 *   larson   Server-style, after Larson and Krishnan's benchmark: each
 *            thread owns a set of LIVE / 2 = 50000 blocks of sizes uniform
 *            in 16..1024; each step frees a random slot's block and
 *            allocates a new one in its place.  After every EPOCH = 5000
 *            steps the threads meet and pass their sets on (thread t
 *            takes set t + 1), so that most blocks are freed by a thread
 *            other than the one that allocated them.  20 x SCALE epochs.
 *   prodcons Producer and consumer, as xmalloc-test: one thread allocates
 *            blocks of 16..1024 and hands them over in batches of BATCH =
 *            64 through a ring; the other checks and frees them.
 *            100000 x SCALE blocks.
 *   tree     Many tiny, short-lived objects and a few survivors, the shape
 *            of cfrac and espresso: binary trees of nodes of 24..64 bytes
 *            are built to depth 15, walked and freed; while a tree is
 *            freed one node in 32 survives instead, into a pool of 8192
 *            whose oldest node is then freed.  A tree of depth 14 lives
 *            throughout.  4 x SCALE trees.
 *   strings  Growth by realloc: 16 strings grown side by side, pieces of
 *            1..16 bytes at a time, by realloc doubling (from 16 bytes up
 *            to 64 bytes..16 KB), then a batch of 2000 small strings
 *            (8..80 bytes) copied with strdup, joined into one and freed.
 *            60 x SCALE rounds.
 *   large    Large blocks churned: a live set of 16 blocks of 64 KiB..
 *            4 MiB (log-uniform), each step replaces a random one, one
 *            byte written per page.  300 x SCALE steps.
 *   frag     Fragmentation: a round allocates 25000 blocks of 16..128,
 *            frees every other one, then allocates 12500 blocks of
 *            256..1024 that cannot fit the holes; then it frees the large
 *            blocks and the small ones but one in eight of those left,
 *            which live to the end, scattered over the heap.  4 x SCALE
 *            rounds.  Its final-rss is taken with those survivors still
 *            allocated: what the fragmented heap keeps resident.
 *   threads  Thread churn: rounds of THREADS short-lived threads, each
 *            allocating 2000 blocks of 16..512 and freeing them but one in
 *            16, which it leaves behind for the thread of the same index
 *            two rounds later to free.  50 x SCALE rounds.
 *   huge     Huge blocks: 5..25 MiB, a live set of 2, each allocated block
 *            written on every page and checked when it is freed.
 *            12 x SCALE steps.
 *   thrash   Active false sharing, after Hoard's cache-thrash: each
 *            thread allocates an object of 8 bytes, writes every byte of
 *            it REPS = 1000 times and frees it; 1250 x SCALE objects per
 *            thread.  An allocator that gives the threads objects in one
 *            cache line makes their writes fight over it.
 *   scratch  Passive false sharing, after Hoard's cache-scratch: the main
 *            thread allocates one 8-byte object per thread and hands it
 *            over; each thread frees it, then works as in thrash.  An
 *            allocator that hands a freed block to the thread that freed
 *            it lets the threads share the main thread's cache line.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "mallocwork"
#define MODES "larson|prodcons|tree|strings|large|frag|threads|huge|thrash|scratch"
#define BENCH_USAGE "usage: mallocwork " MODES " SCALE"
#include "../benchlib.h"

#define THREADS 2       /* threads of the threaded modes */
#define LIVE 100000     /* larson: live blocks in all */
#define EPOCH 5000      /* larson: steps between hand-overs */
#define SMALL_MIN 16    /* larson, prodcons: smallest size */
#define SMALL_MAX 1024  /* larson, prodcons: largest size */
#define RING 4096       /* prodcons: slots of the ring, a power of two */
#define BATCH 64        /* prodcons: blocks handed over at a time */
#define SURVIVORS 8192  /* tree: the pool of surviving nodes */
#define GROWN 16        /* strings: strings grown at a time */
#define LARGE_LIVE 16   /* large: live blocks */
#define FRAG_N 25000    /* frag: small blocks per round */
#define CHURN_N 2000    /* threads: blocks per thread */
#define REPS 1000       /* thrash, scratch: writes to each byte */
#define OBJ 8           /* thrash, scratch: object size */
#define PAGE 4096
#define MIB ((size_t)1 << 20)

static uint64_t final_rss;	/* bytes, when a mode takes it itself */

/* ---- random numbers, tags ---------------------------------------------- */

static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return (x);
}

static uint64_t
between(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return (lo + rnd(s) % (hi - lo + 1));
}

static unsigned char
tag(size_t size)
{
	return ((unsigned char)(size * 131u + 7u));
}

/* The digest: FNV-1a over 64-bit words. */
#define MIX_INIT 0xcbf29ce484222325ull

static uint64_t
mix(uint64_t h, uint64_t v)
{
	return ((h ^ v) * 0x100000001b3ull);
}

static void *
xmalloc(size_t size)
{
	void *p = malloc(size);

	if (bench_unlikely(p == NULL))
		die("out of memory");
	return (p);
}

static void
xthread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if (pthread_create(t, NULL, fn, arg) != 0)
		die("cannot create a thread");
}

/* A block of SIZE bytes, its tag on the first and last byte. */
static unsigned char *
block_new(size_t size)
{
	unsigned char *p = xmalloc(size);

	p[0] = p[size - 1] = tag(size);
	return (p);
}

static void
block_check(const unsigned char *p, size_t size)
{
	if (bench_unlikely(p[0] != tag(size) || p[size - 1] != tag(size))) {
		fprintf(stderr, "mallocwork: block %p of %zu bytes overwritten\n",
		    (const void *)p, size);
		exit(2);
	}
}

/* A block of pages: its tag on every page too. */
static unsigned char *
pages_new(size_t size)
{
	unsigned char *p = block_new(size);

	for (size_t off = PAGE; off < size; off += PAGE)
		p[off] = tag(size);
	return (p);
}

static void
pages_check(const unsigned char *p, size_t size)
{
	block_check(p, size);
	for (size_t off = PAGE; off < size; off += 16 * PAGE) {
		if (bench_unlikely(p[off] != tag(size)))
			block_check(p + off, size - off);
	}
}

struct slot {
	unsigned char *s_p;	/* the block */
	size_t s_size;		/* its size */
};

static void
slot_fill(struct slot *s, uint64_t *seed, size_t lo, size_t hi)
{
	s->s_size = between(seed, lo, hi);
	s->s_p = block_new(s->s_size);
}

/* Checks and frees a slot's block; the digest with its size. */
static uint64_t
slot_free(struct slot *s, uint64_t h)
{
	block_check(s->s_p, s->s_size);
	free(s->s_p);
	return (mix(h, s->s_size));
}

/* ---- larson ------------------------------------------------------------- */

/* A set of live blocks; it carries its own random numbers and digest, so
 * that its history is the same whichever thread works on it. */
struct lset {
	struct slot *ls_slot;	/* LIVE / THREADS blocks */
	uint64_t ls_seed;	/* its random numbers */
	uint64_t ls_hash;	/* digest of the sizes freed */
};

struct larson_arg {
	struct lset *la_sets;		/* all THREADS sets */
	unsigned la_index;		/* this thread's first set */
	uint64_t la_epochs;		/* epochs to run */
	pthread_barrier_t *la_meet;	/* where the threads meet */
};

static void *
larson_worker(void *arg)
{
	struct larson_arg *a = arg;
	struct lset *own = &a->la_sets[a->la_index];
	size_t n = LIVE / THREADS;

	own->ls_slot = xmalloc(n * sizeof(*own->ls_slot));
	for (size_t i = 0; i < n; i++)
		slot_fill(&own->ls_slot[i], &own->ls_seed, SMALL_MIN, SMALL_MAX);
	pthread_barrier_wait(a->la_meet);
	for (uint64_t e = 0; e < a->la_epochs; e++) {
		struct lset *ls = &a->la_sets[(a->la_index + e) % THREADS];

		for (int k = 0; k < EPOCH; k++) {
			struct slot *s = &ls->ls_slot[rnd(&ls->ls_seed) % n];

			ls->ls_hash = slot_free(s, ls->ls_hash);
			slot_fill(s, &ls->ls_seed, SMALL_MIN, SMALL_MAX);
		}
		pthread_barrier_wait(a->la_meet);
	}
	return (NULL);
}

static uint64_t
larson(uint64_t scale)
{
	struct lset sets[THREADS];
	struct larson_arg args[THREADS];
	pthread_t t[THREADS];
	pthread_barrier_t meet;
	uint64_t h = MIX_INIT;

	if (pthread_barrier_init(&meet, NULL, THREADS) != 0)
		die("cannot create a barrier");
	for (unsigned i = 0; i < THREADS; i++) {
		sets[i] = (struct lset){ NULL, 0x9e3779b97f4a7c15ull * (i + 1),
		    MIX_INIT };
		args[i] = (struct larson_arg){ sets, i, 20 * scale, &meet };
		xthread_create(&t[i], larson_worker, &args[i]);
	}
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&meet);
	for (unsigned i = 0; i < THREADS; i++) {
		for (size_t k = 0; k < LIVE / THREADS; k++)
			sets[i].ls_hash = slot_free(&sets[i].ls_slot[k],
			    sets[i].ls_hash);
		free(sets[i].ls_slot);
		h = mix(h, sets[i].ls_hash);
	}
	return (h);
}

/* ---- prodcons ------------------------------------------------------------ */

/* Single producer, single consumer: blocks going one way. */
struct ring {
	_Alignas(64) _Atomic uint64_t r_head;	/* written by the producer */
	_Alignas(64) _Atomic uint64_t r_tail;	/* written by the consumer */
	_Alignas(64) struct slot r_slot[RING];	/* the blocks in transit */
};

struct pc_arg {
	struct ring *pc_ring;	/* the blocks in transit */
	uint64_t pc_n;		/* blocks in all */
	uint64_t pc_hash;	/* the consumer's digest */
};

static void *
pc_producer(void *arg)
{
	struct pc_arg *a = arg;
	struct ring *r = a->pc_ring;
	uint64_t seed = 0x243f6a8885a308d3ull, head = 0;

	while (head < a->pc_n) {
		uint64_t n = a->pc_n - head < BATCH ? a->pc_n - head : BATCH;

		while (head + n - atomic_load_explicit(&r->r_tail,
		    memory_order_acquire) > RING)
			sched_yield();
		for (uint64_t i = 0; i < n; i++)
			slot_fill(&r->r_slot[(head + i) % RING], &seed,
			    SMALL_MIN, SMALL_MAX);
		head += n;
		atomic_store_explicit(&r->r_head, head, memory_order_release);
	}
	return (NULL);
}

static void *
pc_consumer(void *arg)
{
	struct pc_arg *a = arg;
	struct ring *r = a->pc_ring;
	uint64_t tail = 0;

	while (tail < a->pc_n) {
		uint64_t head = atomic_load_explicit(&r->r_head,
		    memory_order_acquire);

		if (head == tail) {
			sched_yield();
			continue;
		}
		for (; tail < head; tail++)
			a->pc_hash = slot_free(&r->r_slot[tail % RING],
			    a->pc_hash);
		atomic_store_explicit(&r->r_tail, tail, memory_order_release);
	}
	return (NULL);
}

static uint64_t
prodcons(uint64_t scale)
{
	struct ring *r = xmalloc(sizeof(*r));
	struct pc_arg a = { r, 100000 * scale, MIX_INIT };
	pthread_t p, c;

	atomic_init(&r->r_head, 0);
	atomic_init(&r->r_tail, 0);
	xthread_create(&p, pc_producer, &a);
	xthread_create(&c, pc_consumer, &a);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	free(r);
	return (a.pc_hash);
}

/* ---- tree --------------------------------------------------------------- */

struct node {
	struct node *n_left;	/* children, or NULL */
	struct node *n_right;
	uint32_t n_size;	/* the size allocated, 24..64 */
	uint32_t n_depth;	/* its depth below the root */
};

/* The nodes that outlive their tree, oldest first from tp_next. */
struct tpool {
	struct node *tp_node[SURVIVORS];
	size_t tp_next;		/* the slot to fill next */
	uint64_t tp_seed;	/* which nodes survive */
	uint64_t tp_hash;	/* digest of the survivors freed */
};

static void
node_check(const struct node *n)
{
	if (bench_unlikely(((const unsigned char *)n)[n->n_size - 1] !=
	    tag(n->n_size)))
		die("tree node overwritten");
}

static struct node *
tree_build(uint32_t depth, uint64_t *seed)
{
	uint32_t size = 24 + 8 * (uint32_t)(rnd(seed) % 6);
	struct node *n = xmalloc(size);

	n->n_size = size;
	n->n_depth = depth;
	((unsigned char *)n)[size - 1] = tag(size);
	n->n_left = depth > 0 ? tree_build(depth - 1, seed) : NULL;
	n->n_right = depth > 0 ? tree_build(depth - 1, seed) : NULL;
	return (n);
}

static uint64_t
tree_sum(const struct node *n)
{
	if (n == NULL)
		return (0);
	node_check(n);
	return (n->n_size + n->n_depth + tree_sum(n->n_left) +
	    tree_sum(n->n_right));
}

static void
pool_drop(struct tpool *tp, size_t i)
{
	struct node *old = tp->tp_node[i];

	if (old == NULL)
		return;
	node_check(old);
	tp->tp_hash = mix(tp->tp_hash, old->n_size + old->n_depth);
	free(old);
	tp->tp_node[i] = NULL;
}

/* Frees a tree, but one node in 32 goes to the pool of survivors. */
static void
tree_free(struct node *n, struct tpool *tp)
{
	if (n == NULL)
		return;
	tree_free(n->n_left, tp);
	tree_free(n->n_right, tp);
	if (tp != NULL && rnd(&tp->tp_seed) % 32 == 0) {
		pool_drop(tp, tp->tp_next);
		n->n_left = n->n_right = NULL;
		tp->tp_node[tp->tp_next] = n;
		tp->tp_next = (tp->tp_next + 1) % SURVIVORS;
	} else
		free(n);
}

static uint64_t
tree(uint64_t scale)
{
	uint64_t seed = 0xa4093822299f31d0ull, h = MIX_INIT;
	struct tpool *tp = calloc(1, sizeof(*tp));
	struct node *old = tree_build(14, &seed);

	if (tp == NULL)
		die("out of memory");
	tp->tp_seed = 0x3707344a4093822full;
	tp->tp_hash = MIX_INIT;
	for (uint64_t i = 0; i < 4 * scale; i++) {
		struct node *t = tree_build(15, &seed);

		h = mix(h, tree_sum(t));
		tree_free(t, tp);
	}
	h = mix(h, tree_sum(old));
	tree_free(old, NULL);
	for (size_t i = 0; i < SURVIVORS; i++)
		pool_drop(tp, (tp->tp_next + i) % SURVIVORS);
	h = mix(h, tp->tp_hash);
	free(tp);
	return (h);
}

/* ---- strings -------------------------------------------------------------- */

/* Appends N bytes to *S (length *LEN, room *CAP), doubling the room. */
static void
append(char **s, size_t *len, size_t *cap, const char *piece, size_t n)
{
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap *= 2;
		*s = realloc(*s, *cap);
		if (*s == NULL)
			die("out of memory");
	}
	memcpy(*s + *len, piece, n);
	*len += n;
	(*s)[*len] = '\0';
}

static uint64_t
strings(uint64_t scale)
{
	uint64_t seed = 0x082efa98ec4e6c89ull, h = MIX_INIT;
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEF";
	char *small[2000];
	char piece[96];

	for (uint64_t r = 0; r < 60 * scale; r++) {
		/* Strings grown side by side, so that realloc cannot always
		 * extend in place. */
		char *s[GROWN];
		size_t len[GROWN], cap[GROWN], want[GROWN];

		for (int k = 0; k < GROWN; k++) {
			cap[k] = 16;
			len[k] = 0;
			s[k] = xmalloc(cap[k]);
			s[k][0] = '\0';
			want[k] = (size_t)64 << between(&seed, 0, 8);
		}
		for (int active = GROWN; active > 0;) {
			active = 0;
			for (int k = 0; k < GROWN; k++) {
				if (len[k] >= want[k])
					continue;
				active++;
				append(&s[k], &len[k], &cap[k], alphabet +
				    rnd(&seed) % 16, (size_t)between(&seed, 1, 16));
			}
		}
		for (int k = 0; k < GROWN; k++) {
			h = mix(h, len[k]);
			h = mix(h, (unsigned char)s[k][len[k] / 2]);
			free(s[k]);
		}

		/* Small strings: copies, then one string joining them. */
		size_t total = 0;
		for (int i = 0; i < 2000; i++) {
			size_t n = between(&seed, 7, 79);

			memset(piece, 'a' + (int)(n % 26), n);
			piece[n] = '\0';
			small[i] = strdup(piece);
			if (small[i] == NULL)
				die("out of memory");
			total += n;
		}
		char *joined = xmalloc(total + 1);
		size_t at = 0;
		for (int i = 0; i < 2000; i++) {
			size_t n = strlen(small[i]);

			memcpy(joined + at, small[i], n);
			at += n;
			free(small[i]);
		}
		joined[at] = '\0';
		h = mix(h, at);
		h = mix(h, (unsigned char)joined[at / 3]);
		free(joined);
	}
	return (h);
}

/* ---- large ---------------------------------------------------------------- */

static void
large_fill(struct slot *s, uint64_t *seed)
{
	/* 64 KiB << 0..5, then a random size up to the next doubling */
	size_t lo = ((size_t)64 << 10) << between(seed, 0, 5);

	s->s_size = between(seed, lo, 2 * lo);
	s->s_p = pages_new(s->s_size);
}

static uint64_t
large(uint64_t scale)
{
	uint64_t seed = 0x452821e638d01377ull, h = MIX_INIT;
	struct slot live[LARGE_LIVE];

	for (size_t i = 0; i < LARGE_LIVE; i++)
		large_fill(&live[i], &seed);
	for (uint64_t n = 300 * scale; n > 0; n--) {
		struct slot *s = &live[rnd(&seed) % LARGE_LIVE];

		pages_check(s->s_p, s->s_size);
		h = slot_free(s, h);
		large_fill(s, &seed);
	}
	for (size_t i = 0; i < LARGE_LIVE; i++) {
		pages_check(live[i].s_p, live[i].s_size);
		h = slot_free(&live[i], h);
	}
	return (h);
}

/* ---- frag ----------------------------------------------------------------- */

static uint64_t
frag(uint64_t scale)
{
	uint64_t seed = 0xbe5466cf34e90c6cull, h = MIX_INIT;
	uint64_t rounds = 4 * scale;
	size_t nkept = 0;
	struct slot *small = xmalloc(FRAG_N * sizeof(*small));
	struct slot *big = xmalloc(FRAG_N / 2 * sizeof(*big));
	struct slot *kept = xmalloc(rounds * (FRAG_N / 16 + 1) * sizeof(*kept));

	for (uint64_t r = 0; r < rounds; r++) {
		for (size_t i = 0; i < FRAG_N; i++)
			slot_fill(&small[i], &seed, 16, 128);
		for (size_t i = 1; i < FRAG_N; i += 2)
			h = slot_free(&small[i], h);
		for (size_t i = 0; i < FRAG_N / 2; i++)
			slot_fill(&big[i], &seed, 256, 1024);
		for (size_t i = 0; i < FRAG_N / 2; i++)
			h = slot_free(&big[i], h);
		for (size_t i = 0; i < FRAG_N; i += 2) {
			if (i % 16 == 0)
				kept[nkept++] = small[i];
			else
				h = slot_free(&small[i], h);
		}
	}
	free(small);
	free(big);
	final_rss = rss_bytes();
	for (size_t i = 0; i < nkept; i++)
		h = slot_free(&kept[i], h);
	free(kept);
	return (h);
}

/* ---- threads -------------------------------------------------------------- */

/* The blocks a thread leaves behind, for a thread two rounds later. */
struct leftover {
	struct slot lo_slot[CHURN_N / 16];
	size_t lo_n;
};

struct churn_arg {
	struct leftover *ca_free;	/* what to free first, or empty */
	struct leftover *ca_leave;	/* where to leave blocks */
	uint64_t ca_seed;		/* this thread's random numbers */
	uint64_t ca_hash;		/* its digest */
};

static void *
churn_worker(void *arg)
{
	struct churn_arg *a = arg;
	struct slot *s = xmalloc(CHURN_N * sizeof(*s));

	for (size_t i = 0; i < a->ca_free->lo_n; i++)
		a->ca_hash = slot_free(&a->ca_free->lo_slot[i], a->ca_hash);
	a->ca_free->lo_n = 0;
	for (size_t i = 0; i < CHURN_N; i++)
		slot_fill(&s[i], &a->ca_seed, 16, 512);
	/* Free in a random order, leaving one in 16. */
	for (size_t i = CHURN_N; i > 1; i--) {
		size_t j = rnd(&a->ca_seed) % i;
		struct slot t = s[i - 1];

		s[i - 1] = s[j];
		s[j] = t;
	}
	a->ca_leave->lo_n = 0;
	for (size_t i = 0; i < CHURN_N; i++) {
		if (i % 16 == 0)
			a->ca_leave->lo_slot[a->ca_leave->lo_n++] = s[i];
		else
			a->ca_hash = slot_free(&s[i], a->ca_hash);
	}
	free(s);
	return (NULL);
}

static uint64_t
threads(uint64_t scale)
{
	struct leftover *lo = calloc(3 * THREADS, sizeof(*lo));
	uint64_t h = MIX_INIT;

	if (lo == NULL)
		die("out of memory");
	for (uint64_t r = 0; r < 50 * scale; r++) {
		struct churn_arg a[THREADS];
		pthread_t t[THREADS];

		for (unsigned i = 0; i < THREADS; i++) {
			a[i] = (struct churn_arg){
			    &lo[((r + 1) % 3) * THREADS + i],
			    &lo[(r % 3) * THREADS + i],
			    (r + 1) * 0x9e3779b97f4a7c15ull + i, MIX_INIT };
			xthread_create(&t[i], churn_worker, &a[i]);
		}
		for (unsigned i = 0; i < THREADS; i++) {
			pthread_join(t[i], NULL);
			h = mix(h, a[i].ca_hash);
		}
	}
	for (size_t i = 0; i < 3 * THREADS; i++) {
		for (size_t k = 0; k < lo[i].lo_n; k++)
			h = slot_free(&lo[i].lo_slot[k], h);
	}
	free(lo);
	return (h);
}

/* ---- huge ----------------------------------------------------------------- */

static uint64_t
huge(uint64_t scale)
{
	uint64_t seed = 0xc0ac29b7c97c50ddull, h = MIX_INIT;
	struct slot live[2] = { { NULL, 0 }, { NULL, 0 } };

	for (uint64_t n = 0; n < 12 * scale; n++) {
		struct slot *s = &live[n % 2];

		if (s->s_p != NULL) {
			pages_check(s->s_p, s->s_size);
			h = slot_free(s, h);
		}
		s->s_size = between(&seed, 5 * MIB, 25 * MIB);
		s->s_p = pages_new(s->s_size);
	}
	for (size_t i = 0; i < 2; i++) {
		if (live[i].s_p != NULL) {
			pages_check(live[i].s_p, live[i].s_size);
			h = slot_free(&live[i], h);
		}
	}
	return (h);
}

/* ---- thrash, scratch ------------------------------------------------------ */

struct share_arg {
	unsigned char *sh_given;	/* scratch: the object to free first */
	uint64_t sh_objects;		/* objects to allocate and write */
	uint64_t sh_sum;		/* what the writes added up to */
};

static void *
share_worker(void *arg)
{
	struct share_arg *a = arg;

	free(a->sh_given);
	for (uint64_t n = 0; n < a->sh_objects; n++) {
		volatile unsigned char *p = xmalloc(OBJ);

		for (int k = 0; k < OBJ; k++)
			p[k] = (unsigned char)k;
		for (int rep = 0; rep < REPS; rep++) {
			for (int k = 0; k < OBJ; k++)
				p[k]++;
		}
		for (int k = 0; k < OBJ; k++)
			a->sh_sum += p[k];
		free((void *)p);
	}
	return (NULL);
}

static uint64_t
share(uint64_t scale, int given)
{
	struct share_arg a[THREADS];
	pthread_t t[THREADS];
	uint64_t h = MIX_INIT;

	for (unsigned i = 0; i < THREADS; i++)
		a[i] = (struct share_arg){ given ? xmalloc(OBJ) : NULL,
		    1250 * scale, 0 };
	for (unsigned i = 0; i < THREADS; i++)
		xthread_create(&t[i], share_worker, &a[i]);
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		h = mix(h, a[i].sh_sum);
	}
	return (h);
}

static uint64_t
thrash(uint64_t scale)
{
	return (share(scale, 0));
}

static uint64_t
scratch(uint64_t scale)
{
	return (share(scale, 1));
}

/* ---- main ----------------------------------------------------------------- */

static const struct mode {
	const char *m_name;
	uint64_t (*m_run)(uint64_t);
} modes[] = {
	{ "larson", larson },
	{ "prodcons", prodcons },
	{ "tree", tree },
	{ "strings", strings },
	{ "large", large },
	{ "frag", frag },
	{ "threads", threads },
	{ "huge", huge },
	{ "thrash", thrash },
	{ "scratch", scratch },
};

int
main(int argc, char **argv)
{
	const struct mode *m = NULL;
	unsigned long long scale;
	char *end;

	if (argc != 3)
		die(BENCH_USAGE);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].m_name) == 0)
			m = &modes[i];
	}
	if (m == NULL) {
		fprintf(stderr, "mallocwork: unknown mode \"%s\"; modes: %s\n",
		    argv[1], MODES);
		return (1);
	}
	errno = 0;
	scale = strtoull(argv[2], &end, 10);
	if (errno != 0 || end == argv[2] || *end != '\0' || scale == 0 ||
	    scale > 100000 || argv[2][0] == '-') {
		fprintf(stderr, "mallocwork: SCALE must be a whole number from "
		    "1 to 100000, not \"%s\"\n", argv[2]);
		return (1);
	}
	uint64_t digest = m->m_run(scale);
	if (final_rss == 0)
		final_rss = rss_bytes();
	fprintf(stderr, "final-rss %llu\n",
	    (unsigned long long)(final_rss / 1024));
	printf("%s %016llx\n", m->m_name, (unsigned long long)digest);
	return (0);
}
