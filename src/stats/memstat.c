/*
 * memstat.c -- the statistics reader (memstat(3)): this process, a live
 * process through its statistics file, or a file left by a dead one.
 *
 * Every source gives the same thing, a struct kms_area (kms_layout.h): this
 * process's is gathered by kms_collect() into a buffer from calloc(3) (sized
 * by a first count; gathered again if types appeared meanwhile); a file's is
 * copied out of the file under its sequence counter.  One function turns an
 * area into the list.  Within a snapshot each type's figures are
 * consistent; two types may be read a moment apart.
 *
 * This is a reading library, like FreeBSD's libmemstat: it opens and maps
 * files itself rather than through kmem's platform layer, and it never
 * trusts a file -- every size and offset is checked against the file's
 * length before anything is read, and a bad file is an error code, never a
 * crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include <kmem/memstat.h>

#include "../platform/prim.h"
#include "kms.h"

struct memory_type {
	char mt_name[MEMTYPE_MAXNAME];
	int mt_allocator;
	int mt_malloc_backed;
	int mt_internal;
	uint64_t mt_size, mt_rsize, mt_countlimit, mt_sizemask;
	uint64_t mt_numallocs, mt_numfrees, mt_count, mt_bytes, mt_highbytes;
	uint64_t mt_free, mt_free_cache, mt_free_bucket, mt_free_slab;
	uint64_t mt_failures, mt_sleeps, mt_pages;
	struct memory_type_list *mt_list; /* owner */
	size_t mt_pos;                    /* index in the owner */
};

struct memory_type_list {
	int mtl_error;
	size_t mtl_n, mtl_cap;
	struct memory_type *mtl_types;
	bool mtl_have_kmem;        /* mtl_kmem is filled */
	struct memstat_kmem mtl_kmem;
};

struct memory_type_list *
memstat_mtl_alloc(void)
{
	return (calloc(1, sizeof(struct memory_type_list)));
}

void
memstat_mtl_free(struct memory_type_list *list)
{
	if (list == NULL)
		return;
	free(list->mtl_types);
	free(list);
}

struct memory_type *
memstat_mtl_first(struct memory_type_list *list)
{
	return (list != NULL && list->mtl_n > 0 ? &list->mtl_types[0] : NULL);
}

struct memory_type *
memstat_mtl_next(struct memory_type *mtp)
{
	if (mtp == NULL || mtp->mt_pos + 1 >= mtp->mt_list->mtl_n)
		return (NULL);
	return (&mtp->mt_list->mtl_types[mtp->mt_pos + 1]);
}

struct memory_type *
memstat_mtl_find(struct memory_type_list *list, int allocator,
    const char *name)
{
	if (list == NULL || name == NULL)
		return (NULL);
	for (size_t i = 0; i < list->mtl_n; i++) {
		struct memory_type *m = &list->mtl_types[i];
		if ((allocator == ALLOCATOR_ANY || m->mt_allocator == allocator) &&
		    strcmp(m->mt_name, name) == 0)
			return (m);
	}
	return (NULL);
}

int
memstat_mtl_geterror(struct memory_type_list *list)
{
	return (list != NULL ? list->mtl_error : MEMSTAT_ERROR_UNDEFINED);
}

const char *
memstat_strerror(int error)
{
	switch (error) {
	case MEMSTAT_ERROR_NOMEMORY:
		return ("Cannot allocate memory");
	case MEMSTAT_ERROR_VERSION:
		return ("Version mismatch");
	case MEMSTAT_ERROR_PERMISSION:
		return ("Permission denied");
	case MEMSTAT_ERROR_DATAERROR:
		return ("Data format error");
	case MEMSTAT_ERROR_NOTFOUND:
		return ("No such process or statistics file");
	case MEMSTAT_ERROR_NOTSTATS:
		return ("Not a kmem statistics file");
	case MEMSTAT_ERROR_TRUNCATED:
		return ("Statistics file truncated");
	case MEMSTAT_ERROR_UNDEFINED:
	default:
		return ("Unknown error");
	}
}

/* ---- from a snapshot to the list ------------------------------------------- */

/* Replaces the list's contents by the area's records; 0 or -1. */
static int
mtl_from_area(struct memory_type_list *list, const struct kms_area *a)
{
	size_t n = a->ka_nrecords;
	struct memory_type *buf = calloc(n > 0 ? n : 1, sizeof(*buf));

	if (buf == NULL) {
		list->mtl_error = MEMSTAT_ERROR_NOMEMORY;
		return (-1);
	}
	for (size_t i = 0; i < n; i++) {
		const struct kms_record *r = &a->ka_records[i];
		struct memory_type *m = &buf[i];
		if (r->kr_allocator != ALLOCATOR_MALLOC &&
		    r->kr_allocator != ALLOCATOR_UMA) {
			free(buf);
			list->mtl_error = MEMSTAT_ERROR_DATAERROR;
			return (-1);
		}
		/* A name from a file need not be terminated: cut it. */
		size_t len = strnlen(r->kr_name, sizeof(r->kr_name));
		if (len >= sizeof(m->mt_name))
			len = sizeof(m->mt_name) - 1;
		memcpy(m->mt_name, r->kr_name, len);
		m->mt_name[len] = '\0';
		m->mt_allocator = (int)r->kr_allocator;
		m->mt_malloc_backed = (r->kr_flags & KMS_REC_MALLOC_BACKED) != 0;
		m->mt_internal = (r->kr_flags & KMS_REC_INTERNAL) != 0;
		m->mt_size = r->kr_size;
		m->mt_rsize = r->kr_rsize;
		m->mt_countlimit = r->kr_limit;
		m->mt_sizemask = r->kr_sizemask;
		m->mt_numallocs = r->kr_numallocs;
		m->mt_numfrees = r->kr_numfrees;
		m->mt_count = r->kr_count;
		m->mt_bytes = r->kr_bytes;
		m->mt_highbytes = r->kr_highbytes;
		m->mt_free = r->kr_free;
		m->mt_free_cache = r->kr_free_cache;
		m->mt_free_bucket = r->kr_free_bucket;
		m->mt_free_slab = r->kr_free_slab;
		m->mt_failures = r->kr_failures;
		m->mt_sleeps = r->kr_sleeps;
		m->mt_pages = r->kr_pages;
		m->mt_list = list;
		m->mt_pos = i;
	}
	free(list->mtl_types);
	list->mtl_types = buf;
	list->mtl_n = n;
	list->mtl_cap = n;

	const struct kms_kmem *k = &a->ka_kmem;
	struct memstat_kmem *mk = &list->mtl_kmem;
	mk->mk_time_ns = a->ka_time_ns;
	mk->mk_generation = a->ka_generation;
	mk->mk_size = k->kk_size;
	mk->mk_pagesize = k->kk_pagesize;
	mk->mk_malloc = k->kk_malloc;
	mk->mk_large = k->kk_large;
	mk->mk_zone_used = k->kk_zone_used;
	mk->mk_zone_cached = k->kk_zone_cached;
	mk->mk_zone_slabfree = k->kk_zone_slabfree;
	mk->mk_direct = k->kk_direct;
	mk->mk_submaps = k->kk_submaps;
	mk->mk_meta = k->kk_meta;
	mk->mk_free = k->kk_free;
	mk->mk_maxfree = k->kk_maxfree;
	mk->mk_nfree = k->kk_nfree;
	mk->mk_failures = k->kk_failures;
	mk->mk_waits = k->kk_waits;
	list->mtl_have_kmem = true;
	list->mtl_error = MEMSTAT_ERROR_UNDEFINED;
	return (0);
}

/* ---- this process ------------------------------------------------------------- */

int
memstat_self_all(struct memory_type_list *list)
{
	uint32_t cap = 64;

	if (list == NULL) {
		errno = EINVAL;
		return (-1);
	}
	for (;;) {
		struct kms_area *a = calloc(1, sizeof(*a) +
		    (size_t)cap * sizeof(struct kms_record));
		if (a == NULL) {
			list->mtl_error = MEMSTAT_ERROR_NOMEMORY;
			return (-1);
		}
		uint32_t n = kms_collect(a, cap);
		if (n > cap) {
			free(a);
			cap = n + 16; /* room for zones made meanwhile */
			continue;
		}
		int rc = mtl_from_area(list, a);
		free(a);
		if (rc != 0)
			return (-1);
		struct memstat_kmem *mk = &list->mtl_kmem;
		mk->mk_pid = (uint64_t)getpid();
		mk->mk_version = KMS_VERSION;
		mk->mk_state = MEMSTAT_STATE_RUNNING;
		mk->mk_live = 1;
		snprintf(mk->mk_command, sizeof(mk->mk_command), "%s",
		    program_invocation_short_name);
		return (0);
	}
}

/* ---- statistics files ----------------------------------------------------------- */

#define MS_COPY_TRIES 1000          /* a publisher busier than this: give up */
#define MS_REQUEST_WAIT_NS 1000000000 /* waiting for a live process's snapshot */

static int
ms_errno_error(int error)
{
	switch (error) {
	case ENOENT:
	case ESRCH:
	case ENOTDIR:
	case ELOOP:
		return (MEMSTAT_ERROR_NOTFOUND);
	case EACCES:
	case EPERM:
		return (MEMSTAT_ERROR_PERMISSION);
	case ENOMEM:
		return (MEMSTAT_ERROR_NOMEMORY);
	default:
		return (MEMSTAT_ERROR_DATAERROR);
	}
}

/* Checks a header against the file's length; an error code or 0. */
static int
ms_check_header(const struct kms_header *h, uint64_t flen)
{
	if (memcmp(h->kh_magic, KMS_MAGIC, 8) != 0)
		return (MEMSTAT_ERROR_NOTSTATS);
	if (h->kh_endian != KMS_ENDIAN || h->kh_version != KMS_VERSION)
		return (MEMSTAT_ERROR_VERSION);
	if (flen < KMS_HEADER_SIZE)
		return (MEMSTAT_ERROR_TRUNCATED);
	if (h->kh_header_size != KMS_HEADER_SIZE ||
	    h->kh_record_size != sizeof(struct kms_record) ||
	    h->kh_area_header != sizeof(struct kms_area) ||
	    h->kh_max_records == 0 || h->kh_max_records > (1u << 24))
		return (MEMSTAT_ERROR_DATAERROR);
	uint64_t abytes = sizeof(struct kms_area) +
	    (uint64_t)h->kh_max_records * sizeof(struct kms_record);
	for (int i = 0; i < 2; i++)
		if (h->kh_area_off[i] < KMS_HEADER_SIZE || h->kh_area_off[i] % 8 != 0)
			return (MEMSTAT_ERROR_DATAERROR);
	for (int i = 0; i < 2; i++)
		if (h->kh_area_off[i] > flen || flen - h->kh_area_off[i] < abytes)
			return (MEMSTAT_ERROR_TRUNCATED);
	return (0);
}

/*
 * Copies the current snapshot out of a mapped file into a fresh area
 * (*out, to free); an error code or 0.
 */
static int
ms_copy_snapshot(const struct kms_header *h, struct kms_area **out)
{
	const char *base = (const char *)h;
	uint32_t max = h->kh_max_records;

	for (int tries = 0; tries < MS_COPY_TRIES; tries++) {
		uint64_t g1 = __atomic_load_n(&h->kh_generation, __ATOMIC_ACQUIRE);
		if (g1 == 0)
			return (MEMSTAT_ERROR_NOTFOUND); /* nothing published yet */
		const struct kms_area *a = (const struct kms_area *)(base +
		    h->kh_area_off[g1 & 1]);
		uint32_t n = __atomic_load_n(&a->ka_nrecords, __ATOMIC_RELAXED);
		if (n > max)
			n = max; /* checked again below */
		size_t bytes = sizeof(*a) + (size_t)n * sizeof(struct kms_record);
		struct kms_area *c = malloc(bytes);
		if (c == NULL)
			return (MEMSTAT_ERROR_NOMEMORY);
		memcpy(c, a, bytes);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uint64_t g2 = __atomic_load_n(&h->kh_generation, __ATOMIC_RELAXED);
		if (g1 == g2) {
			if (c->ka_generation != g1 || c->ka_nrecords > max) {
				free(c);
				return (MEMSTAT_ERROR_DATAERROR);
			}
			*out = c;
			return (0);
		}
		free(c); /* a publication overtook the copy: again */
	}
	return (MEMSTAT_ERROR_DATAERROR);
}

/* Is pid alive and the process that made h (not a later one with its pid)? */
static bool
ms_alive(const struct kms_header *h)
{
	pid_t pid = (pid_t)h->kh_pid;
	uint64_t start;
	char state;

	if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
		return (false);
	if (kp_proc_stat((int)pid, &state, &start) != 0)
		return (true);
	if (state == 'Z' || state == 'X')
		return (false); /* dead, not yet reaped */
	return (h->kh_proc_start == 0 || start == h->kh_proc_start);
}

/* Asks the live owner of h for a snapshot and waits (bounded) for it. */
static void
ms_request(struct kms_header *h)
{
	struct timespec ts = {0, 1000000};
	uint32_t r = __atomic_add_fetch(&h->kh_request, 1, __ATOMIC_ACQ_REL);

	(void)syscall(SYS_futex, &h->kh_request, FUTEX_WAKE, 1, NULL, NULL, 0);
	/* Answered by a snapshot that began after the request (kms_layout.h). */
	for (long waited = 0; waited < MS_REQUEST_WAIT_NS; waited += ts.tv_nsec) {
		if ((int32_t)(__atomic_load_n(&h->kh_served, __ATOMIC_ACQUIRE) - r) >= 0)
			return;
		nanosleep(&ts, NULL);
	}
}

static int
ms_read_file(struct memory_type_list *list, const char *path, bool refresh)
{
	struct stat sb;
	int fd, error;
	bool rw = refresh;

	fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0 && rw && errno == EACCES) {
		rw = false; /* can read, cannot ask: take what is there */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		list->mtl_error = ms_errno_error(errno);
		return (-1);
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		list->mtl_error = MEMSTAT_ERROR_DATAERROR;
		return (-1);
	}
	uint64_t flen = (uint64_t)sb.st_size;
	if (flen < KMS_HEADER_SIZE) {
		/* Too short for a header: tell "not ours" from "cut short". */
		char magic[8];
		ssize_t n = pread(fd, magic, sizeof(magic), 0);
		close(fd);
		list->mtl_error = n == (ssize_t)sizeof(magic) &&
		    memcmp(magic, KMS_MAGIC, 8) == 0 ? MEMSTAT_ERROR_TRUNCATED :
		    MEMSTAT_ERROR_NOTSTATS;
		return (-1);
	}
	void *p = mmap(NULL, (size_t)flen, rw ? PROT_READ | PROT_WRITE : PROT_READ,
	    MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		list->mtl_error = ms_errno_error(errno);
		return (-1);
	}
	struct kms_header *h = p;
	struct kms_area *a = NULL;
	if ((error = ms_check_header(h, flen)) != 0)
		goto out;
	bool alive = ms_alive(h);
	if (alive && rw)
		ms_request(h);
	if ((error = ms_copy_snapshot(h, &a)) != 0)
		goto out;
	if (mtl_from_area(list, a) != 0) {
		error = list->mtl_error;
		goto out;
	}
	struct memstat_kmem *mk = &list->mtl_kmem;
	mk->mk_pid = h->kh_pid;
	mk->mk_version = h->kh_version;
	mk->mk_state = __atomic_load_n(&h->kh_state, __ATOMIC_ACQUIRE);
	mk->mk_live = alive && mk->mk_state == MEMSTAT_STATE_RUNNING;
	mk->mk_start_ns = h->kh_start_ns;
	size_t len = strnlen(h->kh_command, sizeof(h->kh_command));
	if (len >= sizeof(mk->mk_command))
		len = sizeof(mk->mk_command) - 1;
	memcpy(mk->mk_command, h->kh_command, len);
	mk->mk_command[len] = '\0';
out:
	free(a);
	munmap(p, (size_t)flen);
	if (error != 0) {
		list->mtl_error = error;
		return (-1);
	}
	return (0);
}

int
memstat_file_all(struct memory_type_list *list, const char *path)
{
	if (list == NULL || path == NULL) {
		if (list != NULL)
			list->mtl_error = MEMSTAT_ERROR_NOTFOUND;
		errno = EINVAL;
		return (-1);
	}
	return (ms_read_file(list, path, true));
}

/*
 * Is the statistics file at path missing, or left by an earlier process
 * that had the pid of the live process pid?  (A file of a dead process is
 * not stale: it is what a post-mortem read wants.)
 */
static bool
ms_stale(const char *path, pid_t pid)
{
	struct kms_header h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return (errno == ENOENT);
	ssize_t n = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h.kh_magic, KMS_MAGIC, 8) != 0 ||
	    h.kh_pid != (uint64_t)pid)
		return (false); /* not ours to judge: the read will say what it is */
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return (false); /* the process is gone: post mortem */
	return (!ms_alive(&h));
}

/*
 * Finds, among the files pid maps, its statistics file: a file that starts
 * with the magic and names pid.  0 with the path in out, or an error code.
 */
static int
ms_find_mapped(pid_t pid, char *out, size_t len)
{
	char path[64], line[4096 + 128];
	struct kms_header h;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return (ms_errno_error(errno));
	int error = MEMSTAT_ERROR_NOTFOUND;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "start-end perms offset dev inode   path" */
		char *p = strchr(line, '/');
		char perms[8];
		if (p == NULL || sscanf(line, "%*s %7s", perms) != 1 ||
		    perms[3] != 's')
			continue;
		p[strcspn(p, "\n")] = '\0';
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = pread(fd, &h, sizeof(h), 0);
		close(fd);
		if (n == (ssize_t)sizeof(h) && memcmp(h.kh_magic, KMS_MAGIC, 8) == 0 &&
		    h.kh_pid == (uint64_t)pid && strlen(p) < len) {
			snprintf(out, len, "%s", p);
			error = 0;
			break;
		}
	}
	fclose(f);
	return (error);
}

int
memstat_pid_all(struct memory_type_list *list, pid_t pid)
{
	char path[64];

	if (list == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (pid <= 0) {
		list->mtl_error = MEMSTAT_ERROR_NOTFOUND;
		return (-1);
	}
	snprintf(path, sizeof(path), "/dev/shm/kmem.%d", (int)pid);
	if (!ms_stale(path, pid))
		return (ms_read_file(list, path, true));
	/* Elsewhere (stats_file=PATH): among the files the process maps. */
	char found[4096];
	int error = ms_find_mapped(pid, found, sizeof(found));
	if (error != 0) {
		list->mtl_error = error;
		return (-1);
	}
	return (ms_read_file(list, found, true));
}

int
memstat_get_kmem(const struct memory_type_list *list, struct memstat_kmem *mk)
{
	if (list == NULL || mk == NULL || !list->mtl_have_kmem) {
		if (mk != NULL)
			memset(mk, 0, sizeof(*mk));
		return (-1);
	}
	*mk = list->mtl_kmem;
	return (0);
}

#define GETTER(name, field)                                                \
	uint64_t memstat_get_##name(const struct memory_type *mtp)         \
	{                                                                  \
		return (mtp->field);                                           \
	}

const char *
memstat_get_name(const struct memory_type *mtp)
{
	return (mtp->mt_name);
}

int
memstat_get_allocator(const struct memory_type *mtp)
{
	return (mtp->mt_allocator);
}

int
memstat_get_malloc_backed(const struct memory_type *mtp)
{
	return (mtp->mt_malloc_backed);
}

int
memstat_get_internal(const struct memory_type *mtp)
{
	return (mtp->mt_internal);
}

GETTER(size, mt_size)
GETTER(rsize, mt_rsize)
GETTER(countlimit, mt_countlimit)
GETTER(sizemask, mt_sizemask)
GETTER(numallocs, mt_numallocs)
GETTER(numfrees, mt_numfrees)
GETTER(count, mt_count)
GETTER(bytes, mt_bytes)
GETTER(highbytes, mt_highbytes)
GETTER(free, mt_free)
GETTER(free_cache, mt_free_cache)
GETTER(free_bucket, mt_free_bucket)
GETTER(free_slab, mt_free_slab)
GETTER(failures, mt_failures)
GETTER(sleeps, mt_sleeps)
GETTER(pages, mt_pages)

