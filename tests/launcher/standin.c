/*
 * standin.c -- a program for the kmem run tests that is on kmem without the
 * preload library: it is linked with kmem and allocates with kmalloc, so it
 * publishes its statistics as KMEM_OPTIONS says, as a program under the
 * shim does.
 *
 *   standin alloc      1000 blocks of 100 bytes ("standin_keep", 600 kept
 *                      until exit) and 64 of 4000 ("standin_tmp", freed)
 *   standin hog        64 KiB blocks of "standin_hog" with M_NOWAIT until
 *                      one fails; says "ENOMEM after N blocks", holds them
 *                      for 300 ms (a snapshot sees the peak), exits 3
 *   standin exit N     exits with status N after allocating
 *   standin kill SIG   allocates, then kills itself with signal SIG
 *   standin wait FILE  allocates, writes "ready" to FILE and waits for a
 *                      signal (exit 0 after SIGUSR1; others do as they do)
 *   standin env        prints LD_PRELOAD and KMEM_OPTIONS
 *   standin spawn      runs "standin hog" as a child, waits, exits 0
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <kmem/malloc.h>

MALLOC_DEFINE(M_KEEP, "standin_keep", "blocks kept until exit");
MALLOC_DEFINE(M_TMP, "standin_tmp", "blocks freed at once");
MALLOC_DEFINE(M_HOG, "standin_hog", "blocks until the map is full");

static void *kept[1000];

static void
allocate(void)
{
	void *tmp[64];

	for (int i = 0; i < 1000; i++)
		if ((kept[i] = kmalloc(100, M_KEEP, M_WAITOK)) == NULL)
			exit(4);
	for (int i = 600; i < 1000; i++)
		kfree(kept[i], M_KEEP);
	for (int i = 0; i < 64; i++)
		tmp[i] = kmalloc(4000, M_TMP, M_WAITOK | M_ZERO);
	for (int i = 0; i < 64; i++)
		kfree(tmp[i], M_TMP);
}

static int
hog(void)
{
	void **v = NULL;
	size_t n = 0, cap = 0;

	for (;;) {
		void *p = kmalloc(65536, M_HOG, M_NOWAIT);
		if (p == NULL)
			break;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			void **nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				return (5);
			v = nv;
		}
		v[n++] = p;
	}
	printf("ENOMEM after %zu blocks\n", n);
	fflush(stdout);
	usleep(300000);
	for (size_t i = 0; i < n; i++)
		kfree(v[i], M_HOG);
	free(v);
	return (3);
}

static volatile sig_atomic_t got_usr1;

static void
on_usr1(int sig)
{
	got_usr1 = 1;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (strcmp(cmd, "env") == 0) {
		const char *p = getenv("LD_PRELOAD"), *o = getenv("KMEM_OPTIONS");
		printf("LD_PRELOAD=%s\nKMEM_OPTIONS=%s\n", p ? p : "",
		    o ? o : "");
		return (0);
	}
	if (strcmp(cmd, "hog") == 0)
		return (hog());
	allocate();
	if (strcmp(cmd, "alloc") == 0)
		return (0);
	if (strcmp(cmd, "exit") == 0 && argc > 2)
		return (atoi(argv[2]));
	if (strcmp(cmd, "kill") == 0 && argc > 2) {
		usleep(250000); /* a snapshot with the blocks in it */
		raise(atoi(argv[2]));
		return (6);
	}
	if (strcmp(cmd, "wait") == 0 && argc > 2) {
		signal(SIGUSR1, on_usr1);
		FILE *f = fopen(argv[2], "w");
		if (f == NULL)
			return (7);
		fputs("ready\n", f);
		fclose(f);
		while (!got_usr1)
			pause();
		return (0);
	}
	if (strcmp(cmd, "spawn") == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "hog", (char *)NULL);
			_exit(127);
		}
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		return (0);
	}
	fprintf(stderr, "standin: bad arguments\n");
	return (2);
}
