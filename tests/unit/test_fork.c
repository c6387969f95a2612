/*
 * test_fork.c -- fork() while other threads allocate (KT_THREADED: also run
 * under ThreadSanitizer).  Threads hammer every allocator of kmem -- kmalloc
 * and kfree of small and large sizes, zones with and without a limit, a vmem
 * arena with quantum caches, kmem_malloc pages, malloc types registered and
 * unregistered on the fly -- while another thread forks again and again.
 * Every child must be able to allocate and free of every kind, register a
 * type, read its own statistics and exit within a few seconds: a lock left
 * held by a thread that does not exist in the child would hang it there.
 * Also: forks from a thread other than the main one, a child that forks in
 * turn (also at once, while its statistics thread is starting), and forks
 * while the statistics publisher publishes every 10 ms.
 *
 * Every test runs in a child of its own (kt_child) with a map of known size.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>
#include <kmem/vmem.h>

#define NHAMMER 4          /* threads allocating while forks happen */
#define NFORKS 200         /* forks per test */
#define CHILD_SECONDS 10   /* a child still running after this is hung */
#define HOLD 16            /* items a hammer thread keeps of each kind */
#define LIMIT 1000         /* items of the limited zone */
#define ARENA_QUANTUM 16
#define ARENA_SIZE ((size_t)1 << 20)

MALLOC_DEFINE(M_FORK, "forktest", "fork test");

static uma_zone_t z_plain, z_ctor, z_limit;
static vmem_t *arena;
static atomic_bool stop;
static atomic_uint_fast64_t hammer_rounds;

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (*s);
}

static int
ctor_fill(void *mem, int size, void *arg, int flags)
{
	(void)arg;
	(void)flags;
	memset(mem, 0xa5, (size_t)size);
	return (0);
}

static void
setup(void)
{
	kt_map_setup("256M");
	z_plain = uma_zcreate("fork plain", 72, NULL, NULL, NULL, NULL, 7, 0);
	z_ctor = uma_zcreate("fork ctor", 200, ctor_fill, NULL, NULL, NULL, 7, 0);
	z_limit = uma_zcreate("fork limit", 48, NULL, NULL, NULL, NULL, 7, 0);
	KT_CHECK(z_plain != NULL && z_ctor != NULL && z_limit != NULL);
	uma_zone_set_max(z_limit, LIMIT);
	arena = vmem_create("fork arena", 0x100000, ARENA_SIZE, ARENA_QUANTUM,
	    8 * ARENA_QUANTUM, M_WAITOK);
	KT_CHECK(arena != NULL);
}

/* ---- what every thread does, in the parent and in the children -------------- */

struct held {
	void *h_small[HOLD];
	size_t h_small_size[HOLD];
	void *h_large[2];
	size_t h_large_size[2];
	void *h_zone[3][HOLD];
	vmem_addr_t h_seg[HOLD];
	vmem_size_t h_seg_size[HOLD];
	void *h_pages;
	size_t h_pages_size;
};

static uma_zone_t
zone_of(int i)
{
	return (i == 0 ? z_plain : i == 1 ? z_ctor : z_limit);
}

/* One step of random work; keeps at most HOLD things of each kind. */
static void
step(struct held *h, uint32_t *seed)
{
	uint32_t r = rnd(seed);
	int k = (int)(r % HOLD);

	switch ((r >> 8) % 6) {
	case 0: /* kmalloc of a small size */
		if (h->h_small[k] != NULL) {
			kfree(h->h_small[k], M_FORK);
			h->h_small[k] = NULL;
		} else {
			size_t size = 1 + (rnd(seed) % 8192);
			h->h_small[k] = kmalloc(size, M_FORK, M_WAITOK);
			KT_CHECK(h->h_small[k] != NULL);
			memset(h->h_small[k], 0x5a, size);
			h->h_small_size[k] = size;
		}
		break;
	case 1: /* kmalloc of a large size */
		k %= 2;
		if (h->h_large[k] != NULL) {
			kfree(h->h_large[k], M_FORK);
			h->h_large[k] = NULL;
		} else {
			size_t size = 65537 + (rnd(seed) % 200000);
			h->h_large[k] = kmalloc(size, M_FORK, M_WAITOK);
			KT_CHECK(h->h_large[k] != NULL);
			((char *)h->h_large[k])[size - 1] = 1;
			h->h_large_size[k] = size;
		}
		break;
	case 2: { /* zones */
		int z = (int)(rnd(seed) % 3);
		if (h->h_zone[z][k] != NULL) {
			uma_zfree(zone_of(z), h->h_zone[z][k]);
			h->h_zone[z][k] = NULL;
		} else {
			h->h_zone[z][k] = uma_zalloc(zone_of(z),
			    z == 2 ? M_NOWAIT : M_WAITOK);
			KT_CHECK(z == 2 || h->h_zone[z][k] != NULL);
		}
		break;
	}
	case 3: /* the arena, cached sizes and others */
		if (h->h_seg_size[k] != 0) {
			vmem_free(arena, h->h_seg[k], h->h_seg_size[k]);
			h->h_seg_size[k] = 0;
		} else {
			vmem_size_t size = ARENA_QUANTUM * (1 + rnd(seed) % 16);
			if (vmem_alloc(arena, size, M_NOWAIT | M_FIRSTFIT,
			    &h->h_seg[k]) == 0)
				h->h_seg_size[k] = size;
		}
		break;
	case 4: /* pages of the map */
		if (h->h_pages != NULL) {
			kmem_free(h->h_pages, h->h_pages_size);
			h->h_pages = NULL;
		} else {
			h->h_pages_size = kmem_page_size() * (1 + rnd(seed) % 8);
			h->h_pages = kmem_malloc(h->h_pages_size, M_WAITOK);
			KT_CHECK(h->h_pages != NULL);
		}
		break;
	case 5: { /* a type made on the fly */
		struct malloc_type t = {M_MAGIC, 0, "fork dyn", "made on the fly",
		    NULL};
		malloc_type_register(&t);
		void *p = kmalloc(1 + rnd(seed) % 512, &t, M_WAITOK);
		KT_CHECK(p != NULL);
		kfree(p, &t);
		malloc_type_unregister(&t);
		break;
	}
	}
}

static void
release_all(struct held *h)
{
	for (int k = 0; k < HOLD; k++) {
		if (h->h_small[k] != NULL)
			kfree(h->h_small[k], M_FORK);
		for (int z = 0; z < 3; z++)
			if (h->h_zone[z][k] != NULL)
				uma_zfree(zone_of(z), h->h_zone[z][k]);
		if (h->h_seg_size[k] != 0)
			vmem_free(arena, h->h_seg[k], h->h_seg_size[k]);
	}
	for (int k = 0; k < 2; k++)
		if (h->h_large[k] != NULL)
			kfree(h->h_large[k], M_FORK);
	if (h->h_pages != NULL)
		kmem_free(h->h_pages, h->h_pages_size);
	memset(h, 0, sizeof(*h));
}

static void *
hammer(void *arg)
{
	struct held h;
	uint32_t seed = (uint32_t)(uintptr_t)arg * 2654435761u + 1;

	memset(&h, 0, sizeof(h));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int i = 0; i < 64; i++)
			step(&h, &seed);
		atomic_fetch_add(&hammer_rounds, 1);
	}
	release_all(&h);
	return (NULL);
}

/* ---- the children ---------------------------------------------------------------- */

/* Allocates and frees of every kind, registers a type, reads statistics. */
static void
child_work(void)
{
	struct malloc_type t = {M_MAGIC, 0, "fork child", "a child's type", NULL};
	struct memory_type_list *mtl;
	struct held h;
	uint32_t seed = (uint32_t)getpid() | 1;
	void *p;

	memset(&h, 0, sizeof(h));
	for (int i = 0; i < 600; i++)
		step(&h, &seed);
	release_all(&h);
	/* One of each kind, for certain. */
	for (int z = 0; z < 3; z++) {
		p = uma_zalloc(zone_of(z), M_NOWAIT);
		KT_CHECK(p != NULL);
		uma_zfree(zone_of(z), p);
	}
	p = kmalloc(100000, M_FORK, M_WAITOK);
	KT_CHECK(p != NULL);
	kfree(p, M_FORK);
	p = kmem_malloc(3 * kmem_page_size(), M_WAITOK);
	KT_CHECK(p != NULL);
	kmem_free(p, 3 * kmem_page_size());
	vmem_addr_t a;
	KT_CHECK(vmem_alloc(arena, 3 * ARENA_QUANTUM, M_NOWAIT | M_FIRSTFIT,
	    &a) == 0);
	vmem_free(arena, a, 3 * ARENA_QUANTUM);
	KT_CHECK(vmem_alloc(arena, 100 * ARENA_QUANTUM, M_NOWAIT | M_FIRSTFIT,
	    &a) == 0);
	vmem_free(arena, a, 100 * ARENA_QUANTUM);

	malloc_type_register(&t);
	KT_CHECK(t.ks_index != 0);
	p = kmalloc(40, &t, M_WAITOK);
	KT_CHECK(p != NULL);

	mtl = memstat_mtl_alloc();
	KT_CHECK(mtl != NULL);
	KT_CHECK(memstat_self_all(mtl) == 0);
	struct memory_type *mt = memstat_mtl_find(mtl, ALLOCATOR_MALLOC,
	    "fork child");
	KT_CHECK(mt != NULL);
	KT_EQ(memstat_get_count(mt), 1);
	mt = memstat_mtl_find(mtl, ALLOCATOR_UMA, "fork limit");
	KT_CHECK(mt != NULL);
	KT_LE(memstat_get_count(mt), LIMIT);
	memstat_mtl_free(mtl);

	kfree(p, &t);
	malloc_type_unregister(&t);
}

/*
 * A child that forks again: the grandchild must work too.  at_once: the
 * child forks before doing anything, while the statistics thread that its
 * fork handler started may still be starting (a thread library's or a
 * sanitizer's lock that start-up holds must not be left held in the
 * grandchild, whose own statistics thread would then never start).
 */
static void
child_nested(bool at_once)
{
	pid_t pid;
	int st;

	if (!at_once)
		child_work();
	pid = fork();
	KT_CHECK(pid >= 0);
	if (pid == 0) {
		alarm(CHILD_SECONDS);
		child_work();
		_exit(0);
	}
	KT_CHECK(waitpid(pid, &st, 0) == pid);
	KT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

struct forker {
	int f_nforks;      /* forks to make */
	bool f_nested;     /* children fork in turn */
	bool f_at_once;    /* ... as soon as they start */
	int f_ok;          /* children that exited 0 */
	int f_hung;        /* children that had to be killed */
	int f_failed;      /* children that failed otherwise */
};

/* Waits for pid at most CHILD_SECONDS + 5 s; kills it after that. */
static int
wait_bounded(pid_t pid, int *stp)
{
	struct timespec nap = {0, 2 * 1000 * 1000};

	for (int i = 0; i < (CHILD_SECONDS + 5) * 500; i++) {
		pid_t w = waitpid(pid, stp, WNOHANG);
		if (w == pid)
			return (0);
		if (w < 0 && errno != EINTR)
			return (-1);
		nanosleep(&nap, NULL);
	}
	kill(pid, SIGKILL);
	(void)waitpid(pid, stp, 0);
	return (-1);
}

static void *
forker(void *arg)
{
	struct forker *f = arg;
	struct timespec pause = {0, 300 * 1000};

	for (int i = 0; i < f->f_nforks; i++) {
		pid_t pid;
		int st;

		fflush(stderr);
		pid = fork();
		KT_CHECK(pid >= 0);
		if (pid == 0) {
			/* SIGALRM's default action ends a child that hangs. */
			alarm(CHILD_SECONDS);
			if (f->f_nested)
				child_nested(f->f_at_once);
			else
				child_work();
			_exit(0);
		}
		if (wait_bounded(pid, &st) != 0)
			f->f_hung++;
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
			f->f_hung++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			f->f_ok++;
		else
			f->f_failed++;
		nanosleep(&pause, NULL);
	}
	return (NULL);
}

/* Hammer threads run while fn forks; every child must have exited 0. */
static void
run(struct forker *f, bool from_thread)
{
	pthread_t t[NHAMMER], ft;

	atomic_store(&stop, false);
	for (uintptr_t i = 0; i < NHAMMER; i++)
		KT_CHECK(pthread_create(&t[i], NULL, hammer, (void *)(i + 1)) == 0);
	/* Let the threads get going. */
	while (atomic_load(&hammer_rounds) < NHAMMER * 4)
		sched_yield();
	if (from_thread) {
		KT_CHECK(pthread_create(&ft, NULL, forker, f) == 0);
		KT_CHECK(pthread_join(ft, NULL) == 0);
	} else {
		forker(f);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < NHAMMER; i++)
		KT_CHECK(pthread_join(t[i], NULL) == 0);
	if (f->f_ok != f->f_nforks)
		fprintf(stderr, "%d forks: %d children hung, %d failed\n",
		    f->f_nforks, f->f_hung, f->f_failed);
	KT_EQ(f->f_hung, 0);
	KT_EQ(f->f_failed, 0);
	KT_EQ(f->f_ok, f->f_nforks);
	/* The parent is still sound. */
	child_work();
}

/* ---- the tests ---------------------------------------------------------------------- */

static void
c_fork_main(void *arg)
{
	struct forker f = {.f_nforks = NFORKS};

	(void)arg;
	setup();
	run(&f, false);
}

static void
c_fork_thread(void *arg)
{
	struct forker f = {.f_nforks = NFORKS / 2};

	(void)arg;
	setup();
	run(&f, true);
}

static void
c_fork_nested(void *arg)
{
	struct forker f = {.f_nforks = NFORKS / 4, .f_nested = true};

	(void)arg;
	setup();
	run(&f, false);
}

static void
c_fork_stats(void *arg)
{
	struct forker f = {.f_nforks = NFORKS / 2};

	(void)arg;
	KT_CHECK(kmem_setopt("stats", "1") == 0);
	KT_CHECK(kmem_setopt("stats_interval", "10") == 0);
	setup();
	run(&f, false);
}

/* Children with the statistics on fork at once, no hammer threads. */
static void
c_fork_starting(void *arg)
{
	struct forker f = {.f_nforks = NFORKS / 2, .f_nested = true,
	    .f_at_once = true};

	(void)arg;
	KT_CHECK(kmem_setopt("stats", "1") == 0);
	setup();
	forker(&f);
	if (f.f_ok != f.f_nforks)
		fprintf(stderr, "%d forks: %d children hung, %d failed\n",
		    f.f_nforks, f.f_hung, f.f_failed);
	KT_EQ(f.f_hung, 0);
	KT_EQ(f.f_failed, 0);
}

static void
test_fork_main(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	(void)state;
	kt_assert_child_ok(c_fork_main, NULL);
}

static void
test_fork_thread(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	(void)state;
	kt_assert_child_ok(c_fork_thread, NULL);
}

static void
test_fork_nested(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	(void)state;
	kt_assert_child_ok(c_fork_nested, NULL);
}

static void
test_fork_stats(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	(void)state;
	kt_assert_child_ok(c_fork_stats, NULL);
}

static void
test_fork_starting(void **state)
{
	KT_NEEDS_EVERY_ALLOCATION();
	(void)state;
	kt_assert_child_ok(c_fork_starting, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_main),
		cmocka_unit_test(test_fork_thread),
		cmocka_unit_test(test_fork_nested),
		cmocka_unit_test(test_fork_stats),
		cmocka_unit_test(test_fork_starting),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
