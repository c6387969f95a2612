/*
 * fork.c -- fork() while other threads allocate and free; every child
 * allocates, starts a thread, and exits 0.  An alarm bounds the run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 4
#define NFORKS 60

static atomic_bool stop;

static void *
churn(void *arg)
{
	void *slot[64] = {0};
	unsigned x = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&stop)) {
		x = x * 1103515245u + 12345u;
		int i = (int)(x >> 10) % 64;
		free(slot[i]);
		slot[i] = malloc((x >> 16) % (i == 0 ? 100000 : 2000));
	}
	for (int i = 0; i < 64; i++)
		free(slot[i]);
	return (NULL);
}

static void *
child_thread(void *arg)
{
	return (malloc(64));
}

int
main(void)
{
	pthread_t t[NTHREADS];

	alarm(120);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (int f = 0; f < NFORKS; f++) {
		pid_t pid = fork();
		if (pid < 0)
			return (1);
		if (pid == 0) {
			alarm(20);
			for (int i = 0; i < 1000; i++)
				free(malloc((size_t)i * 7));
			pthread_t ct;
			void *r = NULL;
			if (pthread_create(&ct, NULL, child_thread, NULL) != 0)
				_exit(3);
			pthread_join(ct, &r);
			free(r);
			_exit(r != NULL ? 0 : 4);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "fork: child %d: status 0x%x\n", f, status);
			return (1);
		}
	}
	atomic_store(&stop, true);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	printf("ok\n");
	return (0);
}
