/*
 * kmem_debug.h -- the debug layer: failure injection and memguard.
 * Not for use outside kmem.
 *
 * Everything here is off unless a tunable turns it on, and costs nothing on
 * the fast paths then: the layers below divert requests to their slow
 * paths through flags those fast paths test anyway, and only the slow
 * paths call in here.
 *
 * 1. Failure injection (failure_rate, failure_seed, failure_only)
 *
 *    One counter per process counts the M_NOWAIT requests that may fail:
 *    those of the zones callers create (uma_zcreate, uma_zsecond_create),
 *    of kmalloc (small and large) and of kmem_malloc / kmem_arena_malloc.
 *    With failure_seed 0 the request that brings the counter to a multiple
 *    of failure_rate fails; with a seed, a request fails when a hash of the
 *    seed and the counter is a multiple of failure_rate, one in N on
 *    average, in the same pattern at every run.  failure_only limits it to
 *    the malloc type, zone or map region of that name (requests of other
 *    names are not counted).  M_WAITOK requests never fail and are not
 *    counted.  A failure is counted where a real one is: the zone's
 *    uz_fails, the type's mt_failures, the region's kr_nfailures, so
 *    kmemstat shows it.
 *
 *    Diversion: a caller's zone that injection applies to gets M_NOWAIT in
 *    uz_allocslow and UMA_ZFLAG_FAILINJ in uz_flags at creation; with
 *    failure_rate or memguard set, kmalloc's size-to-cache tables are left
 *    pointing at slot 0 (always empty), so every kmalloc() reaches
 *    kmalloc_slow(), which asks kdbg_fail_now() and kdbg_guarded().
 *    kmem_malloc() is never inline and asks directly.
 *
 *    fail_reserve and fail_commit arm the platform's kp_inject_every() once
 *    the map is set up, so that the map's and the zones' own NULL paths run
 *    (a commit the system refuses, an arena that cannot grow).
 *
 * 2. memguard (memguard, memguard_before, memguard_delay)
 *
 *    Every kmalloc() of a malloc type named in memguard gets pages of its
 *    own from the map, one more than it needs, the extra one made
 *    inaccessible: the guard page.  The block sits at the end of its pages
 *    (rounded down to 16 bytes), so a write past its end faults on the
 *    guard page; memguard_before puts the guard page first and the block
 *    at the start of the page after it, to catch underruns.
 *
 *        after (default):  | .. slack .. block | guard |
 *        before:           | guard | block .. slack .. |
 *
 *    The block is a large kmalloc allocation (page-table class KMC_LARGE)
 *    whose struct km_large has kl_guard set, and every page of the run,
 *    guard page included, points at that record, so kfree() validates it
 *    as it validates any large block and the fault handler finds it from
 *    any address in the run.  kfree() makes the pages inaccessible, marks
 *    the record freed and queues it on a FIFO of memguard_delay records;
 *    only when it falls off the FIFO are its pages given back to the map.
 *    A use after free in the meantime faults at the offending instruction;
 *    a second kfree() is a double free.
 *
 *    The fault handler (kp_fault_handler(), installed when memguard is on)
 *    looks the address up in the page table and prints one line:
 *
 *        memguard: use after free of ADDR (SIZE bytes, type NAME) at ADDR+OFF
 *        memguard: overflow past ADDR (SIZE bytes, type NAME) by N bytes
 *        memguard: underflow before ADDR (SIZE bytes, type NAME) by N bytes
 *
 *    then lets the signal end the process.  Faults elsewhere go to the
 *    handler that was installed before.
 *
 * 3. Locks
 *
 *    mg_lock guards the FIFO; it is taken by kfree() of a guarded block
 *    and released before the map is called.  The counters are atomic.
 */
#ifndef KMEM_DEBUG_H
#define KMEM_DEBUG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct km_large;

/* Set by kdbg_init(); read by the slow paths only. */
extern atomic_bool kdbg_fail_on;     /* failure_rate is set */
extern atomic_bool kdbg_memguard_on; /* memguard names something */

/* Reads the tunables; run once the map is set up. */
void kdbg_init(void);

/* ---- failure injection ------------------------------------------------- */

/* Whether failure injection applies to requests of name. */
bool kdbg_fail_applies(const char *name);
/*
 * Whether this request of name must fail: M_NOWAIT, injection applies to
 * name and the counter says so.  Call only when kdbg_fail_on.
 */
bool kdbg_fail_now(const char *name, int flags);
/* Failures injected so far, and requests counted. */
uint64_t kdbg_fail_injected(void);
uint64_t kdbg_fail_counted(void);

/*
 * Whether kmalloc() must always take its slow path (failure injection or
 * memguard is on).
 */
bool kdbg_kmalloc_divert(void);

/* ---- memguard ---------------------------------------------------------- */

#define KL_GUARD_LIVE 1  /* kl_guard: a guarded block in use */
#define KL_GUARD_FREED 2 /* ... freed, on the FIFO */

/* Whether name (a malloc type or a zone) is guarded. */
bool kdbg_guarded(const char *name);
/*
 * Takes pages for a guarded block of size bytes and fills rec's kl_addr,
 * kl_base, kl_pages, kl_usable and kl_guard; enters the run in the page
 * table.  Returns the block, or NULL (errno ENOMEM).
 */
void *memguard_alloc(struct km_large *rec, size_t size, int flags);
/*
 * Frees a guarded block: its pages become inaccessible and rec goes on the
 * FIFO.  Returns a record that fell off the FIFO, whose pages are back in
 * the map (the caller frees the record), or NULL.
 */
struct km_large *memguard_free(struct km_large *rec);

#endif /* KMEM_DEBUG_H */
