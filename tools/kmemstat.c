/*
 * kmemstat.c -- vmstat -m and vmstat -z for kmem (kmemstat(1)).
 *
 * 1. What it reads
 *
 *    Only <kmem/memstat.h>: a snapshot of every malloc type
 *    (ALLOCATOR_MALLOC) and zone (ALLOCATOR_UMA) of one process, and the
 *    map figures of that snapshot (memstat_get_kmem), from a live process
 *    (-p) or a statistics file (-M).  ks_sample() is the one place that
 *    reads; ks_run() repeats it (-w, -c) and hands every snapshot to the
 *    mode's consumer (kmemstat.h tells how the modes share this).
 *
 * 2. The tables
 *
 *    -m  FreeBSD's vmstat -m: Type, InUse (blocks in use), MemUse (bytes
 *        in use, in KiB rounded up), Requests (allocations ever), Size(s)
 *        (the kmalloc classes the type ever used, bit c of the sizemask
 *        being class c of ks_class_size[]; bit KS_CLASS_LARGE, allocations
 *        above the largest class taken straight from the map, prints as
 *        "large").  Types never used are left out, as vmstat does.
 *    -z  FreeBSD's vmstat -z: ITEM, SIZE, LIMIT, USED, FREE, REQ, FAIL,
 *        SLEEP, XDOMAIN (always 0: kmem has no NUMA domains), one zone a
 *        row.  The kmalloc zones, whose items in use the malloc types
 *        already count, end their row with " *"; a footnote says so and a
 *        total line adds zones and malloc types without counting those
 *        items twice.
 *    -s  where the whole map is (struct memstat_kmem): every owner with
 *        bytes, a human size and its share of kmem_size, the lines summing
 *        to kmem_size; then in use / idle in zones / reserved / free and
 *        what stopped the process from using the free rest (failures,
 *        the largest free extent).
 *
 *    Rows come in the snapshot's order unless --sort names a column:
 *    numbers sort descending, names ascending, ties by name.
 *
 * 3. JSON (--json)
 *
 *    One document per sample, on one line, with FreeBSD's libxo names:
 *    {"malloc-statistics": {"memory": [{"type", "in-use", "memory-use"
 *    (KiB), "requests", "size": [bytes...], "large": bool}]}},
 *    {"memory-zone-statistics": {"zone": [{"name", "size", "limit",
 *    "used", "free", "requests", "fail", "sleep", "xdomain",
 *    "malloc-backed"}], "total": {...}}} and {"kmem-map-statistics": {...}}
 *    for -s, as many of the three as modes were asked for.  Strings are
 *    escaped as RFC 8259 wants; bytes that are not UTF-8 become U+FFFD.
 *
 * 4. Exit status: KS_EXIT_OK, KS_EXIT_READ (reading failed),
 *    KS_EXIT_USAGE (bad command line, a mode not built in).  Every error
 *    is one line on stderr, "kmemstat: " and what was wrong; usage errors
 *    add the usage line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <kmem/memstat.h>

#include "human.h"
#include "kmemstat.h"
#include "leaks.h"
#include "plot.h"

/*
 * -t comes from kmemstat_top.c: linked in with the kmemstat_top library
 * (tools/top.cmake), which defines KMEMSTAT_HAVE_TOP for whoever links it,
 * or as an object of its own, found through the weak reference.
 */
#ifndef KMEMSTAT_HAVE_TOP
#pragma weak kmemstat_top
#endif

static bool
ks_top_built(void)
{
#ifdef KMEMSTAT_HAVE_TOP
	return (true);
#else
	return (kmemstat_top != NULL);
#endif
}

/* The kmalloc classes, bit c of memstat_get_sizemask() being class c. */
#define KS_NCLASSES 44
#define KS_CLASS_LARGE KS_NCLASSES /* allocations above the classes */
static const uint32_t ks_class_size[KS_NCLASSES] = {
	16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448,
	512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584,
	4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384, 20480,
	24576, 28672, 32768, 40960, 49152, 57344, 65536};

#define KS_MODE_MALLOC 0x1 /* -m */
#define KS_MODE_ZONE 0x2   /* -z */
#define KS_MODE_MAP 0x4    /* -s */

static const char ks_usage_line[] =
    "usage: kmemstat [-mstvz] [--json] [--sort COLUMN] [--leaks] "
    "[--plot FILE.svg] [-w WAIT] [-c COUNT] -p PID | -M FILE\n";

static void ks_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ks_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("kmemstat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
ks_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
ks_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kmemstat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(ks_usage_line, stderr);
	return (KS_EXIT_USAGE);
}

/* ---- the source and the sampling loop ----------------------------------- */

int
ks_sample(struct memory_type_list *list, void *arg)
{
	const struct ks_source *src = arg;

	if (src->ks_path != NULL)
		return (memstat_file_all(list, src->ks_path));
	return (memstat_pid_all(list, src->ks_pid));
}

static int64_t
ks_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static void
ks_sleep_until(int64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000,
		.tv_nsec = deadline_ns % 1000000000,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

int
ks_run(struct ks_source *src, unsigned interval_ms, long count,
    int (*each)(struct memory_type_list *list, unsigned long index,
	int64_t time_ns, void *arg),
    void *arg)
{
	int64_t next = ks_clock_ns(CLOCK_MONOTONIC);

	for (unsigned long i = 0; count < 0 || i < (unsigned long)count; i++) {
		if (i > 0) {
			next += (int64_t)interval_ms * 1000000;
			int64_t now = ks_clock_ns(CLOCK_MONOTONIC);
			if (next < now)
				next = now; /* a slow sample: no catching up */
			ks_sleep_until(next);
		}
		struct memory_type_list *list = memstat_mtl_alloc();
		if (list == NULL) {
			ks_warn("%s: %s", src->ks_label,
			    memstat_strerror(MEMSTAT_ERROR_NOMEMORY));
			return (KS_EXIT_READ);
		}
		int64_t t = ks_clock_ns(CLOCK_REALTIME);
		if (ks_sample(list, src) != 0) {
			ks_warn("%s: %s", src->ks_label,
			    memstat_strerror(memstat_mtl_geterror(list)));
			memstat_mtl_free(list);
			return (KS_EXIT_READ);
		}
		int rc = each(list, i, t, arg);
		if (rc != KS_KEEP)
			memstat_mtl_free(list);
		if (rc < 0)
			return (KS_EXIT_READ);
	}
	return (KS_EXIT_OK);
}

/* ---- columns and sorting ------------------------------------------------- */

enum ks_col {
	KC_NONE,     /* snapshot order */
	KC_NAME,     /* Type / ITEM */
	KC_INUSE,    /* -m InUse */
	KC_MEMUSE,   /* -m MemUse */
	KC_REQUESTS, /* Requests / REQ */
	KC_SIZE,     /* -m largest class used, -z item size */
	KC_LIMIT,    /* -z LIMIT */
	KC_USED,     /* -z USED */
	KC_FREE,     /* -z FREE */
	KC_FAIL,     /* -z FAIL */
	KC_SLEEP,    /* -z SLEEP */
	KC_XDOMAIN,  /* -z XDOMAIN */
};

/* --sort names, with the modes whose tables have the column. */
static const struct ks_colname {
	const char *kc_name;
	enum ks_col kc_col;
	unsigned kc_modes;
} ks_columns[] = {
	{"name", KC_NAME, KS_MODE_MALLOC | KS_MODE_ZONE},
	{"type", KC_NAME, KS_MODE_MALLOC},
	{"inuse", KC_INUSE, KS_MODE_MALLOC},
	{"memuse", KC_MEMUSE, KS_MODE_MALLOC},
	{"requests", KC_REQUESTS, KS_MODE_MALLOC | KS_MODE_ZONE},
	{"size", KC_SIZE, KS_MODE_MALLOC | KS_MODE_ZONE},
	{"item", KC_NAME, KS_MODE_ZONE},
	{"limit", KC_LIMIT, KS_MODE_ZONE},
	{"used", KC_USED, KS_MODE_ZONE},
	{"free", KC_FREE, KS_MODE_ZONE},
	{"req", KC_REQUESTS, KS_MODE_ZONE},
	{"fail", KC_FAIL, KS_MODE_ZONE},
	{"sleep", KC_SLEEP, KS_MODE_ZONE},
	{"xdomain", KC_XDOMAIN, KS_MODE_ZONE},
};
#define KS_NCOLUMNS (sizeof(ks_columns) / sizeof(ks_columns[0]))

/* The column named name, for every mode in modes; KC_NONE if none. */
static enum ks_col
ks_column(const char *name, unsigned modes, unsigned *missing)
{
	for (size_t i = 0; i < KS_NCOLUMNS; i++) {
		if (strcasecmp(name, ks_columns[i].kc_name) != 0)
			continue;
		*missing = modes & ~ks_columns[i].kc_modes;
		if (*missing == 0)
			return (ks_columns[i].kc_col);
	}
	*missing = modes & (KS_MODE_MALLOC | KS_MODE_ZONE);
	for (size_t i = 0; i < KS_NCOLUMNS; i++)
		if (strcasecmp(name, ks_columns[i].kc_name) == 0)
			*missing &= ~ks_columns[i].kc_modes;
	return (KC_NONE);
}

/* The columns of each table, as the --sort error lists them. */
static const char ks_malloc_columns[] =
    "name (or type), inuse, memuse, requests, size";
static const char ks_zone_columns[] =
    "name (or item), size, limit, used, free, req (or requests), fail, "
    "sleep, xdomain";

/* The largest class a type used (large above all), for -m's size. */
static uint64_t
ks_malloc_maxsize(const struct memory_type *mtp)
{
	uint64_t mask = memstat_get_sizemask(mtp);

	if (mask & (UINT64_C(1) << KS_CLASS_LARGE))
		return (UINT64_MAX);
	for (int c = KS_NCLASSES - 1; c >= 0; c--)
		if (mask & (UINT64_C(1) << c))
			return (ks_class_size[c]);
	return (0);
}

static uint64_t
ks_col_value(const struct memory_type *mtp, enum ks_col col)
{
	switch (col) {
	case KC_INUSE:
	case KC_USED:
		return (memstat_get_count(mtp));
	case KC_MEMUSE:
		return (memstat_get_bytes(mtp));
	case KC_REQUESTS:
		return (memstat_get_numallocs(mtp));
	case KC_SIZE:
		return (memstat_get_allocator(mtp) == ALLOCATOR_MALLOC ?
			ks_malloc_maxsize(mtp) : memstat_get_size(mtp));
	case KC_LIMIT:
		return (memstat_get_countlimit(mtp));
	case KC_FREE:
		return (memstat_get_free(mtp));
	case KC_FAIL:
		return (memstat_get_failures(mtp));
	case KC_SLEEP:
		return (memstat_get_sleeps(mtp));
	case KC_NONE:
	case KC_NAME:
	case KC_XDOMAIN:
	default:
		return (0);
	}
}

struct ks_row {
	struct memory_type *kr_mtp;
	size_t kr_pos; /* in the snapshot */
};

static enum ks_col ks_sort_col; /* for ks_row_cmp */

static int
ks_row_cmp(const void *a, const void *b)
{
	const struct ks_row *x = a, *y = b;

	if (ks_sort_col != KC_NONE && ks_sort_col != KC_NAME) {
		uint64_t vx = ks_col_value(x->kr_mtp, ks_sort_col);
		uint64_t vy = ks_col_value(y->kr_mtp, ks_sort_col);
		if (vx != vy)
			return (vx > vy ? -1 : 1);
	}
	if (ks_sort_col != KC_NONE) {
		int c = strcmp(memstat_get_name(x->kr_mtp),
		    memstat_get_name(y->kr_mtp));
		if (c != 0)
			return (c);
	}
	return (x->kr_pos < y->kr_pos ? -1 : x->kr_pos > y->kr_pos);
}

/*
 * The types of allocator in list, sorted by col, in a calloc'd array
 * (*np rows), or NULL with *np 0 if there are none or memory ran out
 * (*oom set).
 */
static struct ks_row *
ks_rows(struct memory_type_list *list, int allocator, enum ks_col col,
    size_t *np, bool *oom)
{
	struct memory_type *mtp;
	struct ks_row *rows;
	size_t n = 0, pos = 0;

	*oom = false;
	*np = 0;
	for (mtp = memstat_mtl_first(list); mtp != NULL;
	    mtp = memstat_mtl_next(mtp))
		if (memstat_get_allocator(mtp) == allocator)
			n++;
	if (n == 0)
		return (NULL);
	rows = calloc(n, sizeof(*rows));
	if (rows == NULL) {
		*oom = true;
		return (NULL);
	}
	n = 0;
	for (mtp = memstat_mtl_first(list); mtp != NULL;
	    mtp = memstat_mtl_next(mtp), pos++) {
		if (memstat_get_allocator(mtp) != allocator)
			continue;
		rows[n].kr_mtp = mtp;
		rows[n].kr_pos = pos;
		n++;
	}
	ks_sort_col = col;
	qsort(rows, n, sizeof(*rows), ks_row_cmp);
	*np = n;
	return (rows);
}

/* ---- text ---------------------------------------------------------------- */

/* Bytes of the UTF-8 sequence at p, or 0 if it is not valid UTF-8. */
static int
ks_utf8_len(const unsigned char *p)
{
	uint32_t cp;
	int n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return (0);
	}
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return (0);
	return (n);
}

/*
 * name with control characters and bytes that are not UTF-8 shown as '?',
 * so that a row stays one row of text.
 */
static const char *
ks_printable(const char *name, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0;

	while (*p != '\0' && i + 1 < len) {
		int n = *p < 0x80 ? 1 : ks_utf8_len(p);
		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			buf[i++] = '?';
			p++;
		} else if (i + (size_t)n < len) {
			memmove(buf + i, p, (size_t)n);
			i += (size_t)n;
			p += n;
		} else {
			break;
		}
	}
	buf[i] = '\0';
	return (buf);
}

/* Sizes as kmem_report() writes them: "512 B", "8.00 MiB", "80.0 MiB". */
static void
ks_human(char *buf, size_t len, uint64_t v)
{
	tool_human(buf, len, v);
}

static double
ks_pct(uint64_t part, uint64_t whole)
{
	return (whole != 0 ? 100.0 * (double)part / (double)whole : 0.0);
}

static bool
ks_malloc_shown(const struct memory_type *mtp)
{
	return (memstat_get_numallocs(mtp) != 0 || memstat_get_count(mtp) != 0);
}

static void
ks_text_malloc(const struct ks_row *rows, size_t n)
{
	char name[MEMTYPE_MAXNAME + 1];

	printf("%13s %5s %6s %8s  Size(s)\n", "Type", "InUse", "MemUse",
	    "Requests");
	for (size_t i = 0; i < n; i++) {
		const struct memory_type *mtp = rows[i].kr_mtp;
		if (!ks_malloc_shown(mtp))
			continue;
		printf("%13s %5" PRIu64 " %5" PRIu64 "K %8" PRIu64 "  ",
		    ks_printable(memstat_get_name(mtp), name, sizeof(name)),
		    memstat_get_count(mtp),
		    (memstat_get_bytes(mtp) + 1023) / 1024,
		    memstat_get_numallocs(mtp));
		uint64_t mask = memstat_get_sizemask(mtp);
		bool first = true;
		for (int c = 0; c <= KS_CLASS_LARGE; c++) {
			if ((mask & (UINT64_C(1) << c)) == 0)
				continue;
			if (!first)
				putchar(',');
			if (c == KS_CLASS_LARGE)
				fputs("large", stdout);
			else
				printf("%" PRIu32, ks_class_size[c]);
			first = false;
		}
		putchar('\n');
	}
}

/* What -z's total line and JSON total say. */
struct ks_zone_total {
	uint64_t zt_zone_bytes;   /* items in use, zones not kmalloc zones */
	uint64_t zt_malloc_bytes; /* bytes in use, malloc types */
	uint64_t zt_free_bytes;   /* free items, every zone */
	bool zt_backed;           /* a kmalloc zone was listed */
};

static void
ks_zone_total(struct memory_type_list *list, struct ks_zone_total *zt)
{
	memset(zt, 0, sizeof(*zt));
	for (struct memory_type *mtp = memstat_mtl_first(list); mtp != NULL;
	    mtp = memstat_mtl_next(mtp)) {
		if (memstat_get_allocator(mtp) == ALLOCATOR_MALLOC) {
			zt->zt_malloc_bytes += memstat_get_bytes(mtp);
			continue;
		}
		if (memstat_get_allocator(mtp) != ALLOCATOR_UMA)
			continue;
		zt->zt_free_bytes += memstat_get_free(mtp) * memstat_get_size(mtp);
		if (memstat_get_malloc_backed(mtp))
			zt->zt_backed = true;
		else
			zt->zt_zone_bytes += memstat_get_bytes(mtp);
	}
}

static void
ks_text_zone(const struct ks_row *rows, size_t n,
    const struct ks_zone_total *zt)
{
	char name[MEMTYPE_MAXNAME + 2], pname[MEMTYPE_MAXNAME + 1];
	char h1[32], h2[32];

	printf("%-20s %6s %6s %8s %8s %8s %8s %4s %4s\n", "ITEM", "SIZE",
	    "LIMIT", "USED", "FREE", "REQ", "FAIL", "SLEEP", "XDOMAIN");
	for (size_t i = 0; i < n; i++) {
		const struct memory_type *mtp = rows[i].kr_mtp;
		snprintf(name, sizeof(name), "%s:",
		    ks_printable(memstat_get_name(mtp), pname, sizeof(pname)));
		printf("%-20s %6" PRIu64 ", %6" PRIu64 ",%8" PRIu64 ",%8" PRIu64
		       ",%8" PRIu64 ",%4" PRIu64 ",%4" PRIu64 ",%4u%s\n",
		    name, memstat_get_size(mtp), memstat_get_countlimit(mtp),
		    memstat_get_count(mtp), memstat_get_free(mtp),
		    memstat_get_numallocs(mtp), memstat_get_failures(mtp),
		    memstat_get_sleeps(mtp), 0u,
		    memstat_get_malloc_backed(mtp) ? " *" : "");
	}
	putchar('\n');
	if (zt->zt_backed)
		printf("* kmalloc zone: its items in use are counted by the "
		       "malloc types (-m)\n");
	uint64_t used = zt->zt_zone_bytes + zt->zt_malloc_bytes;
	ks_human(h1, sizeof(h1), used);
	ks_human(h2, sizeof(h2), zt->zt_free_bytes);
	printf("Total: %" PRIu64 " bytes (%s) in use = zones %" PRIu64
	       " + malloc types %" PRIu64 "; %" PRIu64 " bytes (%s) free in "
	       "zones\n",
	    used, h1, zt->zt_zone_bytes, zt->zt_malloc_bytes,
	    zt->zt_free_bytes, h2);
}

static const char *
ks_state_name(uint64_t state)
{
	switch (state) {
	case MEMSTAT_STATE_RUNNING:
		return ("running");
	case MEMSTAT_STATE_EXITED:
		return ("exited");
	case MEMSTAT_STATE_FATAL:
		return ("aborted by kmem");
	default:
		return ("in an unknown state");
	}
}

static void
ks_map_line(const char *label, uint64_t bytes, uint64_t total)
{
	char h[32];

	ks_human(h, sizeof(h), bytes);
	printf("%-24s %16" PRIu64 " %10s %6.1f%%\n", label, bytes, h,
	    ks_pct(bytes, total));
}

static void
ks_map_sum(const char *label, uint64_t bytes, uint64_t total,
    const char *what)
{
	char h[32];

	ks_human(h, sizeof(h), bytes);
	printf("%-24s %16" PRIu64 " %10s %6.1f%%  %s\n", label, bytes, h,
	    ks_pct(bytes, total), what);
}

static void
ks_text_map(const struct memstat_kmem *mk)
{
	uint64_t size = mk->mk_size;
	uint64_t mall = mk->mk_malloc + mk->mk_large;
	uint64_t zones = mk->mk_zone_used + mk->mk_zone_cached +
	    mk->mk_zone_slabfree;
	uint64_t inuse = mall + mk->mk_zone_used + mk->mk_direct;
	uint64_t idle = mk->mk_zone_cached + mk->mk_zone_slabfree;
	uint64_t reserved = mk->mk_submaps + mk->mk_meta;
	uint64_t sum = inuse + idle + reserved + mk->mk_free;
	char cmd[sizeof(mk->mk_command) + 1], when[64], h1[32], h2[32];

	memcpy(cmd, mk->mk_command, sizeof(mk->mk_command));
	cmd[sizeof(mk->mk_command)] = '\0';
	ks_printable(cmd, cmd, sizeof(cmd));
	printf("kmem map of pid %" PRIu64 " (%s), %s%s\n", mk->mk_pid, cmd,
	    ks_state_name(mk->mk_state),
	    mk->mk_state != MEMSTAT_STATE_RUNNING ? "" :
	    mk->mk_live ? ", alive" : ", process gone");
	if (mk->mk_time_ns > 0) {
		time_t t = (time_t)(mk->mk_time_ns / 1000000000);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", &tm);
	} else {
		snprintf(when, sizeof(when), "at an unknown time");
	}
	ks_human(h1, sizeof(h1), size);
	printf("snapshot taken %s (generation %" PRIu64 "); kmem_size %" PRIu64
	       " (%s), page size %" PRIu64 "\n",
	    when, mk->mk_generation, size, h1, mk->mk_pagesize);
	printf("%-24s %16s %10s %7s\n", "owner", "bytes", "", "share");
	ks_map_line("malloc types", mall, size);
	ks_map_line("  kmalloc blocks", mk->mk_malloc, size);
	ks_map_line("  large allocations", mk->mk_large, size);
	ks_map_line("zones", zones, size);
	ks_map_line("  items in use", mk->mk_zone_used, size);
	ks_map_line("  free items in caches", mk->mk_zone_cached, size);
	ks_map_line("  free slab space", mk->mk_zone_slabfree, size);
	ks_map_line("kmem_malloc pages", mk->mk_direct, size);
	ks_map_line("submaps", mk->mk_submaps, size);
	ks_map_line("metadata", mk->mk_meta, size);
	ks_map_line("free", mk->mk_free, size);
	if (sum < size)
		ks_map_line("unaccounted", size - sum, size);
	else if (sum > size)
		ks_map_line("counted twice", sum - size, size);
	ks_map_line("total (kmem_size)", size, size);
	if (sum != size)
		printf("(the figures do not add up to kmem_size: the snapshot "
		       "was taken while the map changed)\n");

	putchar('\n');
	ks_map_sum("in use", inuse, size,
	    "malloc types, zone items, kmem_malloc pages");
	ks_map_sum("idle in zones", idle, size,
	    "free items cached or in slabs");
	ks_map_sum("reserved", reserved, size, "submaps, metadata");
	ks_human(h1, sizeof(h1), mk->mk_maxfree);
	char what[96];
	snprintf(what, sizeof(what), "in %" PRIu64 " extent%s, the largest %s",
	    mk->mk_nfree, mk->mk_nfree == 1 ? "" : "s", h1);
	ks_map_sum("free", mk->mk_free, size, what);

	putchar('\n');
	printf("map requests: %" PRIu64 " failed, %" PRIu64
	       " waited for space\n",
	    mk->mk_failures, mk->mk_waits);
	if (idle != 0) {
		ks_human(h1, sizeof(h1), idle);
		printf("zones hold %s of free items and slab space that nobody "
		       "uses; uma_reclaim() gives it back to the map\n",
		    h1);
	}
	if (mk->mk_free != 0 && mk->mk_maxfree < mk->mk_free) {
		ks_human(h1, sizeof(h1), mk->mk_maxfree);
		ks_human(h2, sizeof(h2), mk->mk_free);
		printf("free space is fragmented (%.1f%%): no request above %s "
		       "fits, although %s are free\n",
		    100.0 * (1.0 - (double)mk->mk_maxfree / (double)mk->mk_free),
		    h1, h2);
	}
}

/* ---- JSON ---------------------------------------------------------------- */

/* A compact JSON writer: commas between members, nothing else to know. */
#define KS_JSON_DEPTH 8
struct ks_json {
	FILE *j_out;
	int j_depth;
	bool j_first[KS_JSON_DEPTH];
};

static void
ks_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', out);
	while (*p != '\0') {
		unsigned c = *p;
		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc((int)c, out);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\b': fputs("\\b", out); break;
			case '\f': fputs("\\f", out); break;
			case '\n': fputs("\\n", out); break;
			case '\r': fputs("\\r", out); break;
			case '\t': fputs("\\t", out); break;
			default: fprintf(out, "\\u%04x", c); break;
			}
			p++;
		} else if (c < 0x80) {
			putc((int)c, out);
			p++;
		} else {
			int n = ks_utf8_len(p);
			if (n == 0) {
				fputs("\\ufffd", out);
				p++;
			} else {
				fwrite(p, 1, (size_t)n, out);
				p += n;
			}
		}
	}
	putc('"', out);
}

static void
ks_json_key(struct ks_json *j, const char *key)
{
	if (!j->j_first[j->j_depth])
		putc(',', j->j_out);
	j->j_first[j->j_depth] = false;
	if (key != NULL) {
		ks_json_string(j->j_out, key);
		putc(':', j->j_out);
	}
}

static void
ks_json_open(struct ks_json *j, const char *key, char brace)
{
	ks_json_key(j, key);
	putc(brace, j->j_out);
	j->j_depth++;
	j->j_first[j->j_depth] = true;
}

static void
ks_json_close(struct ks_json *j, char brace)
{
	putc(brace, j->j_out);
	j->j_depth--;
}

static void
ks_json_u64(struct ks_json *j, const char *key, uint64_t v)
{
	ks_json_key(j, key);
	fprintf(j->j_out, "%" PRIu64, v);
}

static void
ks_json_i64(struct ks_json *j, const char *key, int64_t v)
{
	ks_json_key(j, key);
	fprintf(j->j_out, "%" PRId64, v);
}

static void
ks_json_bool(struct ks_json *j, const char *key, bool v)
{
	ks_json_key(j, key);
	fputs(v ? "true" : "false", j->j_out);
}

static void
ks_json_str(struct ks_json *j, const char *key, const char *s)
{
	ks_json_key(j, key);
	ks_json_string(j->j_out, s);
}

static void
ks_json_malloc(struct ks_json *j, const struct ks_row *rows, size_t n)
{
	ks_json_open(j, "malloc-statistics", '{');
	ks_json_open(j, "memory", '[');
	for (size_t i = 0; i < n; i++) {
		const struct memory_type *mtp = rows[i].kr_mtp;
		if (!ks_malloc_shown(mtp))
			continue;
		uint64_t mask = memstat_get_sizemask(mtp);
		ks_json_open(j, NULL, '{');
		ks_json_str(j, "type", memstat_get_name(mtp));
		ks_json_u64(j, "in-use", memstat_get_count(mtp));
		ks_json_u64(j, "memory-use", (memstat_get_bytes(mtp) + 1023) / 1024);
		ks_json_u64(j, "requests", memstat_get_numallocs(mtp));
		ks_json_open(j, "size", '[');
		for (int c = 0; c < KS_NCLASSES; c++)
			if (mask & (UINT64_C(1) << c))
				ks_json_u64(j, NULL, ks_class_size[c]);
		ks_json_close(j, ']');
		ks_json_bool(j, "large",
		    (mask & (UINT64_C(1) << KS_CLASS_LARGE)) != 0);
		ks_json_close(j, '}');
	}
	ks_json_close(j, ']');
	ks_json_close(j, '}');
}

static void
ks_json_zone(struct ks_json *j, const struct ks_row *rows, size_t n,
    const struct ks_zone_total *zt)
{
	ks_json_open(j, "memory-zone-statistics", '{');
	ks_json_open(j, "zone", '[');
	for (size_t i = 0; i < n; i++) {
		const struct memory_type *mtp = rows[i].kr_mtp;
		ks_json_open(j, NULL, '{');
		ks_json_str(j, "name", memstat_get_name(mtp));
		ks_json_u64(j, "size", memstat_get_size(mtp));
		ks_json_u64(j, "limit", memstat_get_countlimit(mtp));
		ks_json_u64(j, "used", memstat_get_count(mtp));
		ks_json_u64(j, "free", memstat_get_free(mtp));
		ks_json_u64(j, "requests", memstat_get_numallocs(mtp));
		ks_json_u64(j, "fail", memstat_get_failures(mtp));
		ks_json_u64(j, "sleep", memstat_get_sleeps(mtp));
		ks_json_u64(j, "xdomain", 0);
		ks_json_bool(j, "malloc-backed", memstat_get_malloc_backed(mtp));
		ks_json_close(j, '}');
	}
	ks_json_close(j, ']');
	ks_json_open(j, "total", '{');
	ks_json_u64(j, "used-bytes", zt->zt_zone_bytes + zt->zt_malloc_bytes);
	ks_json_u64(j, "zone-bytes", zt->zt_zone_bytes);
	ks_json_u64(j, "malloc-bytes", zt->zt_malloc_bytes);
	ks_json_u64(j, "free-bytes", zt->zt_free_bytes);
	ks_json_close(j, '}');
	ks_json_close(j, '}');
}

static void
ks_json_map(struct ks_json *j, const struct memstat_kmem *mk)
{
	char cmd[sizeof(mk->mk_command) + 1];

	memcpy(cmd, mk->mk_command, sizeof(mk->mk_command));
	cmd[sizeof(mk->mk_command)] = '\0';
	ks_json_open(j, "kmem-map-statistics", '{');
	ks_json_u64(j, "pid", mk->mk_pid);
	ks_json_str(j, "command", cmd);
	ks_json_str(j, "state", mk->mk_state == MEMSTAT_STATE_RUNNING ? "running" :
	    mk->mk_state == MEMSTAT_STATE_EXITED ? "exited" :
	    mk->mk_state == MEMSTAT_STATE_FATAL ? "fatal" : "unknown");
	ks_json_bool(j, "live", mk->mk_live != 0);
	ks_json_i64(j, "start-time-ns", mk->mk_start_ns);
	ks_json_i64(j, "time-ns", mk->mk_time_ns);
	ks_json_u64(j, "generation", mk->mk_generation);
	ks_json_u64(j, "kmem-size", mk->mk_size);
	ks_json_u64(j, "page-size", mk->mk_pagesize);
	ks_json_u64(j, "malloc", mk->mk_malloc);
	ks_json_u64(j, "large", mk->mk_large);
	ks_json_u64(j, "zone-used", mk->mk_zone_used);
	ks_json_u64(j, "zone-cached", mk->mk_zone_cached);
	ks_json_u64(j, "zone-slab-free", mk->mk_zone_slabfree);
	ks_json_u64(j, "direct", mk->mk_direct);
	ks_json_u64(j, "submaps", mk->mk_submaps);
	ks_json_u64(j, "metadata", mk->mk_meta);
	ks_json_u64(j, "free", mk->mk_free);
	ks_json_u64(j, "largest-free", mk->mk_maxfree);
	ks_json_u64(j, "free-extents", mk->mk_nfree);
	ks_json_u64(j, "failures", mk->mk_failures);
	ks_json_u64(j, "waits", mk->mk_waits);
	ks_json_close(j, '}');
}

/* ---- one sample, as tables or JSON --------------------------------------- */

struct ks_opts {
	unsigned ko_modes;      /* KS_MODE_* */
	bool ko_json;           /* --json */
	enum ks_col ko_sort;    /* --sort */
	bool ko_top;            /* -t */
	bool ko_leaks;          /* --leaks */
	bool ko_verbose;        /* -v: --leaks judges every series aloud */
	const char *ko_plot;    /* --plot FILE.svg */
	unsigned ko_interval_ms; /* -w, 0: not given */
	long ko_count;          /* -c, 0: not given */
	struct ks_source ko_src; /* -p / -M */
};

static int
ks_print_sample(struct memory_type_list *list, unsigned long index,
    int64_t time_ns, void *arg)
{
	const struct ks_opts *o = arg;
	struct memstat_kmem mk;
	struct ks_row *mrows = NULL, *zrows = NULL;
	size_t nm = 0, nz = 0;
	struct ks_zone_total zt;
	bool oom = false;

	(void)time_ns;
	if ((o->ko_modes & KS_MODE_MAP) && memstat_get_kmem(list, &mk) != 0) {
		ks_warn("%s: no map figures in the statistics",
		    o->ko_src.ks_label);
		return (-1);
	}
	if (o->ko_modes & KS_MODE_MALLOC)
		mrows = ks_rows(list, ALLOCATOR_MALLOC, o->ko_sort, &nm, &oom);
	if (!oom && (o->ko_modes & KS_MODE_ZONE)) {
		zrows = ks_rows(list, ALLOCATOR_UMA, o->ko_sort, &nz, &oom);
		ks_zone_total(list, &zt);
	}
	if (oom) {
		free(mrows);
		ks_warn("%s: %s", o->ko_src.ks_label,
		    memstat_strerror(MEMSTAT_ERROR_NOMEMORY));
		return (-1);
	}

	if (o->ko_json) {
		struct ks_json j = {.j_out = stdout, .j_depth = 0};
		j.j_first[0] = true;
		ks_json_open(&j, NULL, '{');
		if (o->ko_modes & KS_MODE_MALLOC)
			ks_json_malloc(&j, mrows, nm);
		if (o->ko_modes & KS_MODE_ZONE)
			ks_json_zone(&j, zrows, nz, &zt);
		if (o->ko_modes & KS_MODE_MAP)
			ks_json_map(&j, &mk);
		ks_json_close(&j, '}');
		putchar('\n');
	} else {
		bool gap = index > 0;
		if (o->ko_modes & KS_MODE_MALLOC) {
			if (gap)
				putchar('\n');
			ks_text_malloc(mrows, nm);
			gap = true;
		}
		if (o->ko_modes & KS_MODE_ZONE) {
			if (gap)
				putchar('\n');
			ks_text_zone(zrows, nz, &zt);
			gap = true;
		}
		if (o->ko_modes & KS_MODE_MAP) {
			if (gap)
				putchar('\n');
			ks_text_map(&mk);
		}
	}
	free(mrows);
	free(zrows);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ks_warn("standard output: %s", strerror(errno));
		return (-1);
	}
	return (KS_DONE);
}

/* ---- --leaks and --plot: a series of samples ----------------------------- */

#define KS_TREND_COUNT 10 /* samples when -c is not given */
#define KS_PLOT_LINES 8   /* --plot: the largest series, leaks besides */
#define KS_PLOT_LEAKS 16  /* --plot: at most this many leaks */
#define KS_VERDICT_NAMES 3 /* the verdict line names this many leaks */

/* The memory of one malloc type or zone over the samples. */
struct ks_series {
	const char *se_name;     /* in the list of its first sample */
	int se_allocator;        /* ALLOCATOR_MALLOC or ALLOCATOR_UMA */
	double *se_y;            /* bytes in use per sample; NaN: not there */
	double se_now;           /* the last sample it is in */
	double se_peak;          /* the largest */
};

struct ks_trend {
	const struct ks_opts *tr_o;
	struct memory_type_list **tr_lists; /* the samples kept */
	int64_t *tr_ns;          /* when each was taken, CLOCK_REALTIME */
	size_t tr_n, tr_cap;
	uint64_t tr_gen;         /* the generation of the last one kept */
	bool tr_stopped;         /* ks_trend_keep() stopped the loop */
	bool tr_have_mk;         /* tr_mk is filled in */
	struct memstat_kmem tr_mk; /* the map figures of the first sample */
	double *tr_t;            /* seconds since the first sample */
	struct ks_series *tr_s;  /* the series, sorted by allocator, name */
	size_t tr_ns_series;
	struct leak_verdict *tr_v; /* a verdict per series */
	double *tr_peak;         /* se_peak per series, for leak_rank() */
	size_t *tr_order;        /* leak_rank() */
	size_t tr_types, tr_zones; /* series of each kind */
	size_t tr_leaks;         /* series leaking */
};

/*
 * ks_run()'s callback: keeps every new snapshot.  A snapshot the process
 * did not renew (same generation as the last one: it did not answer in
 * time) adds nothing and is dropped; a file whose process is gone holds
 * one snapshot for ever, which cannot show a trend, and stops the loop.
 */
static int
ks_trend_keep(struct memory_type_list *list, unsigned long index,
    int64_t time_ns, void *arg)
{
	struct ks_trend *tr = arg;
	struct memstat_kmem mk;
	bool have = memstat_get_kmem(list, &mk) == 0;

	if (index == 0 && have) {
		tr->tr_mk = mk;
		tr->tr_have_mk = true;
		if (!mk.mk_live) {
			char cmd[sizeof(mk.mk_command) + 1];
			memcpy(cmd, mk.mk_command, sizeof(mk.mk_command));
			cmd[sizeof(mk.mk_command)] = '\0';
			ks_printable(cmd, cmd, sizeof(cmd));
			ks_warn("%s: the last snapshot of pid %" PRIu64 " (%s), "
			    "which is gone: one snapshot cannot show a trend; "
			    "watch a live process (-p PID)",
			    tr->tr_o->ko_src.ks_label, mk.mk_pid, cmd);
			tr->tr_stopped = true;
			return (-1);
		}
	}
	if (have && tr->tr_n > 0 && mk.mk_generation == tr->tr_gen)
		return (KS_DONE);
	if (tr->tr_n == tr->tr_cap) {
		size_t cap = tr->tr_cap == 0 ? 64 : 2 * tr->tr_cap;
		void *l = realloc(tr->tr_lists, cap * sizeof(*tr->tr_lists));
		if (l != NULL)
			tr->tr_lists = l;
		void *t = l == NULL ? NULL :
		    realloc(tr->tr_ns, cap * sizeof(*tr->tr_ns));
		if (t == NULL) {
			ks_warn("%s: %s", tr->tr_o->ko_src.ks_label,
			    memstat_strerror(MEMSTAT_ERROR_NOMEMORY));
			tr->tr_stopped = true;
			return (-1);
		}
		tr->tr_ns = t;
		tr->tr_cap = cap;
	}
	tr->tr_lists[tr->tr_n] = list;
	tr->tr_ns[tr->tr_n] = have && mk.mk_time_ns > 0 ? mk.mk_time_ns :
	    time_ns;
	if (tr->tr_n > 0 && tr->tr_ns[tr->tr_n] < tr->tr_ns[tr->tr_n - 1])
		tr->tr_ns[tr->tr_n] = tr->tr_ns[tr->tr_n - 1];
	tr->tr_n++;
	if (have)
		tr->tr_gen = mk.mk_generation;
	return (KS_KEEP);
}

static void
ks_trend_free(struct ks_trend *tr)
{
	for (size_t i = 0; i < tr->tr_n; i++)
		memstat_mtl_free(tr->tr_lists[i]);
	for (size_t i = 0; i < tr->tr_ns_series; i++)
		free(tr->tr_s[i].se_y);
	free(tr->tr_lists);
	free(tr->tr_ns);
	free(tr->tr_t);
	free(tr->tr_s);
	free(tr->tr_v);
	free(tr->tr_peak);
	free(tr->tr_order);
}

/* Is mtp one of the series: a malloc type, or a zone of the program's? */
static bool
ks_trend_wanted(const struct ks_opts *o, const struct memory_type *mtp)
{
	switch (memstat_get_allocator(mtp)) {
	case ALLOCATOR_MALLOC:
		return (o->ko_modes == 0 || (o->ko_modes & KS_MODE_MALLOC));
	case ALLOCATOR_UMA:
		/*
		 * A kmalloc zone's blocks are the malloc types' memory; kmem's
		 * own zones (buckets, slab headers) grow with the zones they
		 * serve.  Neither is where a leak is.
		 */
		return ((o->ko_modes == 0 || (o->ko_modes & KS_MODE_ZONE)) &&
		    !memstat_get_malloc_backed(mtp) && !memstat_get_internal(mtp));
	default:
		return (false);
	}
}

static double
ks_trend_bytes(const struct memory_type *mtp)
{
	if (memstat_get_allocator(mtp) == ALLOCATOR_MALLOC)
		return ((double)memstat_get_bytes(mtp));
	return ((double)memstat_get_count(mtp) * (double)memstat_get_size(mtp));
}

static int
ks_series_cmp(const void *a, const void *b)
{
	const struct ks_series *x = a, *y = b;

	if (x->se_allocator != y->se_allocator)
		return (x->se_allocator < y->se_allocator ? -1 : 1);
	return (strcmp(x->se_name, y->se_name));
}

/*
 * The series of every type and zone seen in any sample, each judged by
 * leak_assess() and ranked by leak_rank().  Returns 0, or -1 when memory
 * ran out.
 */
static int
ks_trend_judge(struct ks_trend *tr)
{
	size_t n = tr->tr_n, ns = 0, cap = 0;
	struct ks_series *s = NULL;

	tr->tr_t = calloc(n, sizeof(*tr->tr_t));
	if (tr->tr_t == NULL)
		return (-1);
	for (size_t i = 0; i < n; i++)
		tr->tr_t[i] = (double)(tr->tr_ns[i] - tr->tr_ns[0]) / 1e9;

	/* Every name, once. */
	for (size_t i = 0; i < n; i++) {
		for (struct memory_type *mtp = memstat_mtl_first(tr->tr_lists[i]);
		    mtp != NULL; mtp = memstat_mtl_next(mtp)) {
			if (!ks_trend_wanted(tr->tr_o, mtp))
				continue;
			if (ns == cap) {
				cap = cap == 0 ? 64 : 2 * cap;
				void *p = realloc(s, cap * sizeof(*s));
				if (p == NULL) {
					free(s);
					return (-1);
				}
				s = p;
			}
			s[ns++] = (struct ks_series){
				.se_name = memstat_get_name(mtp),
				.se_allocator = memstat_get_allocator(mtp),
			};
		}
	}
	if (ns > 0)
		qsort(s, ns, sizeof(*s), ks_series_cmp);
	size_t u = 0;
	for (size_t i = 0; i < ns; i++)
		if (u == 0 || ks_series_cmp(&s[u - 1], &s[i]) != 0)
			s[u++] = s[i];
	tr->tr_s = s;
	tr->tr_ns_series = u;

	/* Their values. */
	for (size_t k = 0; k < u; k++) {
		s[k].se_y = malloc(n * sizeof(*s[k].se_y));
		if (s[k].se_y == NULL) {
			tr->tr_ns_series = k;
			return (-1);
		}
		for (size_t i = 0; i < n; i++)
			s[k].se_y[i] = NAN;
		s[k].se_now = s[k].se_peak = 0.0;
	}
	for (size_t i = 0; i < n; i++) {
		for (struct memory_type *mtp = memstat_mtl_first(tr->tr_lists[i]);
		    mtp != NULL; mtp = memstat_mtl_next(mtp)) {
			if (!ks_trend_wanted(tr->tr_o, mtp))
				continue;
			struct ks_series key = {
				.se_name = memstat_get_name(mtp),
				.se_allocator = memstat_get_allocator(mtp),
			};
			struct ks_series *se = bsearch(&key, s, u, sizeof(*s),
			    ks_series_cmp);
			if (se == NULL)
				continue;
			double y = ks_trend_bytes(mtp);
			se->se_y[i] = y;
			se->se_now = y;
			if (y > se->se_peak)
				se->se_peak = y;
		}
	}

	/* The verdicts and the order. */
	tr->tr_v = calloc(u + 1, sizeof(*tr->tr_v));
	tr->tr_peak = calloc(u + 1, sizeof(*tr->tr_peak));
	tr->tr_order = calloc(u + 1, sizeof(*tr->tr_order));
	if (tr->tr_v == NULL || tr->tr_peak == NULL || tr->tr_order == NULL)
		return (-1);
	for (size_t k = 0; k < u; k++) {
		leak_assess(tr->tr_t, s[k].se_y, n, &tr->tr_v[k]);
		tr->tr_peak[k] = s[k].se_peak;
		if (s[k].se_allocator == ALLOCATOR_MALLOC)
			tr->tr_types++;
		else
			tr->tr_zones++;
		if (tr->tr_v[k].leaking)
			tr->tr_leaks++;
	}
	leak_rank(tr->tr_v, tr->tr_peak, u, tr->tr_order);
	return (0);
}

/* Bytes as -t shows them: "512B", "12.3K", "4.0M"; sign: "+" if above 0. */
static void
ks_bytes_short(char *buf, size_t len, double v, bool sign)
{
	static const char unit[] = "KMGTPE";
	double a = fabs(v);
	const char *sg = v < 0 ? "-" : sign && v > 0 ? "+" : "";
	int u = -1;

	if (!isfinite(v)) {
		snprintf(buf, len, "-");
		return;
	}
	while (a >= 1023.95 && u < 5) {
		a /= 1024.0;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%s%.0fB", sg, a);
	else
		snprintf(buf, len, "%s%.1f%c", sg, a, unit[u]);
}

/* Confidence with three decimals, cut rather than rounded up to 1.000. */
static double
ks_conf3(double c)
{
	return (floor(c * 1000.0) / 1000.0);
}

static const char *
ks_kind(const struct ks_series *se)
{
	return (se->se_allocator == ALLOCATOR_MALLOC ? "type" : "zone");
}

static void
ks_trend_title(const struct ks_trend *tr, char *buf, size_t len)
{
	char cmd[sizeof(tr->tr_mk.mk_command) + 1];

	if (!tr->tr_have_mk) {
		snprintf(buf, len, "%.*s", (int)len - 1, tr->tr_o->ko_src.ks_label);
		return;
	}
	memcpy(cmd, tr->tr_mk.mk_command, sizeof(tr->tr_mk.mk_command));
	cmd[sizeof(tr->tr_mk.mk_command)] = '\0';
	ks_printable(cmd, cmd, sizeof(cmd));
	snprintf(buf, len, "pid %" PRIu64 " (%s)", tr->tr_mk.mk_pid, cmd);
}

static double
ks_trend_seconds(const struct ks_trend *tr)
{
	return (tr->tr_n > 0 ? tr->tr_t[tr->tr_n - 1] : 0.0);
}

static void
ks_leaks_text(const struct ks_trend *tr, long count, bool complete)
{
	const struct ks_opts *o = tr->tr_o;
	char title[160], name[MEMTYPE_MAXNAME + 1], rate[32], now[32];
	size_t rows = o->ko_verbose ? tr->tr_ns_series : tr->tr_leaks;

	ks_trend_title(tr, title, sizeof(title));
	printf("%s: %zu sample%s over %.1f s, %zu type%s and %zu zone%s\n",
	    title, tr->tr_n, tr->tr_n == 1 ? "" : "s", ks_trend_seconds(tr),
	    tr->tr_types, tr->tr_types == 1 ? "" : "s", tr->tr_zones,
	    tr->tr_zones == 1 ? "" : "s");
	if (!complete)
		printf("sampling stopped after %zu of %ld samples: the "
		    "statistics could no longer be read; judged on those\n",
		    tr->tr_n, count);
	if (rows > 0) {
		printf("%-20s %-4s %10s %10s %8s%s\n", "Name", "Kind",
		    "Rate", "Confidence", "InUse", o->ko_verbose ? "  Why" : "");
		for (size_t r = 0; r < rows; r++) {
			size_t k = tr->tr_order[r];
			const struct ks_series *se = &tr->tr_s[k];
			const struct leak_verdict *v = &tr->tr_v[k];
			ks_bytes_short(rate, sizeof(rate) - 2, v->rate, true);
			strcat(rate, "/s");
			ks_bytes_short(now, sizeof(now), se->se_now, false);
			printf("%-20s %-4s %10s %10.3f %8s", ks_printable(se->se_name,
			    name, sizeof(name)), ks_kind(se), rate,
			    ks_conf3(v->confidence), now);
			if (o->ko_verbose)
				printf("  %s%s", v->leaking ? "LEAK: " : "", v->why);
			putchar('\n');
		}
	}
	if (tr->tr_leaks == 0) {
		printf("no leak found in %zu type%s and %zu zone%s over %.1f s\n",
		    tr->tr_types, tr->tr_types == 1 ? "" : "s", tr->tr_zones,
		    tr->tr_zones == 1 ? "" : "s", ks_trend_seconds(tr));
		return;
	}
	printf("leak%s suspected: ", tr->tr_leaks == 1 ? "" : "s");
	for (size_t r = 0; r < tr->tr_leaks && r < KS_VERDICT_NAMES; r++) {
		size_t k = tr->tr_order[r];
		ks_bytes_short(rate, sizeof(rate), tr->tr_v[k].rate, true);
		printf("%s%s %s, %s/s (confidence %.3f)", r > 0 ? "; " : "",
		    ks_kind(&tr->tr_s[k]), ks_printable(tr->tr_s[k].se_name,
		    name, sizeof(name)), rate, ks_conf3(tr->tr_v[k].confidence));
	}
	if (tr->tr_leaks > KS_VERDICT_NAMES)
		printf("; and %zu more", tr->tr_leaks - KS_VERDICT_NAMES);
	putchar('\n');
}

static void
ks_json_double(struct ks_json *j, const char *key, double v)
{
	ks_json_key(j, key);
	if (isfinite(v))
		fprintf(j->j_out, "%.6g", v);
	else
		fputs("null", j->j_out);
}

static void
ks_leaks_json_series(struct ks_json *j, const struct ks_trend *tr, size_t k)
{
	const struct ks_series *se = &tr->tr_s[k];
	const struct leak_verdict *v = &tr->tr_v[k];

	ks_json_open(j, NULL, '{');
	ks_json_str(j, "type", se->se_name);
	ks_json_str(j, "allocator",
	    se->se_allocator == ALLOCATOR_MALLOC ? "malloc" : "uma");
	ks_json_double(j, "rate", v->rate);
	ks_json_double(j, "confidence", v->confidence);
	ks_json_u64(j, "bytes", (uint64_t)se->se_now);
	ks_json_u64(j, "peak", (uint64_t)se->se_peak);
	ks_json_str(j, "why", v->why);
	ks_json_close(j, '}');
}

static void
ks_leaks_json(const struct ks_trend *tr, bool complete)
{
	struct ks_json j = {.j_out = stdout, .j_depth = 0};
	char cmd[sizeof(tr->tr_mk.mk_command) + 1];

	j.j_first[0] = true;
	ks_json_open(&j, NULL, '{');
	ks_json_open(&j, "leaks", '[');
	for (size_t r = 0; r < tr->tr_leaks; r++)
		ks_leaks_json_series(&j, tr, tr->tr_order[r]);
	ks_json_close(&j, ']');
	if (tr->tr_o->ko_verbose) {
		ks_json_open(&j, "others", '[');
		for (size_t r = tr->tr_leaks; r < tr->tr_ns_series; r++)
			ks_leaks_json_series(&j, tr, tr->tr_order[r]);
		ks_json_close(&j, ']');
	}
	if (tr->tr_have_mk) {
		memcpy(cmd, tr->tr_mk.mk_command, sizeof(tr->tr_mk.mk_command));
		cmd[sizeof(tr->tr_mk.mk_command)] = '\0';
		ks_json_u64(&j, "pid", tr->tr_mk.mk_pid);
		ks_json_str(&j, "command", cmd);
	}
	ks_json_u64(&j, "samples", tr->tr_n);
	ks_json_double(&j, "seconds", ks_trend_seconds(tr));
	ks_json_u64(&j, "types", tr->tr_types);
	ks_json_u64(&j, "zones", tr->tr_zones);
	ks_json_bool(&j, "complete", complete);
	ks_json_close(&j, '}');
	putchar('\n');
}

/*
 * --plot: the picture goes to a temporary file beside FILE, renamed over
 * it once written whole.  The temporary file is made before sampling (so
 * a FILE that cannot be written fails at once) and removed if kmemstat is
 * interrupted.
 */
static char ks_plot_tmp[PATH_MAX];

static void
ks_plot_signal(int sig)
{
	if (ks_plot_tmp[0] != '\0')
		unlink(ks_plot_tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

static FILE *
ks_plot_open(const char *path)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = ks_plot_signal};
	mode_t mask;
	int fd;

	if (snprintf(ks_plot_tmp, sizeof(ks_plot_tmp), "%s.XXXXXX", path) >=
	    (int)sizeof(ks_plot_tmp)) {
		ks_plot_tmp[0] = '\0';
		errno = ENAMETOOLONG;
		return (NULL);
	}
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	fd = mkstemp(ks_plot_tmp);
	if (fd < 0) {
		ks_plot_tmp[0] = '\0';
		return (NULL);
	}
	mask = umask(0);
	umask(mask);
	(void)fchmod(fd, 0666 & ~mask);
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		int e = errno;
		close(fd);
		unlink(ks_plot_tmp);
		ks_plot_tmp[0] = '\0';
		errno = e;
	}
	return (f);
}

/* The largest series and every leak, drawn; 0, or -1 with errno set. */
static int
ks_plot_write(const struct ks_trend *tr, FILE *out)
{
	struct plot_series ps[KS_PLOT_LINES + KS_PLOT_LEAKS];
	char notes[KS_PLOT_LEAKS][40];
	char names[KS_PLOT_LINES + KS_PLOT_LEAKS][MEMTYPE_MAXNAME + 8];
	char title[200], who[160];
	size_t np = 0, nleak = 0;

	for (size_t r = 0; r < tr->tr_ns_series; r++) {
		size_t k = tr->tr_order[r];
		const struct ks_series *se = &tr->tr_s[k];
		bool leak = tr->tr_v[k].leaking;
		if (leak && nleak == KS_PLOT_LEAKS)
			continue;
		if (!leak && (np >= KS_PLOT_LINES || se->se_peak <= 0.0))
			break; /* leaks come first, then the largest */
		nleak += leak;
		snprintf(names[np], sizeof(names[np]), "%s%s", se->se_name,
		    se->se_allocator == ALLOCATOR_UMA ? " (zone)" : "");
		ps[np] = (struct plot_series){
			.name = names[np],
			.y = se->se_y,
			.highlight = leak,
		};
		if (leak) {
			ks_bytes_short(notes[np], sizeof(notes[np]) - 2,
			    tr->tr_v[k].rate, true);
			strcat(notes[np], "/s");
			ps[np].note = notes[np];
		}
		np++;
	}
	ks_trend_title(tr, who, sizeof(who));
	snprintf(title, sizeof(title), "kmem memory use of %s", who);
	return (plot_svg(out, title, tr->tr_t, tr->tr_n, ps, np));
}

static int
ks_plot_close(const char *path, FILE *out, int error)
{
	if (error == 0 && fflush(out) != 0)
		error = errno;
	if (error == 0 && fsync(fileno(out)) != 0 && errno != EINVAL)
		error = errno;
	if (fclose(out) != 0 && error == 0)
		error = errno;
	if (error == 0 && rename(ks_plot_tmp, path) != 0)
		error = errno;
	if (error != 0)
		unlink(ks_plot_tmp);
	ks_plot_tmp[0] = '\0';
	if (error != 0) {
		ks_warn("--plot %s: %s", path, strerror(error));
		return (KS_EXIT_READ);
	}
	return (KS_EXIT_OK);
}

/*
 * --leaks and --plot: count samples interval_ms apart, kept by
 * ks_trend_keep(), then the verdicts (--leaks) and the picture (--plot)
 * over them.  A source that stops being readable midway (the process
 * died) is judged on what was sampled, if that is enough.
 */
static int
ks_trend(struct ks_opts *o, unsigned interval_ms, long count)
{
	struct ks_trend tr = {.tr_o = o};
	FILE *plot = NULL;
	int rc;

	if (o->ko_plot != NULL && (plot = ks_plot_open(o->ko_plot)) == NULL) {
		ks_warn("--plot %s: %s", o->ko_plot, strerror(errno));
		return (KS_EXIT_READ);
	}
	rc = ks_run(&o->ko_src, interval_ms, count, ks_trend_keep, &tr);
	bool complete = rc == KS_EXIT_OK;
	if (tr.tr_stopped || tr.tr_n == 0 ||
	    (o->ko_leaks && tr.tr_n < LEAK_MIN_SAMPLES)) {
		if (!tr.tr_stopped && tr.tr_n > 0)
			ks_warn("%s: %zu snapshot%s %s; --leaks needs %d",
			    o->ko_src.ks_label, tr.tr_n, tr.tr_n == 1 ? "" : "s",
			    complete ? "that differ (the process did not renew "
			    "them in time)" : "before the statistics could no "
			    "longer be read", LEAK_MIN_SAMPLES);
		rc = KS_EXIT_READ;
		goto out;
	}
	if (ks_trend_judge(&tr) != 0) {
		ks_warn("%s: %s", o->ko_src.ks_label,
		    memstat_strerror(MEMSTAT_ERROR_NOMEMORY));
		rc = KS_EXIT_READ;
		goto out;
	}
	rc = KS_EXIT_OK;
	if (o->ko_leaks) {
		if (o->ko_json)
			ks_leaks_json(&tr, complete);
		else
			ks_leaks_text(&tr, count, complete);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			ks_warn("standard output: %s", strerror(errno));
			rc = KS_EXIT_READ;
		}
	}
	if (plot != NULL) {
		int error = ks_plot_write(&tr, plot) != 0 ? errno : 0;
		int prc = ks_plot_close(o->ko_plot, plot, error);
		plot = NULL;
		if (rc == KS_EXIT_OK)
			rc = prc;
	}
out:
	if (plot != NULL) {
		fclose(plot);
		unlink(ks_plot_tmp);
		ks_plot_tmp[0] = '\0';
	}
	ks_trend_free(&tr);
	return (rc);
}

/*
 * -t: a source that cannot be read fails at once, with one line, before
 * the view takes the terminal (the view itself retries a sampler that
 * fails later, showing why on its status line).
 */
static int
ks_top(struct ks_source *src, unsigned interval_ms)
{
	struct memory_type_list *list = memstat_mtl_alloc();

	if (list == NULL) {
		ks_warn("%s: %s", src->ks_label,
		    memstat_strerror(MEMSTAT_ERROR_NOMEMORY));
		return (KS_EXIT_READ);
	}
	if (ks_sample(list, src) != 0) {
		ks_warn("%s: %s", src->ks_label,
		    memstat_strerror(memstat_mtl_geterror(list)));
		memstat_mtl_free(list);
		return (KS_EXIT_READ);
	}
	memstat_mtl_free(list);
	return (kmemstat_top(ks_sample, src, interval_ms) == 0 ? KS_EXIT_OK :
	    KS_EXIT_READ);
}

/* ---- the command line ---------------------------------------------------- */

enum {
	KS_OPT_JSON = 256,
	KS_OPT_SORT,
	KS_OPT_LEAKS,
	KS_OPT_PLOT,
};

static const struct option ks_longopts[] = {
	{"json", no_argument, NULL, KS_OPT_JSON},
	{"sort", required_argument, NULL, KS_OPT_SORT},
	{"leaks", no_argument, NULL, KS_OPT_LEAKS},
	{"plot", required_argument, NULL, KS_OPT_PLOT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char *
ks_optname(int opt, char *buf, size_t len)
{
	for (const struct option *lo = ks_longopts; lo->name != NULL; lo++)
		if (lo->val == opt && opt >= 256) {
			snprintf(buf, len, "--%s", lo->name);
			return (buf);
		}
	snprintf(buf, len, "-%c", opt);
	return (buf);
}

/* -w: seconds, fractions allowed, to whole milliseconds (at least 1). */
static bool
ks_parse_wait(const char *s, unsigned *ms)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(d) || d <= 0.0)
		return (false);
	d = round(d * 1000.0);
	if (d < 1.0 || d > (double)UINT_MAX)
		return (false);
	*ms = (unsigned)d;
	return (true);
}

static bool
ks_parse_long(const char *s, long max, long *v)
{
	char *end;

	errno = 0;
	long n = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || n < 1 || n > max)
		return (false);
	*v = n;
	return (true);
}

int
main(int argc, char **argv)
{
	struct ks_opts o = {.ko_sort = KC_NONE};
	const char *sort = NULL, *pidarg = NULL, *path = NULL;
	char nbuf[32];
	long v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:hM:mp:stvw:z", ks_longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!ks_parse_long(optarg, LONG_MAX, &v))
				return (ks_usage_error("-c %s: not a count of "
				    "samples (1 or more)", optarg));
			o.ko_count = v;
			break;
		case 'h':
			fputs(ks_usage_line, stdout);
			return (KS_EXIT_OK);
		case 'M':
			path = optarg;
			break;
		case 'm':
			o.ko_modes |= KS_MODE_MALLOC;
			break;
		case 'p':
			pidarg = optarg;
			break;
		case 's':
			o.ko_modes |= KS_MODE_MAP;
			break;
		case 't':
			o.ko_top = true;
			break;
		case 'v':
			o.ko_verbose = true;
			break;
		case 'w':
			if (!ks_parse_wait(optarg, &o.ko_interval_ms))
				return (ks_usage_error("-w %s: not a number of "
				    "seconds (above 0, at least 0.001)", optarg));
			break;
		case 'z':
			o.ko_modes |= KS_MODE_ZONE;
			break;
		case KS_OPT_JSON:
			o.ko_json = true;
			break;
		case KS_OPT_SORT:
			sort = optarg;
			break;
		case KS_OPT_LEAKS:
			o.ko_leaks = true;
			break;
		case KS_OPT_PLOT:
			o.ko_plot = optarg;
			break;
		case ':':
			return (ks_usage_error("%s needs an argument",
			    ks_optname(optopt, nbuf, sizeof(nbuf))));
		case '?':
		default:
			if (optopt != 0 && optopt < 256)
				return (ks_usage_error("unknown option -%c",
				    optopt));
			{
				const char *arg = argv[optind - 1];
				size_t len = strcspn(arg, "=");
				return (ks_usage_error("unknown option %.*s",
				    (int)len, arg));
			}
		}
	}
	if (optind < argc)
		return (ks_usage_error("unexpected argument '%s'", argv[optind]));

	/* The modes that are not tables, and what goes with them. */
	bool trend = o.ko_leaks || o.ko_plot != NULL;
	if (o.ko_top && trend)
		return (ks_usage_error("-t and %s exclude each other",
		    o.ko_leaks ? "--leaks" : "--plot"));
	if (o.ko_top || trend) {
		const char *mode = o.ko_top ? "-t" : o.ko_leaks ? "--leaks" :
		    "--plot";
		if (o.ko_top && (o.ko_modes & (KS_MODE_MALLOC | KS_MODE_ZONE)))
			return (ks_usage_error("%s and %s exclude each other "
			    "(m and z switch the view)", (o.ko_modes &
			    KS_MODE_MALLOC) ? "-m" : "-z", mode));
		if (o.ko_modes & KS_MODE_MAP)
			return (ks_usage_error("-s and %s exclude each other",
			    mode));
		if (sort != NULL)
			return (ks_usage_error("--sort and %s exclude each other",
			    mode));
		if (o.ko_json && !o.ko_leaks)
			return (ks_usage_error("--json and %s exclude each other",
			    mode));
	}
	if (o.ko_verbose && !o.ko_leaks)
		return (ks_usage_error("-v goes with --leaks"));
	if (o.ko_leaks && o.ko_count != 0 && o.ko_count < LEAK_MIN_SAMPLES)
		return (ks_usage_error("-c %ld: --leaks needs %d samples or more",
		    o.ko_count, LEAK_MIN_SAMPLES));
	if (o.ko_top && !ks_top_built()) {
		ks_warn("-t: not built in this kmemstat");
		return (KS_EXIT_USAGE);
	}

	/* The source. */
	if (pidarg != NULL && path != NULL)
		return (ks_usage_error("-p and -M exclude each other"));
	if (pidarg != NULL) {
		if (!ks_parse_long(pidarg, INT_MAX, &v))
			return (ks_usage_error("-p %s: not a process id",
			    pidarg));
		o.ko_src.ks_pid = (pid_t)v;
		snprintf(o.ko_src.ks_label, sizeof(o.ko_src.ks_label), "-p %s",
		    pidarg);
	} else if (path != NULL) {
		o.ko_src.ks_path = path;
		snprintf(o.ko_src.ks_label, sizeof(o.ko_src.ks_label), "-M %s",
		    path);
	} else {
		return (ks_usage_error("no statistics to read: give -p PID or "
		    "-M FILE"));
	}

	/*
	 * Repeat as vmstat: -w alone forever, -c alone every second.  A trend
	 * takes KS_TREND_COUNT samples a second apart unless told otherwise.
	 */
	long count = o.ko_count;
	if (trend && count == 0)
		count = KS_TREND_COUNT;
	unsigned interval_ms = o.ko_interval_ms;
	if (interval_ms != 0 && count == 0)
		count = -1;
	else if (interval_ms == 0)
		interval_ms = 1000;
	if (count == 0)
		count = 1;

	if (o.ko_top)
		return (ks_top(&o.ko_src, interval_ms));
	if (trend)
		return (ks_trend(&o, interval_ms, count));

	if (o.ko_modes == 0)
		o.ko_modes = KS_MODE_MALLOC;
	if (sort != NULL) {
		unsigned tables = o.ko_modes & (KS_MODE_MALLOC | KS_MODE_ZONE);
		unsigned missing;
		if (tables == 0)
			return (ks_usage_error("--sort %s: -s has no columns to "
			    "sort; use it with -m or -z", sort));
		o.ko_sort = ks_column(sort, tables, &missing);
		if (o.ko_sort == KC_NONE) {
			unsigned mode = (missing & KS_MODE_MALLOC) ?
			    KS_MODE_MALLOC : KS_MODE_ZONE;
			return (ks_usage_error("--sort %s: no such column in %s; "
			    "valid: %s", sort,
			    mode == KS_MODE_MALLOC ? "-m" : "-z",
			    mode == KS_MODE_MALLOC ? ks_malloc_columns :
			    ks_zone_columns));
		}
	}
	return (ks_run(&o.ko_src, interval_ms, count, ks_print_sample, &o));
}
