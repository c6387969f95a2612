/*
 * test_statfile.c -- the statistics file: layout round trip, live reads
 * from another process while it allocates on several threads, post-mortem
 * reads after SIGKILL and abort, exit and stats_keep, fork, stats=0, and
 * files that are foreign, truncated, corrupt or of another version.
 * KT_THREADED
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>

#include "kt.h"
#include "stats/kms_layout.h"

MALLOC_DEFINE(M_SF64, "sf64", "64-byte blocks");
MALLOC_DEFINE(M_SF256, "sf256", "256-byte blocks");
MALLOC_DEFINE(M_SFBIG, "sfbig", "large blocks");

/* ---- helpers ------------------------------------------------------------ */

static uint64_t
kt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Children a failed assertion would leave running: the teardown kills them. */
static pid_t kids[8];

static pid_t
kid_fork(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid > 0)
		for (int i = 0; i < 8; i++)
			if (kids[i] == 0) {
				kids[i] = pid;
				break;
			}
	return (pid);
}

static int
kill_kids(void **state)
{
	(void)state;
	for (int i = 0; i < 8; i++)
		if (kids[i] != 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	return (0);
}

static const char *
stats_dir(void)
{
	const char *o = getenv("KMEM_OPTIONS");
	static char dir[512];

	/* CTest sets stats_file=<dir>/kmem.%p; elsewhere use /tmp. */
	if (o != NULL && strncmp(o, "stats_file=", 11) == 0) {
		snprintf(dir, sizeof(dir), "%s", o + 11);
		char *slash = strrchr(dir, '/');
		if (slash != NULL) {
			*slash = '\0';
			return (dir);
		}
	}
	return ("/tmp");
}

/* The statistics file of pid, by the test's stats_file pattern. */
static void
stats_path(pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/kmem.%d", stats_dir(), (int)pid);
}

/* memstat_pid_all, saying why when it fails. */
static int
pid_all(struct memory_type_list *l, pid_t pid)
{
	int rc = memstat_pid_all(l, pid);

	if (rc != 0)
		fprintf(stderr, "memstat_pid_all(%d): %s\n", (int)pid,
		    memstat_strerror(memstat_mtl_geterror(l)));
	return (rc);
}

static const struct memory_type *
find(struct memory_type_list *l, int alloc, const char *name)
{
	return (memstat_mtl_find(l, alloc, name));
}

/*
 * Waits until pid's own file can be read (a child makes it one interval
 * after fork(); a file of an earlier process with the same pid may be
 * there meanwhile, and does not count).
 */
static void
wait_file(pid_t pid)
{
	struct memory_type_list *l = memstat_mtl_alloc();
	int rc = -1;

	for (int i = 0; i < 5000 && rc != 0; i++) {
		rc = memstat_pid_all(l, pid);
		if (rc != 0)
			usleep(1000);
	}
	memstat_mtl_free(l);
	assert_int_equal(rc, 0);
}

static uint64_t
kmem_sum(const struct memstat_kmem *mk)
{
	return (mk->mk_malloc + mk->mk_large + mk->mk_zone_used +
	    mk->mk_zone_cached + mk->mk_zone_slabfree + mk->mk_direct +
	    mk->mk_submaps + mk->mk_meta + mk->mk_free);
}

/* ---- round trip: this process's file says what memstat_self_all says ---- */

static void
test_round_trip(void **state)
{
	struct memory_type_list *self = memstat_mtl_alloc(), *file = memstat_mtl_alloc();
	struct memstat_kmem mk;
	void *p[100], *big;
	char path[600];

	(void)state;
	uma_zone_t z = uma_zcreate("sf zone", 200, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_set_max(z, 1000);
	void *zi[10];
	for (int i = 0; i < 100; i++)
		p[i] = kmalloc(64, M_SF64, M_WAITOK);
	for (int i = 0; i < 10; i++)
		zi[i] = uma_zalloc(z, M_WAITOK);
	big = kmalloc(300000, M_SFBIG, M_WAITOK);
	wait_file(getpid());

	/* memstat_file_all asks this (live) process for a fresh snapshot. */
	stats_path(getpid(), path, sizeof(path));
	assert_int_equal(memstat_file_all(file, path), 0);
	assert_int_equal(memstat_self_all(self), 0);
	for (struct memory_type *m = memstat_mtl_first(self); m != NULL;
	    m = memstat_mtl_next(m)) {
		if (memstat_get_allocator(m) != ALLOCATOR_MALLOC &&
		    strcmp(memstat_get_name(m), "sf zone") != 0)
			continue; /* kmem's own zones move by themselves */
		const struct memory_type *f = find(file, memstat_get_allocator(m),
		    memstat_get_name(m));
		assert_non_null(f);
		assert_int_equal(memstat_get_count(f), memstat_get_count(m));
		assert_int_equal(memstat_get_bytes(f), memstat_get_bytes(m));
		assert_int_equal(memstat_get_numallocs(f), memstat_get_numallocs(m));
		assert_int_equal(memstat_get_numfrees(f), memstat_get_numfrees(m));
		assert_int_equal(memstat_get_sizemask(f), memstat_get_sizemask(m));
		assert_int_equal(memstat_get_size(f), memstat_get_size(m));
		assert_int_equal(memstat_get_countlimit(f), memstat_get_countlimit(m));
	}
	const struct memory_type *t = find(file, ALLOCATOR_MALLOC, "sf64");
	assert_int_equal(memstat_get_count(t), 100);
	assert_int_equal(memstat_get_bytes(t), 6400);
	t = find(file, ALLOCATOR_MALLOC, "sfbig");
	assert_int_equal(memstat_get_count(t), 1);
	assert_true(memstat_get_bytes(t) >= 300000);
	t = find(file, ALLOCATOR_UMA, "sf zone");
	assert_int_equal(memstat_get_count(t), 10);
	assert_int_equal(memstat_get_countlimit(t), 1000);
	t = find(file, ALLOCATOR_UMA, "64");
	assert_non_null(t);
	assert_true(memstat_get_malloc_backed(t));
	assert_false(memstat_get_internal(t));
	t = find(file, ALLOCATOR_UMA, "sf zone");
	assert_false(memstat_get_malloc_backed(t));
	assert_false(memstat_get_internal(t));
	int internal = 0;
	for (struct memory_type *m = memstat_mtl_first(file); m != NULL;
	    m = memstat_mtl_next(m))
		internal += memstat_get_internal(m);
	assert_true(internal > 0); /* kmem's own zones: slab headers, buckets */
	/* The records of large allocations are kmem's too: the types count them. */
	t = find(file, ALLOCATOR_UMA, "kmalloc large");
	assert_non_null(t);
	assert_true(memstat_get_internal(t));

	/* The map: every byte accounted for, this process, alive. */
	assert_int_equal(memstat_get_kmem(file, &mk), 0);
	assert_int_equal(mk.mk_size, kmem_size());
	assert_int_equal(kmem_sum(&mk), mk.mk_size);
	assert_int_equal(mk.mk_pid, (uint64_t)getpid());
	assert_int_equal(mk.mk_version, KMS_VERSION);
	assert_int_equal(mk.mk_state, MEMSTAT_STATE_RUNNING);
	assert_int_equal(mk.mk_live, 1);
	assert_string_equal(mk.mk_command, "test_statfile");
	assert_true(mk.mk_large >= 300000);
	assert_true(mk.mk_malloc >= 6400);
	assert_true(mk.mk_zone_used >= 10 * 200);
	assert_true(mk.mk_generation >= 1);
	assert_int_equal(memstat_get_kmem(self, &mk), 0);
	assert_int_equal(kmem_sum(&mk), mk.mk_size);

	/* By pid: the same figures. */
	assert_int_equal(memstat_pid_all(file, getpid()), 0);
	assert_int_equal(memstat_get_count(find(file, ALLOCATOR_MALLOC, "sf64")), 100);

	for (int i = 0; i < 100; i++)
		kfree(p[i], M_SF64);
	for (int i = 0; i < 10; i++)
		uma_zfree(z, zi[i]);
	kfree(big, M_SFBIG);
	assert_int_equal(memstat_pid_all(file, getpid()), 0);
	assert_int_equal(memstat_get_count(find(file, ALLOCATOR_MALLOC, "sf64")), 0);
	assert_int_equal(memstat_get_count(find(file, ALLOCATOR_MALLOC, "sfbig")), 0);
	uma_zdestroy(z);
	memstat_mtl_free(self);
	memstat_mtl_free(file);
}

/* ---- a reader in one process, a writer on four threads in another ------- */

#define WR_THREADS 4
static atomic_bool wr_stop;

static void *
wr_thread(void *arg)
{
	struct malloc_type *type = (arg == NULL) ? M_SF64 : M_SF256;
	size_t size = (arg == NULL) ? 64 : 256;
	void *held[512];
	unsigned n = 0, seed = (unsigned)(uintptr_t)&held;

	while (!atomic_load(&wr_stop)) {
		seed = seed * 1103515245u + 12345u;
		if (n < 512 && ((seed >> 16) & 1)) {
			held[n++] = kmalloc(size, type, M_WAITOK);
		} else if (n > 0) {
			kfree(held[--n], type);
		}
	}
	return (NULL);
}

static void
writer(int ready_fd)
{
	pthread_t t[WR_THREADS];

	for (int i = 0; i < WR_THREADS; i++)
		pthread_create(&t[i], NULL, wr_thread, (i & 1) ? (void *)1 : NULL);
	(void)write(ready_fd, "r", 1);
	for (;;)
		pause(); /* killed by the reader */
}

static void
test_live_reader_consistent(void **state)
{
	int fds[2];
	char c;
	struct memory_type_list *l = memstat_mtl_alloc();

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid_t pid = kid_fork();
	if (pid == 0) {
		close(fds[0]);
		writer(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	wait_file(pid);
	uint64_t last_gen = 0, last_allocs = 0, reads = 0, busy = 0, fresh = 0;
	uint64_t t0 = kt_now_ms();
	for (int i = 0; i < 300 && kt_now_ms() - t0 < 20000; i++) {
		struct memstat_kmem mk;
		assert_int_equal(pid_all(l, pid), 0);
		assert_int_equal(memstat_get_kmem(l, &mk), 0);
		/*
		 * Each read asks for a newer snapshot and waits for it (at most
		 * a second: on a loaded machine it may take the last one).
		 */
		assert_true(mk.mk_generation >= last_gen);
		if (mk.mk_generation > last_gen)
			fresh++;
		last_gen = mk.mk_generation;
		assert_int_equal(kmem_sum(&mk), mk.mk_size);
		const struct memory_type *a = find(l, ALLOCATOR_MALLOC, "sf64");
		const struct memory_type *b = find(l, ALLOCATOR_MALLOC, "sf256");
		assert_non_null(a);
		assert_non_null(b);
		/* Within a type, the figures agree with each other. */
		assert_int_equal(memstat_get_bytes(a), memstat_get_count(a) * 64);
		assert_int_equal(memstat_get_bytes(b), memstat_get_count(b) * 256);
		assert_int_equal(memstat_get_numallocs(a) - memstat_get_numfrees(a),
		    memstat_get_count(a));
		assert_int_equal(memstat_get_numallocs(b) - memstat_get_numfrees(b),
		    memstat_get_count(b));
		assert_true(memstat_get_count(a) <= 2 * 512);
		assert_true(memstat_get_count(b) <= 2 * 512);
		assert_true(memstat_get_highbytes(a) >= memstat_get_bytes(a));
		/* Counters only grow. */
		assert_true(memstat_get_numallocs(a) >= last_allocs);
		if (memstat_get_numallocs(a) > last_allocs)
			busy++;
		last_allocs = memstat_get_numallocs(a);
		const struct memory_type *z = find(l, ALLOCATOR_UMA, "64");
		assert_non_null(z);
		assert_true(memstat_get_numallocs(z) >= memstat_get_count(z));
		reads++;
	}
	/* The writer really was writing while we read. */
	assert_true(busy >= 5);
	assert_true(fresh >= 10);
	assert_true(reads >= 20);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	char path[600];
	stats_path(pid, path, sizeof(path));
	unlink(path);
	memstat_mtl_free(l);
}

/* ---- post mortem ------------------------------------------------------------ */

static void
settled_child(int ready_fd, int go_fd, bool abort_after)
{
	static void *keep[1000];
	char c;

	for (int i = 0; i < 1000; i++)
		keep[i] = kmalloc(64, M_SF64, M_WAITOK);
	for (int i = 0; i < 7; i++)
		keep[i] = kmalloc(200000, M_SFBIG, M_WAITOK);
	(void)write(ready_fd, "r", 1);
	if (abort_after) {
		(void)read(go_fd, &c, 1); /* the parent has read us */
		kfree(keep[0], M_SF256); /* wrong type: kmem aborts */
	}
	for (;;)
		pause();
}

static void
post_mortem(bool by_abort)
{
	int fds[2], go[2];
	char c, path[600];
	struct memory_type_list *l = memstat_mtl_alloc();
	struct memstat_kmem mk;
	int status;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(go), 0);
	pid_t pid = kid_fork();
	if (pid == 0) {
		close(fds[0]);
		close(go[1]);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		settled_child(fds[1], go[0], by_abort);
		_exit(0);
	}
	close(fds[1]);
	close(go[0]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	wait_file(pid);
	/*
	 * A live read: the last snapshot has everything (the one kmem asks for
	 * before it aborts may not come in time on a loaded machine).
	 */
	assert_int_equal(pid_all(l, pid), 0);
	assert_int_equal(memstat_get_count(find(l, ALLOCATOR_MALLOC, "sf64")), 1000);
	if (by_abort)
		assert_int_equal(write(go[1], "g", 1), 1);
	else
		kill(pid, SIGKILL);
	close(go[1]);
	close(fds[0]);
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), by_abort ? SIGABRT : SIGKILL);

	stats_path(pid, path, sizeof(path));
	assert_int_equal(memstat_file_all(l, path), 0);
	assert_int_equal(memstat_get_kmem(l, &mk), 0);
	assert_int_equal(mk.mk_pid, (uint64_t)pid);
	assert_int_equal(mk.mk_live, 0);
	assert_int_equal(mk.mk_state,
	    by_abort ? MEMSTAT_STATE_FATAL : MEMSTAT_STATE_RUNNING);
	assert_int_equal(kmem_sum(&mk), mk.mk_size);
	const struct memory_type *t = find(l, ALLOCATOR_MALLOC, "sf64");
	assert_non_null(t);
	assert_int_equal(memstat_get_count(t), 1000);
	assert_int_equal(memstat_get_bytes(t), 64000);
	t = find(l, ALLOCATOR_MALLOC, "sfbig");
	assert_int_equal(memstat_get_count(t), 7);
	/*
	 * By pid, a file outside /dev/shm is found among the files the process
	 * maps: not once it is gone (then the path is needed).
	 */
	assert_int_equal(memstat_pid_all(l, pid), -1);
	assert_int_equal(memstat_mtl_geterror(l), MEMSTAT_ERROR_NOTFOUND);
	unlink(path);
	memstat_mtl_free(l);
}

static void
test_post_mortem_sigkill(void **state)
{
	(void)state;
	post_mortem(false);
}

static void
test_post_mortem_abort(void **state)
{
	(void)state;
	/* An abort's last snapshot is asked for while commits may be refused. */
	KT_NEEDS_EVERY_ALLOCATION();
	post_mortem(true);
}

/* ---- exit, stats_keep, stats=0, fork ---------------------------------------- */

/* The program run again as a fresh process ("--exit-child"): kmem is set
 * up from KMEM_OPTIONS, one block is allocated, then exit(3). */
static int
exit_child(void)
{
	void *p = kmalloc(64, M_SF64, M_WAITOK);

	if (p == NULL)
		return (1);
	usleep(300000); /* the publisher has created the file by now */
	return (0);
}

static pid_t
child_run(const char *opts)
{
	pid_t pid = kid_fork();

	if (pid == 0) {
		setenv("KMEM_OPTIONS", opts, 1);
		execl("/proc/self/exe", "test_statfile", "--exit-child", (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	for (int i = 0; i < 8; i++)
		if (kids[i] == pid)
			kids[i] = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return (pid);
}

static void
test_exit_removes_or_keeps(void **state)
{
	char opts[700], path[600];
	struct memory_type_list *l = memstat_mtl_alloc();
	struct memstat_kmem mk;

	(void)state;
	/* The fork child's own file, under its own pid, removed at exit. */
	snprintf(opts, sizeof(opts), "stats_file=%s/exit.%%p", stats_dir());
	pid_t pid = child_run(opts);
	snprintf(path, sizeof(path), "%s/exit.%d", stats_dir(), (int)pid);
	assert_int_equal(access(path, F_OK), -1);

	snprintf(opts, sizeof(opts), "stats_file=%s/keep.%%p,stats_keep=1",
	    stats_dir());
	pid = child_run(opts);
	snprintf(path, sizeof(path), "%s/keep.%d", stats_dir(), (int)pid);
	assert_int_equal(memstat_file_all(l, path), 0);
	assert_int_equal(memstat_get_kmem(l, &mk), 0);
	assert_int_equal(mk.mk_state, MEMSTAT_STATE_EXITED);
	assert_int_equal(mk.mk_live, 0);
	assert_int_equal(memstat_get_count(find(l, ALLOCATOR_MALLOC, "sf64")), 1);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_uid, geteuid());
	unlink(path);

	/* stats=0: no file at all. */
	snprintf(opts, sizeof(opts), "stats_file=%s/off.%%p,stats_keep=1,stats=0",
	    stats_dir());
	pid = child_run(opts);
	snprintf(path, sizeof(path), "%s/off.%d", stats_dir(), (int)pid);
	assert_int_equal(access(path, F_OK), -1);
	memstat_mtl_free(l);
}

static void
test_fork_child_has_own_file(void **state)
{
	int fds[2];
	char c, path[600];
	struct memory_type_list *l = memstat_mtl_alloc();
	void *p = kmalloc(64, M_SF256, M_WAITOK); /* the parent is set up */

	(void)state;
	wait_file(getpid());
	assert_int_equal(pipe(fds), 0);
	pid_t pid = kid_fork();
	if (pid == 0) {
		close(fds[0]);
		for (int i = 0; i < 333; i++)
			(void)kmalloc(64, M_SFBIG, M_WAITOK);
		(void)write(fds[1], "r", 1);
		for (;;)
			pause();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	wait_file(pid);
	assert_int_equal(pid_all(l, pid), 0);
	assert_int_equal(memstat_get_count(find(l, ALLOCATOR_MALLOC, "sfbig")), 333);

	/*
	 * A file left in /dev/shm by an earlier process with the child's pid
	 * (another start time) is not the child's: the child's is found.
	 */
	char stale[64], mine[600];
	snprintf(stale, sizeof(stale), "/dev/shm/kmem.%d", (int)pid);
	stats_path(getpid(), mine, sizeof(mine));
	if (access("/dev/shm", W_OK) == 0 && access(stale, F_OK) != 0) {
		struct kms_header h;
		int in = open(mine, O_RDONLY), out;
		assert_int_equal(pread(in, &h, sizeof(h), 0), (ssize_t)sizeof(h));
		close(in);
		h.kh_pid = (uint64_t)pid;
		h.kh_proc_start = 1;
		out = open(stale, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(out >= 0);
		assert_int_equal(write(out, &h, sizeof(h)), (ssize_t)sizeof(h));
		close(out);
		int rc = memstat_pid_all(l, pid);
		unlink(stale);
		assert_int_equal(rc, 0);
		assert_int_equal(memstat_get_count(find(l, ALLOCATOR_MALLOC, "sfbig")),
		    333);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* The parent's file did not get the child's allocations. */
	assert_int_equal(memstat_pid_all(l, getpid()), 0);
	assert_int_equal(memstat_get_count(find(l, ALLOCATOR_MALLOC, "sfbig")), 0);
	stats_path(pid, path, sizeof(path));
	unlink(path);
	kfree(p, M_SF256);
	memstat_mtl_free(l);
}

/* ---- bad files --------------------------------------------------------------- */

/* A copy of this process's file, altered by fn, read back: the error. */
static int
read_altered(void (*fn)(char *buf, size_t *len))
{
	char src[600], dst[700];
	struct stat sb;

	stats_path(getpid(), src, sizeof(src));
	snprintf(dst, sizeof(dst), "%s/altered.%d", stats_dir(), (int)getpid());
	int fd = open(src, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	size_t len = (size_t)sb.st_size;
	char *buf = calloc(1, len);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	fn(buf, &len);
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
	struct memory_type_list *l = memstat_mtl_alloc();
	int rc = memstat_file_all(l, dst);
	int err = rc == 0 ? 0 : memstat_mtl_geterror(l);
	memstat_mtl_free(l);
	unlink(dst);
	return (err);
}

static void
alter_none(char *b, size_t *len)
{
	(void)b;
	(void)len;
}

static void
alter_magic(char *b, size_t *len)
{
	(void)len;
	memcpy(b, "ELF\0\0\0\0\0", 8);
}

static void
alter_version(char *b, size_t *len)
{
	(void)len;
	((struct kms_header *)b)->kh_version = KMS_VERSION + 1;
}

static void
alter_endian(char *b, size_t *len)
{
	(void)len;
	((struct kms_header *)b)->kh_endian = 0x04030201u;
}

static void
alter_cut_header(char *b, size_t *len)
{
	(void)b;
	*len = 100;
}

static void
alter_cut_area(char *b, size_t *len)
{
	(void)b;
	*len = KMS_HEADER_SIZE + 1000;
}

static void
alter_record_size(char *b, size_t *len)
{
	(void)len;
	((struct kms_header *)b)->kh_record_size = 200;
}

static void
alter_offset(char *b, size_t *len)
{
	(void)len;
	((struct kms_header *)b)->kh_area_off[1] = 12345; /* unaligned */
}

static void
alter_offset_far(char *b, size_t *len)
{
	(void)len;
	((struct kms_header *)b)->kh_area_off[0] = UINT64_MAX - 7;
	((struct kms_header *)b)->kh_area_off[1] = UINT64_MAX - 7;
}

static struct kms_area *
current_area(char *b)
{
	struct kms_header *h = (struct kms_header *)b;
	return ((struct kms_area *)(b + h->kh_area_off[h->kh_generation & 1]));
}

static void
alter_nrecords(char *b, size_t *len)
{
	(void)len;
	current_area(b)->ka_nrecords = KMS_MAX_RECORDS + 1;
}

static void
alter_allocator(char *b, size_t *len)
{
	(void)len;
	current_area(b)->ka_records[0].kr_allocator = 77;
}

static void
alter_generation(char *b, size_t *len)
{
	(void)len;
	current_area(b)->ka_generation += 5; /* does not match the header */
}

static void
alter_name(char *b, size_t *len)
{
	(void)len;
	/* An unterminated name is cut, not read past. */
	memset(current_area(b)->ka_records[0].kr_name, 'x', 32);
}

static void
alter_garbage(char *b, size_t *len)
{
	for (size_t i = 0; i < *len && i < 8192; i++)
		b[i] = (char)(i * 7 + 3);
}

static void
test_bad_files(void **state)
{
	struct memory_type_list *l = memstat_mtl_alloc();
	char path[700];

	(void)state;
	(void)kmalloc(16, M_SF64, M_WAITOK);
	wait_file(getpid());
	assert_int_equal(read_altered(alter_none), 0);
	assert_int_equal(read_altered(alter_magic), MEMSTAT_ERROR_NOTSTATS);
	assert_int_equal(read_altered(alter_garbage), MEMSTAT_ERROR_NOTSTATS);
	assert_int_equal(read_altered(alter_version), MEMSTAT_ERROR_VERSION);
	assert_int_equal(read_altered(alter_endian), MEMSTAT_ERROR_VERSION);
	assert_int_equal(read_altered(alter_cut_header), MEMSTAT_ERROR_TRUNCATED);
	assert_int_equal(read_altered(alter_cut_area), MEMSTAT_ERROR_TRUNCATED);
	assert_int_equal(read_altered(alter_record_size), MEMSTAT_ERROR_DATAERROR);
	assert_int_equal(read_altered(alter_offset), MEMSTAT_ERROR_DATAERROR);
	assert_int_equal(read_altered(alter_offset_far), MEMSTAT_ERROR_TRUNCATED);
	assert_int_equal(read_altered(alter_nrecords), MEMSTAT_ERROR_DATAERROR);
	assert_int_equal(read_altered(alter_allocator), MEMSTAT_ERROR_DATAERROR);
	assert_int_equal(read_altered(alter_generation), MEMSTAT_ERROR_DATAERROR);
	assert_int_equal(read_altered(alter_name), 0);

	/* Not a file, not there, empty, a directory, another process. */
	assert_int_equal(memstat_file_all(l, "/nonexistent/kmem.1"), -1);
	assert_int_equal(memstat_mtl_geterror(l), MEMSTAT_ERROR_NOTFOUND);
	assert_int_equal(memstat_file_all(l, stats_dir()), -1);
	assert_int_equal(memstat_mtl_geterror(l), MEMSTAT_ERROR_DATAERROR);
	snprintf(path, sizeof(path), "%s/empty.%d", stats_dir(), (int)getpid());
	close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
	assert_int_equal(memstat_file_all(l, path), -1);
	assert_int_equal(memstat_mtl_geterror(l), MEMSTAT_ERROR_NOTSTATS);
	unlink(path);
	assert_int_equal(memstat_pid_all(l, 0), -1);
	assert_int_equal(memstat_mtl_geterror(l), MEMSTAT_ERROR_NOTFOUND);
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	assert_int_equal(memstat_pid_all(l, gone), -1);
	assert_int_equal(memstat_mtl_geterror(l), MEMSTAT_ERROR_NOTFOUND);
	assert_int_equal(memstat_file_all(NULL, path), -1);
	assert_int_equal(memstat_file_all(l, NULL), -1);
	struct memstat_kmem mk;
	assert_int_equal(memstat_get_kmem(l, &mk), -1);
	assert_string_equal(memstat_strerror(MEMSTAT_ERROR_NOTSTATS),
	    "Not a kmem statistics file");
	assert_string_equal(memstat_strerror(MEMSTAT_ERROR_TRUNCATED),
	    "Statistics file truncated");
	assert_string_equal(memstat_strerror(MEMSTAT_ERROR_VERSION),
	    "Version mismatch");
	memstat_mtl_free(l);
}

/* Another user cannot read a process's file (mode 0600). */
static void
not_owner(void *arg)
{
	struct memory_type_list *l = memstat_mtl_alloc();

	KT_CHECK(setuid(65534) == 0);
	KT_CHECK(memstat_file_all(l, arg) == -1);
	KT_EQ(memstat_mtl_geterror(l), MEMSTAT_ERROR_PERMISSION);
}

static void
test_permission(void **state)
{
	char path[600];

	(void)state;
	if (geteuid() != 0)
		skip();
	(void)kmalloc(16, M_SF64, M_WAITOK);
	wait_file(getpid());
	stats_path(getpid(), path, sizeof(path));
	/* The directory must let nobody reach the file for the mode to matter. */
	chmod(stats_dir(), 0755);
	kt_assert_child_ok(not_owner, path);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--exit-child") == 0)
		return (exit_child());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_round_trip, kill_kids),
		cmocka_unit_test_teardown(test_live_reader_consistent, kill_kids),
		cmocka_unit_test_teardown(test_post_mortem_sigkill, kill_kids),
		cmocka_unit_test_teardown(test_post_mortem_abort, kill_kids),
		cmocka_unit_test_teardown(test_exit_removes_or_keeps, kill_kids),
		cmocka_unit_test_teardown(test_fork_child_has_own_file, kill_kids),
		cmocka_unit_test_teardown(test_bad_files, kill_kids),
		cmocka_unit_test_teardown(test_permission, kill_kids),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
