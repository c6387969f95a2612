/*
 * stress.c -- a deterministic, seeded, threaded stress test of kmem (not a
 * benchmark).
 *
 *   stress [-s SEED] [-t THREADS] [-d SECONDS | -n OPS] [-r]
 *
 * Built twice from this file:
 *
 *   stress        kmem's own interfaces: four zones of different sizes (one
 *                 with a constructor and destructor, one with a limit),
 *                 three malloc types with kmalloc/kfree/krealloc at sizes
 *                 of every kmalloc class and large ones above 64 KiB, a
 *                 third of the requests M_NOWAIT (whose NULL is handled).
 *   stress_libc   malloc, free, realloc, calloc and posix_memalign only,
 *                 to run under libkmem-preload.so.
 *
 * Each thread draws its operations from its own generator (xorshift64*,
 * seeded from SEED and its number), so a seed names one sequence of
 * requests per thread.  Every block is filled with a pattern derived from
 * its address and size; the pattern is checked before every free and every
 * realloc, and a realloc must keep the old block's prefix.  Some blocks are
 * handed to another thread, which checks and frees them (remote frees).
 * When every thread has stopped (after SECONDS, or OPS operations each),
 * each frees what it holds and what it was handed.  Then stress checks,
 * through memstat(3), that every malloc type of its own has nothing in use
 * and as many frees as allocations, that every zone (kmem's internal ones
 * aside) is back to the items it had in use at the start, and that constructors and destructors ran as
 * often.  With -r (stress_libc), it prints READY once everything is freed
 * and waits for the end of its input, for a reader of its statistics.
 *
 * Exit status: 0 when every check held, 1 when one failed (a corrupt block
 * aborts at once, naming it), 2 for bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef STRESS_LIBC
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>
#endif

#define MAXTHREADS 64
#define SLOTS 256         /* blocks a thread holds at most */
#define INBOX 512         /* blocks handed to a thread, not yet freed */
#define LARGE_MAX (512 * 1024)
#define CTOR_MAGIC UINT64_C(0xc7c7c7c7c7c7c7c7)

/* What a block came from. */
enum kind {
	K_NONE = 0,
	K_ZONE,    /* uma_zalloc from zones[b_idx] */
	K_MALLOC,  /* kmalloc of types[b_idx] */
	K_LIBC,    /* malloc and the rest */
};

struct block {
	void *b_ptr;    /* NULL: slot empty */
	size_t b_size;  /* bytes asked for (and filled) */
	uint8_t b_kind; /* enum kind */
	uint8_t b_idx;  /* zone or type index */
};

struct thread {
	int t_id;
	uint64_t t_rng;                 /* the thread's generator */
	pthread_t t_thread;
	struct block t_slots[SLOTS];    /* what it holds */
	pthread_mutex_t t_lock;         /* guards the inbox */
	struct block t_inbox[INBOX];    /* blocks other threads handed it */
	unsigned t_ninbox;
	/* counts, summed at the end */
	uint64_t t_ops, t_allocs, t_frees, t_reallocs, t_remote, t_nulls;
};

static struct thread threads[MAXTHREADS];
static int nthreads = 4;
static uint64_t seed = 1;
static double duration = 0;     /* seconds; 0: count operations */
static uint64_t nops = 20000;   /* per thread, without -d */
static bool ready_line;
static atomic_bool stop;
static pthread_barrier_t phase;
static const char *prog = "stress";

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static uint64_t
rnd(struct thread *t)
{
	uint64_t x = t->t_rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->t_rng = x;
	return (x * UINT64_C(0x2545F4914F6CDD1D));
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* ---- the pattern ------------------------------------------------------------ */

/* Word i of the pattern of a block at p of size bytes. */
static inline uint64_t
pat_word(const void *p, size_t size, size_t i)
{
	uint64_t h = (uint64_t)(uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15) ^
	    (uint64_t)size;

	return (h + i * UINT64_C(0xD6E8FEB86659FD93));
}

static void
pat_fill(void *p, size_t size)
{
	uint64_t *w = p;
	size_t n = size / 8, i;

	for (i = 0; i < n; i++)
		w[i] = pat_word(p, size, i);
	if (size % 8 != 0) {
		uint64_t last = pat_word(p, size, n);
		memcpy((char *)p + n * 8, &last, size % 8);
	}
}

/*
 * Checks the first len bytes of the block at q against the pattern that a
 * block at p of size bytes was filled with; the offset of the first wrong
 * byte, or -1.
 */
static long
pat_check(const void *q, const void *p, size_t size, size_t len)
{
	const uint64_t *w = q;
	size_t n = len / 8, i;

	for (i = 0; i < n; i++)
		if (w[i] != pat_word(p, size, i))
			goto bytes;
	if (len % 8 != 0) {
		uint64_t last = pat_word(p, size, n);
		if (memcmp((const char *)q + n * 8, &last, len % 8) != 0)
			goto bytes;
	}
	return (-1);
bytes:
	for (size_t b = i * 8; b < len; b++) {
		uint64_t v = pat_word(p, size, b / 8);
		if (((const uint8_t *)q)[b] != (uint8_t)(v >> (b % 8 * 8)))
			return ((long)b);
	}
	return (-1);
}

static const char *kind_name(const struct block *b);

static void
check_block(const struct thread *t, const struct block *b, const char *when)
{
	long off = pat_check(b->b_ptr, b->b_ptr, b->b_size, b->b_size);

	if (off >= 0)
		die("thread %d: block %p (%zu bytes, %s) corrupt at offset %ld "
		    "before %s", t->t_id, b->b_ptr, b->b_size, kind_name(b), off,
		    when);
}

/* ---- what the blocks come from ------------------------------------------- */

#ifndef STRESS_LIBC
MALLOC_DEFINE(M_STRESS_A, "stress_a", "stress: small blocks");
MALLOC_DEFINE(M_STRESS_B, "stress_b", "stress: blocks of every class");
MALLOC_DEFINE(M_STRESS_C, "stress_c", "stress: large blocks");
static struct malloc_type *const types[] = {M_STRESS_A, M_STRESS_B, M_STRESS_C};
#define NTYPES 3

struct zone_spec {
	const char *zs_name;
	size_t zs_size;
	bool zs_ctor;  /* constructor and destructor */
	int zs_limit;  /* 0: none; else M_NOWAIT only (a limit can be full) */
};
static const struct zone_spec zone_specs[] = {
	{"stress_24", 24, false, 0},
	{"stress_200", 200, true, 0},
	{"stress_1k", 1024, false, 300},
	{"stress_4k", 4096, true, 0},
};
#define NZONES 4
static uma_zone_t zones[NZONES];
static _Atomic uint64_t nctor[NZONES], ndtor[NZONES];

static int
stress_ctor(void *mem, int size, void *arg, int flags)
{
	uintptr_t z = (uintptr_t)arg;

	*(uint64_t *)mem = CTOR_MAGIC;
	atomic_fetch_add(&nctor[z], 1);
	return (0);
}

static void
stress_dtor(void *mem, int size, void *arg)
{
	uintptr_t z = (uintptr_t)arg;

	atomic_fetch_add(&ndtor[z], 1);
}
#endif

static const char *
kind_name(const struct block *b)
{
#ifndef STRESS_LIBC
	if (b->b_kind == K_ZONE)
		return (zone_specs[b->b_idx].zs_name);
	if (b->b_kind == K_MALLOC)
		return (types[b->b_idx]->ks_shortdesc);
#endif
	return ("malloc");
}

/* A size: every kmalloc class by a log-uniform draw, 1 in 32 large. */
static size_t
draw_size(struct thread *t)
{
	uint64_t r = rnd(t);

	if (r % 32 == 0)
		return (64 * 1024 + 1 + (size_t)(rnd(t) % (LARGE_MAX - 64 * 1024)));
	unsigned shift = (unsigned)(r >> 8) % 16; /* up to 64 KiB */
	return (1 + (size_t)(rnd(t) % ((size_t)1 << (shift + 1))));
}

/* Allocates into b; false when an M_NOWAIT request got NULL. */
static bool
block_alloc(struct thread *t, struct block *b)
{
	uint64_t r = rnd(t);
	bool zero = r % 8 == 0;
	void *p;

	memset(b, 0, sizeof(*b));
#ifndef STRESS_LIBC
	int flags = (r >> 8) % 3 == 0 ? M_NOWAIT : M_WAITOK;

	if ((r >> 16) % 4 == 0) {
		unsigned z = (unsigned)(r >> 24) % NZONES;
		if (zone_specs[z].zs_limit != 0)
			flags = M_NOWAIT;
		p = uma_zalloc_arg(zones[z], (void *)(uintptr_t)z,
		    flags | (zero ? M_ZERO : 0));
		if (p == NULL) {
			if (flags != M_NOWAIT)
				die("thread %d: uma_zalloc(%s, M_WAITOK) returned NULL",
				    t->t_id, zone_specs[z].zs_name);
			return (false);
		}
		/* The constructor ran (M_ZERO clears what it wrote). */
		if (zone_specs[z].zs_ctor && !zero &&
		    *(uint64_t *)p != CTOR_MAGIC)
			die("thread %d: item %p of %s: constructor did not run",
			    t->t_id, p, zone_specs[z].zs_name);
		b->b_kind = K_ZONE;
		b->b_idx = (uint8_t)z;
		b->b_size = zone_specs[z].zs_size;
	} else {
		unsigned ty = (unsigned)(r >> 24) % NTYPES;
		size_t size = draw_size(t);
		p = kmalloc(size, types[ty], flags | (zero ? M_ZERO : 0));
		if (p == NULL) {
			if (flags != M_NOWAIT)
				die("thread %d: kmalloc(%zu, M_WAITOK) returned NULL",
				    t->t_id, size);
			return (false);
		}
		if (kmalloc_usable_size(p) < size)
			die("thread %d: kmalloc(%zu) gave %p of %zu usable bytes",
			    t->t_id, size, p, kmalloc_usable_size(p));
		b->b_kind = K_MALLOC;
		b->b_idx = (uint8_t)ty;
		b->b_size = size;
	}
#else
	size_t size = draw_size(t);
	unsigned how = (unsigned)(r >> 16) % 4;

	if (how == 0) {
		size_t align = (size_t)8 << ((r >> 24) % 10); /* 8 .. 4096 */
		int error = posix_memalign(&p, align, size);
		if (error != 0)
			p = NULL;
		else if ((uintptr_t)p % align != 0)
			die("thread %d: posix_memalign(%zu, %zu) gave %p", t->t_id,
			    align, size, p);
	} else if (zero) {
		p = calloc(1, size);
	} else {
		p = malloc(size);
	}
	if (p == NULL)
		return (false); /* the shim's requests are all M_NOWAIT */
	b->b_kind = K_LIBC;
	b->b_size = size;
	zero = zero && how != 0; /* calloc's */
#endif
	if (zero)
		for (size_t i = 0; i < b->b_size; i++)
			if (((uint8_t *)p)[i] != 0)
				die("thread %d: %p (%zu bytes, %s): byte %zu is not zero",
				    t->t_id, p, b->b_size, kind_name(b), i);
	b->b_ptr = p;
	pat_fill(p, b->b_size);
	t->t_allocs++;
	return (true);
}

static void
block_free(struct thread *t, struct block *b, const char *when)
{
	check_block(t, b, when);
#ifndef STRESS_LIBC
	if (b->b_kind == K_ZONE)
		uma_zfree_arg(zones[b->b_idx], b->b_ptr, (void *)(uintptr_t)b->b_idx);
	else
		kfree(b->b_ptr, types[b->b_idx]);
#else
	free(b->b_ptr);
#endif
	b->b_ptr = NULL;
	t->t_frees++;
}

/* Reallocates b to another size; the old prefix must survive. */
static void
block_realloc(struct thread *t, struct block *b)
{
	size_t size = draw_size(t);
	void *p;

	check_block(t, b, "realloc");
#ifndef STRESS_LIBC
	int flags = rnd(t) % 3 == 0 ? M_NOWAIT : M_WAITOK;
	p = krealloc(b->b_ptr, size, types[b->b_idx], flags);
	if (p == NULL && flags != M_NOWAIT)
		die("thread %d: krealloc(%zu, M_WAITOK) returned NULL", t->t_id,
		    size);
#else
	p = realloc(b->b_ptr, size);
#endif
	if (p == NULL) {
		/* The old block stays as it was. */
		t->t_nulls++;
		check_block(t, b, "free (after a failed realloc)");
		return;
	}
	size_t keep = size < b->b_size ? size : b->b_size;
	long off = pat_check(p, b->b_ptr, b->b_size, keep);
	if (off >= 0)
		die("thread %d: realloc of %p (%zu bytes, %s) to %p (%zu bytes) "
		    "lost the old contents at offset %ld", t->t_id, b->b_ptr,
		    b->b_size, kind_name(b), p, size, off);
	b->b_ptr = p;
	b->b_size = size;
	pat_fill(p, size);
	t->t_reallocs++;
}

/* Frees what other threads handed this one. */
static void
drain_inbox(struct thread *t)
{
	struct block got[INBOX];
	unsigned n;

	pthread_mutex_lock(&t->t_lock);
	n = t->t_ninbox;
	memcpy(got, t->t_inbox, n * sizeof(got[0]));
	t->t_ninbox = 0;
	pthread_mutex_unlock(&t->t_lock);
	for (unsigned i = 0; i < n; i++) {
		block_free(t, &got[i], "a remote free");
		t->t_remote++;
	}
}

/* Hands b to thread `to`; false if its inbox is full. */
static bool
hand_over(struct thread *to, struct block *b)
{
	bool ok = false;

	pthread_mutex_lock(&to->t_lock);
	if (to->t_ninbox < INBOX) {
		to->t_inbox[to->t_ninbox++] = *b;
		ok = true;
	}
	pthread_mutex_unlock(&to->t_lock);
	if (ok)
		b->b_ptr = NULL;
	return (ok);
}

static void
one_op(struct thread *t)
{
	uint64_t r = rnd(t);
	struct block *b = &t->t_slots[r % SLOTS];
	unsigned what = (unsigned)(r >> 32) % 16;

	if (b->b_ptr == NULL) {
		if (!block_alloc(t, b))
			t->t_nulls++;
		return;
	}
	if (what < 3 && nthreads > 1) {
		struct thread *to = &threads[(t->t_id + 1 +
		    (int)((r >> 40) % (uint64_t)(nthreads - 1))) % nthreads];
		if (hand_over(to, b))
			return;
	}
	if (what < 6 && b->b_kind != K_ZONE)
		block_realloc(t, b);
	else
		block_free(t, b, "free");
}

static void *
thread_main(void *arg)
{
	struct thread *t = arg;
	double end = duration > 0 ? now_s() + duration : 0;

	for (uint64_t i = 0;; i++) {
		if (duration > 0) {
			if ((i & 255) == 0 && (atomic_load(&stop) || now_s() >= end))
				break;
		} else if (i == nops) {
			break;
		}
		one_op(t);
		t->t_ops++;
		if ((i & 31) == 0)
			drain_inbox(t);
	}
	/* Nobody hands anything over once every thread is here. */
	pthread_barrier_wait(&phase);
	drain_inbox(t);
	for (int i = 0; i < SLOTS; i++)
		if (t->t_slots[i].b_ptr != NULL)
			block_free(t, &t->t_slots[i], "the final free");
	return (NULL);
}

/* ---- the statistics --------------------------------------------------------- */

#ifndef STRESS_LIBC
#define MAXZONES 128
struct zone_count {
	char zc_name[64];
	uint64_t zc_used;
};
static struct zone_count zstart[MAXZONES];
static int nzstart;

static void
snapshot_zones(struct memory_type_list *mtl)
{
	if (memstat_self_all(mtl) != 0) {
		fprintf(stderr, "%s: memstat_self_all: %s\n", prog,
		    memstat_strerror(memstat_mtl_geterror(mtl)));
		exit(1);
	}
}

static void
remember_zones(struct memory_type_list *mtl)
{
	snapshot_zones(mtl);
	nzstart = 0;
	for (struct memory_type *mt = memstat_mtl_first(mtl); mt != NULL &&
	    nzstart < MAXZONES; mt = memstat_mtl_next(mt)) {
		/* kmem's own zones (slab headers, buckets) keep what they cache. */
		if (memstat_get_allocator(mt) != ALLOCATOR_UMA ||
		    memstat_get_internal(mt))
			continue;
		snprintf(zstart[nzstart].zc_name, sizeof(zstart[0].zc_name), "%s",
		    memstat_get_name(mt));
		zstart[nzstart++].zc_used = memstat_get_count(mt);
	}
}

/* Every counter of our own back where it started; the number of faults. */
static int
check_stats(struct memory_type_list *mtl)
{
	int bad = 0;

	snapshot_zones(mtl);
	for (int i = 0; i < NTYPES; i++) {
		const char *name = types[i]->ks_shortdesc;
		struct memory_type *mt = memstat_mtl_find(mtl, ALLOCATOR_MALLOC, name);
		if (mt == NULL) {
			fprintf(stderr, "%s: malloc type %s: not in the statistics\n",
			    prog, name);
			bad++;
			continue;
		}
		uint64_t c = memstat_get_count(mt), by = memstat_get_bytes(mt);
		uint64_t a = memstat_get_numallocs(mt), f = memstat_get_numfrees(mt);
		if (c != 0 || by != 0 || a != f || a == 0) {
			fprintf(stderr, "%s: malloc type %s: %" PRIu64 " in use, %" PRIu64
			    " bytes, %" PRIu64 " allocations, %" PRIu64 " frees after "
			    "everything was freed\n", prog, name, c, by, a, f);
			bad++;
		}
	}
	for (int i = 0; i < NZONES; i++) {
		const char *name = zone_specs[i].zs_name;
		struct memory_type *mt = memstat_mtl_find(mtl, ALLOCATOR_UMA, name);
		uint64_t a = mt != NULL ? memstat_get_numallocs(mt) : 0;
		uint64_t f = mt != NULL ? memstat_get_numfrees(mt) : 0;
		if (mt == NULL || a != f || memstat_get_count(mt) != 0) {
			fprintf(stderr, "%s: zone %s: %" PRIu64 " allocations, %" PRIu64
			    " frees, %" PRIu64 " in use after everything was freed\n",
			    prog, name, a, f, mt != NULL ? memstat_get_count(mt) : 0);
			bad++;
		}
		if (zone_specs[i].zs_ctor &&
		    atomic_load(&nctor[i]) != atomic_load(&ndtor[i])) {
			fprintf(stderr, "%s: zone %s: %" PRIu64 " constructor calls, %"
			    PRIu64 " destructor calls\n", prog, name,
			    atomic_load(&nctor[i]), atomic_load(&ndtor[i]));
			bad++;
		}
	}
	/* Every zone that existed at the start: used as it was then. */
	for (int i = 0; i < nzstart; i++) {
		struct memory_type *mt = memstat_mtl_find(mtl, ALLOCATOR_UMA,
		    zstart[i].zc_name);
		uint64_t used = mt != NULL ? memstat_get_count(mt) : 0;
		if (used != zstart[i].zc_used) {
			fprintf(stderr, "%s: zone %s: %" PRIu64 " items in use, %" PRIu64
			    " at the start\n", prog, zstart[i].zc_name, used,
			    zstart[i].zc_used);
			bad++;
		}
	}
	return (bad);
}
#endif

/* ---- arguments ----------------------------------------------------------- */

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-s SEED] [-t THREADS] [-d SECONDS | -n OPS] "
	    "[-r]\n", prog);
	exit(2);
}

static uint64_t
number(int opt, const char *arg, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    v < lo || v > hi) {
		fprintf(stderr, "%s: -%c %s: not a number from %" PRIu64 " to %"
		    PRIu64 "\n", prog, opt, arg, lo, hi);
		exit(2);
	}
	return (v);
}

int
main(int argc, char **argv)
{
	int c;
	bool have_d = false, have_n = false;

	if (argc > 0 && argv[0] != NULL) {
		const char *slash = strrchr(argv[0], '/');
		prog = slash != NULL ? slash + 1 : argv[0];
	}
	while ((c = getopt(argc, argv, ":s:t:d:n:r")) != -1) {
		switch (c) {
		case 's':
			seed = number(c, optarg, 0, UINT64_MAX);
			break;
		case 't':
			nthreads = (int)number(c, optarg, 1, MAXTHREADS);
			break;
		case 'd':
			duration = (double)number(c, optarg, 1, 86400 * 7);
			have_d = true;
			break;
		case 'n':
			nops = number(c, optarg, 1, UINT64_C(1) << 40);
			have_n = true;
			break;
		case 'r':
			ready_line = true;
			break;
		case ':':
			fprintf(stderr, "%s: -%c needs a value\n", prog, optopt);
			usage();
		default:
			fprintf(stderr, "%s: unknown option -%c\n", prog, optopt);
			usage();
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument %s\n", prog, argv[optind]);
		usage();
	}
	if (have_d && have_n) {
		fprintf(stderr, "%s: -d and -n exclude each other\n", prog);
		usage();
	}

#ifndef STRESS_LIBC
	struct memory_type_list *mtl = memstat_mtl_alloc();
	if (mtl == NULL) {
		fprintf(stderr, "%s: memstat_mtl_alloc failed\n", prog);
		return (1);
	}
	for (int i = 0; i < NZONES; i++) {
		const struct zone_spec *zs = &zone_specs[i];
		zones[i] = uma_zcreate(zs->zs_name, zs->zs_size,
		    zs->zs_ctor ? stress_ctor : NULL, zs->zs_ctor ? stress_dtor : NULL,
		    NULL, NULL, UMA_ALIGN_PTR, 0);
		if (zones[i] == NULL) {
			fprintf(stderr, "%s: uma_zcreate(%s) failed\n", prog, zs->zs_name);
			return (1);
		}
		if (zs->zs_limit != 0)
			uma_zone_set_max(zones[i], zs->zs_limit);
	}
	/* Twice: the list's own entries are made by the first. */
	remember_zones(mtl);
	remember_zones(mtl);
#endif
	pthread_barrier_init(&phase, NULL, (unsigned)nthreads);
	double t0 = now_s();
	/* Every inbox is ready before any thread can hand a block over. */
	for (int i = 0; i < nthreads; i++) {
		struct thread *t = &threads[i];
		t->t_id = i;
		t->t_rng = (seed + 1) * UINT64_C(0x9E3779B97F4A7C15) ^
		    ((uint64_t)(i + 1) << 32);
		pthread_mutex_init(&t->t_lock, NULL);
	}
	for (int i = 0; i < nthreads; i++) {
		struct thread *t = &threads[i];
		if (pthread_create(&t->t_thread, NULL, thread_main, t) != 0) {
			fprintf(stderr, "%s: cannot start thread %d\n", prog, i);
			return (1);
		}
	}
	uint64_t ops = 0, allocs = 0, frees = 0, reallocs = 0, remote = 0;
	uint64_t nulls = 0;
	for (int i = 0; i < nthreads; i++) {
		struct thread *t = &threads[i];
		pthread_join(t->t_thread, NULL);
		ops += t->t_ops;
		allocs += t->t_allocs;
		frees += t->t_frees;
		reallocs += t->t_reallocs;
		remote += t->t_remote;
		nulls += t->t_nulls;
	}
	double took = now_s() - t0;
	int bad = 0;
	if (allocs != frees) {
		fprintf(stderr, "%s: %" PRIu64 " allocations but %" PRIu64 " frees\n",
		    prog, allocs, frees);
		bad++;
	}
#ifndef STRESS_LIBC
	bad += check_stats(mtl);
	for (int i = 0; i < NZONES; i++)
		uma_zdestroy(zones[i]);
	memstat_mtl_free(mtl);
#endif
	printf("%s: seed %" PRIu64 ", %d threads, %" PRIu64 " operations in "
	    "%.1f s: %" PRIu64 " allocations, %" PRIu64 " reallocations, %" PRIu64
	    " frees (%" PRIu64 " remote), %" PRIu64 " NULLs: %s\n", prog, seed,
	    nthreads, ops, took, allocs, reallocs, frees, remote, nulls,
	    bad == 0 ? "ok" : "FAILED");
	fflush(stdout);
	if (ready_line) {
		char buf[64];
		printf("READY\n");
		fflush(stdout);
		while (fread(buf, 1, sizeof(buf), stdin) > 0)
			;
	}
	return (bad == 0 ? 0 : 1);
}
