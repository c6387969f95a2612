/*
 * check_router -- runs examples/router for a few seconds and reads the
 * statistics file it leaves (KMEM_OPTIONS must hold stats_keep=1 and a
 * stats_file with %p, as the test sets them).
 *
 * usage: check_router ROUTER
 *
 * Checks that the router exits 0, that the file shows its malloc types and
 * its zones, that the packet cluster zone has its limit and refused
 * allocations at it, that the aliasing links piled up while it ran and
 * that everything was given back at exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/memstat.h>

static int failures;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "check_router: FAIL: " __VA_ARGS__);  \
			fputc('\n', stderr);                                \
			failures++;                                         \
		}                                                           \
	} while (0)

/* stats_file from KMEM_OPTIONS, with %p replaced by pid. */
static int
stats_path(char *buf, size_t len, pid_t pid)
{
	const char *opt = getenv("KMEM_OPTIONS");
	const char *p = opt != NULL ? strstr(opt, "stats_file=") : NULL;
	char pat[512];

	if (p == NULL || opt == NULL || strstr(opt, "stats_keep=1") == NULL)
		return (-1);
	p += strlen("stats_file=");
	size_t n = strcspn(p, ",");
	if (n >= sizeof(pat))
		return (-1);
	memcpy(pat, p, n);
	pat[n] = '\0';
	char *pc = strstr(pat, "%p");
	if (pc == NULL)
		return (-1);
	*pc = '\0';
	int k = snprintf(buf, len, "%s%ld%s", pat, (long)pid, pc + 2);
	return (k > 0 && (size_t)k < len ? 0 : -1);
}

int
main(int argc, char **argv)
{
	static const char *types[] = {"conntab", "libalias", "rtcache", "temp",
	    "ifnet"};
	char path[1024];
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: check_router ROUTER\n");
		return (2);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return (1);
	}
	if (pid == 0) {
		execl(argv[1], argv[1], "-t", "3", "-q", (char *)NULL);
		perror(argv[1]);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return (1);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "router did not exit 0 (status %#x)", status);
	if (stats_path(path, sizeof(path), pid) != 0) {
		fprintf(stderr, "check_router: KMEM_OPTIONS must hold stats_keep=1 "
		    "and stats_file=...%%p...\n");
		return (1);
	}

	struct memory_type_list *mtl = memstat_mtl_alloc();
	if (mtl == NULL || memstat_file_all(mtl, path) != 0) {
		fprintf(stderr, "check_router: %s: %s\n", path, mtl == NULL ?
		    "out of memory" : memstat_strerror(memstat_mtl_geterror(mtl)));
		return (1);
	}
	struct memstat_kmem mk;
	CHECK(memstat_get_kmem(mtl, &mk) == 0, "no map figures");
	CHECK(mk.mk_pid == (uint64_t)pid, "file of pid %llu, not %ld",
	    (unsigned long long)mk.mk_pid, (long)pid);
	CHECK(mk.mk_state == MEMSTAT_STATE_EXITED, "state %llu, not exited",
	    (unsigned long long)mk.mk_state);
	CHECK(mk.mk_size == 64u << 20, "map of %llu bytes, not 64M",
	    (unsigned long long)mk.mk_size);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct memory_type *mt = memstat_mtl_find(mtl, ALLOCATOR_MALLOC,
		    types[i]);
		CHECK(mt != NULL, "no malloc type %s", types[i]);
		if (mt == NULL)
			continue;
		CHECK(memstat_get_numallocs(mt) > 0, "%s: no allocations", types[i]);
		CHECK(memstat_get_count(mt) == 0 && memstat_get_bytes(mt) == 0,
		    "%s: %llu still in use after exit", types[i],
		    (unsigned long long)memstat_get_count(mt));
		CHECK(memstat_get_highbytes(mt) > 0, "%s: no high-water mark",
		    types[i]);
	}
	struct memory_type *la = memstat_mtl_find(mtl, ALLOCATOR_MALLOC,
	    "libalias");
	if (la != NULL) {
		/*
		 * 40 links a second for 3 s; the last 2 s of them alive, and
		 * a fifth of the older ones: about 88 at the end.
		 */
		CHECK(memstat_get_numallocs(la) >= 80, "libalias: %llu links",
		    (unsigned long long)memstat_get_numallocs(la));
		CHECK(memstat_get_highbytes(la) >= 128 * 70,
		    "libalias: at most %llu bytes", (unsigned long long)
		    memstat_get_highbytes(la));
	}

	struct memory_type *mb = memstat_mtl_find(mtl, ALLOCATOR_UMA, "mbuf");
	struct memory_type *cl = memstat_mtl_find(mtl, ALLOCATOR_UMA,
	    "mbuf_cluster");
	CHECK(mb != NULL, "no zone mbuf");
	CHECK(cl != NULL, "no zone mbuf_cluster");
	if (mb != NULL) {
		CHECK(memstat_get_size(mb) == 256, "mbuf: items of %llu bytes",
		    (unsigned long long)memstat_get_size(mb));
		CHECK(memstat_get_numallocs(mb) > 1000, "mbuf: %llu allocations",
		    (unsigned long long)memstat_get_numallocs(mb));
	}
	if (cl != NULL) {
		CHECK(memstat_get_size(cl) == 2048, "mbuf_cluster: items of %llu bytes",
		    (unsigned long long)memstat_get_size(cl));
		CHECK(memstat_get_countlimit(cl) == 512, "mbuf_cluster: limit %llu",
		    (unsigned long long)memstat_get_countlimit(cl));
		CHECK(memstat_get_failures(cl) > 0,
		    "mbuf_cluster: no allocation failed at the limit");
		CHECK(memstat_get_count(cl) == 0, "mbuf_cluster: %llu in use "
		    "after exit", (unsigned long long)memstat_get_count(cl));
		printf("mbuf_cluster: limit %llu, %llu allocations, %llu failures\n",
		    (unsigned long long)memstat_get_countlimit(cl),
		    (unsigned long long)memstat_get_numallocs(cl),
		    (unsigned long long)memstat_get_failures(cl));
	}
	if (la != NULL)
		printf("libalias: %llu allocations, at most %llu bytes\n",
		    (unsigned long long)memstat_get_numallocs(la),
		    (unsigned long long)memstat_get_highbytes(la));
	memstat_mtl_free(mtl);
	if (failures == 0)
		unlink(path);
	printf("check_router: %s\n", failures == 0 ? "ok" : "FAILED");
	return (failures == 0 ? 0 : 1);
}
