/*
 * prim_linux.c -- the platform contract (prim.h) on Linux.
 *
 * This is the only file of kmem that makes system calls.  Reservations are
 * anonymous private mappings with PROT_NONE and MAP_NORESERVE, so they cost
 * address space but neither memory nor commit charge; committing is an
 * mprotect() to read-write (the kernel merges neighbouring ranges of the
 * same protection into one mapping); decommitting maps fresh PROT_NONE pages
 * over the range with MAP_FIXED, which frees the memory and protects the
 * range in one call, so a stray access to a freed page faults.  Under
 * AddressSanitizer, decommitted pages are unpoisoned as well: the layers
 * above poison free items (kmem_debug.h, section 8), and whatever reuses
 * the pages starts from fresh memory.
 *
 * The figures the map sizes itself from are read from sysconf(3), the cgroup
 * files and /proc/self/statm with read(2) into stack buffers: this file
 * never allocates.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "prim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define KP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KP_ASAN 1
#endif
#endif
#ifdef KP_ASAN
#include <sanitizer/asan_interface.h>
#endif

static size_t kp_pagesize;

void
kp_init(void)
{
	if (__atomic_load_n(&kp_pagesize, __ATOMIC_ACQUIRE) != 0)
		return;
	long ps = sysconf(_SC_PAGESIZE);
	if (ps <= 0 || (ps & (ps - 1)) != 0)
		ps = 4096;
	__atomic_store_n(&kp_pagesize, (size_t)ps, __ATOMIC_RELEASE);
}

size_t
kp_page_size(void)
{
	if (KP_UNLIKELY(kp_pagesize == 0))
		kp_init();
	return (kp_pagesize);
}

static bool
kp_page_aligned(const void *addr, size_t size)
{
	size_t mask = kp_page_size() - 1;

	return (size != 0 && ((uintptr_t)addr & mask) == 0 && (size & mask) == 0);
}

/* ---- failure injection ------------------------------------------------ */

/*
 * Armed rarely (tests), checked on every reserve and commit: the fast test is
 * one relaxed load of ki_count; the bookkeeping is under kp_inj_lock.
 */
static struct kp_inj {
	_Atomic unsigned ki_count; /* failures still to inject */
	unsigned ki_skip;          /* calls still to let through first */
	_Atomic uint64_t ki_done;  /* failures injected so far */
	_Atomic unsigned ki_every; /* kp_inject_every(): fail every nth call */
	_Atomic uint64_t ki_calls; /* ... calls counted for it */
} kp_inj[KP_OP_NOPS];
static pthread_mutex_t kp_inj_lock = PTHREAD_MUTEX_INITIALIZER;

void
kp_inject(enum kp_op op, unsigned skip, unsigned count)
{
	if ((unsigned)op >= KP_OP_NOPS)
		return;
	pthread_mutex_lock(&kp_inj_lock);
	kp_inj[op].ki_skip = skip;
	atomic_store(&kp_inj[op].ki_count, count);
	pthread_mutex_unlock(&kp_inj_lock);
}

uint64_t
kp_injected(enum kp_op op)
{
	if ((unsigned)op >= KP_OP_NOPS)
		return (0);
	return (atomic_load(&kp_inj[op].ki_done));
}

void
kp_inject_every(enum kp_op op, unsigned n)
{
	if ((unsigned)op >= KP_OP_NOPS)
		return;
	atomic_store(&kp_inj[op].ki_calls, 0);
	atomic_store(&kp_inj[op].ki_every, n);
}

/* True when this call of op must fail. */
static bool
kp_inject_hit(enum kp_op op)
{
	struct kp_inj *ki = &kp_inj[op];
	bool hit = false;
	unsigned every = atomic_load_explicit(&ki->ki_every, memory_order_relaxed);

	if (KP_UNLIKELY(every != 0) &&
	    (atomic_fetch_add(&ki->ki_calls, 1) + 1) % every == 0) {
		atomic_fetch_add(&ki->ki_done, 1);
		return (true);
	}
	if (KP_LIKELY(atomic_load_explicit(&ki->ki_count,
	    memory_order_relaxed) == 0))
		return (false);
	pthread_mutex_lock(&kp_inj_lock);
	if (atomic_load(&ki->ki_count) != 0) {
		if (ki->ki_skip > 0) {
			ki->ki_skip--;
		} else {
			atomic_fetch_sub(&ki->ki_count, 1);
			atomic_fetch_add(&ki->ki_done, 1);
			hit = true;
		}
	}
	pthread_mutex_unlock(&kp_inj_lock);
	return (hit);
}

/* ---- pages ------------------------------------------------------------ */

int
kp_reserve(size_t size, size_t align, void **addrp)
{
	size_t ps = kp_page_size();
	void *p;

	if (align == 0)
		align = ps;
	if (size == 0 || (size & (ps - 1)) != 0 || (align & (align - 1)) != 0 ||
	    align < ps)
		return (EINVAL);
	if (kp_inject_hit(KP_OP_RESERVE))
		return (ENOMEM);
	if (align == ps) {
		p = mmap(NULL, size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return (errno == 0 ? ENOMEM : errno);
		*addrp = p;
		return (0);
	}
	/* Over-reserve, then trim both ends to the alignment. */
	if (size + align < size)
		return (ENOMEM);
	p = mmap(NULL, size + align, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return (errno == 0 ? ENOMEM : errno);
	uintptr_t start = (uintptr_t)p;
	uintptr_t aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
	if (aligned > start)
		munmap(p, aligned - start);
	uintptr_t end = start + size + align;
	if (end > aligned + size)
		munmap((void *)(aligned + size), end - (aligned + size));
	*addrp = (void *)aligned;
	return (0);
}

int
kp_release(void *addr, size_t size)
{
	if (!kp_page_aligned(addr, size))
		return (EINVAL);
	if (munmap(addr, size) != 0)
		return (errno);
	return (0);
}

int
kp_commit(void *addr, size_t size)
{
	if (!kp_page_aligned(addr, size))
		return (EINVAL);
	if (kp_inject_hit(KP_OP_COMMIT))
		return (ENOMEM);
	if (mprotect(addr, size, PROT_READ | PROT_WRITE) != 0)
		return (errno);
	return (0);
}

int
kp_decommit(void *addr, size_t size)
{
	void *p;

	if (!kp_page_aligned(addr, size))
		return (EINVAL);
#ifdef KP_ASAN
	ASAN_UNPOISON_MEMORY_REGION(addr, size);
#endif
	p = mmap(addr, size, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		/* Out of mappings: at least give the memory back. */
		int error = errno;
		if (madvise(addr, size, MADV_DONTNEED) == 0 &&
		    mprotect(addr, size, PROT_NONE) == 0)
			return (0);
		return (error);
	}
	return (0);
}

int
kp_protect(void *addr, size_t size, int prot)
{
	int p = 0;

	if (!kp_page_aligned(addr, size) || (prot & ~KP_PROT_RW) != 0)
		return (EINVAL);
	if (prot & KP_PROT_READ)
		p |= PROT_READ;
	if (prot & KP_PROT_WRITE)
		p |= PROT_WRITE;
	if (mprotect(addr, size, p) != 0)
		return (errno);
	return (0);
}

/* ---- what exists -------------------------------------------------------- */

#define KP_SRCMAX 200
static pthread_mutex_t kp_fig_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool kf_overridden;       /* substituted by a test */
	uint64_t kf_override;     /* the substitute */
	char kf_src[KP_SRCMAX];   /* where the last reading came from */
} kp_figs[KP_FIG_NFIGS];

/* Limits at or above this are "no limit" (cgroup v1 writes 2^63 - 4096). */
#define KP_LIMIT_HUGE (UINT64_C(1) << 60)

/* Reads a whole small file into buf (NUL-terminated); length or -1. */
static ssize_t
kp_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return (-1);
	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return ((ssize_t)got);
}

/* Parses a decimal number at s; false if there is none. */
static bool
kp_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return (false);
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return (false);
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return (true);
}

/*
 * Line-by-line reader over a file with a fixed buffer; lines longer than the
 * buffer are skipped whole.
 */
struct kp_lines {
	int kl_fd;
	char kl_buf[4096];
	size_t kl_len, kl_pos;
	bool kl_eof;
};

static bool
kp_lines_open(struct kp_lines *l, const char *path)
{
	l->kl_fd = open(path, O_RDONLY | O_CLOEXEC);
	l->kl_len = l->kl_pos = 0;
	l->kl_eof = false;
	return (l->kl_fd >= 0);
}

static char *
kp_lines_next(struct kp_lines *l)
{
	bool skipping = false;

	for (;;) {
		char *nl = memchr(l->kl_buf + l->kl_pos, '\n', l->kl_len - l->kl_pos);
		if (nl != NULL) {
			char *line = l->kl_buf + l->kl_pos;
			*nl = '\0';
			l->kl_pos = (size_t)(nl - l->kl_buf) + 1;
			if (skipping) {
				skipping = false;
				continue;
			}
			return (line);
		}
		if (l->kl_eof) {
			if (l->kl_pos < l->kl_len && !skipping) {
				char *line = l->kl_buf + l->kl_pos;
				l->kl_buf[l->kl_len] = '\0';
				l->kl_pos = l->kl_len;
				return (line);
			}
			return (NULL);
		}
		/* Move the partial line to the front and read more. */
		if (l->kl_pos == 0 && l->kl_len == sizeof(l->kl_buf) - 1) {
			skipping = true; /* a line longer than the buffer */
			l->kl_len = 0;
		} else {
			memmove(l->kl_buf, l->kl_buf + l->kl_pos, l->kl_len - l->kl_pos);
			l->kl_len -= l->kl_pos;
		}
		l->kl_pos = 0;
		ssize_t n = read(l->kl_fd, l->kl_buf + l->kl_len,
		    sizeof(l->kl_buf) - 1 - l->kl_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			l->kl_eof = true;
		else
			l->kl_len += (size_t)n;
	}
}

static void
kp_lines_close(struct kp_lines *l)
{
	if (l->kl_fd >= 0)
		close(l->kl_fd);
	l->kl_fd = -1;
}

/* Field i (0-based, space separated) of line, cut in place; NULL if none. */
static char *
kp_field(char *line, int i, char **rest)
{
	char *s = line;

	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return (NULL);
		char *e = s;
		while (*e != ' ' && *e != '\0')
			e++;
		if (i == 0) {
			if (*e != '\0') {
				*e = '\0';
				e++;
			}
			if (rest != NULL)
				*rest = e;
			return (s);
		}
		i--;
		s = e;
	}
}

/* Whether the comma-separated list holds word. */
static bool
kp_list_has(const char *list, const char *word)
{
	size_t wlen = strlen(word);

	for (const char *o = list; o != NULL;) {
		const char *c = strchr(o, ',');
		size_t n = c != NULL ? (size_t)(c - o) : strlen(o);
		if (n == wlen && memcmp(o, word, n) == 0)
			return (true);
		o = c != NULL ? c + 1 : NULL;
	}
	return (false);
}

/*
 * Finds the mount point of the cgroup hierarchy: v2 (`cgroup2`) or the v1
 * hierarchy whose super options name the memory controller.
 */
static bool
kp_cgroup_mount(bool v2, char *mnt, size_t len)
{
	struct kp_lines l;
	char *line;
	bool found = false;

	if (!kp_lines_open(&l, "/proc/self/mountinfo"))
		return (false);
	while (!found && (line = kp_lines_next(&l)) != NULL) {
		/* id parent major:minor root mountpoint opts [tags] - fstype src superopts */
		char *sep = strstr(line, " - ");
		if (sep == NULL)
			continue;
		*sep = '\0';
		char *tail = sep + 3, *rest;
		char *fstype = kp_field(tail, 0, &rest);
		if (fstype == NULL)
			continue;
		if (v2 ? strcmp(fstype, "cgroup2") != 0 : strcmp(fstype, "cgroup") != 0)
			continue;
		if (!v2) {
			char *superopts = kp_field(rest, 1, NULL);
			if (superopts == NULL || !kp_list_has(superopts, "memory"))
				continue;
		}
		char *mp = kp_field(line, 4, NULL);
		if (mp != NULL && strlen(mp) < len) {
			strcpy(mnt, mp);
			found = true;
		}
	}
	kp_lines_close(&l);
	return (found);
}

/* The process' cgroup path in hierarchy v2 ("0::") or v1 memory. */
static bool
kp_cgroup_path(bool v2, char *path, size_t len)
{
	struct kp_lines l;
	char *line;
	bool found = false;

	if (!kp_lines_open(&l, "/proc/self/cgroup"))
		return (false);
	while (!found && (line = kp_lines_next(&l)) != NULL) {
		/* hierarchy-id:controllers:path */
		char *c1 = strchr(line, ':');
		if (c1 == NULL)
			continue;
		char *c2 = strchr(c1 + 1, ':');
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		const char *ctl = c1 + 1;
		bool match;
		if (v2) {
			match = (c1 - line == 1 && line[0] == '0' && *ctl == '\0');
		} else {
			match = kp_list_has(ctl, "memory");
		}
		if (match && strlen(c2 + 1) < len) {
			strcpy(path, c2 + 1);
			found = true;
		}
	}
	kp_lines_close(&l);
	return (found);
}

/*
 * The smallest limit in `file` on the way from the process' cgroup up to the
 * hierarchy's root.  In a cgroup namespace or a container the process' path
 * may not exist under the mount; leading components are then dropped until
 * it does.  Returns KP_UNLIMITED when no limit is set.
 */
static uint64_t
kp_cgroup_limit(bool v2, char *src, size_t srclen)
{
	char mnt[1024], cg[1024], dir[2048], file[2200], buf[64];
	const char *fname = v2 ? "memory.max" : "memory.limit_in_bytes";
	uint64_t best = KP_UNLIMITED;
	const char *rel;

	if (!kp_cgroup_mount(v2, mnt, sizeof(mnt)) ||
	    !kp_cgroup_path(v2, cg, sizeof(cg)))
		return (KP_UNLIMITED);
	rel = cg;
	for (;;) {
		snprintf(dir, sizeof(dir), "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel);
		if (access(dir, F_OK) == 0 || *rel == '\0')
			break;
		const char *next = strchr(rel + 1, '/');
		rel = next != NULL ? next : "";
	}
	size_t mntlen = strlen(mnt);
	for (;;) {
		snprintf(file, sizeof(file), "%s/%s", dir, fname);
		if (kp_read_file(file, buf, sizeof(buf)) > 0) {
			uint64_t v;
			if (kp_parse_u64(buf, &v) && v < KP_LIMIT_HUGE && v < best) {
				best = v;
				snprintf(src, srclen, "cgroup %s %.*s", v2 ? "v2" : "v1",
				    (int)(srclen > 12 ? srclen - 12 : 0), file);
			}
		}
		if (strlen(dir) <= mntlen)
			break;
		char *slash = strrchr(dir, '/');
		if (slash == NULL || (size_t)(slash - dir) < mntlen)
			break;
		*slash = '\0';
	}
	return (best);
}

static uint64_t
kp_read_figure(enum kp_figure fig, char *src, size_t srclen)
{
	switch (fig) {
	case KP_FIG_PHYSMEM: {
		long pages = sysconf(_SC_PHYS_PAGES);
		snprintf(src, srclen, "sysconf(_SC_PHYS_PAGES)");
		if (pages <= 0)
			return (KP_UNLIMITED);
		return ((uint64_t)pages * kp_page_size());
	}
	case KP_FIG_CGROUP: {
		uint64_t v2, v1;
		char s2[KP_SRCMAX] = "", s1[KP_SRCMAX] = "";
		v2 = kp_cgroup_limit(true, s2, sizeof(s2));
		v1 = kp_cgroup_limit(false, s1, sizeof(s1));
		if (v2 == KP_UNLIMITED && v1 == KP_UNLIMITED) {
			snprintf(src, srclen, "no cgroup memory limit");
			return (KP_UNLIMITED);
		}
		snprintf(src, srclen, "%s", v2 <= v1 ? s2 : s1);
		return (v2 <= v1 ? v2 : v1);
	}
	case KP_FIG_AS_FREE: {
		struct rlimit rl;
		char buf[128];
		uint64_t mapped = 0;
		if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
			snprintf(src, srclen, "RLIMIT_AS unlimited");
			return (KP_UNLIMITED);
		}
		if (kp_read_file("/proc/self/statm", buf, sizeof(buf)) > 0) {
			uint64_t pages;
			if (kp_parse_u64(buf, &pages))
				mapped = pages * kp_page_size();
		}
		snprintf(src, srclen, "RLIMIT_AS %llu less %llu mapped",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)mapped);
		return ((uint64_t)rl.rlim_cur > mapped ? (uint64_t)rl.rlim_cur - mapped : 0);
	}
	default:
		snprintf(src, srclen, "unknown figure");
		return (KP_UNLIMITED);
	}
}

uint64_t
kp_figure(enum kp_figure fig)
{
	uint64_t v;

	if ((unsigned)fig >= KP_FIG_NFIGS)
		return (KP_UNLIMITED);
	pthread_mutex_lock(&kp_fig_lock);
	if (kp_figs[fig].kf_overridden) {
		v = kp_figs[fig].kf_override;
		snprintf(kp_figs[fig].kf_src, KP_SRCMAX, "substituted");
	} else {
		v = kp_read_figure(fig, kp_figs[fig].kf_src, KP_SRCMAX);
	}
	pthread_mutex_unlock(&kp_fig_lock);
	return (v);
}

const char *
kp_figure_source(enum kp_figure fig)
{
	if ((unsigned)fig >= KP_FIG_NFIGS)
		return ("unknown figure");
	return (kp_figs[fig].kf_src[0] != '\0' ? kp_figs[fig].kf_src : "not read");
}

void
kp_figure_override(enum kp_figure fig, uint64_t value)
{
	if ((unsigned)fig >= KP_FIG_NFIGS)
		return;
	pthread_mutex_lock(&kp_fig_lock);
	kp_figs[fig].kf_overridden = true;
	kp_figs[fig].kf_override = value;
	pthread_mutex_unlock(&kp_fig_lock);
}

void
kp_figure_reset(enum kp_figure fig)
{
	if ((unsigned)fig >= KP_FIG_NFIGS)
		return;
	pthread_mutex_lock(&kp_fig_lock);
	kp_figs[fig].kf_overridden = false;
	pthread_mutex_unlock(&kp_fig_lock);
}

/* ---- locks -------------------------------------------------------------- */

static void
kp_check(int error, const char *what)
{
	if (KP_UNLIKELY(error != 0))
		kp_fatal("%s: %s", what, strerror(error));
}

void
kp_mutex_init(kp_mutex_t *m)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	kp_check(pthread_mutex_init(&m->km_m, &a), "pthread_mutex_init");
	pthread_mutexattr_destroy(&a);
}

void
kp_mutex_destroy(kp_mutex_t *m)
{
	pthread_mutex_destroy(&m->km_m);
}

void
kp_mutex_lock(kp_mutex_t *m)
{
	kp_check(pthread_mutex_lock(&m->km_m), "pthread_mutex_lock");
}

bool
kp_mutex_trylock(kp_mutex_t *m)
{
	return (pthread_mutex_trylock(&m->km_m) == 0);
}

void
kp_mutex_unlock(kp_mutex_t *m)
{
	kp_check(pthread_mutex_unlock(&m->km_m), "pthread_mutex_unlock");
}

/*
 * Under ThreadSanitizer the fork handlers call the C library's functions,
 * found behind the tool's interceptors, so that it does not count the locks.
 */
#if defined(__SANITIZE_THREAD__)
#define KP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KP_TSAN 1
#endif
#endif

#ifdef KP_TSAN
static int (*kp_plain_lock)(pthread_mutex_t *) = pthread_mutex_lock;
static int (*kp_plain_unlock)(pthread_mutex_t *) = pthread_mutex_unlock;

static void
kp_plain_init(void)
{
	void *lock = dlsym(RTLD_NEXT, "pthread_mutex_lock");
	void *unlock = dlsym(RTLD_NEXT, "pthread_mutex_unlock");

	if (lock != NULL && unlock != NULL) {
		kp_plain_lock = (int (*)(pthread_mutex_t *))lock;
		kp_plain_unlock = (int (*)(pthread_mutex_t *))unlock;
	}
}
#else
#define kp_plain_lock pthread_mutex_lock
#define kp_plain_unlock pthread_mutex_unlock
static void
kp_plain_init(void)
{
}
#endif

void
kp_mutex_lock_fork(kp_mutex_t *m)
{
	kp_check(kp_plain_lock(&m->km_m), "pthread_mutex_lock");
}

void
kp_mutex_unlock_fork(kp_mutex_t *m)
{
	kp_check(kp_plain_unlock(&m->km_m), "pthread_mutex_unlock");
}

void
kp_cond_init(kp_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	kp_check(pthread_cond_init(&c->kc_c, &a), "pthread_cond_init");
	pthread_condattr_destroy(&a);
}

void
kp_cond_destroy(kp_cond_t *c)
{
	pthread_cond_destroy(&c->kc_c);
}

void
kp_cond_wait(kp_cond_t *c, kp_mutex_t *m)
{
	kp_check(pthread_cond_wait(&c->kc_c, &m->km_m), "pthread_cond_wait");
}

bool
kp_cond_timedwait(kp_cond_t *c, kp_mutex_t *m, uint64_t timeout_ns)
{
	struct timespec ts;
	uint64_t when = kp_clock_ns() + timeout_ns;
	int error;

	ts.tv_sec = (time_t)(when / 1000000000u);
	ts.tv_nsec = (long)(when % 1000000000u);
	error = pthread_cond_timedwait(&c->kc_c, &m->km_m, &ts);
	if (error == ETIMEDOUT)
		return (false);
	kp_check(error, "pthread_cond_timedwait");
	return (true);
}

void
kp_cond_signal(kp_cond_t *c)
{
	pthread_cond_signal(&c->kc_c);
}

void
kp_cond_broadcast(kp_cond_t *c)
{
	pthread_cond_broadcast(&c->kc_c);
}

/* ---- threads and time --------------------------------------------------- */

static __thread uint32_t kp_tid __attribute__((tls_model("initial-exec")));

uint32_t
kp_thread_id(void)
{
	uint32_t tid = kp_tid;

	if (KP_UNLIKELY(tid == 0)) {
		tid = (uint32_t)syscall(SYS_gettid);
		kp_tid = tid;
	}
	/* After fork() the child's first thread has a new id. */
	return (tid);
}

uint32_t
kp_process_id(void)
{
	return ((uint32_t)getpid());
}

uint64_t
kp_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

uint64_t
kp_random64(void)
{
	uint64_t r = 0;
	const unsigned char *at;

	/* No EINTR for requests of up to 256 bytes once the pool is ready. */
	for (int i = 0; i < 4; i++) {
		long got = syscall(SYS_getrandom, &r, sizeof(r), GRND_NONBLOCK);
		if (got == (long)sizeof(r))
			return (r);
		if (got < 0 && errno != EINTR && errno != EAGAIN)
			break;
	}
	/*
	 * Before the pool is ready (early boot) or without the system call:
	 * the 16 bytes the kernel gave the process, and the clock.
	 */
	at = (const unsigned char *)getauxval(AT_RANDOM);
	if (at != NULL)
		memcpy(&r, at + 8, sizeof(r));
	r ^= kp_clock_ns() * UINT64_C(0x9E3779B97F4A7C15);
	r ^= (uint64_t)getpid() << 32;
	/* splitmix64's finaliser spreads the clock over every bit. */
	r = (r ^ (r >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	r = (r ^ (r >> 27)) * UINT64_C(0x94D049BB133111EB);
	return (r ^ (r >> 31));
}

void
kp_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- fork ----------------------------------------------------------------- */

static const struct kp_fork_ops *_Atomic kp_fork_table[KP_FORK_NRANKS];
/* What prepare called, for parent and child (written by the forking thread
 * with every kmem lock held). */
static const struct kp_fork_ops *kp_fork_called[KP_FORK_NRANKS];

void
kp_fork_register(enum kp_fork_rank rank, const struct kp_fork_ops *ops)
{
	if ((unsigned)rank < KP_FORK_NRANKS)
		atomic_store(&kp_fork_table[rank], ops);
}

static void kp_wait_starting_threads(void);

static void
kp_atfork_prepare(void)
{
	for (int r = 0; r < KP_FORK_NRANKS; r++) {
		const struct kp_fork_ops *ops = atomic_load(&kp_fork_table[r]);
		if (ops != NULL)
			ops->kfo_prepare();
		/* Written once the rank's locks are held: a second forker
		   waits in an earlier rank until the first one is done. */
		kp_fork_called[r] = ops;
	}
	pthread_mutex_lock(&kp_fig_lock);
	pthread_mutex_lock(&kp_inj_lock);
	kp_wait_starting_threads();
}

static void
kp_atfork_parent(void)
{
	pthread_mutex_unlock(&kp_inj_lock);
	pthread_mutex_unlock(&kp_fig_lock);
	for (int r = KP_FORK_NRANKS - 1; r >= 0; r--)
		if (kp_fork_called[r] != NULL)
			kp_fork_called[r]->kfo_parent();
}

/* kmem's own threads running now (kp_thread_start). */
static _Atomic int kp_own_threads;

/*
 * What the creator hands its new thread, in a slot of its own that the
 * thread gives back once it copied both.  The creator does not wait for
 * the thread: it may be the fork child's handler, under locks (a
 * sanitizer's allocator, say) that the new thread's start-up needs and
 * that are only released after the handler returns.
 */
#define KP_TSTART_SLOTS 8
static struct kp_tstart {
	void *(*ts_fn)(void *);   /* the thread's function */
	void *ts_arg;             /* its argument */
	_Atomic uint32_t ts_busy; /* taken by a creator until the thread copied */
} kp_tstart[KP_TSTART_SLOTS];

/*
 * fork() waits until every kmem thread being started runs its own code: a
 * thread in start-up may hold a lock of the C library's or a sanitizer's
 * thread bookkeeping (AddressSanitizer's thread registry, say), which
 * would stay held for ever in the child, whose next thread start would
 * then hang.  Start-up takes none of kmem's locks, so the wait ends.
 */
static void
kp_wait_starting_threads(void)
{
	for (int i = 0; i < KP_TSTART_SLOTS; i++)
		while (atomic_load(&kp_tstart[i].ts_busy) != 0)
			sched_yield();
}

static void
kp_atfork_child(void)
{
	kp_tid = 0;
	atomic_store(&kp_own_threads, 0); /* the child has the forking thread only */
	for (int i = 0; i < KP_TSTART_SLOTS; i++) /* no thread will copy them */
		atomic_store(&kp_tstart[i].ts_busy, 0);
	pthread_mutex_unlock(&kp_inj_lock);
	pthread_mutex_unlock(&kp_fig_lock);
	for (int r = KP_FORK_NRANKS - 1; r >= 0; r--)
		if (kp_fork_called[r] != NULL)
			kp_fork_called[r]->kfo_child();
}

int64_t
kp_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}


static void *
kp_thread_main(void *p)
{
	struct kp_tstart *ts = p;
	void *(*fn)(void *) = ts->ts_fn;
	void *arg = ts->ts_arg, *ret;

	atomic_fetch_add(&kp_own_threads, 1);
	atomic_store(&ts->ts_busy, 0);
	ret = fn(arg);
	atomic_fetch_sub(&kp_own_threads, 1);
	return (ret);
}

int
kp_thread_start(const char *name, void *(*fn)(void *), void *arg)
{
	struct kp_tstart *ts = NULL;
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int error;

	for (int i = 0; i < KP_TSTART_SLOTS && ts == NULL; i++) {
		uint32_t free_slot = 0;
		if (atomic_compare_exchange_strong(&kp_tstart[i].ts_busy,
		    &free_slot, 1))
			ts = &kp_tstart[i];
	}
	if (ts == NULL)
		return (EAGAIN);
	ts->ts_fn = fn;
	ts->ts_arg = arg;
	if ((error = pthread_attr_init(&attr)) != 0) {
		atomic_store(&ts->ts_busy, 0);
		return (error);
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	error = pthread_create(&t, &attr, kp_thread_main, ts);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (error != 0) {
		atomic_store(&ts->ts_busy, 0);
		return (error);
	}
	(void)pthread_setname_np(t, name);
	return (0);
}

/*
 * Reads the start of a /proc file into buf as a string, without
 * allocating; -1 if it cannot be read or is empty.
 */
static int
kp_read_proc(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (-1);
	n = read(fd, buf, len - 1);
	(void)close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	return (0);
}

int
kp_app_threads(void)
{
	char buf[4096];
	int own;
	long threads;
	char *p;

	/* Read kmem's count first: a thread of kmem that starts or ends
	 * between the two reads then makes the result larger, not smaller. */
	own = atomic_load(&kp_own_threads);
	if (kp_read_proc("/proc/self/status", buf, sizeof(buf)) != 0)
		return (-1);
	if ((p = strstr(buf, "\nThreads:")) == NULL)
		return (-1);
	threads = strtol(p + 9, NULL, 10);
	if (threads <= 0)
		return (-1);
	return (threads > own ? (int)(threads - own) : 0);
}

void
kp_futex_wait(uint32_t *addr, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts = {(time_t)(timeout_ns / 1000000000u),
	    (long)(timeout_ns % 1000000000u)};

	(void)syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);
}

void
kp_futex_wake(uint32_t *addr)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

int
kp_file_create_map(const char *path, size_t size, void **addrp)
{
	int fd, error;
	void *p;

	(void)unlink(path); /* a stale file of a dead process with our pid */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return (errno);
	if (ftruncate(fd, (off_t)size) != 0) {
		error = errno;
		(void)close(fd);
		(void)unlink(path);
		return (error);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	error = errno;
	(void)close(fd);
	if (p == MAP_FAILED) {
		(void)unlink(path);
		return (error);
	}
	*addrp = p;
	return (0);
}

void
kp_file_unmap(void *addr, size_t size)
{
	(void)munmap(addr, size);
}

int
kp_unlink(const char *path)
{
	return (unlink(path) == 0 ? 0 : errno);
}

int
kp_rename(const char *from, const char *to)
{
	return (rename(from, to) == 0 ? 0 : errno);
}

const char *
kp_program_name(void)
{
	return (program_invocation_short_name);
}

int
kp_proc_stat(int pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (kp_read_proc(path, buf, sizeof(buf)) != 0)
		return (-1);
	/* The command (field 2) may hold spaces: count fields after its ')'. */
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return (-1);
	*state = p[2];
	for (int field = 2; field < 22 && *p != '\0'; p++)
		if (*p == ' ')
			field++;
	*start = strtoull(p, NULL, 10); /* field 22 */
	return (0);
}

uint64_t
kp_process_start_ticks(void)
{
	char state;
	uint64_t start;

	return (kp_proc_stat(0, &state, &start) == 0 ? start : 0);
}

static void __attribute__((constructor))
kp_ctor(void)
{
	kp_init();
	kp_plain_init();
	pthread_atfork(kp_atfork_prepare, kp_atfork_parent, kp_atfork_child);
}

/* ---- output and the environment ----------------------------------------- */

int
kp_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return (errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

void
kp_vlog(const char *fmt, va_list ap)
{
	char buf[1024];
	int saved = errno;
	size_t n = 6;
	int k;

	memcpy(buf, "kmem: ", 6);
	k = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (k > 0)
		n += (size_t)k < sizeof(buf) - n - 1 ? (size_t)k : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	(void)kp_write(2, buf, n);
	errno = saved;
}

void
kp_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kp_vlog(fmt, ap);
	va_end(ap);
}

static void (*_Atomic kp_fatal_fn)(void);

void
kp_set_fatal_hook(void (*fn)(void))
{
	atomic_store(&kp_fatal_fn, fn);
}

void
kp_fatal(const char *fmt, ...)
{
	va_list ap;
	void (*fn)(void) = atomic_exchange(&kp_fatal_fn, NULL);

	va_start(ap, fmt);
	kp_vlog(fmt, ap);
	va_end(ap);
	if (fn != NULL)
		fn();
	abort();
}

const char *
kp_getenv(const char *name)
{
	return (secure_getenv(name));
}

/* ---- faults ------------------------------------------------------------ */

static bool (*kp_fault_fn)(void *addr);
static struct sigaction kp_fault_old[2]; /* SIGSEGV, SIGBUS before us */

static void
kp_fault_sig(int sig, siginfo_t *si, void *uc)
{
	int i = sig == SIGSEGV ? 0 : 1;

	(void)uc;
	if (kp_fault_fn != NULL && kp_fault_fn(si->si_addr)) {
		struct sigaction dfl;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigemptyset(&dfl.sa_mask);
		(void)sigaction(sig, &dfl, NULL);
		return;
	}
	/*
	 * Not ours: a fault runs its instruction again under the previous
	 * handler; a signal sent by kill() or raise() is sent again to it.
	 */
	(void)sigaction(sig, &kp_fault_old[i], NULL);
	if (si->si_code <= 0)
		(void)raise(sig);
}

int
kp_fault_handler(bool (*fn)(void *addr))
{
	static atomic_bool installed;
	struct sigaction sa;

	if (atomic_exchange(&installed, true))
		return (0);
	kp_fault_fn = fn;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = kp_fault_sig;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &kp_fault_old[0]) != 0 ||
	    sigaction(SIGBUS, &sa, &kp_fault_old[1]) != 0)
		return (errno);
	return (0);
}
