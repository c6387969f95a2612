/*
 * threads.c -- threads that allocate, free each other's blocks and exit,
 * round after round.  At the end the program holds exactly HELD blocks it
 * allocated itself (printed), so its type's in-use count is known: exits
 * flushed every thread's caches and the counts stayed exact.  Prints READY,
 * waits for its input to close, frees everything and exits 0.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define NROUNDS 6
#define PER 2000
#define KEEP 25

static void *kept[NROUNDS][NTHREADS][KEEP];
static void *handoff[NTHREADS][PER / 2];

struct arg {
	int round, id;
	pthread_barrier_t *bar;
};

static void *
worker(void *p)
{
	struct arg *a = p;
	uint32_t x = (uint32_t)(a->round * 131 + a->id * 7 + 1);
	void **mine = handoff[a->id];

	for (int i = 0; i < PER / 2; i++) {
		x = x * 1103515245u + 12345u;
		size_t size = (x >> 8) % (i % 50 == 0 ? 200000 : 3000);
		mine[i] = malloc(size);
		if (mine[i] == NULL)
			abort();
		memset(mine[i], a->id, size);
	}
	pthread_barrier_wait(a->bar);
	/* Frees the neighbour's blocks: blocks freed by another thread. */
	void **theirs = handoff[(a->id + 1) % NTHREADS];
	for (int i = 0; i < PER / 2; i++)
		free(theirs[i]);
	for (int i = 0; i < KEEP; i++) {
		kept[a->round][a->id][i] = calloc(1, (size_t)(i * 97 + 1));
		if (kept[a->round][a->id][i] == NULL)
			abort();
	}
	return (NULL);
}

int
main(void)
{
	pthread_t t[NTHREADS];
	struct arg args[NTHREADS];
	pthread_barrier_t bar;

	for (int r = 0; r < NROUNDS; r++) {
		pthread_barrier_init(&bar, NULL, NTHREADS);
		for (int i = 0; i < NTHREADS; i++) {
			args[i] = (struct arg){r, i, &bar};
			if (pthread_create(&t[i], NULL, worker, &args[i]) != 0)
				return (1);
		}
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&bar);
	}
	printf("held %d\nREADY\n", NROUNDS * NTHREADS * KEEP);
	fflush(stdout);
	while (getchar() != EOF)
		;
	for (int r = 0; r < NROUNDS; r++)
		for (int i = 0; i < NTHREADS; i++)
			for (int k = 0; k < KEEP; k++)
				free(kept[r][i][k]);
	return (0);
}
