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
	pthread_t thread;
};

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	void **ring = calloc((size_t)w->hold, sizeof(void *));
	unsigned i = 0;

	while (!atomic_load(&stop)) {
		unsigned k = i++ % (unsigned)w->hold;
		if (ring[k] != NULL) {
			if (w->arena != NULL)
				kmem_arena_free(w->arena, ring[k], w->size);
			else
				kmem_free(ring[k], w->size);
		}
		ring[k] = w->arena != NULL ?
		    kmem_arena_malloc(w->arena, w->size, w->flags) :
		    kmem_malloc(w->size, w->flags);
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
			kmem_arena_free(w->arena, ring[k], w->size);
		else
			kmem_free(ring[k], w->size);
	}
	free(ring);
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

/* The leak: 512 KiB every 20 ms until plugged. */
static void *
leak_main(void *arg)
{
	static void *leaked[4096];
	int n = 0;

	while (!atomic_load(&plug_leak) && n < 4096) {
		void *p = kmem_malloc(512 * KB, M_NOWAIT);
		if (p != NULL)
			leaked[n++] = p;
		nap(20);
	}
	while (!atomic_load(&plug_leak))
		nap(10);
	while (n > 0)
		kmem_free(leaked[--n], 512 * KB);
	return (NULL);
}

static void
status(const char *phase, struct worker *ws, int nw)
{
	printf("%-10s map %5.1f/%5.1f MiB used  free %5.1f MiB", phase,
	    (double)kmem_map_size() / MB, (double)kmem_size() / MB,
	    (double)kmem_map_free() / MB);
	for (int i = 0; i < nw; i++)
		printf("  %s %lu/%lu", ws[i].name, atomic_load(&ws[i].allocs),
		    atomic_load(&ws[i].nulls));
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
	printf("kmem map demo: a %zu MiB map; workers print allocations/NULLs\n"
	       "(M_NOWAIT workers rx and tx see NULLs when the map is full; the "
	       "M_WAITOK worker vnodes waits instead)\n\n",
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

	for (int t = 0; t < 16; t++) {
		nap(250);
		status(t < 2 ? "filling" : "full", ws, nw);
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
		status("plugged", ws, nw);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < nw; i++)
		pthread_join(ws[i].thread, NULL);
	while (ncache > 0)
		kmem_free(cache[--ncache], 64 * KB);
	printf("\nall given back: %zu bytes of the map in use (metadata), %zu "
	       "free\n", kmem_map_size(), kmem_map_free());
	return (0);
}
