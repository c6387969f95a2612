/*
 * kmemstat_top.c -- kmemstat -t: a live full-screen view of kmem's malloc
 * types and uma zones, after top(1) and slabtop(1).
 *
 * Snapshots.  At every refresh the caller's sampler fills a
 * memory_type_list, whose figures are copied into a snapshot (struct
 * top_snap: one struct top_row per type or zone), so that the list can be
 * refilled, or fail, without losing what is on the screen.  Each row of a
 * new snapshot is matched with the row of the previous snapshot that has
 * the same allocator, name and rank among the rows of that name (uma lets
 * two zones share a name); the difference of their memory is the change
 * since the last refresh, and divided by the time between the two samples,
 * the change per second.  A row with no match is new: all its memory is
 * change.  The first snapshot has no change at all.
 *
 * Memory.  For a malloc type, the bytes in use (memstat_get_bytes); for a
 * zone, its items in use and free times the item size.  The header's zone
 * total leaves out the kmalloc zones (memstat_get_malloc_backed), whose
 * blocks the malloc types count already.
 *
 * Views.  A view (types, zones) is a table of columns (struct top_col)
 * over the rows of one allocator; it keeps its own sort column, direction
 * and scroll position.  Drawing sorts the view's rows afresh, drops the
 * columns that matter least when the terminal is narrow (tc_drop, largest
 * first), then narrows the name column, and clips what is still too wide.
 *
 * The screen:
 *	line 0		what is watched, time of the snapshot, refresh interval,
 *			totals
 *	line 1		the view, which rows are shown, the sort, the map
 *	line 2		column titles
 *	lines 3..L-2	one row per type or zone
 *	line L-1	status: the sampler's error, a message, or key hints
 *
 * The loop.  One thread: it waits for a key with a timeout that ends at the
 * next refresh (or sooner, to notice signals), samples when the refresh is
 * due, and redraws after a sample or a key.  curses turns SIGWINCH into
 * KEY_RESIZE; SIGINT, SIGTERM and SIGHUP only set a flag that ends the
 * loop, so the terminal is always restored.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>

#include <kmem/memstat.h>

#include "kmemstat_top.h"

#define TOP_INTERVAL_DEFAULT 1000 /* ms, when the caller says 0 */
#define TOP_MIN_COLS         40   /* smaller: "terminal too small" */
#define TOP_MIN_LINES        6
#define TOP_HEAD_LINES       3                  /* lines above the rows */
#define TOP_WAIT_MAX_MS      250                /* longest wait for a key */
#define TOP_MSG_NS           (3 * 1000000000LL) /* how long a message stays */
#define TOP_NAME_MIN         8                  /* narrowest name column */
#define TOP_MAXCOLS          16
#define NELEM(a)             (sizeof(a) / sizeof((a)[0]))
#define TOP_MAXCLASS         64 /* bits of memstat_get_sizemask() */

/* The refresh intervals `+` and `-` step through, in ms. */
static const unsigned top_intervals[] = {
    100, 200, 500, 1000, 2000, 3000, 5000, 10000, 30000, 60000};

/* One type or zone of a snapshot. */
struct top_row {
	char tr_name[MEMTYPE_MAXNAME]; /* name */
	int tr_allocator;              /* ALLOCATOR_MALLOC or ALLOCATOR_UMA */
	bool tr_backed;                /* a kmalloc zone */
	unsigned tr_rank;              /* earlier rows of this allocator+name */
	uint64_t tr_size;              /* zones: item size */
	uint64_t tr_limit;             /* zones: item limit, 0 for none */
	uint64_t tr_count;             /* blocks or items in use */
	uint64_t tr_free;              /* zones: free items cached */
	uint64_t tr_high;              /* types: most bytes in use */
	uint64_t tr_requests;          /* allocations */
	uint64_t tr_fail;              /* failed allocations */
	uint64_t tr_sleep;             /* zones: sleeps for an item */
	uint64_t tr_sizemask;          /* types: size classes used */
	uint64_t tr_mem;               /* memory (see the top of the file) */
	int64_t tr_delta;              /* tr_mem change since the last sample */
	double tr_rate;                /* tr_delta per second */
};

/* What one sample gave. */
struct top_snap {
	struct top_row *ts_rows;   /* in the list's order */
	struct top_row **ts_index; /* the rows by allocator, name, rank */
	size_t ts_n;               /* rows */
	size_t ts_ntypes, ts_nzones;
	bool ts_have_delta; /* a previous snapshot gave the changes */
	int64_t ts_mono_ns; /* when sampled (CLOCK_MONOTONIC) */
	time_t ts_time;     /* when the snapshot was taken (wall) */
	bool ts_have_kmem;  /* ts_kmem is filled */
	struct memstat_kmem ts_kmem;
	uint64_t ts_classes[TOP_MAXCLASS]; /* kmalloc class sizes, ascending */
	unsigned ts_nclasses;
	uint64_t ts_malloc_total; /* bytes of the malloc types */
	uint64_t ts_zone_total;   /* memory of the other zones */
};

enum top_kind {
	TK_NAME,  /* the name, left-aligned */
	TK_COUNT, /* a count, exact while it fits */
	TK_BYTES, /* bytes, scaled: 512B 12.3K 4.0M */
	TK_LIMIT, /* an item limit; 0 is none ("-") */
	TK_DELTA, /* a change of bytes, signed (int64_t) */
	TK_RATE,  /* a change of bytes per second, signed (double) */
	TK_SIZES, /* the size classes used (not a sort key) */
};

/* A column of a view. */
struct top_col {
	const char *tc_title;  /* its title */
	enum top_kind tc_kind; /* what it holds */
	size_t tc_off;         /* the field of struct top_row */
	int tc_width;          /* characters; the name's is computed */
	int tc_drop;           /* narrow: dropped largest first; 0 never */
};

static const struct top_col top_type_cols[] = {
    {"Type", TK_NAME, offsetof(struct top_row, tr_name), 0, 0},
    {"InUse", TK_COUNT, offsetof(struct top_row, tr_count), 9, 3},
    {"MemUse", TK_BYTES, offsetof(struct top_row, tr_mem), 7, 0},
    {"HighUse", TK_BYTES, offsetof(struct top_row, tr_high), 7, 4},
    {"Requests", TK_COUNT, offsetof(struct top_row, tr_requests), 10, 5},
    {"Change", TK_DELTA, offsetof(struct top_row, tr_delta), 8, 1},
    {"Change/s", TK_RATE, offsetof(struct top_row, tr_rate), 8, 2},
    {"Size(s)", TK_SIZES, offsetof(struct top_row, tr_sizemask), 7, 6},
};

static const struct top_col top_zone_cols[] = {
    {"Zone", TK_NAME, offsetof(struct top_row, tr_name), 0, 0},
    {"Size", TK_COUNT, offsetof(struct top_row, tr_size), 7, 4},
    {"Limit", TK_LIMIT, offsetof(struct top_row, tr_limit), 8, 7},
    {"Used", TK_COUNT, offsetof(struct top_row, tr_count), 9, 3},
    {"Free", TK_COUNT, offsetof(struct top_row, tr_free), 9, 5},
    {"Requests", TK_COUNT, offsetof(struct top_row, tr_requests), 10, 6},
    {"Fail", TK_COUNT, offsetof(struct top_row, tr_fail), 6, 8},
    {"Sleep", TK_COUNT, offsetof(struct top_row, tr_sleep), 6, 9},
    {"Memory", TK_BYTES, offsetof(struct top_row, tr_mem), 7, 0},
    {"Change", TK_DELTA, offsetof(struct top_row, tr_delta), 8, 1},
    {"Change/s", TK_RATE, offsetof(struct top_row, tr_rate), 8, 2},
};

_Static_assert(NELEM(top_type_cols) <= TOP_MAXCOLS, "TOP_MAXCOLS");
_Static_assert(NELEM(top_zone_cols) <= TOP_MAXCOLS, "TOP_MAXCOLS");

/* One table of the screen. */
struct top_view {
	const char *tv_name;           /* "types", "zones" */
	int tv_allocator;              /* whose rows it shows */
	const struct top_col *tv_cols; /* its columns */
	int tv_ncols;                  /* how many */
	int tv_sort;                   /* the sort column */
	bool tv_reverse;               /* against the column's natural order */
	size_t tv_first;               /* the first row shown */
};

enum { VIEW_TYPES, VIEW_ZONES, NVIEWS };

/* Which columns are drawn, where, how wide. */
struct top_layout {
	int tl_n;
	int tl_col[TOP_MAXCOLS];   /* index in the view's columns */
	int tl_x[TOP_MAXCOLS];     /* first screen column */
	int tl_width[TOP_MAXCOLS]; /* characters */
};

enum { PAIR_GROW = 1, PAIR_SHRINK, PAIR_ERROR };

/* The state of a kmemstat_top() call. */
struct top {
	int (*t_sample)(struct memory_type_list *, void *);
	void *t_arg;
	struct memory_type_list *t_list; /* the sampler fills it */
	struct top_snap t_cur;           /* on the screen */
	struct top_row **t_sorted;       /* the view's rows, sorted to draw */
	unsigned t_interval;             /* refresh, ms */
	int64_t t_last_ns;               /* the last sample (monotonic) */
	int64_t t_next_ns;               /* the next one is due */
	struct top_view t_views[NVIEWS];
	int t_view;          /* VIEW_* shown */
	bool t_help;         /* the help screen is up */
	bool t_color;        /* colors work */
	char t_err[160];     /* the sampler's last failure, or "" */
	char t_msg[120];     /* a passing message, or "" */
	int64_t t_msg_until; /* when it goes (monotonic ns) */
	char t_fatal[200];   /* why kmemstat_top() fails, or "" */
};

static volatile sig_atomic_t top_signalled;

/* The view qsort() is sorting for (the comparison has no argument). */
static const struct top_view *top_sorting;

static int64_t
top_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

static void
top_onsignal(int sig)
{
	top_signalled = sig;
}

/* ---- formatting ---------------------------------------------------------- */

/* 512B, 12.3K, 123K, 4.0M: at most 5 characters and a unit. */
static void
top_fmt_bytes(char *buf, size_t len, uint64_t v)
{
	static const char units[] = "BKMGTPE";
	double d = (double)v;
	int u = 0;

	if (v < 1000) {
		snprintf(buf, len, "%" PRIu64 "B", v);
		return;
	}
	while (d >= 1000 && u < 6) {
		d /= 1024;
		u++;
	}
	if (d < 99.95)
		snprintf(buf, len, "%.1f%c", d, units[u]);
	else
		snprintf(buf, len, "%.0f%c", d, units[u]);
}

/* A change: "0", or its sign and its bytes. */
static void
top_fmt_delta(char *buf, size_t len, double v)
{
	char num[32];

	if (v > -0.5 && v < 0.5) {
		snprintf(buf, len, "0");
		return;
	}
	top_fmt_bytes(num, sizeof(num), (uint64_t)((v < 0 ? -v : v) + 0.5));
	snprintf(buf, len, "%c%s", v < 0 ? '-' : '+', num);
}

/* Exact while it fits in width, then in thousands: 12.3k, 456M. */
static void
top_fmt_count(char *buf, size_t len, uint64_t v, int width)
{
	static const char units[] = " kMGTPE";
	double d = (double)v;
	int u = 0;

	if (snprintf(buf, len, "%" PRIu64, v) <= width)
		return;
	while (d >= 999.95 && u < 6) {
		d /= 1000;
		u++;
	}
	snprintf(buf, len, d < 99.95 ? "%.1f%c" : "%.0f%c", d, units[u]);
}

/* "16,32,4096": the size classes of a type's mask. */
static void
top_fmt_sizes(char *buf, size_t len, const struct top_snap *s, uint64_t mask)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < s->ts_nclasses && off < len; i++) {
		if ((mask & ((uint64_t)1 << i)) == 0)
			continue;
		int n = snprintf(buf + off, len - off, "%s%" PRIu64,
		    off > 0 ? "," : "", s->ts_classes[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* "250ms", "1s", "2.5s". */
static void
top_fmt_interval(char *buf, size_t len, unsigned ms)
{
	if (ms < 1000)
		snprintf(buf, len, "%ums", ms);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%.1fs", ms / 1000.0);
}

static void
top_fmt_clock(char *buf, size_t len, time_t when)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL ||
	    strftime(buf, len, "%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "--:--:--");
}

/* The text of a cell; "" when it has nothing to say. */
static void
top_fmt_cell(char *buf, size_t len, const struct top_snap *s,
    const struct top_row *r, const struct top_col *c)
{
	const char *p = (const char *)r + c->tc_off;
	uint64_t u;
	int64_t i;
	double d;

	switch (c->tc_kind) {
	case TK_NAME:
		snprintf(buf, len, "%s", r->tr_name);
		break;
	case TK_COUNT:
		memcpy(&u, p, sizeof(u));
		top_fmt_count(buf, len, u, c->tc_width);
		break;
	case TK_BYTES:
		memcpy(&u, p, sizeof(u));
		top_fmt_bytes(buf, len, u);
		break;
	case TK_LIMIT:
		memcpy(&u, p, sizeof(u));
		if (u == 0)
			snprintf(buf, len, "-");
		else
			top_fmt_count(buf, len, u, c->tc_width);
		break;
	case TK_DELTA:
		memcpy(&i, p, sizeof(i));
		if (s->ts_have_delta)
			top_fmt_delta(buf, len, (double)i);
		else
			buf[0] = '\0';
		break;
	case TK_RATE:
		memcpy(&d, p, sizeof(d));
		if (s->ts_have_delta)
			top_fmt_delta(buf, len, d);
		else
			buf[0] = '\0';
		break;
	case TK_SIZES:
		memcpy(&u, p, sizeof(u));
		top_fmt_sizes(buf, len, s, u);
		break;
	}
}

/* ---- snapshots ----------------------------------------------------------- */

static int
top_key_cmp(const struct top_row *a, const struct top_row *b)
{
	int r;

	if (a->tr_allocator != b->tr_allocator)
		return (a->tr_allocator < b->tr_allocator ? -1 : 1);
	if ((r = strcmp(a->tr_name, b->tr_name)) != 0)
		return (r);
	return ((a->tr_rank > b->tr_rank) - (a->tr_rank < b->tr_rank));
}

/* qsort() of a snapshot's index: rows of one key keep the list's order. */
static int
top_index_cmp(const void *x, const void *y)
{
	const struct top_row *a = *(const struct top_row *const *)x;
	const struct top_row *b = *(const struct top_row *const *)y;
	int r = top_key_cmp(a, b);

	return (r != 0 ? r : (a > b) - (a < b));
}

static int
top_find_cmp(const void *key, const void *elem)
{
	return (top_key_cmp(key, *(const struct top_row *const *)elem));
}

static int
top_u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return ((a > b) - (a < b));
}

static void
top_snap_free(struct top_snap *s)
{
	free(s->ts_rows);
	free(s->ts_index);
	memset(s, 0, sizeof(*s));
}

/*
 * Copies the list into a new snapshot, with the changes since prev (NULL:
 * none).  Returns 0, or -1 when out of memory.
 */
static int
top_snap_fill(struct top_snap *s, struct memory_type_list *list,
    const struct top_snap *prev, int64_t now_ns)
{
	struct memory_type *mtp;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	for (mtp = memstat_mtl_first(list); mtp != NULL;
	     mtp = memstat_mtl_next(mtp))
		n++;
	s->ts_rows = calloc(n > 0 ? n : 1, sizeof(*s->ts_rows));
	s->ts_index = calloc(n > 0 ? n : 1, sizeof(*s->ts_index));
	if (s->ts_rows == NULL || s->ts_index == NULL) {
		top_snap_free(s);
		return (-1);
	}
	s->ts_mono_ns = now_ns;
	s->ts_time = time(NULL);
	if (memstat_get_kmem(list, &s->ts_kmem) == 0) {
		s->ts_have_kmem = true;
		if (s->ts_kmem.mk_time_ns > 0)
			s->ts_time =
			    (time_t)(s->ts_kmem.mk_time_ns / 1000000000);
	}

	for (mtp = memstat_mtl_first(list); mtp != NULL && s->ts_n < n;
	     mtp = memstat_mtl_next(mtp)) {
		struct top_row *r = &s->ts_rows[s->ts_n];

		memset(r, 0, sizeof(*r));
		snprintf(r->tr_name, sizeof(r->tr_name), "%s",
		    memstat_get_name(mtp));
		r->tr_allocator = memstat_get_allocator(mtp);
		r->tr_count = memstat_get_count(mtp);
		r->tr_requests = memstat_get_numallocs(mtp);
		r->tr_fail = memstat_get_failures(mtp);
		if (r->tr_allocator == ALLOCATOR_MALLOC) {
			r->tr_mem = memstat_get_bytes(mtp);
			r->tr_high = memstat_get_highbytes(mtp);
			r->tr_sizemask = memstat_get_sizemask(mtp);
			s->ts_malloc_total += r->tr_mem;
			s->ts_ntypes++;
		} else if (r->tr_allocator == ALLOCATOR_UMA) {
			r->tr_backed = memstat_get_malloc_backed(mtp) != 0;
			r->tr_size = memstat_get_size(mtp);
			r->tr_limit = memstat_get_countlimit(mtp);
			r->tr_free = memstat_get_free(mtp);
			r->tr_sleep = memstat_get_sleeps(mtp);
			r->tr_mem = (r->tr_count + r->tr_free) * r->tr_size;
			if (r->tr_backed) {
				if (s->ts_nclasses < TOP_MAXCLASS)
					s->ts_classes[s->ts_nclasses++] =
					    r->tr_size;
			} else
				s->ts_zone_total += r->tr_mem;
			s->ts_nzones++;
		} else
			continue;
		s->ts_index[s->ts_n] = r;
		s->ts_n++;
	}
	qsort(s->ts_classes, s->ts_nclasses, sizeof(s->ts_classes[0]),
	    top_u64_cmp);

	/* Ranks among rows of one name, in the list's order. */
	qsort(s->ts_index, s->ts_n, sizeof(s->ts_index[0]), top_index_cmp);
	for (size_t i = 1; i < s->ts_n; i++) {
		struct top_row *a = s->ts_index[i - 1], *b = s->ts_index[i];
		if (a->tr_allocator == b->tr_allocator &&
		    strcmp(a->tr_name, b->tr_name) == 0)
			b->tr_rank = a->tr_rank + 1;
	}

	if (prev == NULL || prev->ts_rows == NULL)
		return (0);
	double secs = (double)(now_ns - prev->ts_mono_ns) / 1e9;
	s->ts_have_delta = true;
	for (size_t i = 0; i < s->ts_n; i++) {
		struct top_row *r = &s->ts_rows[i];
		struct top_row **p = bsearch(r, prev->ts_index, prev->ts_n,
		    sizeof(prev->ts_index[0]), top_find_cmp);
		uint64_t before = p != NULL ? (*p)->tr_mem : 0;

		r->tr_delta = (int64_t)(r->tr_mem - before);
		r->tr_rate = secs > 0.001 ? (double)r->tr_delta / secs : 0;
	}
	return (0);
}

/*
 * Samples.  Returns 0 (the screen shows the new snapshot, or the sampler's
 * error on the status line), or -1 when out of memory.
 */
static int
top_sample(struct top *t)
{
	struct top_snap next;
	int64_t now = top_now_ns();
	int rc, saved;

	t->t_last_ns = now;
	t->t_next_ns = now + (int64_t)t->t_interval * 1000000;
	errno = 0;
	rc = t->t_sample(t->t_list, t->t_arg);
	saved = errno;
	if (rc != 0) {
		int e = memstat_mtl_geterror(t->t_list);
		const char *why = "the sampler failed";
		char now_s[16], then_s[16];

		if (e != MEMSTAT_ERROR_UNDEFINED)
			why = memstat_strerror(e);
		else if (saved != 0)
			why = strerror(saved);

		top_fmt_clock(now_s, sizeof(now_s), time(NULL));
		if (t->t_cur.ts_rows != NULL) {
			top_fmt_clock(then_s, sizeof(then_s), t->t_cur.ts_time);
			snprintf(t->t_err, sizeof(t->t_err),
			    "%s: cannot read the statistics: %s; showing those "
			    "of %s",
			    now_s, why, then_s);
		} else
			snprintf(t->t_err, sizeof(t->t_err),
			    "%s: cannot read the statistics: %s", now_s, why);
		return (0);
	}
	if (top_snap_fill(&next, t->t_list, &t->t_cur, now) != 0)
		return (-1);
	struct top_row **sorted = realloc(
	    t->t_sorted, (next.ts_n > 0 ? next.ts_n : 1) * sizeof(*sorted));
	if (sorted == NULL) {
		top_snap_free(&next);
		return (-1);
	}
	t->t_sorted = sorted;
	top_snap_free(&t->t_cur);
	t->t_cur = next;
	t->t_err[0] = '\0';
	return (0);
}

/* ---- views --------------------------------------------------------------- */

static int
top_col_cmp(
    const struct top_row *a, const struct top_row *b, const struct top_col *c)
{
	const char *pa = (const char *)a + c->tc_off;
	const char *pb = (const char *)b + c->tc_off;
	uint64_t ua, ub;
	int64_t ia, ib;
	double da, db;

	switch (c->tc_kind) {
	case TK_NAME:
		return (strcmp(a->tr_name, b->tr_name));
	case TK_DELTA:
		memcpy(&ia, pa, sizeof(ia));
		memcpy(&ib, pb, sizeof(ib));
		return ((ia > ib) - (ia < ib));
	case TK_RATE:
		memcpy(&da, pa, sizeof(da));
		memcpy(&db, pb, sizeof(db));
		return ((da > db) - (da < db));
	default:
		memcpy(&ua, pa, sizeof(ua));
		memcpy(&ub, pb, sizeof(ub));
		return ((ua > ub) - (ua < ub));
	}
}

/*
 * Names in alphabetical order, figures largest first, unless reversed;
 * ties by name, then rank.
 */
static int
top_sort_cmp(const void *x, const void *y)
{
	const struct top_row *a = *(const struct top_row *const *)x;
	const struct top_row *b = *(const struct top_row *const *)y;
	const struct top_view *v = top_sorting;
	const struct top_col *c = &v->tv_cols[v->tv_sort];
	int r = top_col_cmp(a, b, c);

	if (c->tc_kind != TK_NAME)
		r = -r;
	if (v->tv_reverse)
		r = -r;
	if (r == 0)
		r = top_key_cmp(a, b);
	return (r);
}

/* Fills t_sorted with the view's rows in order; returns how many. */
static size_t
top_view_rows(struct top *t, const struct top_view *v)
{
	size_t n = 0;

	for (size_t i = 0; i < t->t_cur.ts_n; i++)
		if (t->t_cur.ts_rows[i].tr_allocator == v->tv_allocator)
			t->t_sorted[n++] = &t->t_cur.ts_rows[i];
	top_sorting = v;
	if (n > 1)
		qsort(t->t_sorted, n, sizeof(t->t_sorted[0]), top_sort_cmp);
	return (n);
}

static size_t
top_view_count(const struct top *t, const struct top_view *v)
{
	if (v->tv_allocator == ALLOCATOR_MALLOC)
		return (t->t_cur.ts_ntypes);
	return (t->t_cur.ts_nzones);
}

/* Rows that fit under the titles, above the status line. */
static size_t
top_page(void)
{
	int n = LINES - TOP_HEAD_LINES - 1;

	return (n > 0 ? (size_t)n : 1);
}

static void
top_view_clamp(const struct top *t, struct top_view *v)
{
	size_t n = top_view_count(t, v), page = top_page();

	if (n <= page)
		v->tv_first = 0;
	else if (v->tv_first > n - page)
		v->tv_first = n - page;
}

/* The next sortable column, dir = 1 or -1. */
static void
top_view_sort_step(struct top_view *v, int dir)
{
	int c = v->tv_sort;

	do
		c = (c + dir + v->tv_ncols) % v->tv_ncols;
	while (v->tv_cols[c].tc_kind == TK_SIZES);
	v->tv_sort = c;
}

static int
top_layout_total(const struct top_view *v, const bool *on, int namew)
{
	int total = -1;

	for (int c = 0; c < v->tv_ncols; c++) {
		if (!on[c])
			continue;
		if (v->tv_cols[c].tc_kind == TK_NAME)
			total += 1 + namew;
		else
			total += 1 + v->tv_cols[c].tc_width;
	}
	return (total);
}

/*
 * Chooses the columns that fit in cols: drops the least important, then
 * narrows the name; the size classes take what is left.
 */
static void
top_layout(const struct top_view *v, struct top_row *const *rows, size_t n,
    int cols, struct top_layout *l)
{
	bool on[TOP_MAXCOLS];
	int namew = (int)strlen(v->tv_cols[0].tc_title), total, x;

	for (size_t i = 0; i < n; i++) {
		int len = (int)strlen(rows[i]->tr_name);
		if (len > namew)
			namew = len;
	}
	if (namew < TOP_NAME_MIN)
		namew = TOP_NAME_MIN;
	for (int c = 0; c < v->tv_ncols; c++)
		on[c] = true;
	while ((total = top_layout_total(v, on, namew)) > cols) {
		int worst = -1;
		for (int c = 0; c < v->tv_ncols; c++)
			if (on[c] && v->tv_cols[c].tc_drop > 0 &&
			    (worst < 0 || v->tv_cols[c].tc_drop >
			                      v->tv_cols[worst].tc_drop))
				worst = c;
		if (worst < 0)
			break;
		on[worst] = false;
	}
	if (total > cols) {
		namew -= total - cols;
		if (namew < TOP_NAME_MIN)
			namew = TOP_NAME_MIN;
	}

	l->tl_n = 0;
	x = 0;
	for (int c = 0; c < v->tv_ncols; c++) {
		const struct top_col *col = &v->tv_cols[c];
		int w = col->tc_kind == TK_NAME ? namew : col->tc_width;

		if (!on[c])
			continue;
		if (col->tc_kind == TK_SIZES && cols - x > w)
			w = cols - x;
		l->tl_col[l->tl_n] = c;
		l->tl_x[l->tl_n] = x;
		l->tl_width[l->tl_n] = w;
		l->tl_n++;
		x += w + 1;
	}
}

/* ---- drawing ------------------------------------------------------------- */

/* Text at (y, x) in a field of width w, clipped to the screen. */
static void
top_put(int y, int x, int w, const char *s, bool right, attr_t attr)
{
	char buf[512];
	int len = (int)strlen(s);

	if (x >= COLS || w <= 0)
		return;
	if (w > COLS - x)
		w = COLS - x;
	if (y == LINES - 1 && x + w == COLS)
		w--; /* the last cell of the screen would scroll it */
	if (w <= 0)
		return;
	if (w > (int)sizeof(buf) - 1)
		w = (int)sizeof(buf) - 1;
	if (len > w)
		len = w;
	if (right) {
		memset(buf, ' ', (size_t)(w - len));
		memcpy(buf + w - len, s, (size_t)len);
	} else {
		memcpy(buf, s, (size_t)len);
		memset(buf + len, ' ', (size_t)(w - len));
	}
	buf[w] = '\0';
	attron(attr);
	mvaddstr(y, x, buf);
	attroff(attr);
}

/* A whole line, clipped, in attr. */
static void
top_line(int y, const char *s, attr_t attr)
{
	top_put(y, 0, COLS, s, false, attr);
}

static attr_t
top_change_attr(const struct top *t, int64_t delta)
{
	if (delta > 0)
		return (A_BOLD | (t->t_color ? COLOR_PAIR(PAIR_GROW) : 0));
	if (delta < 0)
		return (t->t_color ? COLOR_PAIR(PAIR_SHRINK) : A_DIM);
	return (A_NORMAL);
}

static void
top_draw_header(struct top *t, const struct top_view *v, size_t n)
{
	const struct top_snap *s = &t->t_cur;
	char what[96], when[16], every[16], mal[16], zon[16], sum[16];
	char line[512];

	if (s->ts_have_kmem) {
		const struct memstat_kmem *mk = &s->ts_kmem;
		const char *state = ", dead";

		if (mk->mk_live)
			state = "";
		else if (mk->mk_state == MEMSTAT_STATE_EXITED)
			state = ", exited";
		else if (mk->mk_state == MEMSTAT_STATE_FATAL)
			state = ", aborted";
		snprintf(what, sizeof(what), "  pid %" PRIu64 " %.*s%s",
		    mk->mk_pid, (int)sizeof(mk->mk_command), mk->mk_command,
		    state);
	} else
		what[0] = '\0';
	if (s->ts_rows != NULL)
		top_fmt_clock(when, sizeof(when), s->ts_time);
	else
		snprintf(when, sizeof(when), "--:--:--");
	top_fmt_interval(every, sizeof(every), t->t_interval);
	top_fmt_bytes(mal, sizeof(mal), s->ts_malloc_total);
	top_fmt_bytes(zon, sizeof(zon), s->ts_zone_total);
	top_fmt_bytes(sum, sizeof(sum), s->ts_malloc_total + s->ts_zone_total);
	snprintf(line, sizeof(line),
	    "kmemstat%s  %s  refresh %s  malloc %s + zones %s = %s", what, when,
	    every, mal, zon, sum);
	top_line(0, line, A_BOLD);

	const struct top_col *sc = &v->tv_cols[v->tv_sort];
	const char *order;
	size_t last = v->tv_first + top_page();
	int off;

	if (sc->tc_kind == TK_NAME)
		order = v->tv_reverse ? "Z-A" : "A-Z";
	else
		order = v->tv_reverse ? "smallest first" : "largest first";
	if (last > n)
		last = n;
	if (n == 0)
		off = snprintf(line, sizeof(line), "%s: none", v->tv_name);
	else
		off = snprintf(line, sizeof(line), "%s: %zu-%zu of %zu",
		    v->tv_name, v->tv_first + 1, last, n);
	off += snprintf(line + off, sizeof(line) - (size_t)off,
	    "  sort: %s, %s", sc->tc_title, order);
	if (s->ts_have_kmem && s->ts_kmem.mk_size > 0) {
		char used[16], size[16];
		top_fmt_bytes(used, sizeof(used),
		    s->ts_kmem.mk_size - s->ts_kmem.mk_free);
		top_fmt_bytes(size, sizeof(size), s->ts_kmem.mk_size);
		snprintf(line + off, sizeof(line) - (size_t)off,
		    "  map: %s of %s used", used, size);
	}
	top_line(1, line, A_NORMAL);
}

static void
top_draw_table(struct top *t, struct top_view *v, size_t n)
{
	struct top_layout l;
	char cell[512];
	size_t page = top_page();

	top_layout(v, t->t_sorted, n, COLS, &l);
	top_line(2, "", A_REVERSE);
	for (int i = 0; i < l.tl_n; i++) {
		const struct top_col *c = &v->tv_cols[l.tl_col[i]];
		attr_t a = A_REVERSE | (l.tl_col[i] == v->tv_sort ? A_BOLD : 0);
		bool right = c->tc_kind != TK_NAME && c->tc_kind != TK_SIZES;
		top_put(2, l.tl_x[i], l.tl_width[i], c->tc_title, right, a);
	}
	if (n == 0) {
		if (t->t_cur.ts_rows == NULL)
			top_line(
			    TOP_HEAD_LINES, "  (no statistics yet)", A_DIM);
		else
			top_line(TOP_HEAD_LINES, "  (none)", A_DIM);
		return;
	}
	for (size_t k = 0; k < page && v->tv_first + k < n; k++) {
		const struct top_row *r = t->t_sorted[v->tv_first + k];
		int y = TOP_HEAD_LINES + (int)k;
		attr_t base = r->tr_backed ? A_DIM : A_NORMAL;
		attr_t chg = A_NORMAL;

		if (t->t_cur.ts_have_delta)
			chg = top_change_attr(t, r->tr_delta);

		for (int i = 0; i < l.tl_n; i++) {
			const struct top_col *c = &v->tv_cols[l.tl_col[i]];
			bool right =
			    c->tc_kind != TK_NAME && c->tc_kind != TK_SIZES;
			attr_t a = base;
			if (c->tc_kind == TK_DELTA || c->tc_kind == TK_RATE ||
			    c->tc_off == offsetof(struct top_row, tr_mem))
				a = chg != A_NORMAL ? chg : base;
			top_fmt_cell(cell, sizeof(cell), &t->t_cur, r, c);
			top_put(y, l.tl_x[i], l.tl_width[i], cell, right, a);
		}
	}
}

static void
top_draw_status(struct top *t)
{
	if (t->t_err[0] != '\0')
		top_line(LINES - 1, t->t_err,
		    A_BOLD | (t->t_color ? COLOR_PAIR(PAIR_ERROR) : A_REVERSE));
	else if (t->t_msg[0] != '\0' && top_now_ns() < t->t_msg_until)
		top_line(LINES - 1, t->t_msg, A_BOLD);
	else
		top_line(LINES - 1,
		    "q quit  h help  m types  z zones  s < > sort  r reverse  "
		    "+ - refresh  arrows PgUp PgDn scroll",
		    A_DIM);
}

static const char *const top_help[] = {
    "kmemstat -t: kmem's malloc types and uma zones, live",
    "",
    "  m          the malloc types (as vmstat -m)",
    "  z          the uma zones (as vmstat -z); the kmalloc zones are dim:",
    "             the malloc types count their bytes already",
    "  s  >       sort by the next column",
    "  <          sort by the previous column",
    "  r          reverse the sort",
    "  +  -       refresh less often, more often",
    "  space      refresh now",
    "  Up Down    scroll a line (also k j)",
    "  PgUp PgDn  scroll a page",
    "  Home End   the first rows, the last rows",
    "  Ctrl-L     redraw the screen",
    "  h  ?       this help",
    "  q          quit",
    "",
    "MemUse, Memory: bytes in use by a type; (used + free) * size for a zone.",
    "Change, Change/s: how the memory changed since the last refresh;",
    "growth in bold red, shrinking in green.",
    "",
    "Any key returns to the table.",
};

static void
top_draw_help(void)
{
	int n = (int)NELEM(top_help);

	for (int i = 0; i < n && i < LINES; i++)
		top_line(i, top_help[i], i == 0 ? A_BOLD : A_NORMAL);
}

static void
top_draw(struct top *t)
{
	struct top_view *v = &t->t_views[t->t_view];

	erase();
	if (COLS < TOP_MIN_COLS || LINES < TOP_MIN_LINES) {
		char msg[64];
		snprintf(msg, sizeof(msg), "%dx%d, needs %dx%d", COLS, LINES,
		    TOP_MIN_COLS, TOP_MIN_LINES);
		mvaddnstr(0, 0, "terminal too small", COLS);
		if (LINES > 2)
			mvaddnstr(1, 0, msg, COLS);
	} else if (t->t_help)
		top_draw_help();
	else {
		size_t n = top_view_rows(t, v);
		top_view_clamp(t, v);
		top_draw_header(t, v, n);
		top_draw_table(t, v, n);
		top_draw_status(t);
	}
	refresh();
}

/* ---- keys ---------------------------------------------------------------- */

static void
top_message(struct top *t, const char *msg)
{
	snprintf(t->t_msg, sizeof(t->t_msg), "%s", msg);
	t->t_msg_until = top_now_ns() + TOP_MSG_NS;
}

static void
top_set_interval(struct top *t, int dir)
{
	unsigned ms = t->t_interval;
	char every[16], msg[64];

	if (dir > 0) {
		ms = top_intervals[NELEM(top_intervals) - 1];
		for (size_t i = 0; i < NELEM(top_intervals); i++)
			if (top_intervals[i] > t->t_interval) {
				ms = top_intervals[i];
				break;
			}
	} else {
		ms = top_intervals[0];
		for (size_t i = NELEM(top_intervals); i-- > 0;)
			if (top_intervals[i] < t->t_interval) {
				ms = top_intervals[i];
				break;
			}
	}
	t->t_interval = ms;
	t->t_next_ns = t->t_last_ns + (int64_t)ms * 1000000;
	top_fmt_interval(every, sizeof(every), ms);
	snprintf(msg, sizeof(msg), "refresh every %s", every);
	top_message(t, msg);
}

static void
top_scroll(struct top *t, struct top_view *v, long lines)
{
	size_t n = top_view_count(t, v);

	if (lines < 0 && (size_t)-lines > v->tv_first)
		v->tv_first = 0;
	else if (lines < 0)
		v->tv_first -= (size_t)-lines;
	else if (v->tv_first + (size_t)lines < n)
		v->tv_first += (size_t)lines;
	else
		v->tv_first = n;
	top_view_clamp(t, v);
}

/* Acts on a key; returns false for quit. */
static bool
top_key(struct top *t, int ch)
{
	struct top_view *v = &t->t_views[t->t_view];
	long page = (long)top_page();
	char msg[64];

	if (ch == 'q' || ch == 'Q')
		return (false);
	if (ch == KEY_RESIZE)
		return (true);
	if (t->t_help) {
		t->t_help = false;
		return (true);
	}
	switch (ch) {
	case 'm':
		t->t_view = VIEW_TYPES;
		break;
	case 'z':
		t->t_view = VIEW_ZONES;
		break;
	case 's':
	case '>':
	case '<':
		top_view_sort_step(v, ch == '<' ? -1 : 1);
		v->tv_first = 0;
		break;
	case 'r':
		v->tv_reverse = !v->tv_reverse;
		v->tv_first = 0;
		break;
	case '+':
	case '=':
		top_set_interval(t, 1);
		break;
	case '-':
	case '_':
		top_set_interval(t, -1);
		break;
	case ' ':
		t->t_next_ns = top_now_ns();
		break;
	case KEY_UP:
	case 'k':
		top_scroll(t, v, -1);
		break;
	case KEY_DOWN:
	case 'j':
		top_scroll(t, v, 1);
		break;
	case KEY_PPAGE:
		top_scroll(t, v, -page);
		break;
	case KEY_NPAGE:
		top_scroll(t, v, page);
		break;
	case KEY_HOME:
	case 'g':
		v->tv_first = 0;
		break;
	case KEY_END:
	case 'G':
		top_scroll(t, v, (long)top_view_count(t, v));
		break;
	case 'h':
	case '?':
		t->t_help = true;
		break;
	case 12: /* Ctrl-L */
		clearok(curscr, TRUE);
		break;
	default:
		if (ch >= ' ' && ch < 127)
			snprintf(msg, sizeof(msg),
			    "unknown key '%c': h for help", ch);
		else
			snprintf(msg, sizeof(msg), "unknown key: h for help");
		top_message(t, msg);
		break;
	}
	return (true);
}

/* ---- the loop ------------------------------------------------------------ */

/* A view, sorted by memory, largest first. */
static void
top_view_init(struct top_view *v, const char *name, int allocator,
    const struct top_col *cols, size_t ncols)
{
	v->tv_name = name;
	v->tv_allocator = allocator;
	v->tv_cols = cols;
	v->tv_ncols = (int)ncols;
	for (int c = 0; c < v->tv_ncols; c++)
		if (cols[c].tc_off == offsetof(struct top_row, tr_mem))
			v->tv_sort = c;
}

static int
top_run(struct top *t)
{
	bool dirty = true;

	while (top_signalled == 0) {
		int64_t now = top_now_ns();

		if (now >= t->t_next_ns) {
			if (top_sample(t) != 0) {
				snprintf(t->t_fatal, sizeof(t->t_fatal),
				    "out of memory");
				return (1);
			}
			dirty = true;
		}
		if (t->t_msg[0] != '\0' && now >= t->t_msg_until) {
			t->t_msg[0] = '\0';
			dirty = true;
		}
		if (dirty)
			top_draw(t);
		dirty = false;

		int64_t wait = (t->t_next_ns - top_now_ns()) / 1000000;
		if (t->t_msg[0] != '\0' &&
		    (t->t_msg_until - top_now_ns()) / 1000000 < wait)
			wait = (t->t_msg_until - top_now_ns()) / 1000000 + 1;
		if (wait < 0)
			wait = 0;
		if (wait > TOP_WAIT_MAX_MS)
			wait = TOP_WAIT_MAX_MS;
		timeout((int)wait);
		int ch = getch();
		if (ch == ERR)
			continue;
		if (!top_key(t, ch))
			break;
		dirty = true;
	}
	return (0);
}

int
kmemstat_top(int (*sample)(struct memory_type_list *, void *), void *arg,
    unsigned interval_ms)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa, old[3];
	struct top t;
	SCREEN *scr;
	int rc;

	memset(&t, 0, sizeof(t));
	if (sample == NULL) {
		fprintf(stderr, "kmemstat: no sampler\n");
		return (1);
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "kmemstat: -t needs a terminal\n");
		return (1);
	}
	t.t_sample = sample;
	t.t_arg = arg;
	t.t_interval = interval_ms > 0 ? interval_ms : TOP_INTERVAL_DEFAULT;
	top_view_init(&t.t_views[VIEW_TYPES], "types", ALLOCATOR_MALLOC,
	    top_type_cols, NELEM(top_type_cols));
	top_view_init(&t.t_views[VIEW_ZONES], "zones", ALLOCATOR_UMA,
	    top_zone_cols, NELEM(top_zone_cols));
	if ((t.t_list = memstat_mtl_alloc()) == NULL) {
		fprintf(stderr, "kmemstat: out of memory\n");
		return (1);
	}

	/* Before curses, which then leaves these signals to us. */
	top_signalled = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = top_onsignal;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);

	if ((scr = newterm(NULL, stdout, stdin)) == NULL) {
		const char *term = getenv("TERM");
		snprintf(t.t_fatal, sizeof(t.t_fatal),
		    "cannot use the terminal (TERM=%s)",
		    term != NULL ? term : "");
		rc = 1;
	} else {
		set_term(scr);
		cbreak();
		noecho();
		nonl();
		keypad(stdscr, TRUE);
		set_escdelay(25);
		curs_set(0);
		if (has_colors() && start_color() == OK) {
			short bg =
			    use_default_colors() == OK ? -1 : COLOR_BLACK;
			init_pair(PAIR_GROW, COLOR_RED, bg);
			init_pair(PAIR_SHRINK, COLOR_GREEN, bg);
			init_pair(PAIR_ERROR, COLOR_WHITE, COLOR_RED);
			t.t_color = true;
		}
		rc = top_run(&t);
		endwin();
		delscreen(scr);
	}

	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (t.t_fatal[0] != '\0')
		fprintf(stderr, "kmemstat: %s\n", t.t_fatal);
	top_snap_free(&t.t_cur);
	free(t.t_sorted);
	memstat_mtl_free(t.t_list);
	return (rc);
}
