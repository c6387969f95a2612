/*
 * map_demo -- the bounded map filling up, and nobody panicking.
 *
 * A 64 MiB map (unless KMEM_OPTIONS says otherwise) with:
 *   - a "cache" that holds pages and gives half back when the map runs low
 *     (a low-memory handler, like the buffer cache answering vm_lowmem);
 *   - two M_NOWAIT workers ("rx" and "tx", like mbuf clusters at interrupt
 *     time) that must cope with NULL;
 *   - one M_WAITOK worker ("vnodes") that waits for memory instead;
 *   - a "leak" that takes memory and never gives it back until told to;
 *   - a submap "pipe_map" with its own bound that a fifth worker fills.
 * The demo prints the state of the map four times a second, lets the leak
 * fill the map, prints kmem_report(3) while it is full, shows a request
 * that can never fit failing at once, then plugs the leak.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>

#define KB ((size_t)1 << 10)
#define MB ((size_t)1 << 20)

static atomic_bool stop, plug_leak;

struct worker {
	const char *name;
	int flags;
	size_t size;     /* bytes per allocation */
	int hold;        /* allocations held at once */
	vmem_t *arena;   /* NULL: the map */
	atomic_ulong allocs, nulls;
	atomic_ulong since; /* ms when the current request started, or 0 */
	pthread_t thread;
};

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static unsigned long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((unsigned long)ts.tv_sec * 1000 + (unsigned long)ts.tv_nsec / 1000000 + 1);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	void **ring = calloc((size_t)w->hold, sizeof(void *));
	size_t *sizes = calloc((size_t)w->hold, sizeof(size_t));
	uint64_t seed = (uintptr_t)w;
	unsigned i = 0;

	while (!atomic_load(&stop)) {
		unsigned k = i++ % (unsigned)w->hold;
		if (ring[k] != NULL) {
			if (w->arena != NULL)
				kmem_arena_free(w->arena, ring[k], sizes[k]);
			else
				kmem_free(ring[k], sizes[k]);
		}
		/* Sizes vary from size/2 to 2*size, in pages. */
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		sizes[k] = (w->size / 2 + (size_t)(seed >> 33) % (w->size * 3 / 2)) &
		    ~(kmem_page_size() - 1);
		atomic_store(&w->since, now_ms());
		ring[k] = w->arena != NULL ?
		    kmem_arena_malloc(w->arena, sizes[k], w->flags) :
		    kmem_malloc(sizes[k], w->flags);
		atomic_store(&w->since, 0);
		if (ring[k] == NULL)
			atomic_fetch_add(&w->nulls, 1); /* M_NOWAIT copes */
		else
			atomic_fetch_add(&w->allocs, 1);
		nap(2);
	}
	for (int k = 0; k < w->hold; k++) {
		if (ring[k] == NULL)
			continue;
		if (w->arena != NULL)
			kmem_arena_free(w->arena, ring[k], sizes[k]);
		else
			kmem_free(ring[k], sizes[k]);
	}
	free(ring);
	free(sizes);
	return (NULL);
}

/* The cache: pages kept for later, half given back under pressure. */
static void *cache[256];
static int ncache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int cache_released;

static void
cache_lowmem(void *arg, int flags)
{
	pthread_mutex_lock(&cache_lock);
	int give = ncache / 2;
	for (int i = 0; i < give; i++)
		kmem_free(cache[--ncache], 64 * KB);
	pthread_mutex_unlock(&cache_lock);
	atomic_fetch_add(&cache_released, give);
}

/* The leak: 128 KiB every 10 ms until plugged. */
static void *
leak_main(void *arg)
{
	static void *leaked[4096];
	int n = 0;

	while (!atomic_load(&plug_leak) && n < 4096) {
		void *p = kmem_malloc(128 * KB, M_NOWAIT);
		if (p != NULL)
			leaked[n++] = p;
		nap(10);
	}
	while (!atomic_load(&plug_leak))
		nap(10);
	while (n > 0)
		kmem_free(leaked[--n], 128 * KB);
	return (NULL);
}

static void
status(const char *phase, struct worker *ws, int nw)
{
	printf("%5s  map %4.1f/%4.1f MiB used, free %4.1f MiB (largest %4zu KiB)",
	    phase, (double)kmem_map_size() / MB, (double)kmem_size() / MB,
	    (double)kmem_map_free() / MB,
	    vmem_size(kmem_map_arena(), VMEM_MAXFREE) / KB);
	for (int i = 0; i < nw; i++) {
		unsigned long since = atomic_load(&ws[i].since);
		if (ws[i].flags & M_WAITOK)
			printf("  %s %5lu %s", ws[i].name, atomic_load(&ws[i].allocs),
			    since != 0 && now_ms() - since > 100 ? "WAITING" : "       ");
		else
			printf("  %s %5lu/%-4lu", ws[i].name, atomic_load(&ws[i].allocs),
			    atomic_load(&ws[i].nulls));
	}
	printf("\n");
	fflush(stdout);
}

int
main(void)
{
	pthread_t leak;

	/* Built-in defaults; KMEM_OPTIONS, if set, has the last word. */
	kmem_setopt("kmem_size", "64M");
	kmem_setopt("wait_warn_ms", "500");
	if (kmem_init() != 0) {
		fprintf(stderr, "map_demo: kmem could not set up its map\n");
		return (1);
	}
	printf("kmem map demo: a %zu MiB map, a leak filling it, and nobody "
	       "crashing.\n"
	       "  rx, tx    M_NOWAIT workers: allocations/NULLs (they cope with "
	       "NULL)\n"
	       "  vnodes    M_WAITOK worker: allocations, WAITING while it waits "
	       "for memory\n"
	       "  pipes     M_NOWAIT worker in the 8 MiB submap pipe_map: its own "
	       "bound,\n"
	       "            full from the start while the map still has room\n\n",
	    kmem_size() / MB);

	vmem_t *pipe_map = kmem_submap_create("pipe_map", 8 * MB);
	kmem_lowmem_register(cache_lowmem, NULL);
	pthread_mutex_lock(&cache_lock);
	while (ncache < 64)
		cache[ncache++] = kmem_malloc(64 * KB, M_WAITOK);
	pthread_mutex_unlock(&cache_lock);

	struct worker ws[] = {
		{.name = "rx", .flags = M_NOWAIT, .size = 64 * KB, .hold = 64},
		{.name = "tx", .flags = M_NOWAIT, .size = 64 * KB, .hold = 64},
		{.name = "vnodes", .flags = M_WAITOK, .size = 256 * KB, .hold = 16},
		{.name = "pipes", .flags = M_NOWAIT, .size = 1 * MB, .hold = 16,
		    .arena = pipe_map},
	};
	int nw = (int)(sizeof(ws) / sizeof(ws[0]));
	for (int i = 0; i < nw; i++)
		pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
	pthread_create(&leak, NULL, leak_main, NULL);

	char when[16];
	for (int t = 1; t <= 20; t++) {
		nap(250);
		snprintf(when, sizeof(when), "%.2fs", t / 4.0);
		status(when, ws, nw);
	}
	printf("\nlow-memory handler: the cache gave back %d pages of 64 KiB\n",
	    atomic_load(&cache_released));
	printf("\nkmem_report(3) with the map full -- where every byte is:\n\n");
	kmem_report(stdout);

	printf("\na request that can never fit fails at once, even M_WAITOK:\n");
	fflush(stdout);
	void *huge = kmem_malloc(kmem_size() * 2, M_WAITOK);
	printf("kmem_malloc(%zu MiB, M_WAITOK) = %p (errno %s)\n\n",
	    kmem_size() * 2 / MB, huge, strerror(errno));

	printf("plugging the leak:\n");
	atomic_store(&plug_leak, true);
	pthread_join(leak, NULL);
	for (int t = 0; t < 4; t++) {
		nap(250);
		status("plug", ws, nw);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < nw; i++)
		pthread_join(ws[i].thread, NULL);
	while (ncache > 0)
		kmem_free(cache[--ncache], 64 * KB);
	printf("\nall given back: %zu bytes of the map in use (metadata and the "
	       "submap's reservation), %zu free\n", kmem_map_size(), kmem_map_free());
	return (0);
}
