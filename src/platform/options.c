/*
 * options.c -- the tunables table and its parser; see options.h.
 *
 * The parser works in place on the caller's text and on fixed buffers: it
 * never allocates, so it can run before anything else of kmem is set up and
 * from inside an allocation.
 */
#include "options.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "prim.h"

struct kopt_values kopt;

#define KOPT_ROW(name, type, def, rt, lo, hi, desc)                          \
	{#name, type, def, rt, offsetof(struct kopt_values, name), lo, hi, desc, \
	    NULL}
/* A KOPT_STR row that takes one of the words of `words` ("a|b"). */
#define KOPT_ROW_WORDS(name, def, rt, words, desc)                           \
	{#name, KOPT_STR, def, rt, offsetof(struct kopt_values, name), 0, 0,    \
	    desc, words}

static const struct kopt_desc kopt_rows[] = {
    KOPT_ROW(kmem_size, KOPT_SIZE, "0", false, 0, UINT64_C(1) << 46,
	"size of the map in bytes; 0 sizes it from physical memory, the "
	"cgroup limit and RLIMIT_AS"),
    KOPT_ROW(kmem_size_scale, KOPT_UINT, "1", false, 1, 1024,
	"auto-tuning: the map gets physical memory divided by this"),
    KOPT_ROW(kmem_size_min, KOPT_SIZE, "16M", false, 0, UINT64_C(1) << 46,
	"auto-tuning: smallest map"),
    KOPT_ROW(kmem_size_max, KOPT_SIZE, "4T", false, 0, UINT64_C(1) << 46,
	"auto-tuning: largest map"),
    KOPT_ROW(wait_warn_ms, KOPT_UINT, "1000", true, 0, 86400000,
	"interval between \"waiting for memory\" lines of a waiting request "
	"(0: never)"),
    KOPT_ROW(wait_deadlock_ms, KOPT_UINT, "5000", true, 0, 86400000,
	"an M_WAITOK request aborts with the map report when every thread of "
	"the process has waited for memory this long with nothing freed "
	"(0: wait for ever)"),
    KOPT_ROW(verbose, KOPT_BOOL, "0", false, 0, 1,
	"log how the map was sized at start-up"),
    KOPT_ROW(leak_report, KOPT_BOOL, "0", true, 0, 1,
	"a malloc type that still holds memory when it is unloaded or at exit "
	"prints how much"),
    KOPT_ROW(stats, KOPT_BOOL, "1", false, 0, 1,
	"publish the statistics in a file that kmemstat reads"),
    KOPT_ROW(stats_file, KOPT_STR, "/dev/shm/kmem.%p", false, 0, 0,
	"path of the statistics file; %p stands for the process id"),
    KOPT_ROW(stats_keep, KOPT_BOOL, "0", true, 0, 1,
	"keep the statistics file after a normal exit"),
    KOPT_ROW(stats_interval, KOPT_UINT, "100", true, 10, 60000,
	"milliseconds between two publications of the statistics file"),
    KOPT_ROW_WORDS(preload_types, "library", false, "library|single",
	"the preload shim charges each allocation to a type named after the "
	"calling library (library) or all to one type, \"preload\" (single)"),
    KOPT_ROW(trash, KOPT_BOOL, "0", false, 0, 1,
	"fill free zone items with 0xdeadc0de and check them when they are "
	"handed out again (no per-thread caches)"),
    KOPT_ROW(redzone, KOPT_BOOL, "0", false, 0, 1,
	"guard bytes before and after every kmalloc block, checked at free "
	"and by kmem_check(); the allocation's call stack is kept"),
    KOPT_ROW(failure_rate, KOPT_UINT, "0", false, 0, UINT32_MAX,
	"every Nth M_NOWAIT request of a zone, kmalloc or kmem_malloc fails "
	"(0: none); M_WAITOK requests never do"),
    KOPT_ROW(failure_seed, KOPT_UINT, "0", false, 0, UINT64_MAX,
	"0: failure_rate fails exactly every Nth request; otherwise one "
	"request in N, in a pseudo-random pattern fixed by this seed"),
    KOPT_ROW(failure_only, KOPT_STR, "", false, 0, 0,
	"failure_rate applies only to the malloc type, zone or map region of "
	"this name (empty: to all)"),
    KOPT_ROW(fail_reserve, KOPT_UINT, "0", false, 0, UINT32_MAX,
	"once the map is set up, every Nth reservation of address space "
	"fails (0: none)"),
    KOPT_ROW(fail_commit, KOPT_UINT, "0", false, 0, UINT32_MAX,
	"once the map is set up, every Nth commit of pages fails (0: none)"),
    KOPT_ROW(memguard, KOPT_STR, "", false, 0, 0,
	"malloc types and zones whose allocations get pages of their own with "
	"a guard page, names separated by '|' (empty: none)"),
    KOPT_ROW(memguard_before, KOPT_BOOL, "0", false, 0, 1,
	"memguard puts the guard page before the block instead of after it"),
    KOPT_ROW(memguard_delay, KOPT_UINT, "64", false, 0, 65536,
	"freed memguard blocks that stay inaccessible before their pages are "
	"reused"),
};
#define KOPT_NROWS (sizeof(kopt_rows) / sizeof(kopt_rows[0]))

static enum kopt_source kopt_src[KOPT_NROWS];
static atomic_bool kopt_is_frozen;
static atomic_bool kopt_defaults_set;
static pthread_mutex_t kopt_lock = PTHREAD_MUTEX_INITIALIZER;

const struct kopt_desc *
kopt_table(size_t *np)
{
	*np = KOPT_NROWS;
	return (kopt_rows);
}

enum kopt_source
kopt_source_of(size_t row)
{
	return (row < KOPT_NROWS ? kopt_src[row] : KOPT_SRC_DEFAULT);
}

const char *
kopt_source_name(enum kopt_source src)
{
	switch (src) {
	case KOPT_SRC_DEFAULT:
		return ("default");
	case KOPT_SRC_AUTO:
		return ("auto-tuned");
	case KOPT_SRC_SETOPT:
		return ("kmem_setopt");
	case KOPT_SRC_ENV:
		return ("KMEM_OPTIONS");
	}
	return ("?");
}

int
kopt_parse_size(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	size_t i = 0;

	if (n == 0 || s[0] < '0' || s[0] > '9')
		return (EINVAL);
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return (ERANGE);
		v = v * 10 + d;
	}
	if (i < n) {
		switch (s[i]) {
		case 'k': case 'K': mult = UINT64_C(1) << 10; break;
		case 'm': case 'M': mult = UINT64_C(1) << 20; break;
		case 'g': case 'G': mult = UINT64_C(1) << 30; break;
		case 't': case 'T': mult = UINT64_C(1) << 40; break;
		default: return (EINVAL);
		}
		i++;
		if (i != n)
			return (EINVAL);
	}
	if (v != 0 && mult > UINT64_MAX / v)
		return (ERANGE);
	*out = v * mult;
	return (0);
}

static int
kopt_parse_uint(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return (EINVAL);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (EINVAL);
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return (ERANGE);
		v = v * 10 + d;
	}
	*out = v;
	return (0);
}

static bool
kopt_word(const char *s, size_t n, const char *w)
{
	return (strlen(w) == n && strncasecmp(s, w, n) == 0);
}

/* Whether (s, n) is one of the '|'-separated words. */
static bool
kopt_one_of(const char *s, size_t n, const char *words)
{
	for (const char *w = words; w != NULL;) {
		const char *bar = strchr(w, '|');
		size_t wn = bar != NULL ? (size_t)(bar - w) : strlen(w);
		if (wn == n && memcmp(w, s, n) == 0)
			return (true);
		w = bar != NULL ? bar + 1 : NULL;
	}
	return (false);
}

static int
kopt_parse_bool(const char *s, size_t n, bool *out)
{
	if (kopt_word(s, n, "1") || kopt_word(s, n, "true") ||
	    kopt_word(s, n, "yes") || kopt_word(s, n, "on"))
		*out = true;
	else if (kopt_word(s, n, "0") || kopt_word(s, n, "false") ||
	    kopt_word(s, n, "no") || kopt_word(s, n, "off"))
		*out = false;
	else
		return (EINVAL);
	return (0);
}

static const char *
kopt_type_hint(enum kopt_type t)
{
	switch (t) {
	case KOPT_SIZE:
		return ("a size such as 64M");
	case KOPT_UINT:
		return ("a whole number");
	case KOPT_BOOL:
		return ("0 or 1");
	case KOPT_STR:
		return ("text");
	}
	return ("?");
}

static int
kopt_find(const char *name, size_t n)
{
	for (size_t i = 0; i < KOPT_NROWS; i++) {
		if (strlen(kopt_rows[i].kd_name) == n &&
		    memcmp(kopt_rows[i].kd_name, name, n) == 0)
			return ((int)i);
	}
	return (-1);
}

/*
 * Stores a value given as (value, vlen) into row; on a bad value logs one line
 * naming where, the tunable and the value.  Caller holds kopt_lock.
 */
static int
kopt_store(size_t row, const char *value, size_t vlen, enum kopt_source src,
    const char *where)
{
	const struct kopt_desc *d = &kopt_rows[row];
	void *field = (char *)&kopt + d->kd_off;
	uint64_t v = 0;
	bool b = false;
	int error = 0;

	switch (d->kd_type) {
	case KOPT_SIZE:
		error = kopt_parse_size(value, vlen, &v);
		break;
	case KOPT_UINT:
		error = kopt_parse_uint(value, vlen, &v);
		break;
	case KOPT_BOOL:
		error = kopt_parse_bool(value, vlen, &b);
		break;
	case KOPT_STR:
		if (vlen >= KOPT_STRMAX)
			error = ERANGE;
		else if (d->kd_words != NULL && !kopt_one_of(value, vlen, d->kd_words))
			error = EINVAL;
		break;
	}
	if (error == 0 && (d->kd_type == KOPT_SIZE || d->kd_type == KOPT_UINT) &&
	    (v < d->kd_min || v > d->kd_max))
		error = ERANGE;
	if (error != 0) {
		if (error == ERANGE && d->kd_type != KOPT_STR)
			kp_log("%s: %s=%.*s: out of range (%llu to %llu)", where,
			    d->kd_name, (int)vlen, value,
			    (unsigned long long)d->kd_min, (unsigned long long)d->kd_max);
		else if (error == ERANGE)
			kp_log("%s: %s: value longer than %d bytes", where, d->kd_name,
			    KOPT_STRMAX - 1);
		else
			kp_log("%s: %s=%.*s: bad value (expected %s)", where, d->kd_name,
			    (int)vlen, value, d->kd_words != NULL ? d->kd_words :
			    kopt_type_hint(d->kd_type));
		return (EINVAL);
	}
	switch (d->kd_type) {
	case KOPT_SIZE:
	case KOPT_UINT:
		*(uint64_t *)field = v;
		break;
	case KOPT_BOOL:
		*(bool *)field = b;
		break;
	case KOPT_STR:
		memcpy(field, value, vlen);
		((char *)field)[vlen] = '\0';
		break;
	}
	kopt_src[row] = src;
	return (0);
}

static void
kopt_defaults_locked(void)
{
	if (atomic_load(&kopt_defaults_set))
		return;
	for (size_t i = 0; i < KOPT_NROWS; i++) {
		const char *def = kopt_rows[i].kd_default;
		if (kopt_store(i, def, strlen(def), KOPT_SRC_DEFAULT, "default") != 0)
			kp_fatal("options: default of %s does not parse: %s",
			    kopt_rows[i].kd_name, def);
	}
	atomic_store(&kopt_defaults_set, true);
}

/* One "name=value" entry of length n; caller holds kopt_lock. */
static int
kopt_set_entry(const char *e, size_t n, enum kopt_source src, const char *where)
{
	const char *eq = memchr(e, '=', n);
	if (eq == NULL) {
		kp_log("%s: '%.*s': expected name=value", where, (int)n, e);
		return (EINVAL);
	}
	size_t nlen = (size_t)(eq - e);
	int row = kopt_find(e, nlen);
	if (row < 0) {
		kp_log("%s: unknown option '%.*s' (in '%.*s')", where, (int)nlen, e,
		    (int)n, e);
		return (EINVAL);
	}
	if (atomic_load(&kopt_is_frozen) && !kopt_rows[row].kd_runtime) {
		kp_log("%s: %s can only be set before kmem is first used", where,
		    kopt_rows[row].kd_name);
		return (EBUSY);
	}
	return (kopt_store((size_t)row, eq + 1, n - nlen - 1, src, where));
}

int
kopt_set(const char *name, const char *value, enum kopt_source src,
    const char *where)
{
	size_t nlen, vlen;
	int row, error;

	if (name == NULL || value == NULL) {
		kp_log("%s: NULL %s", where, name == NULL ? "name" : "value");
		return (EINVAL);
	}
	nlen = strlen(name);
	vlen = strlen(value);
	pthread_mutex_lock(&kopt_lock);
	kopt_defaults_locked();
	row = kopt_find(name, nlen);
	if (row < 0) {
		kp_log("%s: unknown option '%s'", where, name);
		error = EINVAL;
	} else if (atomic_load(&kopt_is_frozen) && !kopt_rows[row].kd_runtime) {
		kp_log("%s: %s can only be set before kmem is first used", where,
		    name);
		error = EBUSY;
	} else {
		error = kopt_store((size_t)row, value, vlen, src, where);
	}
	pthread_mutex_unlock(&kopt_lock);
	return (error);
}

void
kopt_set_auto(const char *name, uint64_t value)
{
	int row = kopt_find(name, strlen(name));

	if (row < 0)
		return;
	pthread_mutex_lock(&kopt_lock);
	*(uint64_t *)((char *)&kopt + kopt_rows[row].kd_off) = value;
	kopt_src[row] = KOPT_SRC_AUTO;
	pthread_mutex_unlock(&kopt_lock);
}

int
kopt_parse_list(const char *list, enum kopt_source src, const char *where)
{
	int refused = 0;

	if (list == NULL)
		return (0);
	pthread_mutex_lock(&kopt_lock);
	kopt_defaults_locked();
	for (const char *p = list; *p != '\0';) {
		const char *c = strchr(p, ',');
		size_t n = c != NULL ? (size_t)(c - p) : strlen(p);
		/* Empty entries (",,", a trailing comma) are allowed. */
		if (n > 0 && kopt_set_entry(p, n, src, where) != 0)
			refused++;
		if (c == NULL)
			break;
		p = c + 1;
	}
	pthread_mutex_unlock(&kopt_lock);
	return (refused);
}

void
kopt_load_env(void)
{
	static atomic_bool loaded;

	if (atomic_exchange(&loaded, true))
		return;
	pthread_mutex_lock(&kopt_lock);
	kopt_defaults_locked();
	pthread_mutex_unlock(&kopt_lock);
	(void)kopt_parse_list(kp_getenv("KMEM_OPTIONS"), KOPT_SRC_ENV,
	    "KMEM_OPTIONS");
	atomic_store(&kopt_is_frozen, true);
}

bool
kopt_frozen(void)
{
	return (atomic_load(&kopt_is_frozen));
}

void
kopt_format(size_t row, char *buf, size_t len)
{
	const struct kopt_desc *d;
	const void *field;

	if (row >= KOPT_NROWS || len == 0) {
		if (len > 0)
			buf[0] = '\0';
		return;
	}
	d = &kopt_rows[row];
	field = (const char *)&kopt + d->kd_off;
	switch (d->kd_type) {
	case KOPT_SIZE: {
		uint64_t v = *(const uint64_t *)field;
		static const char sfx[] = "KMGT";
		int k = -1;
		while (v != 0 && (v & 1023) == 0 && k < 3) {
			v >>= 10;
			k++;
		}
		if (k >= 0)
			snprintf(buf, len, "%llu%c", (unsigned long long)v, sfx[k]);
		else
			snprintf(buf, len, "%llu", (unsigned long long)v);
		break;
	}
	case KOPT_UINT:
		snprintf(buf, len, "%llu",
		    (unsigned long long)*(const uint64_t *)field);
		break;
	case KOPT_BOOL:
		snprintf(buf, len, "%d", *(const bool *)field ? 1 : 0);
		break;
	case KOPT_STR:
		snprintf(buf, len, "%s", (const char *)field);
		break;
	}
}

void
kopt_reset(void)
{
	pthread_mutex_lock(&kopt_lock);
	atomic_store(&kopt_defaults_set, false);
	atomic_store(&kopt_is_frozen, false);
	kopt_defaults_locked();
	pthread_mutex_unlock(&kopt_lock);
}

/* fork(): kopt_lock is a leaf (rank KP_FORK_OPTIONS, see prim.h). */
static void
kopt_prefork(void)
{
	pthread_mutex_lock(&kopt_lock);
}

static void
kopt_postfork(void)
{
	pthread_mutex_unlock(&kopt_lock);
}

static const struct kp_fork_ops kopt_fork_ops = {
	.kfo_prepare = kopt_prefork,
	.kfo_parent = kopt_postfork,
	.kfo_child = kopt_postfork,
};

/* Defaults are in place before main(), so a plain read of kopt is valid. */
static void __attribute__((constructor))
kopt_ctor(void)
{
	pthread_mutex_lock(&kopt_lock);
	kopt_defaults_locked();
	pthread_mutex_unlock(&kopt_lock);
	kp_fork_register(KP_FORK_OPTIONS, &kopt_fork_ops);
}
