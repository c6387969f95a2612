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
 * and last byte; for large blocks one byte per page as well) and checked
 * before it is freed; a wrong tag ends the run with status 2.  The run
 * prints one line, "MODE DIGEST", the same on every allocator: a result
 * that differs from glibc's is a wrong result.
 *
 * Modes (sizes in bytes; random numbers from xorshift64 with fixed seeds):
 *
 *   larson   One thread, a live set of LIVE = 10^5 blocks of sizes uniform
 *            in 16..1024.  Each step frees a random slot's block and
 *            allocates a new one in its place.  200000 x SCALE steps.
 *   xthread  Two threads, each with a live set of LIVE / 2 blocks (sizes
 *            16..1024).  Each step allocates a block into a random slot
 *            and hands the block it replaces to the other thread (a
 *            single-producer single-consumer ring per direction, batched),
 *            which frees it: every free is a remote free.  50000 x SCALE
 *            steps per thread.
 *   tree     Binary trees of nodes of 32..64 bytes: build a tree of depth
 *            16, walk it, free it; 4 x SCALE times, with a long-lived tree
 *            of depth 14 held throughout.
 *   strings  String building: 16 strings grown side by side, pieces of
 *            1..16 bytes at a time, by realloc doubling (from 16 bytes up
 *            to 64 bytes..16 KB), then a batch of 2000 small strings
 *            (8..80 bytes) copied with strdup, joined into one and freed.
 *            100 x SCALE rounds.
 *   large    Blocks of 4 KB..256 KB (log-uniform), a live set of 64,
 *            one byte written per page.  40000 x SCALE steps.
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
#define BENCH_USAGE "usage: mallocwork larson|xthread|tree|strings|large SCALE"
#include "../benchlib.h"

#define LIVE 100000     /* larson, xthread: live blocks in all */
#define SMALL_MIN 16    /* larson, xthread: smallest size */
#define SMALL_MAX 1024  /* larson, xthread: largest size */
#define RING 4096       /* xthread: slots of a ring, a power of two */
#define BATCH 64        /* xthread: blocks handed over at a time */
#define GROWN 16        /* strings: strings grown at a time */
#define PAGE 4096

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

/* ---- larson ------------------------------------------------------------- */

struct slot {
	unsigned char *s_p;	/* the block */
	size_t s_size;		/* its size */
};

static uint64_t
larson(uint64_t scale)
{
	struct slot *live = xmalloc(LIVE * sizeof(*live));
	uint64_t seed = 0x9e3779b97f4a7c15ull, h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < LIVE; i++) {
		live[i].s_size = between(&seed, SMALL_MIN, SMALL_MAX);
		live[i].s_p = block_new(live[i].s_size);
	}
	for (uint64_t n = 200000 * scale; n > 0; n--) {
		struct slot *s = &live[rnd(&seed) % LIVE];

		block_check(s->s_p, s->s_size);
		h = mix(h, s->s_size);
		free(s->s_p);
		s->s_size = between(&seed, SMALL_MIN, SMALL_MAX);
		s->s_p = block_new(s->s_size);
	}
	for (size_t i = 0; i < LIVE; i++) {
		block_check(live[i].s_p, live[i].s_size);
		free(live[i].s_p);
	}
	free(live);
	return (h);
}

/* ---- xthread ------------------------------------------------------------ */

/* Single producer, single consumer: blocks going one way. */
struct ring {
	_Alignas(64) _Atomic uint64_t r_head;	/* written by the producer */
	_Alignas(64) _Atomic uint64_t r_tail;	/* written by the consumer */
	_Alignas(64) struct slot r_slot[RING];	/* the blocks in transit */
};

struct worker {
	struct ring *w_in;	/* blocks this thread frees */
	struct ring *w_out;	/* blocks it hands over */
	uint64_t w_seed;	/* its random numbers */
	uint64_t w_steps;	/* steps to take */
	uint64_t w_sum;		/* sizes of the blocks it freed */
	_Atomic int *w_done;	/* workers that have stopped producing */
};

/* Frees what the ring holds; the number of blocks freed. */
static size_t
drain(struct worker *w)
{
	struct ring *r = w->w_in;
	uint64_t tail = atomic_load_explicit(&r->r_tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->r_head, memory_order_acquire);

	for (uint64_t i = tail; i < head; i++) {
		struct slot *s = &r->r_slot[i % RING];

		block_check(s->s_p, s->s_size);
		w->w_sum += s->s_size;
		free(s->s_p);
	}
	atomic_store_explicit(&r->r_tail, head, memory_order_release);
	return ((size_t)(head - tail));
}

static void
hand_over(struct worker *w, const struct slot *batch, size_t n)
{
	struct ring *r = w->w_out;
	uint64_t head = atomic_load_explicit(&r->r_head, memory_order_relaxed);

	while (head + n - atomic_load_explicit(&r->r_tail,
	    memory_order_acquire) > RING) {
		if (drain(w) == 0)
			sched_yield();
	}
	for (size_t i = 0; i < n; i++)
		r->r_slot[(head + i) % RING] = batch[i];
	atomic_store_explicit(&r->r_head, head + n, memory_order_release);
}

static void *
xthread_worker(void *arg)
{
	struct worker *w = arg;
	size_t nlive = LIVE / 2, nb = 0;
	struct slot *live = xmalloc(nlive * sizeof(*live));
	struct slot batch[BATCH];

	for (size_t i = 0; i < nlive; i++) {
		live[i].s_size = between(&w->w_seed, SMALL_MIN, SMALL_MAX);
		live[i].s_p = block_new(live[i].s_size);
	}
	for (uint64_t n = w->w_steps; n > 0; n--) {
		struct slot *s = &live[rnd(&w->w_seed) % nlive];

		batch[nb++] = *s;
		s->s_size = between(&w->w_seed, SMALL_MIN, SMALL_MAX);
		s->s_p = block_new(s->s_size);
		if (nb == BATCH) {
			hand_over(w, batch, nb);
			nb = 0;
			drain(w);
		}
	}
	for (size_t i = 0; i < nlive; i++) {
		batch[nb++] = live[i];
		if (nb == BATCH) {
			hand_over(w, batch, nb);
			nb = 0;
		}
	}
	if (nb > 0)
		hand_over(w, batch, nb);
	free(live);
	/* Free what comes in until the other thread has stopped too. */
	atomic_fetch_add(w->w_done, 1);
	while (atomic_load(w->w_done) < 2) {
		if (drain(w) == 0)
			sched_yield();
	}
	drain(w);
	return (NULL);
}

static uint64_t
xthread(uint64_t scale)
{
	struct ring *ab = xmalloc(sizeof(*ab)), *ba = xmalloc(sizeof(*ba));
	struct worker w[2];
	_Atomic int done = 0;
	pthread_t t;

	atomic_init(&ab->r_head, 0);
	atomic_init(&ab->r_tail, 0);
	atomic_init(&ba->r_head, 0);
	atomic_init(&ba->r_tail, 0);
	w[0] = (struct worker){ ba, ab, 0x243f6a8885a308d3ull, 50000 * scale,
	    0, &done };
	w[1] = (struct worker){ ab, ba, 0x13198a2e03707344ull, 50000 * scale,
	    0, &done };
	if (pthread_create(&t, NULL, xthread_worker, &w[1]) != 0)
		die("cannot create a thread");
	xthread_worker(&w[0]);
	pthread_join(t, NULL);
	free(ab);
	free(ba);
	return (mix(mix(0xcbf29ce484222325ull, w[0].w_sum), w[1].w_sum));
}

/* ---- tree --------------------------------------------------------------- */

struct node {
	struct node *n_left;	/* children, or NULL */
	struct node *n_right;
	uint32_t n_size;	/* the size allocated, 32..64 */
	uint32_t n_depth;	/* its depth below the root */
};

static struct node *
tree_build(uint32_t depth, uint64_t *seed)
{
	uint32_t size = 32 + 8 * (uint32_t)(rnd(seed) % 5);
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
	if (bench_unlikely(((const unsigned char *)n)[n->n_size - 1] !=
	    tag(n->n_size)))
		die("tree node overwritten");
	return (n->n_size + n->n_depth + tree_sum(n->n_left) +
	    tree_sum(n->n_right));
}

static void
tree_free(struct node *n)
{
	if (n == NULL)
		return;
	tree_free(n->n_left);
	tree_free(n->n_right);
	free(n);
}

static uint64_t
tree(uint64_t scale)
{
	uint64_t seed = 0xa4093822299f31d0ull, h = 0xcbf29ce484222325ull;
	struct node *old = tree_build(14, &seed);

	for (uint64_t i = 0; i < 4 * scale; i++) {
		struct node *t = tree_build(16, &seed);

		h = mix(h, tree_sum(t));
		tree_free(t);
	}
	h = mix(h, tree_sum(old));
	tree_free(old);
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
	uint64_t seed = 0x082efa98ec4e6c89ull, h = 0xcbf29ce484222325ull;
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEF";
	char *small[2000];
	char piece[96];

	for (uint64_t r = 0; r < 100 * scale; r++) {
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

static unsigned char *
large_new(size_t size)
{
	unsigned char *p = block_new(size);

	for (size_t off = PAGE; off < size; off += PAGE)
		p[off] = tag(size);
	return (p);
}

static uint64_t
large(uint64_t scale)
{
	uint64_t seed = 0x452821e638d01377ull, h = 0xcbf29ce484222325ull;
	struct slot live[64];

	for (size_t i = 0; i < 64; i++) {
		/* 4 KB << 0..6, then a random size up to the next doubling */
		size_t lo = (size_t)PAGE << between(&seed, 0, 5);

		live[i].s_size = between(&seed, lo, 2 * lo);
		live[i].s_p = large_new(live[i].s_size);
	}
	for (uint64_t n = 40000 * scale; n > 0; n--) {
		struct slot *s = &live[rnd(&seed) % 64];
		size_t lo = (size_t)PAGE << between(&seed, 0, 5);

		block_check(s->s_p, s->s_size);
		h = mix(h, s->s_size);
		free(s->s_p);
		s->s_size = between(&seed, lo, 2 * lo);
		s->s_p = large_new(s->s_size);
	}
	for (size_t i = 0; i < 64; i++) {
		block_check(live[i].s_p, live[i].s_size);
		free(live[i].s_p);
	}
	return (h);
}

/* ---- main ----------------------------------------------------------------- */

static const struct mode {
	const char *m_name;
	uint64_t (*m_run)(uint64_t);
} modes[] = {
	{ "larson", larson },
	{ "xthread", xthread },
	{ "tree", tree },
	{ "strings", strings },
	{ "large", large },
};

int
main(int argc, char **argv)
{
	if (argc != 3)
		die(BENCH_USAGE);
	uint64_t scale = number(argv[2]);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].m_name) == 0) {
			printf("%s %016llx\n", modes[i].m_name,
			    (unsigned long long)modes[i].m_run(scale));
			return (0);
		}
	}
	die(BENCH_USAGE);
}
