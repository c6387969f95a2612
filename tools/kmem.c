/*
 * kmem.c -- kmem run: an unmodified program on kmem (kmem(1)).
 *
 * 1. The shim
 *
 *    The program is run with the preload library, libkmem-preload.so, in
 *    LD_PRELOAD (in front of whatever is there already).  kr_find_shim()
 *    looks for it in this order: $KMEM_PRELOAD; in lib/ and <libdir>/ of
 *    the directory above this binary's (an installed prefix), and in that
 *    directory itself (the top of a build tree, this binary being in
 *    tools/); then in the build tree it was built in (KMEM_BUILD_PRELOAD,
 *    candidate paths separated by ':').  Not found, it names every place
 *    it looked.
 *
 * 2. The tunables
 *
 *    KMEM_OPTIONS of the child is the one of the environment, then the -o
 *    pairs in their order, then kmem_size for --limit, then the three
 *    that kmem run owns: stats=1, stats_keep=1 and stats_file in a
 *    private directory (kr_make_dir) with "%p" for the pid.  Later
 *    entries win, so those three always hold.  KMEM_PRELOAD_INHERIT=1
 *    (unless the environment says otherwise) tells the shim to stay in
 *    the LD_PRELOAD of the processes the program starts, so the whole
 *    tree runs on kmem and leaves its final statistics in that directory.  -o pairs are checked against the tunables table before
 *    anything runs; a bad one is a usage error.
 *
 * 3. Running
 *
 *    fork, then exec in the child; an exec that fails writes its errno
 *    into a close-on-exec pipe, so the parent can tell "command not
 *    found" (127) and "cannot execute" (126) from the program's own
 *    status.  SIGINT, SIGTERM and SIGHUP sent to kmem run by another
 *    process are passed on to the child; the same signals coming from the
 *    terminal reach the child by themselves (it is in the terminal's
 *    process group), so they are not sent twice.  Exit status: the
 *    child's, 128 + N when signal N killed it.
 *
 * 4. The summary
 *
 *    After the child is gone, its statistics file (stats_keep) is read
 *    with memstat_file_all(): the top malloc types by high use in
 *    vmstat -m's columns, the map, and, when requests for memory failed
 *    (a budget hit, or the map full), who held the memory and whose
 *    allocations failed.  Other processes that ran on kmem under the
 *    program (the compilers gcc runs, git's helpers) get one line each.
 *    Then the directory is removed.
 *
 * Exit status of kmem's own errors: KR_EXIT_USAGE for a bad command line,
 * KR_EXIT_ERROR for the rest (no shim, no temporary directory, fork
 * failed).  Every error is one line on stderr, "kmem: " and what was
 * wrong; usage errors add the usage line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <kmem/memstat.h>

#include "human.h"
#include "platform/options.h"

#define KR_EXIT_ERROR 1     /* kmem run could not do its job */
#define KR_EXIT_USAGE 2     /* bad command line */
#define KR_EXIT_NOEXEC 126  /* the command exists but cannot be run */
#define KR_EXIT_NOTFOUND 127 /* no such command */

#define KR_SHIM "libkmem-preload.so"
#define KR_TOP_DEFAULT 10   /* malloc types in the summary */
#define KR_MAX_OTHERS 16    /* lines for the program's descendants */

#ifndef KMEM_INSTALL_LIBDIR
#define KMEM_INSTALL_LIBDIR "lib"
#endif

static const char kr_usage_main[] =
    "usage: kmem run [-q] [-n N] [-o name=value]... [--limit SIZE] "
    "[--report FILE] -- CMD [ARGS...]\n"
    "       kmem --help | kmem run --help\n";
static const char kr_usage_run[] =
    "usage: kmem run [-q] [-n N] [-o name=value]... [--limit SIZE] "
    "[--report FILE] -- CMD [ARGS...]\n";

static void kr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
kr_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("kmem: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int kr_usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
kr_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fputs("kmem: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(usage, stderr);
	return (KR_EXIT_USAGE);
}

/* What the command line asked for. */
struct kr_opts {
	bool ko_quiet;          /* -q: no summary */
	long ko_top;            /* -n: malloc types shown (0: all) */
	const char *ko_limit;   /* --limit SIZE, as given */
	uint64_t ko_limit_bytes;
	const char *ko_report; /* --report FILE */
	char *ko_options;      /* the -o pairs, comma-separated */
	size_t ko_options_len;
	char **ko_argv;        /* the command */
};

/* ---- sizes --------------------------------------------------------------- */

/* "512 B", "8.00 MiB", "80.0 MiB", as kmemstat and kmem_report() write. */
static void
kr_human(char *buf, size_t len, uint64_t v)
{
	tool_human(buf, len, v);
}

/* ---- the shim ------------------------------------------------------------ */

/* Appends place to the list of places looked at, for the error. */
static void
kr_looked(char *list, size_t len, const char *place)
{
	size_t n = strlen(list);

	snprintf(list + n, len - n, "%s%s", n > 0 ? ", " : "", place);
}

static bool
kr_try_shim(const char *path, char *out, size_t len, char *looked,
    size_t looked_len)
{
	char real[PATH_MAX];

	if (strstr(looked, path) != NULL)
		return (false); /* the same place by another name */
	kr_looked(looked, looked_len, path);
	if (access(path, R_OK) != 0 || realpath(path, real) == NULL)
		return (false);
	struct stat st;
	if (stat(real, &st) != 0 || !S_ISREG(st.st_mode))
		return (false);
	snprintf(out, len, "%s", real);
	return (true);
}

/*
 * The shim's absolute path in out; false after an error naming where it
 * looked.
 */
static bool
kr_find_shim(char *out, size_t len)
{
	char looked[4 * PATH_MAX] = "", exe[PATH_MAX], path[PATH_MAX + 64];
	const char *env = getenv("KMEM_PRELOAD");

	if (env != NULL && env[0] != '\0') {
		if (kr_try_shim(env, out, len, looked, sizeof(looked)))
			return (true);
		struct stat st;
		kr_warn("KMEM_PRELOAD=%s: %s", env, stat(env, &st) != 0 ?
		    strerror(errno) : access(env, R_OK) != 0 ? strerror(EACCES) :
		    "not a regular file");
		return (false);
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		/* The directory above the binary's: the prefix, the build tree. */
		exe[n] = '\0';
		for (int up = 0; up < 2; up++) {
			char *slash = strrchr(exe, '/');
			if (slash != NULL)
				*slash = '\0';
		}
		const char *rel[] = {"lib", KMEM_INSTALL_LIBDIR, "."};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			if (i == 1 && strcmp(KMEM_INSTALL_LIBDIR, "lib") == 0)
				continue;
			if (i == 2)
				snprintf(path, sizeof(path), "%s/%s", exe, KR_SHIM);
			else
				snprintf(path, sizeof(path), "%s/%s/%s", exe,
				    rel[i], KR_SHIM);
			if (kr_try_shim(path, out, len, looked, sizeof(looked)))
				return (true);
		}
	}
#ifdef KMEM_BUILD_PRELOAD
	{
		const char *p = KMEM_BUILD_PRELOAD;
		while (*p != '\0') {
			size_t k = strcspn(p, ":");
			snprintf(path, sizeof(path), "%.*s", (int)k, p);
			if (k > 0 && kr_try_shim(path, out, len, looked,
			    sizeof(looked)))
				return (true);
			p += k;
			if (*p == ':')
				p++;
		}
	}
#endif
	kr_warn("cannot find the preload library " KR_SHIM "; looked in "
	    "KMEM_PRELOAD (not set), %s; set KMEM_PRELOAD to its path", looked);
	return (false);
}

/* ---- the child's environment ---------------------------------------------- */

/* Appends ",text" (or "text") to the growing list *buf. */
static bool
kr_append(char **buf, size_t *len, const char *text)
{
	size_t add = strlen(text) + 2;
	char *n = realloc(*buf, *len + add);

	if (n == NULL)
		return (false);
	if (*len > 0)
		n[(*len)++] = ',';
	memcpy(n + *len, text, add - 1);
	*len += add - 2;
	*buf = n;
	return (true);
}

/*
 * Checks one -o pair against the tunables table (kopt_set prints what is
 * wrong, "kmem: -o: ...") and adds it to the list.
 */
static int
kr_add_option(struct kr_opts *o, const char *pair)
{
	const char *eq = strchr(pair, '=');
	char name[64];

	if (eq == NULL || eq == pair)
		return (kr_usage_error(kr_usage_run, "-o %s: expected name=value",
		    pair));
	if (strchr(eq + 1, ',') != NULL)
		return (kr_usage_error(kr_usage_run, "-o %s: one name=value "
		    "per -o (no commas)", pair));
	snprintf(name, sizeof(name), "%.*s", (int)(eq - pair), pair);
	if (strcmp(name, "stats") == 0 || strcmp(name, "stats_file") == 0 ||
	    strcmp(name, "stats_keep") == 0)
		return (kr_usage_error(kr_usage_run, "-o %s: set by kmem run, "
		    "which reads the statistics for its summary", name));
	if (strcmp(name, "kmem_size") == 0 && o->ko_limit != NULL)
		return (kr_usage_error(kr_usage_run, "-o kmem_size and --limit "
		    "exclude each other"));
	if (kopt_set(name, eq + 1, KOPT_SRC_SETOPT, "-o") != 0)
		return (kr_usage_error(kr_usage_run, NULL));
	if (!kr_append(&o->ko_options, &o->ko_options_len, pair)) {
		kr_warn("-o: %s", strerror(ENOMEM));
		return (KR_EXIT_ERROR);
	}
	return (0);
}

/* A private directory for the statistics files, or NULL after an error. */
static char *
kr_make_dir(void)
{
	static char dir[PATH_MAX];
	const char *base = "/dev/shm";
	struct stat st;

	if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    access(base, W_OK | X_OK) != 0) {
		base = getenv("TMPDIR");
		if (base == NULL || base[0] == '\0')
			base = "/tmp";
	}
	/* stats_file=DIR/kmem.%p must fit a tunable's string. */
	if (snprintf(dir, sizeof(dir), "%s/kmem-run.XXXXXX", base) >=
	    KOPT_STRMAX - 16) {
		kr_warn("cannot make a directory for the statistics in %s: %s",
		    base, strerror(ENAMETOOLONG));
		return (NULL);
	}
	if (mkdtemp(dir) == NULL) {
		kr_warn("cannot make a directory for the statistics in %s: %s",
		    base, strerror(errno));
		return (NULL);
	}
	return (dir);
}

/* Removes the statistics files and the directory. */
static void
kr_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	char path[PATH_MAX + 256];

	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* In the child: LD_PRELOAD and KMEM_OPTIONS; 0 or an errno. */
static int
kr_child_env(const struct kr_opts *o, const char *shim, const char *dir)
{
	char *list = NULL, *pre;
	size_t len = 0;
	const char *old = getenv("LD_PRELOAD");
	char entry[PATH_MAX + 32];

	if (old != NULL && old[0] != '\0' && strstr(old, shim) == NULL) {
		if (asprintf(&pre, "%s:%s", shim, old) < 0)
			return (ENOMEM);
	} else if (old != NULL && old[0] != '\0') {
		pre = strdup(old);
	} else {
		pre = strdup(shim);
	}
	if (pre == NULL || setenv("LD_PRELOAD", pre, 1) != 0)
		return (ENOMEM);
	free(pre);
	/* The shim leaves itself out of its children's LD_PRELOAD unless told. */
	if (getenv("KMEM_PRELOAD_INHERIT") == NULL &&
	    setenv("KMEM_PRELOAD_INHERIT", "1", 1) != 0)
		return (ENOMEM);

	old = getenv("KMEM_OPTIONS");
	if (old != NULL && old[0] != '\0' && !kr_append(&list, &len, old))
		return (ENOMEM);
	if (o->ko_options != NULL && !kr_append(&list, &len, o->ko_options))
		return (ENOMEM);
	if (o->ko_limit != NULL) {
		if (snprintf(entry, sizeof(entry), "kmem_size=%s",
		    o->ko_limit) >= (int)sizeof(entry) ||
		    !kr_append(&list, &len, entry))
			return (ENOMEM);
	}
	if (snprintf(entry, sizeof(entry), "stats=1,stats_keep=1,"
	    "stats_file=%s/kmem.%%p", dir) >= (int)sizeof(entry))
		return (ENAMETOOLONG);
	if (!kr_append(&list, &len, entry) ||
	    setenv("KMEM_OPTIONS", list, 1) != 0)
		return (ENOMEM);
	free(list);
	return (0);
}

/* ---- running --------------------------------------------------------------- */

static volatile sig_atomic_t kr_child_pid;

/*
 * Passes a signal sent by another process on to the child.  One from the
 * kernel (the terminal's ^C, a hang-up) reached the child already.
 */
static void
kr_forward(int sig, siginfo_t *si, void *ctx)
{
	pid_t child = kr_child_pid;

	if (child <= 0)
		return;
	if (si != NULL && si->si_code > 0)
		return; /* SI_KERNEL and the like: not sent by a process */
	if (si != NULL && si->si_pid == child)
		return;
	kill(child, sig);
}

static const int kr_forwarded[] = {SIGINT, SIGTERM, SIGHUP};

static void
kr_signals(bool catch)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	if (catch) {
		sa.sa_sigaction = kr_forward;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
	} else {
		sa.sa_handler = SIG_DFL;
	}
	for (size_t i = 0; i < sizeof(kr_forwarded) / sizeof(kr_forwarded[0]);
	    i++)
		sigaction(kr_forwarded[i], &sa, NULL);
}

static int64_t
kr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* How the child ended, for the summary. */
struct kr_result {
	pid_t kr_pid;
	int kr_status;      /* from waitpid */
	int kr_exit;        /* what kmem run exits with */
	int64_t kr_elapsed_ns;
};

/*
 * Runs the command; the exit status for kmem run in r->kr_exit, or a
 * status of kmem's own (an error said) as the return value, 0 if it ran.
 */
static int
kr_spawn(const struct kr_opts *o, const char *shim, const char *dir,
    struct kr_result *r)
{
	int fds[2];
	int64_t start = kr_now_ns();

	if (pipe2(fds, O_CLOEXEC) != 0) {
		kr_warn("pipe: %s", strerror(errno));
		return (KR_EXIT_ERROR);
	}
	fflush(NULL);
	kr_signals(true);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		kr_signals(false);
		close(fds[0]);
		close(fds[1]);
		kr_warn("fork: %s", strerror(e));
		return (KR_EXIT_ERROR);
	}
	if (pid == 0) {
		kr_signals(false);
		close(fds[0]);
		int e = kr_child_env(o, shim, dir);
		if (e == 0) {
			execvp(o->ko_argv[0], o->ko_argv);
			e = errno;
		}
		(void)!write(fds[1], &e, sizeof(e));
		_exit(KR_EXIT_NOTFOUND);
	}
	kr_child_pid = pid;
	close(fds[1]);
	int e = 0;
	ssize_t n;
	while ((n = read(fds[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(fds[0]);

	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			kr_warn("waitpid: %s", strerror(errno));
			kr_signals(false);
			return (KR_EXIT_ERROR);
		}
	}
	kr_child_pid = 0;
	kr_signals(false);
	r->kr_pid = pid;
	r->kr_status = status;
	r->kr_elapsed_ns = kr_now_ns() - start;
	if (n == (ssize_t)sizeof(e)) {
		const char *cmd = o->ko_argv[0];
		if (e == ENOENT && strchr(cmd, '/') == NULL) {
			kr_warn("%s: command not found", cmd);
			return (KR_EXIT_NOTFOUND);
		}
		kr_warn("%s: %s", cmd, strerror(e));
		return (e == ENOENT ? KR_EXIT_NOTFOUND : KR_EXIT_NOEXEC);
	}
	if (WIFEXITED(status))
		r->kr_exit = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		r->kr_exit = 128 + WTERMSIG(status);
	else
		r->kr_exit = KR_EXIT_ERROR;
	return (0);
}

/* ---- the summary ----------------------------------------------------------- */

static const char *
kr_signame(int sig)
{
	static char buf[16];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev == NULL) {
		snprintf(buf, sizeof(buf), "%d", sig);
		return (buf);
	}
	snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	return (buf);
}

static const char *
kr_printable(const char *name, char *buf, size_t len)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++) {
		unsigned char c = (unsigned char)name[i];
		buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[i] = '\0';
	return (buf);
}

static enum { KR_BY_HIGH, KR_BY_FAIL } kr_sort_by;

static int
kr_type_cmp(const void *a, const void *b)
{
	const struct memory_type *x = *(const struct memory_type *const *)a;
	const struct memory_type *y = *(const struct memory_type *const *)b;
	uint64_t vx, vy;

	if (kr_sort_by == KR_BY_FAIL) {
		vx = memstat_get_failures(x);
		vy = memstat_get_failures(y);
		if (vx != vy)
			return (vx > vy ? -1 : 1);
	}
	vx = memstat_get_highbytes(x);
	vy = memstat_get_highbytes(y);
	if (vx != vy)
		return (vx > vy ? -1 : 1);
	vx = memstat_get_bytes(x);
	vy = memstat_get_bytes(y);
	if (vx != vy)
		return (vx > vy ? -1 : 1);
	return (strcmp(memstat_get_name(x), memstat_get_name(y)));
}

/*
 * The malloc types of list that were ever used, and the zones that are
 * not kmalloc zones nor kmem's own (to name failures), sorted by high use;
 * a malloc'd array of *np, NULL if none.
 */
static struct memory_type **
kr_types(struct memory_type_list *list, int allocator, size_t *np)
{
	struct memory_type **v;
	struct memory_type *mtp;
	size_t n = 0;

	*np = 0;
	for (mtp = memstat_mtl_first(list); mtp != NULL;
	    mtp = memstat_mtl_next(mtp))
		n++;
	if (n == 0 || (v = calloc(n, sizeof(*v))) == NULL)
		return (NULL);
	n = 0;
	for (mtp = memstat_mtl_first(list); mtp != NULL;
	    mtp = memstat_mtl_next(mtp)) {
		if (memstat_get_allocator(mtp) != allocator)
			continue;
		if (allocator == ALLOCATOR_UMA && (memstat_get_malloc_backed(mtp) ||
		    memstat_get_internal(mtp)))
			continue;
		if (memstat_get_numallocs(mtp) == 0 && memstat_get_count(mtp) == 0 &&
		    memstat_get_failures(mtp) == 0)
			continue;
		v[n++] = mtp;
	}
	kr_sort_by = KR_BY_HIGH;
	qsort(v, n, sizeof(*v), kr_type_cmp);
	*np = n;
	return (v);
}

static uint64_t
kr_kib(uint64_t bytes)
{
	return ((bytes + 1023) / 1024);
}

/* The -m style table: Type InUse MemUse HighUse Requests. */
static void
kr_table(FILE *out, struct memory_type **v, size_t n, long top)
{
	char name[MEMTYPE_MAXNAME + 1];
	size_t shown = top > 0 && (size_t)top < n ? (size_t)top : n;
	int w = 13;

	for (size_t i = 0; i < shown; i++) {
		int l = (int)strlen(memstat_get_name(v[i]));
		if (l > w)
			w = l;
	}
	fprintf(out, "%*s %8s %8s %8s %9s\n", w, "Type", "InUse", "MemUse",
	    "HighUse", "Requests");
	for (size_t i = 0; i < shown; i++)
		fprintf(out, "%*s %8" PRIu64 " %7" PRIu64 "K %7" PRIu64 "K %9"
		    PRIu64 "\n", w,
		    kr_printable(memstat_get_name(v[i]), name, sizeof(name)),
		    memstat_get_count(v[i]), kr_kib(memstat_get_bytes(v[i])),
		    kr_kib(memstat_get_highbytes(v[i])),
		    memstat_get_numallocs(v[i]));
	if (shown < n) {
		uint64_t bytes = 0, high = 0;
		for (size_t i = shown; i < n; i++) {
			bytes += memstat_get_bytes(v[i]);
			high = high > memstat_get_highbytes(v[i]) ? high :
			    memstat_get_highbytes(v[i]);
		}
		fprintf(out, "%*s (%zu more type%s: %" PRIu64 "K in use, none "
		    "above %" PRIu64 "K at its peak)\n", w, "...", n - shown,
		    n - shown == 1 ? "" : "s", kr_kib(bytes), kr_kib(high));
	}
}

/*
 * "TYPE (6.20 MiB), ..." for the k types of v that hold most at their
 * peak, into buf.
 */
static void
kr_holders(char *buf, size_t len, struct memory_type **v, size_t n, size_t k)
{
	char name[MEMTYPE_MAXNAME + 1], h[32];
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && i < k && used < len; i++) {
		if (memstat_get_highbytes(v[i]) == 0)
			break;
		kr_human(h, sizeof(h), memstat_get_highbytes(v[i]));
		used += (size_t)snprintf(buf + used, len - used, "%s%s (%s)",
		    i > 0 ? ", " : "",
		    kr_printable(memstat_get_name(v[i]), name, sizeof(name)), h);
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
}

/* "TYPE (N), ZONE zone (N)": whose requests failed, most first. */
static size_t
kr_failed(char *buf, size_t len, struct memory_type **m, size_t nm,
    struct memory_type **z, size_t nz, uint64_t *total)
{
	char name[MEMTYPE_MAXNAME + 1];
	size_t used = 0, shown = 0;

	*total = 0;
	buf[0] = '\0';
	kr_sort_by = KR_BY_FAIL;
	qsort(m, nm, sizeof(*m), kr_type_cmp);
	qsort(z, nz, sizeof(*z), kr_type_cmp);
	kr_sort_by = KR_BY_HIGH;
	for (int pass = 0; pass < 2; pass++) {
		struct memory_type **v = pass == 0 ? m : z;
		size_t n = pass == 0 ? nm : nz;
		for (size_t i = 0; i < n; i++) {
			uint64_t f = memstat_get_failures(v[i]);
			if (f == 0)
				break;
			*total += f;
			if (shown++ >= 4 || used >= len)
				continue;
			used += (size_t)snprintf(buf + used, len - used,
			    "%s%s%s (%" PRIu64 ")", used > 0 ? ", " : "",
			    kr_printable(memstat_get_name(v[i]), name,
			    sizeof(name)), pass == 1 ? " zone" : "", f);
		}
	}
	if (shown > 4 && used < len)
		snprintf(buf + used, len - used, " and %zu more", shown - 4);
	qsort(m, nm, sizeof(*m), kr_type_cmp);
	qsort(z, nz, sizeof(*z), kr_type_cmp);
	return (shown);
}

/* The size as it was asked for: "8M" stays "8M", 8388608 becomes "8M". */
static void
kr_size_text(char *buf, size_t len, uint64_t v)
{
	static const char sfx[] = "KMGT";
	int k = -1;

	while (v != 0 && (v & 1023) == 0 && k < 3) {
		v >>= 10;
		k++;
	}
	if (k >= 0)
		snprintf(buf, len, "%" PRIu64 "%c", v, sfx[k]);
	else
		snprintf(buf, len, "%" PRIu64, v);
}

/*
 * The map line and, when requests failed, the budget line, for one
 * process.  label prefixes the budget line for a process other than the
 * command ("in cc1 (pid 1234): ").
 */
static bool
kr_budget(FILE *out, const struct kr_opts *o, const char *label,
    const struct memstat_kmem *mk, struct memory_type **m, size_t nm,
    struct memory_type **z, size_t nz)
{
	char fails[512], holders[512], lim[32];
	uint64_t typefail;

	kr_failed(fails, sizeof(fails), m, nm, z, nz, &typefail);
	if (mk->mk_failures == 0 && typefail == 0)
		return (false);
	kr_holders(holders, sizeof(holders), m, nm, 3);
	uint64_t nfail = mk->mk_failures > typefail ? mk->mk_failures : typefail;
	if (o->ko_limit != NULL) {
		kr_size_text(lim, sizeof(lim), o->ko_limit_bytes);
		fprintf(out, "%sbudget of %s hit: %" PRIu64 " allocation%s "
		    "failed", label, lim, nfail, nfail == 1 ? "" : "s");
	} else {
		kr_size_text(lim, sizeof(lim), mk->mk_size);
		fprintf(out, "%sthe map (kmem_size %s) ran out: %" PRIu64
		    " allocation%s failed", label, lim, nfail,
		    nfail == 1 ? "" : "s");
	}
	if (fails[0] != '\0')
		fprintf(out, " in %s", fails);
	fprintf(out, "; largest holders: %s\n", holders);
	return (true);
}

static void
kr_map(FILE *out, const struct memstat_kmem *mk)
{
	char size[32], used[32], freeb[32], maxfree[32];
	uint64_t inuse = mk->mk_malloc + mk->mk_large + mk->mk_zone_used +
	    mk->mk_direct;

	kr_human(size, sizeof(size), mk->mk_size);
	kr_human(used, sizeof(used), inuse);
	kr_human(freeb, sizeof(freeb), mk->mk_free);
	kr_human(maxfree, sizeof(maxfree), mk->mk_maxfree);
	fprintf(out, "map: kmem_size %s, %s in use, %s free (largest extent "
	    "%s), %" PRIu64 " request%s failed\n", size, used, freeb, maxfree,
	    mk->mk_failures, mk->mk_failures == 1 ? "" : "s");
}

/* The statistics of one file; NULL with the reason said. */
static struct memory_type_list *
kr_read(const char *path, bool quiet)
{
	struct memory_type_list *list = memstat_mtl_alloc();

	if (list == NULL) {
		kr_warn("%s", memstat_strerror(MEMSTAT_ERROR_NOMEMORY));
		return (NULL);
	}
	if (memstat_file_all(list, path) != 0) {
		if (!quiet)
			kr_warn("reading the statistics of the command: %s",
			    memstat_strerror(memstat_mtl_geterror(list)));
		memstat_mtl_free(list);
		return (NULL);
	}
	return (list);
}

static const char *
kr_state(const struct memstat_kmem *mk)
{
	switch (mk->mk_state) {
	case MEMSTAT_STATE_EXITED:
		return ("exited");
	case MEMSTAT_STATE_FATAL:
		return ("aborted by kmem");
	default:
		return (mk->mk_live ? "still running" : "killed");
	}
}

/* One line for a process the command started. */
static bool
kr_other(FILE *out, const struct kr_opts *o, const char *path)
{
	struct memory_type_list *list = kr_read(path, true);
	struct memstat_kmem mk;
	char cmd[sizeof(mk.mk_command)], label[128], holders[512];
	size_t nm, nz;

	if (list == NULL || memstat_get_kmem(list, &mk) != 0) {
		memstat_mtl_free(list);
		return (false);
	}
	struct memory_type **m = kr_types(list, ALLOCATOR_MALLOC, &nm);
	struct memory_type **z = kr_types(list, ALLOCATOR_UMA, &nz);
	kr_printable(mk.mk_command, cmd, sizeof(cmd));
	kr_holders(holders, sizeof(holders), m, nm, 3);
	fprintf(out, "  %s (pid %" PRIu64 ", %s): most held: %s\n", cmd,
	    mk.mk_pid, kr_state(&mk), holders);
	snprintf(label, sizeof(label), "    in %s (pid %" PRIu64 "): ", cmd,
	    mk.mk_pid);
	bool hit = kr_budget(out, o, label, &mk, m, nm, z, nz);
	free(m);
	free(z);
	memstat_mtl_free(list);
	return (hit);
}

static int
kr_pid_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x < y ? -1 : x > y);
}

/* The processes the command started that ran on kmem, in pid order. */
static void
kr_others(FILE *out, const struct kr_opts *o, const char *dir, pid_t main)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX + 32], *end;
	long *pids = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "kmem.", 5) != 0)
			continue;
		long pid = strtol(de->d_name + 5, &end, 10);
		if (*end != '\0' || pid <= 0 || pid == (long)main)
			continue;
		if (n == cap) {
			long *np = realloc(pids, (cap = cap ? 2 * cap : 16) *
			    sizeof(*pids));
			if (np == NULL)
				break;
			pids = np;
		}
		pids[n++] = pid;
	}
	closedir(d);
	if (n > 0) {
		qsort(pids, n, sizeof(*pids), kr_pid_cmp);
		fprintf(out, "processes it started on kmem:\n");
	}
	for (size_t i = 0; i < n && i < KR_MAX_OTHERS; i++) {
		snprintf(path, sizeof(path), "%s/kmem.%ld", dir, pids[i]);
		(void)kr_other(out, o, path);
	}
	if (n > KR_MAX_OTHERS)
		fprintf(out, "  ... and %zu more\n", n - KR_MAX_OTHERS);
	free(pids);
}

static void
kr_summary(FILE *out, const struct kr_opts *o, const char *dir,
    const struct kr_result *r)
{
	char path[PATH_MAX + 32], cmd[PATH_MAX];
	struct memstat_kmem mk;
	size_t nm = 0, nz = 0;

	kr_printable(o->ko_argv[0], cmd, sizeof(cmd));
	fprintf(out, "==== kmem run: %s (pid %d) ", cmd, (int)r->kr_pid);
	if (WIFSIGNALED(r->kr_status))
		fprintf(out, "killed by signal %d (%s)%s",
		    WTERMSIG(r->kr_status), kr_signame(WTERMSIG(r->kr_status)),
		    WCOREDUMP(r->kr_status) ? ", core dumped" : "");
	else
		fprintf(out, "exited with status %d", r->kr_exit);
	fprintf(out, " after %.2f s\n", (double)r->kr_elapsed_ns / 1e9);

	snprintf(path, sizeof(path), "%s/kmem.%d", dir, (int)r->kr_pid);
	struct memory_type_list *list = NULL;
	if (access(path, F_OK) != 0)
		fprintf(out, "no statistics: %s did not run on kmem (a "
		    "statically linked or set-user-ID program ignores "
		    "LD_PRELOAD)\n", cmd);
	else
		list = kr_read(path, false);
	if (list != NULL && memstat_get_kmem(list, &mk) == 0) {
		struct memory_type **m = kr_types(list, ALLOCATOR_MALLOC, &nm);
		struct memory_type **z = kr_types(list, ALLOCATOR_UMA, &nz);
		if (mk.mk_state != MEMSTAT_STATE_EXITED)
			fprintf(out, "(statistics of its last snapshot: it did "
			    "not exit normally)\n");
		if (nm > 0)
			kr_table(out, m, nm, o->ko_top);
		else
			fprintf(out, "no malloc type was used\n");
		kr_map(out, &mk);
		if (!kr_budget(out, o, "", &mk, m, nm, z, nz) &&
		    o->ko_limit != NULL) {
			char lim[32];
			kr_size_text(lim, sizeof(lim), o->ko_limit_bytes);
			fprintf(out, "budget of %s not hit\n", lim);
		}
		free(m);
		free(z);
	}
	memstat_mtl_free(list);
	kr_others(out, o, dir, r->kr_pid);
}

/* ---- the command line ------------------------------------------------------ */

enum {
	KR_OPT_LIMIT = 256,
	KR_OPT_REPORT,
};

static const struct option kr_longopts[] = {
	{"limit", required_argument, NULL, KR_OPT_LIMIT},
	{"report", required_argument, NULL, KR_OPT_REPORT},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char kr_help_run[] =
    "Runs CMD on kmem (the preload library " KR_SHIM ") and summarizes its\n"
    "memory at exit, as vmstat -m does.\n"
    "\n"
    "  -o name=value   a kmem tunable for CMD (repeatable; see kmem(1))\n"
    "  --limit SIZE    a memory budget for CMD (kmem_size), such as 64M\n"
    "  --report FILE   write the summary to FILE, not standard error\n"
    "  -n N            malloc types in the summary (default 10, 0: all)\n"
    "  -q, --quiet     no summary\n"
    "\n"
    "Exit status: CMD's; 128+N if signal N killed it; 127 if CMD is not\n"
    "found, 126 if it cannot be run; 1 or 2 for kmem run's own errors.\n";

static int
kr_run_main(int argc, char **argv)
{
	struct kr_opts o = {.ko_top = KR_TOP_DEFAULT};
	char nbuf[32], shim[PATH_MAX];
	int dd, c, rc;

	/* Options end at "--"; the command is what follows it. */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(dd, argv, "+:hn:o:q", kr_longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(kr_usage_run, stdout);
			fputs(kr_help_run, stdout);
			return (0);
		case 'n': {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || errno != 0 || v < 0)
				return (kr_usage_error(kr_usage_run, "-n %s: not "
				    "a number of types (0 or more)", optarg));
			o.ko_top = v;
			break;
		}
		case 'o':
			if ((rc = kr_add_option(&o, optarg)) != 0)
				return (rc);
			break;
		case 'q':
			o.ko_quiet = true;
			break;
		case KR_OPT_LIMIT: {
			uint64_t v;
			int e = kopt_parse_size(optarg, strlen(optarg), &v);
			if (e == 0 && v == 0)
				e = EINVAL;
			if (e != 0)
				return (kr_usage_error(kr_usage_run, "--limit %s: "
				    "%s", optarg, e == ERANGE ? "too large" :
				    "not a size (a number with an optional K, M, "
				    "G or T, above 0)"));
			if (o.ko_options != NULL && (strncmp(o.ko_options,
			    "kmem_size=", 10) == 0 || strstr(o.ko_options,
			    ",kmem_size=") != NULL))
				return (kr_usage_error(kr_usage_run, "-o kmem_size "
				    "and --limit exclude each other"));
			if (kopt_set("kmem_size", optarg, KOPT_SRC_SETOPT,
			    "--limit") != 0)
				return (kr_usage_error(kr_usage_run, NULL));
			o.ko_limit = optarg;
			o.ko_limit_bytes = v;
			break;
		}
		case KR_OPT_REPORT:
			o.ko_report = optarg;
			break;
		case ':':
			for (const struct option *lo = kr_longopts;
			    lo->name != NULL; lo++)
				if (lo->val == optopt && optopt >= 256) {
					snprintf(nbuf, sizeof(nbuf), "--%s",
					    lo->name);
					return (kr_usage_error(kr_usage_run,
					    "%s needs an argument", nbuf));
				}
			return (kr_usage_error(kr_usage_run, "-%c needs an "
			    "argument", optopt));
		case '?':
		default:
			if (optopt != 0 && optopt < 256)
				return (kr_usage_error(kr_usage_run, "unknown "
				    "option -%c", optopt));
			return (kr_usage_error(kr_usage_run, "unknown option "
			    "%.*s", (int)strcspn(argv[optind - 1], "="),
			    argv[optind - 1]));
		}
	}
	if (optind < dd)
		return (kr_usage_error(kr_usage_run, "'%s': the command goes "
		    "after --", argv[optind]));
	if (dd >= argc)
		return (kr_usage_error(kr_usage_run, "no command: give it "
		    "after --"));
	if (dd + 1 >= argc || argv[dd + 1][0] == '\0')
		return (kr_usage_error(kr_usage_run, "no command after --"));
	o.ko_argv = argv + dd + 1;

	FILE *report = NULL;
	if (o.ko_report != NULL && !o.ko_quiet) {
		int fd = open(o.ko_report, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0666);
		if (fd < 0 || (report = fdopen(fd, "w")) == NULL) {
			kr_warn("--report %s: %s", o.ko_report, strerror(errno));
			if (fd >= 0)
				close(fd);
			return (KR_EXIT_ERROR);
		}
	}
	if (!kr_find_shim(shim, sizeof(shim))) {
		if (report != NULL)
			fclose(report);
		return (KR_EXIT_ERROR);
	}
	const char *dir = kr_make_dir();
	if (dir == NULL) {
		if (report != NULL)
			fclose(report);
		return (KR_EXIT_ERROR);
	}

	struct kr_result r = {0};
	rc = kr_spawn(&o, shim, dir, &r);
	if (rc == 0) {
		rc = r.kr_exit;
		if (!o.ko_quiet)
			kr_summary(report != NULL ? report : stderr, &o, dir, &r);
		/* On stderr unless the summary there says it already. */
		if (WIFSIGNALED(r.kr_status) && (o.ko_quiet || report != NULL))
			kr_warn("%s killed by signal %d (%s)", o.ko_argv[0],
			    WTERMSIG(r.kr_status),
			    kr_signame(WTERMSIG(r.kr_status)));
	}
	kr_remove_dir(dir);
	if (report != NULL && (fflush(report) != 0 || ferror(report) ||
	    fclose(report) != 0)) {
		kr_warn("--report %s: %s", o.ko_report, strerror(errno));
		if (rc == 0)
			rc = KR_EXIT_ERROR;
	}
	free(o.ko_options);
	return (rc);
}

static const char kr_help_main[] =
    "Subcommands:\n"
    "  run   run a program on kmem and summarize its memory (kmem run --help)\n";

int
main(int argc, char **argv)
{
	if (argc < 2)
		return (kr_usage_error(kr_usage_main, "no subcommand"));
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(kr_usage_main, stdout);
		fputs(kr_help_main, stdout);
		return (0);
	}
	if (strcmp(argv[1], "run") == 0)
		return (kr_run_main(argc - 1, argv + 1));
	if (argv[1][0] == '-')
		return (kr_usage_error(kr_usage_main, "unknown option %s",
		    argv[1]));
	return (kr_usage_error(kr_usage_main, "unknown subcommand '%s'",
	    argv[1]));
}
