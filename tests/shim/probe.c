/*
 * probe.c -- runs a program under libkmem-preload.so and checks the malloc
 * types of its statistics file, as kmemstat -p PID -m reads them.
 *
 *   probe SHIM [-w MS] [-m] [-e TYPE=N] [-e TYPE>=N] [-x TYPE] -- CMD [ARG...]
 *
 * CMD runs with LD_PRELOAD=SHIM, its standard input a pipe and its standard
 * output read by the probe (and copied to the probe's).  The probe reads
 * the statistics when CMD prints a line "READY" (or, with -w, after MS
 * milliseconds), then closes CMD's input, which tells it to finish.  -e
 * checks a type's allocations in use (exactly N, or at least N), -x that a
 * type does not exist, -m that some type holds memory.  Exits 0 when every
 * check holds and CMD exited 0.
 */
#define _GNU_SOURCE
#include <kmem/memstat.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXCHECKS 32

struct check {
	char pc_name[64];
	int pc_op;           /* '=', '>' (at least), 'x' (absent) */
	unsigned long long pc_n;
};

static void
usage(void)
{
	fprintf(stderr, "usage: probe SHIM [-w MS] [-m] [-e TYPE=N|TYPE>=N] "
	    "[-x TYPE] -- CMD [ARG...]\n");
	exit(2);
}

static void
dump(struct memory_type_list *mtl)
{
	for (struct memory_type *mt = memstat_mtl_first(mtl); mt != NULL;
	    mt = memstat_mtl_next(mt))
		if (memstat_get_allocator(mt) == ALLOCATOR_MALLOC)
			fprintf(stderr, "probe:   %-24s in use %llu, requests %llu\n",
			    memstat_get_name(mt),
			    (unsigned long long)memstat_get_count(mt),
			    (unsigned long long)memstat_get_numallocs(mt));
}

int
main(int argc, char **argv)
{
	struct check checks[MAXCHECKS];
	int nchecks = 0, wait_ms = -1, any = 0, failed = 0;
	int in[2], out[2], i;

	if (argc < 4)
		usage();
	const char *shim = argv[1];
	for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-w") == 0 && i + 1 < argc) {
			wait_ms = atoi(argv[++i]);
		} else if (strcmp(argv[i], "-m") == 0) {
			any = 1;
		} else if ((strcmp(argv[i], "-e") == 0 || strcmp(argv[i], "-x") == 0) &&
		    i + 1 < argc && nchecks < MAXCHECKS) {
			struct check *c = &checks[nchecks++];
			const char *a = argv[i + 1];
			if (argv[i][1] == 'x') {
				snprintf(c->pc_name, sizeof(c->pc_name), "%s", a);
				c->pc_op = 'x';
			} else {
				const char *eq = strchr(a, '=');
				if (eq == NULL)
					usage();
				size_t n = (size_t)(eq - a);
				c->pc_op = '=';
				if (n > 0 && a[n - 1] == '>') {
					c->pc_op = '>';
					n--;
				}
				snprintf(c->pc_name, sizeof(c->pc_name), "%.*s", (int)n, a);
				c->pc_n = strtoull(eq + 1, NULL, 10);
			}
			i++;
		} else {
			usage();
		}
	}
	if (i + 1 >= argc)
		usage();
	char **cmd = &argv[i + 1];
	if (pipe(in) != 0 || pipe(out) != 0)
		return (2);
	signal(SIGPIPE, SIG_IGN);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		setenv("LD_PRELOAD", shim, 1);
		execvp(cmd[0], cmd);
		perror(cmd[0]);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	FILE *from = fdopen(out[0], "r");
	char line[4096];
	if (wait_ms >= 0) {
		struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	} else {
		int ready = 0;
		while (!ready && fgets(line, sizeof(line), from) != NULL) {
			if (strcmp(line, "READY\n") == 0)
				ready = 1;
			else
				fputs(line, stdout);
		}
		if (!ready) {
			fprintf(stderr, "probe: %s ended before it was ready\n", cmd[0]);
			failed = 1;
		}
	}
	struct memory_type_list *mtl = memstat_mtl_alloc();
	if (!failed && memstat_pid_all(mtl, pid) != 0) {
		fprintf(stderr, "probe: memstat_pid_all(%d): %s\n", (int)pid,
		    memstat_strerror(memstat_mtl_geterror(mtl)));
		failed = 1;
	}
	if (!failed) {
		for (int k = 0; k < nchecks; k++) {
			struct check *c = &checks[k];
			struct memory_type *mt = memstat_mtl_find(mtl, ALLOCATOR_MALLOC,
			    c->pc_name);
			unsigned long long n = mt != NULL ? memstat_get_count(mt) : 0;
			if (c->pc_op == 'x' ? mt != NULL : mt == NULL ||
			    (c->pc_op == '=' ? n != c->pc_n : n < c->pc_n)) {
				fprintf(stderr, "probe: type %s: %s (in use %llu, expected "
				    "%s%llu)\n", c->pc_name, mt == NULL ? "absent" :
				    "present", n, c->pc_op == 'x' ? "absent " :
				    c->pc_op == '>' ? ">= " : "", c->pc_n);
				failed = 1;
			}
		}
		if (any) {
			int found = 0;
			for (struct memory_type *mt = memstat_mtl_first(mtl); mt != NULL;
			    mt = memstat_mtl_next(mt))
				if (memstat_get_allocator(mt) == ALLOCATOR_MALLOC &&
				    memstat_get_count(mt) > 0)
					found = 1;
			if (!found) {
				fprintf(stderr, "probe: no malloc type holds memory\n");
				failed = 1;
			}
		}
		if (failed)
			dump(mtl);
	}
	memstat_mtl_free(mtl);
	close(in[1]);
	while (fgets(line, sizeof(line), from) != NULL)
		fputs(line, stdout);
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return (2);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "probe: %s: %s %d\n", cmd[0], WIFEXITED(status) ?
		    "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) :
		    WTERMSIG(status));
		failed = 1;
	}
	return (failed);
}
