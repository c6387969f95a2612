/*
 * memstat.c -- the statistics reader for this process (memstat(3)).
 *
 * A snapshot is taken type by type (each type's figures are consistent;
 * two types may be read a moment apart).  The list grows with calloc(3)
 * outside kmem's locks: the figures are first gathered into a buffer of
 * the size counted beforehand, under the locks, without allocating.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/memstat.h>

#include "../malloc/malloc_int.h"
#include "../uma/uma_stats.h"

struct memory_type {
	char mt_name[MEMTYPE_MAXNAME];
	int mt_allocator;
	int mt_malloc_backed;
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
	case MEMSTAT_ERROR_UNDEFINED:
	default:
		return ("Unknown error");
	}
}

/* Gathering, under kmem's locks, into a buffer sized beforehand. */
struct gather {
	struct memory_type *g_buf;
	size_t g_n, g_cap;
	bool g_short; /* more than g_cap: count again */
};

static struct memory_type *
gather_next(struct gather *g)
{
	if (g->g_n == g->g_cap) {
		g->g_short = true;
		return (NULL);
	}
	struct memory_type *m = &g->g_buf[g->g_n++];
	memset(m, 0, sizeof(*m));
	return (m);
}

static void
gather_type(const struct mt_stats *st, void *arg)
{
	struct memory_type *m = gather_next(arg);

	if (m == NULL)
		return;
	snprintf(m->mt_name, sizeof(m->mt_name), "%s", st->ms_name);
	m->mt_allocator = ALLOCATOR_MALLOC;
	m->mt_sizemask = st->ms_sizemask;
	m->mt_numallocs = st->ms_numallocs;
	m->mt_numfrees = st->ms_numfrees;
	m->mt_count = st->ms_count;
	m->mt_bytes = st->ms_bytes;
	m->mt_highbytes = st->ms_hwm;
	m->mt_failures = st->ms_failures;
}

static void
gather_zone(uma_zone_t zone, void *arg)
{
	struct uma_zone_stats st;
	struct memory_type *m = gather_next(arg);

	if (m == NULL)
		return;
	uma_zone_get_stats(zone, &st);
	snprintf(m->mt_name, sizeof(m->mt_name), "%s", st.zs_name);
	m->mt_allocator = ALLOCATOR_UMA;
	m->mt_malloc_backed = (st.zs_flags & UMA_ZONE_MALLOC) != 0;
	m->mt_size = st.zs_size;
	m->mt_rsize = st.zs_rsize;
	m->mt_countlimit = st.zs_limit;
	m->mt_numallocs = st.zs_requests;
	m->mt_numfrees = st.zs_frees;
	m->mt_count = st.zs_used;
	m->mt_bytes = st.zs_used * st.zs_size;
	m->mt_free = st.zs_free;
	m->mt_free_cache = st.zs_free_cache;
	m->mt_free_bucket = st.zs_free_bucket;
	m->mt_free_slab = st.zs_free_slab;
	m->mt_failures = st.zs_failures;
	m->mt_sleeps = st.zs_sleeps;
	m->mt_pages = st.zs_pages;
}

static void
count_type(const struct mt_stats *st, void *arg)
{
	(void)st;
	(*(size_t *)arg)++;
}

static void
count_zone(uma_zone_t zone, void *arg)
{
	(void)zone;
	(*(size_t *)arg)++;
}

int
memstat_self_all(struct memory_type_list *list)
{
	struct gather g;

	if (list == NULL) {
		errno = EINVAL;
		return (-1);
	}
	for (;;) {
		size_t n = 0;
		mt_foreach(count_type, &n);
		uma_zone_foreach(count_zone, &n);
		n += 8; /* room for types made meanwhile */
		struct memory_type *buf = calloc(n, sizeof(*buf));
		if (buf == NULL) {
			list->mtl_error = MEMSTAT_ERROR_NOMEMORY;
			return (-1);
		}
		g.g_buf = buf;
		g.g_n = 0;
		g.g_cap = n;
		g.g_short = false;
		mt_foreach(gather_type, &g);
		uma_zone_foreach(gather_zone, &g);
		if (g.g_short) {
			free(buf);
			continue;
		}
		free(list->mtl_types);
		list->mtl_types = buf;
		list->mtl_n = g.g_n;
		list->mtl_cap = n;
		for (size_t i = 0; i < g.g_n; i++) {
			buf[i].mt_list = list;
			buf[i].mt_pos = i;
		}
		list->mtl_error = MEMSTAT_ERROR_UNDEFINED;
		return (0);
	}
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

/* ---- other processes and files (the statistics file) -------------------- */

int
memstat_pid_all(struct memory_type_list *list, pid_t pid)
{
	(void)pid;
	if (list != NULL)
		list->mtl_error = MEMSTAT_ERROR_NOTFOUND;
	return (-1);
}

int
memstat_file_all(struct memory_type_list *list, const char *path)
{
	(void)path;
	if (list != NULL)
		list->mtl_error = MEMSTAT_ERROR_NOTFOUND;
	return (-1);
}

int
memstat_get_kmem(const struct memory_type_list *list, struct memstat_kmem *mk)
{
	(void)list;
	memset(mk, 0, sizeof(*mk));
	return (-1);
}
