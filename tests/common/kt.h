/*
 * kt.h -- helpers shared by kmem's unit tests (cmocka).
 *
 * Some tests must run in a process of their own: those that expect kmem to
 * abort with a message, and those that need the map set up with particular
 * tunables (the map is set up once per process).  kt_child() forks, runs a
 * function in the child with its standard error captured, and reports how
 * the child ended.  Inside a child, use KT_CHECK(), not cmocka's assertions
 * (they belong to the parent's runner).
 */
#ifndef KMEM_KT_H
#define KMEM_KT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs these first */
#include <cmocka.h>

#include "uma/uma_stats.h"

struct kt_result {
	int kr_exited;     /* 1 if the child exited, 0 if a signal ended it */
	int kr_status;     /* exit status, or the signal number */
	char kr_err[8192]; /* what the child wrote to stderr (cut, NUL-ended) */
};

/* Runs fn(arg) in a child process; the child exits 0 when fn returns. */
void kt_child(void (*fn)(void *), void *arg, struct kt_result *res);

/* Fails the current cmocka test unless the child exited 0. */
void kt_assert_child_ok(void (*fn)(void *), void *arg);

/*
 * Fails the current test unless the child was killed by `sig` and its stderr
 * contains `message`.
 */
void kt_assert_death(void (*fn)(void *), void *arg, int sig,
    const char *message);

/* In a child: on failure print the condition and exit(1). */
#define KT_CHECK(cond)                                                     \
	do {                                                                   \
		if (!(cond))                                                       \
			kt_child_fail(__FILE__, __LINE__, #cond);                      \
	} while (0)
__attribute__((noreturn)) void kt_child_fail(const char *file, int line,
    const char *what);

/* In a child: equality and order, printing both values when they fail. */
#define KT_EQ(a, b) KT_CMP(a, b, ==)
#define KT_LE(a, b) KT_CMP(a, b, <=)
#define KT_CMP(a, b, op)                                                   \
	do {                                                                   \
		unsigned long long a_ = (unsigned long long)(a);                   \
		unsigned long long b_ = (unsigned long long)(b);                   \
		if (!(a_ op b_))                                                   \
			kt_cmp_fail(__FILE__, __LINE__, #a, a_, #op, #b, b_);          \
	} while (0)
__attribute__((noreturn)) void kt_cmp_fail(const char *file, int line,
    const char *a, unsigned long long av, const char *op, const char *b,
    unsigned long long bv);

/*
 * Whether the suite runs under failure injection (KMEM_OPTIONS names a
 * failure_rate, fail_commit or fail_reserve other than 0; CTest's
 * <test>_failures and <test>_commitfail runs).  A test whose checks count
 * on every M_NOWAIT allocation, or every commit, succeeding starts with
 * KT_NEEDS_EVERY_ALLOCATION(), which skips it there.
 */
int kt_failures_injected(void);
#define KT_NEEDS_EVERY_ALLOCATION()                                        \
	do {                                                                   \
		if (kt_failures_injected())                                        \
			skip();                                                        \
	} while (0)

/*
 * Whether zones have per-thread caches: not in the AddressSanitizer
 * build, where every allocation and free of a caller's zone or of kmalloc
 * takes the slow path that poisons and unpoisons items (kmem_debug(3),
 * ADDRESSSANITIZER).  Checks of what the caches hold are made only when
 * they exist.
 */
#if defined(__SANITIZE_ADDRESS__)
#define KT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KT_ASAN 1
#endif
#endif
#ifndef KT_ASAN
#define KT_ASAN 0
#endif
#define KT_ZONE_CACHES (!KT_ASAN)
/*
 * A test that writes where kmem's own check must catch it (a redzone)
 * skips itself under AddressSanitizer, which reports the write first.
 */
#define KT_NEEDS_NO_ASAN()                                                 \
	do {                                                                   \
		if (KT_ASAN)                                                       \
			skip();                                                        \
	} while (0)

/* In a child: sets the map up with kmem_size = size ("16M"). */
void kt_map_setup(const char *size);

/* A zone's statistics, every field first set to all ones. */
struct uma_zone;
struct uma_zone_stats kt_zone_stats(struct uma_zone *zone);
/*
 * In a child: checks the identities of a primary zone that no thread is
 * using: every item of every slab is in use or free in exactly one place,
 * and the counters agree with each other.
 */
void kt_zone_consistent(struct uma_zone *zone);

/* One malloc type's or zone's figures from a fresh memstat snapshot. */
struct kt_tstat {
	int found;   /* the type or zone exists */
	int backed;  /* memstat_get_malloc_backed() */
	uint64_t size, count, bytes, highbytes, numallocs, numfrees, failures;
	uint64_t sizemask, sleeps, countlimit;
};
/* In a child: the figures of name for allocator (ALLOCATOR_*). */
struct kt_tstat kt_stat_of(int allocator, const char *name);

/* A deterministic pseudo-random generator (xorshift64*). */
static inline uint64_t
kt_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (x * 0x2545F4914F6CDD1DULL);
}

#endif /* KMEM_KT_H */
