/*
 * prim.h -- the platform contract.  Not for use outside kmem.
 *
 * Everything kmem needs from the operating system goes through the functions
 * declared here, and only the platform backend (prim_linux.c) makes system
 * calls.  The upper layers (vmem, the map, uma, malloc, stats) are written
 * against this contract alone.
 *
 * Conventions
 *   - Functions that can fail return 0 on success or a positive errno value
 *     (ENOMEM, EINVAL, ...); they never set errno for the caller and never
 *     allocate from the heap.
 *   - Addresses and sizes given to the page functions must be multiples of
 *     kp_page_size() unless stated otherwise; a violation returns EINVAL.
 *   - Nothing here calls back into kmem, so every function may be called
 *     with any kmem lock held.
 *
 * Pages
 *   kp_reserve()  takes address space that is not accessible and not backed
 *                 by memory (PROT_NONE, MAP_NORESERVE);
 *   kp_commit()   makes part of a reservation readable and writable; fresh
 *                 pages read as zero;
 *   kp_decommit() gives the memory behind part of a reservation back to the
 *                 system and makes it inaccessible again; the next commit
 *                 reads zero;
 *   kp_protect()  changes the access of committed pages (guard pages);
 *   kp_release()  gives address space back.
 *
 * Test seams
 *   kp_inject() makes the next reserve or commit calls fail with ENOMEM, so
 *   that callers' failure paths run.  kp_figure_override() substitutes the
 *   physical memory, cgroup limit and address-space figures that the map
 *   sizes itself from.  Both are cheap when unused (one load and a test).
 *   kp_inject_every() fails every nth call instead, for the fail_reserve
 *   and fail_commit tunables.
 *
 * Locks
 *   kp_mutex_t and kp_cond_t wrap POSIX mutexes and condition variables;
 *   condition waits time out against the monotonic clock.  Lock order is the
 *   callers' business: nothing in this layer takes a lock of its own except
 *   while reading /proc or the cgroup files at start-up and while arming
 *   failure injection.  Around fork() the platform's handlers take every
 *   lock of kmem, in the order written down under "fork" below.
 */
#ifndef KMEM_PRIM_H
#define KMEM_PRIM_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KP_LIKELY(x) __builtin_expect(!!(x), 1)
#define KP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define KP_NOINLINE __attribute__((noinline))
#define KP_ALWAYS_INLINE inline __attribute__((always_inline))
#define KP_COLD __attribute__((cold, noinline))
#define KP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define KP_NORETURN __attribute__((noreturn))

/* ---- pages ---------------------------------------------------------- */

/* The system page size; a power of two.  Valid after kp_init(). */
size_t kp_page_size(void);

/* Initialises the layer (page size, clock).  Idempotent, thread safe. */
void kp_init(void);

/*
 * Reserves size bytes of address space aligned to align (a power of two, or
 * 0 for the page size).  On success *addrp is the start.  ENOMEM when the
 * address space is not there (or a failure is injected).
 */
int kp_reserve(size_t size, size_t align, void **addrp);
/* Returns a reservation (or a page-aligned part of it) to the system. */
int kp_release(void *addr, size_t size);
/* Makes [addr, addr+size) of a reservation readable and writable. */
int kp_commit(void *addr, size_t size);
/* Returns the memory behind [addr, addr+size) and makes it inaccessible. */
int kp_decommit(void *addr, size_t size);

#define KP_PROT_NONE 0
#define KP_PROT_READ 1
#define KP_PROT_WRITE 2
#define KP_PROT_RW (KP_PROT_READ | KP_PROT_WRITE)
/* Sets the access of committed pages. */
int kp_protect(void *addr, size_t size, int prot);

/* ---- failure injection (tests) -------------------------------------- */

enum kp_op {
	KP_OP_RESERVE = 0, /* kp_reserve */
	KP_OP_COMMIT = 1,  /* kp_commit */
	KP_OP_NOPS
};

/*
 * Lets the next `skip` calls of op succeed, then makes `count` calls fail
 * with ENOMEM (count 0 cancels).  Thread safe.  kp_injected() is the number
 * of failures injected so far for op.
 */
void kp_inject(enum kp_op op, unsigned skip, unsigned count);
uint64_t kp_injected(enum kp_op op);
/*
 * Makes every nth call of op fail with ENOMEM from now on (n 0 stops it),
 * besides what kp_inject() arms.  The failure_rate family of tunables
 * (fail_reserve, fail_commit) is this.  Thread safe.
 */
void kp_inject_every(enum kp_op op, unsigned n);

/* ---- faults (memguard) ---------------------------------------------- */

/*
 * Installs a handler of SIGSEGV and SIGBUS that calls fn with the faulting
 * address.  fn writes what the address was and returns true when it is
 * one it knows: the default action is then restored and the faulting
 * instruction, run again, ends the process with the signal.  Otherwise the
 * handler that was there before is put back and the instruction runs
 * again under it.  fn runs in a signal handler: it must not take locks or
 * allocate.  Installed once; 0 or an errno.
 */
int kp_fault_handler(bool (*fn)(void *addr));

/* ---- what exists ----------------------------------------------------- */

#define KP_UNLIMITED UINT64_MAX

enum kp_figure {
	KP_FIG_PHYSMEM = 0, /* bytes of physical memory */
	KP_FIG_CGROUP = 1,  /* memory limit of the process' cgroup */
	KP_FIG_AS_FREE = 2, /* address space RLIMIT_AS still leaves */
	KP_FIG_NFIGS
};

/*
 * The figure, in bytes, or KP_UNLIMITED when there is no such limit.  The
 * cgroup figure is the smallest memory.max (v2) or memory.limit_in_bytes
 * (v1) on the path from the process' cgroup to the root; the address-space
 * figure is RLIMIT_AS less the address space already mapped.
 */
uint64_t kp_figure(enum kp_figure fig);
/* Where kp_figure() got it: "sysconf", "cgroup v2 /sys/fs/...", ... */
const char *kp_figure_source(enum kp_figure fig);
/* Substitutes a figure (tests); KP_UNLIMITED means "no limit". */
void kp_figure_override(enum kp_figure fig, uint64_t value);
/* Removes a substitution. */
void kp_figure_reset(enum kp_figure fig);

/* ---- locks ------------------------------------------------------------ */

typedef struct kp_mutex {
	pthread_mutex_t km_m;
} kp_mutex_t;
typedef struct kp_cond {
	pthread_cond_t kc_c;
} kp_cond_t;

/*
 * Adaptive mutexes (glibc): a contended lock spins a little before it
 * sleeps, since kmem's critical sections are a few hundred instructions.
 */
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#define KP_MUTEX_INITIALIZER {PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP}
#else
#define KP_MUTEX_INITIALIZER {PTHREAD_MUTEX_INITIALIZER}
#endif

void kp_mutex_init(kp_mutex_t *m);
void kp_mutex_destroy(kp_mutex_t *m);
void kp_mutex_lock(kp_mutex_t *m);
bool kp_mutex_trylock(kp_mutex_t *m);
void kp_mutex_unlock(kp_mutex_t *m);

/*
 * For the fork handlers, which hold one lock per zone, keg and arena at
 * once: kp_mutex_lock() and kp_mutex_unlock(), except that under
 * ThreadSanitizer the calls are hidden from it (its deadlock detector stops
 * the process when a thread holds more than 64 locks).  A child that then
 * writes what such a lock guards takes the lock again the usual way, so
 * that the tool sees the order.
 */
void kp_mutex_lock_fork(kp_mutex_t *m);
void kp_mutex_unlock_fork(kp_mutex_t *m);

/* Condition variables wait against CLOCK_MONOTONIC. */
void kp_cond_init(kp_cond_t *c);
void kp_cond_destroy(kp_cond_t *c);
void kp_cond_wait(kp_cond_t *c, kp_mutex_t *m);
/* Waits at most timeout_ns; returns false when the time ran out. */
bool kp_cond_timedwait(kp_cond_t *c, kp_mutex_t *m, uint64_t timeout_ns);
void kp_cond_signal(kp_cond_t *c);
void kp_cond_broadcast(kp_cond_t *c);

/* ---- threads and time ------------------------------------------------- */

/* A small number unique to the calling thread among live threads (the
 * kernel thread id). */
uint32_t kp_thread_id(void);
uint32_t kp_process_id(void);
/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t kp_clock_ns(void);
/* Sleeps the calling thread. */
void kp_sleep_ns(uint64_t ns);
/* Nanoseconds of CLOCK_REALTIME (for the statistics file). */
int64_t kp_realtime_ns(void);
/*
 * 64 random bits from the system's random source (getrandom(2), else the
 * kernel's AT_RANDOM bytes mixed with the clock and the process id); for
 * secrets chosen once at start-up, not for a stream of numbers.
 */
uint64_t kp_random64(void);
/*
 * Starts a detached thread named name running fn(arg), with every signal
 * blocked; 0 or an errno.
 */
int kp_thread_start(const char *name, void *(*fn)(void *), void *arg);
/*
 * Threads of the process that are not kmem's own (those kp_thread_start()
 * made): the threads /proc/self/status counts, less kmem's while they run.
 * A thread of kmem counts as the process's from its creation until it
 * marks itself, and again from its end until it is gone, so the figure is
 * never too small.  -1 when /proc cannot be read.  No allocation.
 */
int kp_app_threads(void);

/* ---- fork -------------------------------------------------------------- */

/*
 * fork() in a threaded process copies only the calling thread; a kmem lock
 * that another thread held at that moment would stay held in the child for
 * good.  The platform registers pthread_atfork() handlers once, in its
 * constructor, and they are the one place that orders kmem's locks around
 * fork(): each layer registers its own prepare / parent / child functions
 * under a rank below, and
 *   prepare  calls every rank's prepare, in rank order, then takes the
 *            platform's own locks: every kmem lock is then held by the
 *            forking thread, so no other thread is inside a critical
 *            section at the moment of the copy;
 *   parent   releases the platform's locks, then calls every rank's parent
 *            function, in reverse order;
 *   child    resets the thread id, releases the platform's locks, then
 *            calls every rank's child function, in reverse order.  Child
 *            functions release what prepare took (the forking thread, which
 *            the child's only thread is, holds it all) and reinitialise
 *            what other threads may have been left using: condition
 *            variables, waiter counts, locks that prepare does not take.
 * A layer calls only the layers below it; the platform calls up only
 * through these registrations.  Registering is one atomic store, done from
 * each layer's constructor, so every rank is in place before main().
 *
 * The ranks follow the global lock order of kmem, outermost first.  Locks
 * that are held across calls into other layers -- the set-up locks, which
 * are held while zones and arenas are created, and the two that may run the
 * low-memory handlers while held (submap creation, tag-pool growth), which
 * take uma's locks -- come before every lock that guards data:
 *
 *   KP_FORK_SHIM         the preload shim's set-up and type-cache locks
 *                        (it calls into kmem holding them)
 *   KP_FORK_STATS        ks_lock (the statistics file)
 *   KP_FORK_MALLOC_SETUP km_startup_lock (kmalloc's zones)
 *   KP_FORK_UMA_SETUP    uma_startup_lock (uma's own zones)
 *   KP_FORK_MAP_SETUP    kmem_init_lock -> km_region_lock
 *   KP_FORK_VMEM_GROW    vmem_bt_grow_lock
 *   KP_FORK_MALLOC       mt_lock (types and thread blocks) -> kl_lock (kept
 *                        large blocks, a leaf)
 *   KP_FORK_DEBUG        rz_lock (redzone records, a leaf)
 *   KP_FORK_UMA          uma_zones_lock -> uma_tc_lock -> every zone's
 *                        uz_lock -> every keg's uk_lock
 *   KP_FORK_VMEM         vmem_arenas_lock -> every arena's vm_lock ->
 *                        the tag pool's bp_lock
 *   KP_FORK_MAP          km_wait_lock -> km_lowmem_lock
 *   KP_FORK_OPTIONS      kopt_lock
 *   (platform)           kp_fig_lock -> kp_inj_lock
 *
 * Zone locks never nest with each other, nor keg locks, nor arena locks,
 * so taking all of one kind in list order deadlocks with nobody.  One lock
 * is left out on purpose: km_lowmem_run is held while the low-memory
 * handlers run, which take any lock, and waited for by threads that hold
 * any lock; no place in the order fits it.  It guards no data, and the
 * child reinitialises it.  A thread must not fork while it holds a kmem
 * lock itself (from a ctor, a low-memory handler, a maxaction): prepare
 * would wait for it forever, as glibc's malloc does in the same case.
 */
enum kp_fork_rank {
	KP_FORK_SHIM = 0,   /* the preload shim's init and type-cache locks */
	KP_FORK_STATS,
	KP_FORK_MALLOC_SETUP,
	KP_FORK_UMA_SETUP,
	KP_FORK_MAP_SETUP,
	KP_FORK_VMEM_GROW,
	KP_FORK_MALLOC,
	KP_FORK_DEBUG,      /* the redzone table (a leaf) */
	KP_FORK_UMA,
	KP_FORK_VMEM,
	KP_FORK_MAP,
	KP_FORK_OPTIONS,
	KP_FORK_NRANKS
};

struct kp_fork_ops {
	void (*kfo_prepare)(void); /* takes the rank's locks */
	void (*kfo_parent)(void);  /* releases them in the parent */
	void (*kfo_child)(void);   /* releases or resets them in the child */
};

/* Installs ops (static storage) for rank; NULL removes them. */
void kp_fork_register(enum kp_fork_rank rank, const struct kp_fork_ops *ops);

/* ---- futexes on shared memory (other processes may wake them) --------- */

/* Waits while *addr == val, at most timeout_ns; woken by kp_futex_wake. */
void kp_futex_wait(uint32_t *addr, uint32_t val, uint64_t timeout_ns);
void kp_futex_wake(uint32_t *addr);

/* ---- files (the statistics file) -------------------------------------- */

/*
 * Creates path (mode 0600, replacing a regular file of that name, never
 * following a symbolic link), sizes it to size bytes and maps it shared,
 * read-write.  Returns 0 with *addrp set, or an errno.
 */
int kp_file_create_map(const char *path, size_t size, void **addrp);
void kp_file_unmap(void *addr, size_t size);
/* unlink(2) and rename(2); 0 or an errno. */
int kp_unlink(const char *path);
int kp_rename(const char *from, const char *to);
/* The program's short name, and its start time from /proc (clock ticks
 * since boot; 0 if unknown). */
const char *kp_program_name(void);
uint64_t kp_process_start_ticks(void);
/*
 * Reads /proc/<pid>/stat (pid 0: this process): *state gets the state
 * letter ('R', 'S', 'Z', ...) and *start the start time in clock ticks
 * since boot.  0, or -1 when it cannot be read.
 */
int kp_proc_stat(int pid, char *state, uint64_t *start);

/* ---- output and the environment -------------------------------------- */

/*
 * Writes one line "kmem: <message>\n" to standard error with a single
 * write(2), formatting into a stack buffer (no allocation).  Lines longer
 * than 1023 bytes are cut.
 */
void kp_log(const char *fmt, ...) KP_PRINTF(1, 2);
void kp_vlog(const char *fmt, va_list ap);
/* kp_log, then the fatal hook (if set), then abort(). */
KP_NORETURN void kp_fatal(const char *fmt, ...) KP_PRINTF(1, 2);
/* Runs in kp_fatal() before abort(): the statistics file's last word. */
void kp_set_fatal_hook(void (*fn)(void));
/* Writes len bytes to fd, retrying short writes; 0 or errno. */
int kp_write(int fd, const void *buf, size_t len);
/* getenv(3), without allocating. */
const char *kp_getenv(const char *name);

#endif /* KMEM_PRIM_H */
