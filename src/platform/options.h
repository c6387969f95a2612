/*
 * options.h -- run-time tunables.  Not for use outside kmem.
 *
 * Every tunable is one row of the table in options.c: its name, type,
 * default, whether it may change after kmem is in use, and a one-line
 * description.  The same table parses KMEM_OPTIONS and kmem_setopt(),
 * prints the tunables in force for kmem_report(), and is what the manual
 * pages document.  Values live in the global `kopt` below, one field per row;
 * the parser never allocates (strings are kept in fixed arrays).
 *
 * Syntax of KMEM_OPTIONS: name=value[,name=value...].  Sizes are decimal
 * integers with an optional binary suffix K, M, G or T (KiB, MiB, ...);
 * booleans are 0/1, true/false, yes/no or on/off.  A malformed entry or an
 * unknown name is refused with one line on stderr naming it, and the rest of
 * the list is still applied.
 *
 * Precedence (later wins): default, kmem_setopt() before first use,
 * KMEM_OPTIONS at first use, kmem_setopt() after first use for the tunables
 * marked run-time.  Each row remembers which of these set it.
 */
#ifndef KMEM_OPTIONS_H
#define KMEM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KOPT_STRMAX 256 /* longest string value, with its NUL */

enum kopt_type {
	KOPT_SIZE, /* uint64_t, bytes, with K/M/G/T suffixes */
	KOPT_UINT, /* uint64_t, plain decimal */
	KOPT_BOOL, /* bool */
	KOPT_STR,  /* char[KOPT_STRMAX] */
};

enum kopt_source {
	KOPT_SRC_DEFAULT = 0, /* compiled-in default */
	KOPT_SRC_AUTO,        /* computed by kmem (auto-tuning) */
	KOPT_SRC_SETOPT,      /* kmem_setopt() */
	KOPT_SRC_ENV,         /* KMEM_OPTIONS */
};

/* The values.  Field names are the tunables' names. */
struct kopt_values {
	uint64_t kmem_size;       /* map size; 0 = auto-tune */
	uint64_t kmem_size_scale; /* physical memory divisor for auto-tune */
	uint64_t kmem_size_min;   /* lower clamp of the auto-tuned size */
	uint64_t kmem_size_max;   /* upper clamp of the auto-tuned size */
	uint64_t wait_warn_ms;    /* interval of "waiting for memory" lines */
	uint64_t wait_deadlock_ms; /* every thread waiting this long: abort */
	bool verbose;             /* log map decisions at start-up */
	bool leak_report;         /* types holding memory at unload/exit say so */
	bool stats;               /* publish the statistics file */
	char stats_file[KOPT_STRMAX]; /* its path ("%p": pid); "" = /dev/shm/kmem.%p */
	bool stats_keep;          /* keep it after a normal exit */
	uint64_t stats_interval;  /* milliseconds between publications */
	char preload_types[KOPT_STRMAX]; /* the shim's types: library|single */
	bool trash;               /* junk-fill and check free zone items */
	bool redzone;             /* guard bytes around kmalloc blocks */
	/* the debug layer (src/debug/kmem_debug.h) */
	uint64_t failure_rate;    /* every Nth M_NOWAIT request fails; 0 = off */
	uint64_t failure_seed;    /* 0: every Nth; else a seeded 1-in-N pattern */
	char failure_only[KOPT_STRMAX]; /* only this type, zone or region */
	uint64_t fail_reserve;    /* every Nth kp_reserve() fails; 0 = off */
	uint64_t fail_commit;     /* every Nth kp_commit() fails; 0 = off */
	char memguard[KOPT_STRMAX]; /* guarded types and zones, '|'-separated */
	bool memguard_before;     /* the guard page precedes the block */
	uint64_t memguard_delay;  /* freed guarded blocks kept inaccessible */
};
extern struct kopt_values kopt;

struct kopt_desc {
	const char *kd_name;      /* tunable name */
	enum kopt_type kd_type;   /* value type */
	const char *kd_default;   /* default, as text */
	bool kd_runtime;          /* may change after first use */
	size_t kd_off;            /* offset of the value in kopt */
	uint64_t kd_min, kd_max;  /* accepted range (numbers) */
	const char *kd_desc;      /* one line for the manual and the report */
	const char *kd_words;     /* KOPT_STR: the values allowed, separated
				     by '|'; NULL: any text */
};

/* The table; *np is set to the number of rows. */
const struct kopt_desc *kopt_table(size_t *np);
enum kopt_source kopt_source_of(size_t row);
const char *kopt_source_name(enum kopt_source src);

/*
 * Sets one tunable from text.  Returns 0, EINVAL (unknown name or bad value;
 * a one-line message naming `where`, the name and the value goes to
 * stderr), or EBUSY (not a run-time tunable and kopt_load_env() has run).
 */
int kopt_set(const char *name, const char *value, enum kopt_source src,
    const char *where);
/* Marks a tunable as computed by kmem (after auto-tuning). */
void kopt_set_auto(const char *name, uint64_t value);
/*
 * Applies a comma-separated list; returns the number of refused entries.
 * `where` names the list in messages ("KMEM_OPTIONS").
 */
int kopt_parse_list(const char *list, enum kopt_source src, const char *where);
/* Applies KMEM_OPTIONS from the environment, then freezes.  Once only. */
void kopt_load_env(void);
bool kopt_frozen(void);
/* Formats row's value ("64M", "1", "yes", the string) into buf. */
void kopt_format(size_t row, char *buf, size_t len);
/* Parses a size with an optional K/M/G/T suffix; 0 or EINVAL/ERANGE. */
int kopt_parse_size(const char *s, size_t n, uint64_t *out);
/* Restores every default (tests only). */
void kopt_reset(void);

#endif /* KMEM_OPTIONS_H */
