/*
 * shim.c -- the preload library, libkmem-preload.so: every libc allocation
 * entry point over typed malloc, so that an unmodified program runs on kmem
 * and `kmemstat -p PID -m` says which of its libraries holds the memory.
 *
 * 1. What it is
 *
 *    The library is kmem's objects plus this file, linked with a version
 *    script that exports only the names below (everything of kmem is local,
 *    so no call inside it goes through the PLT) and with -z now:
 *
 *      malloc free calloc realloc reallocarray posix_memalign aligned_alloc
 *      memalign valloc pvalloc malloc_usable_size, the C++ operator new and
 *      delete variants, and dlclose (a wrapper, see 3).
 *
 *    glibc's semantics are kept: malloc(0) is a unique 16-byte block;
 *    free(NULL) does nothing; realloc(NULL, n) is malloc(n); realloc(p, 0)
 *    frees p and returns NULL (glibc's REALLOC_ZERO_BYTES_FREES); calloc and
 *    reallocarray overflow, and sizes above PTRDIFF_MAX or the map, give
 *    NULL with errno ENOMEM, silently (kmem's "can never fit" line is for
 *    kmalloc callers); posix_memalign refuses with EINVAL an alignment that
 *    is not a power of two multiple of sizeof(void *); memalign and
 *    aligned_alloc (one function in glibc 2.36) round an alignment that is
 *    not a power of two up to one, and refuse with EINVAL one above
 *    SIZE_MAX / 2 + 1.  Every allocation is M_NOWAIT: a full map makes
 *    malloc return NULL, as an exhausted heap does.
 *
 * 2. Alignment
 *
 *    kmalloc classes are 16-byte aligned.  A kmalloc slab starts on a page
 *    and keeps its header elsewhere, so the items of a class are aligned to
 *    the largest power of two that divides the class size: an alignment up
 *    to a page is the smallest class that is both large enough and a
 *    multiple of it; more, or a larger size, takes whole pages of the map,
 *    aligned with vmem_xalloc() when the alignment exceeds a page
 *    (kmalloc_aligned() in kern_malloc.c).  malloc_usable_size() is
 *    kmalloc_usable_size(): the class size or the pages.
 *
 * 3. Types: one per calling object
 *
 *    free() and realloc() are not told a type: kfree_any() and
 *    krealloc_any() validate the address through the page table as kfree()
 *    does and take the type from the block's tag, so a block allocated by
 *    one library and freed by another is normal and the counts stay exact.
 *    A block that realloc() moves keeps its type.
 *
 *    With preload_types=library (the default) an allocation is charged to
 *    the object (executable or shared library) that called the entry
 *    point: __builtin_return_address(0) is looked up in a direct-mapped
 *    cache of code pages, shim_cache[], whose words hold a page's address
 *    and kmem's index of its type (ks_index, below MT_MAX: it fits the
 *    page offset; 0: empty).  A hit is one load and one comparison, and
 *    malloc() hands the index straight to kmalloc's fast path
 *    (kmalloc_fast()); shim_by_index[] turns it back into the type for
 *    the other entry points.  A miss looks in the table of known objects (address
 *    ranges of their PT_LOAD segments) and, if the address is in none,
 *    asks dl_iterate_phdr(), which allocates nothing; no lock of the shim
 *    or of kmem is held while it runs, so the loader calling malloc()
 *    while it holds its own lock cannot deadlock with a miss.  The type is
 *    named after the object's file (its basename: "libc.so.6",
 *    "python3.11", "libsqlite3.so.0"; the program's from /proc/self/exe);
 *    addresses in no object (generated code) go to "unknown".  Types come
 *    from a static pool (SHIM_NTYPES), names live in static storage and
 *    objects with the same name share a type.  dlclose() is wrapped: it
 *    bumps shim_gen and empties the cache and the table, so a library
 *    later loaded at the same addresses is not charged to the one that
 *    left; a miss that raced with it does not enter what it found.
 *    C++ operator new and delete are defined here (they would otherwise
 *    reach malloc from libstdc++ and charge everything to it); a failed
 *    throwing new calls the new-handler or throws std::bad_alloc through
 *    libstdc++.
 *
 *    preload_types=single charges everything to one type, "preload": the
 *    look-up is then one load, the lowest overhead.
 *
 * 4. Early use
 *
 *    The loader calls malloc() before any constructor has run.  The first
 *    call sets kmem up (shim_init, under shim_init_lock; other threads
 *    wait).  kmem never calls malloc() itself, but the libc functions it
 *    calls might; a call on the initialising thread (the thread-local
 *    shim_in_init) is served by the bootstrap allocator, a bump pointer in
 *    a static buffer whose blocks are never reused: free() recognises them
 *    by address and ignores them, realloc() copies out of them.
 *    Creating kmem's statistics thread allocates (pthread_create's TLS), so
 *    doing it inside the first malloc() would recurse into kmem under its
 *    locks, and the loader may not have set libc's threads up yet: the shim
 *    asks kms_defer() first, and starts the thread from its constructor,
 *    which runs after libc's and with no kmem lock held.  The shim's own
 *    lock is taken around fork() (pthread_atfork) so a child finds it free.
 *    Thread exit flushes the thread's caches through kmem's own keys.
 *
 * 5. exec
 *
 *    A program run with the shim keeps it; its children do not, unless
 *    asked: the constructor removes the shim's entry (any path whose last
 *    component starts with "libkmem-preload.so") from LD_PRELOAD in the
 *    environment, in place and without allocating, and unsets LD_PRELOAD
 *    if nothing else is left.  KMEM_PRELOAD_INHERIT=1 keeps it, and since
 *    that variable is inherited too, the whole tree of processes runs on
 *    kmem.
 *
 * 6. Lock order
 *
 *    shim_init_lock -> kmem's locks; shim_lock (types, objects) is a leaf
 *    taken with no kmem lock held, and never held across dl_iterate_phdr().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../malloc/malloc_int.h"
#include "../platform/options.h"
#include "../stats/kms.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_RA() ((uintptr_t)__builtin_return_address(0))

#define SHIM_NTYPES 512          /* types the shim can make */
#define SHIM_NOBJS 1024          /* objects it remembers */
#define SHIM_CACHE_BITS 12       /* cache entries: 4096 code pages */
#define SHIM_PAGE_SHIFT 12       /* cache key: the 4 KiB page of the caller */
#define SHIM_BOOT_BYTES (256u << 10) /* the bootstrap buffer */
_Static_assert(SHIM_NTYPES <= (1u << SHIM_PAGE_SHIFT),
    "a type index fits in the low bits of a cache word");

/* ---- state --------------------------------------------------------------- */

/* An object: its loaded range and its type's index in shim_types. */
struct shim_obj {
	uintptr_t so_lo, so_hi;  /* [so_lo, so_hi): its PT_LOAD segments */
	uint32_t so_type;        /* index in shim_types */
};

static struct malloc_type shim_types[SHIM_NTYPES]; /* [0] unused */
static char shim_names[SHIM_NTYPES][MT_NAME_MAX];
static uint32_t shim_ntypes = 1;                   /* under shim_lock */
static uint32_t shim_unknown;                      /* "unknown", 0: not yet */
static struct malloc_type *shim_single;            /* set: single type */
static uint32_t shim_single_idx;                   /* its ks_index */
/* kmem's type index -> the shim's type: a cache entry holds the index. */
static struct malloc_type *shim_by_index[MT_MAX];

static struct shim_obj shim_objs[SHIM_NOBJS];
static _Atomic uint32_t shim_nobjs;                /* published entries */
static _Atomic uint64_t shim_gen;                  /* bumped by dlclose */
static _Atomic uintptr_t shim_cache[1u << SHIM_CACHE_BITS];

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t shim_init_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool shim_ready;                     /* kmem set up, types made */
static __thread bool shim_in_init __attribute__((tls_model("initial-exec")));

/* The bootstrap allocator: blocks carry their size in the 16 bytes before. */
static _Alignas(4096) unsigned char shim_boot[SHIM_BOOT_BYTES];
static _Atomic size_t shim_boot_used;

static void shim_init(void);

/* ---- bootstrap allocator --------------------------------------------------- */

static inline bool
shim_is_boot(const void *p)
{
	return ((uintptr_t)p - (uintptr_t)shim_boot < sizeof(shim_boot));
}

static KP_NOINLINE void *
shim_boot_alloc(size_t size, size_t align)
{
	size_t old, start, end;

	if (align < 16)
		align = 16;
	old = atomic_load(&shim_boot_used);
	do {
		start = (old + 16 + align - 1) & ~(align - 1);
		end = start + ((size + 15) & ~(size_t)15);
		if (size > sizeof(shim_boot) || end > sizeof(shim_boot) ||
		    start > sizeof(shim_boot)) {
			errno = ENOMEM;
			return (NULL);
		}
	} while (!atomic_compare_exchange_weak(&shim_boot_used, &old, end));
	*(size_t *)(shim_boot + start - 16) = size;
	return (shim_boot + start); /* static storage: zeroed, never reused */
}

static size_t
shim_boot_size(const void *p)
{
	return (*(const size_t *)((const unsigned char *)p - 16));
}

/* ---- types --------------------------------------------------------------- */

static uint32_t shim_type_unknown(void);

/*
 * The type named name (made if new); shim_lock held.  The last slot of the
 * pool is kept for "unknown", which is what a full pool gives.
 */
static uint32_t
shim_type_named(const char *name)
{
	for (uint32_t i = 1; i < shim_ntypes; i++)
		if (strncmp(shim_names[i], name, MT_NAME_MAX - 1) == 0)
			return (i);
	if (shim_ntypes >= SHIM_NTYPES - 1 && strcmp(name, "unknown") != 0)
		return (shim_type_unknown());
	uint32_t i = shim_ntypes++;
	size_t n = strlen(name);
	if (n > MT_NAME_MAX - 1)
		n = MT_NAME_MAX - 1;
	memcpy(shim_names[i], name, n);
	shim_names[i][n] = '\0';
	shim_types[i].ks_magic = M_MAGIC;
	shim_types[i].ks_shortdesc = shim_names[i];
	shim_types[i].ks_longdesc = "allocations made by this object (preload shim)";
	malloc_type_register(&shim_types[i]);
	uint32_t k = shim_types[i].ks_index;
	if (k != 0 && k < MT_MAX)
		__atomic_store_n(&shim_by_index[k], &shim_types[i], __ATOMIC_RELEASE);
	return (i);
}

/* The type of addresses in no object; shim_lock held. */
static uint32_t
shim_type_unknown(void)
{
	if (shim_unknown == 0)
		shim_unknown = shim_type_named("unknown");
	return (shim_unknown);
}

/* The last component of path. */
static const char *
shim_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return (s != NULL ? s + 1 : path);
}

/* Copies a type name, cut to MT_NAME_MAX - 1 bytes. */
static void
shim_copy_name(char dst[MT_NAME_MAX], const char *src)
{
	size_t n = strnlen(src, MT_NAME_MAX - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The program's name, from /proc/self/exe (no allocation). */
static void
shim_program_name(char buf[MT_NAME_MAX])
{
	char path[4096];
	long n = syscall(SYS_readlink, "/proc/self/exe", path, sizeof(path) - 1);

	if (n <= 0) {
		shim_copy_name(buf, "program");
		return;
	}
	path[n] = '\0';
	shim_copy_name(buf, shim_basename(path));
}

/* ---- finding the object of an address ---------------------------------------- */

struct shim_find {
	uintptr_t sf_addr;          /* the address looked up */
	bool sf_found;
	bool sf_main;               /* the program itself */
	uintptr_t sf_lo, sf_hi;     /* its range */
	char sf_name[MT_NAME_MAX];  /* its file's name */
};

static int
shim_phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct shim_find *f = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;

	(void)size;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (lo >= hi || f->sf_addr < lo || f->sf_addr >= hi)
		return (0);
	f->sf_found = true;
	f->sf_lo = lo;
	f->sf_hi = hi;
	f->sf_main = info->dlpi_name == NULL || info->dlpi_name[0] == '\0';
	if (!f->sf_main)
		shim_copy_name(f->sf_name, shim_basename(info->dlpi_name));
	return (1);
}

/* The type of an address in the table of objects; 0 if in none. */
static uint32_t
shim_obj_lookup(uintptr_t ra)
{
	uint32_t n = atomic_load_explicit(&shim_nobjs, memory_order_acquire);

	for (uint32_t i = n; i-- > 0;)
		if (ra - shim_objs[i].so_lo < shim_objs[i].so_hi - shim_objs[i].so_lo)
			return (shim_objs[i].so_type);
	return (0);
}

/*
 * A cache miss: the table of objects, else the loader's list (no lock
 * held), then the cache entry.  Never returns 0.
 */
static KP_NOINLINE uint32_t
shim_type_miss(uintptr_t ra)
{
	uint64_t gen = atomic_load(&shim_gen);
	uint32_t t = shim_obj_lookup(ra);

	if (t == 0) {
		struct shim_find f = {.sf_addr = ra};
		(void)dl_iterate_phdr(shim_phdr_cb, &f);
		if (f.sf_main)
			shim_program_name(f.sf_name);
		pthread_mutex_lock(&shim_lock);
		t = shim_obj_lookup(ra);
		if (t == 0) {
			t = f.sf_found ? shim_type_named(f.sf_name) : shim_type_unknown();
			uint32_t n = atomic_load(&shim_nobjs);
			if (f.sf_found && n < SHIM_NOBJS && atomic_load(&shim_gen) == gen) {
				shim_objs[n].so_lo = f.sf_lo;
				shim_objs[n].so_hi = f.sf_hi;
				shim_objs[n].so_type = t;
				atomic_store_explicit(&shim_nobjs, n + 1,
				    memory_order_release);
			}
		}
		pthread_mutex_unlock(&shim_lock);
	}
	/* The entry holds kmem's index of the type (MT_MAX fits a page). */
	uint32_t k = shim_types[t].ks_index;
	if (atomic_load(&shim_gen) == gen && k != 0 && k < MT_MAX)
		atomic_store_explicit(&shim_cache[(ra >> SHIM_PAGE_SHIFT) &
		    ((1u << SHIM_CACHE_BITS) - 1)],
		    (ra & ~(((uintptr_t)1 << SHIM_PAGE_SHIFT) - 1)) | k,
		    memory_order_relaxed);
	return (t);
}

/*
 * The type to charge a call from ra to; NULL while kmem is being set up on
 * this thread (the caller then uses the bootstrap allocator).
 */
static KP_NOINLINE struct malloc_type *
shim_type_slow(uintptr_t ra)
{
	if (!atomic_load_explicit(&shim_ready, memory_order_acquire)) {
		if (shim_in_init)
			return (NULL);
		shim_init();
		if (!atomic_load(&shim_ready))
			return (NULL);
	}
	if (shim_single != NULL)
		return (shim_single);
	return (&shim_types[shim_type_miss(ra)]);
}

/*
 * kmem's index of the type to charge a call from ra to, from the single
 * type or the cache; 0 if neither has it (shim_type() then finds it).
 */
static inline uint32_t
shim_index(uintptr_t ra)
{
	uint32_t k = shim_single_idx;

	if (k != 0)
		return (k);
	uintptr_t e = atomic_load_explicit(&shim_cache[(ra >> SHIM_PAGE_SHIFT) &
	    ((1u << SHIM_CACHE_BITS) - 1)], memory_order_relaxed);
	if (KP_LIKELY(((e ^ ra) >> SHIM_PAGE_SHIFT) == 0))
		return ((uint32_t)e & ((1u << SHIM_PAGE_SHIFT) - 1));
	return (0);
}

static inline struct malloc_type *
shim_type(uintptr_t ra)
{
	struct malloc_type *t = shim_single;

	if (t != NULL)
		return (t);
	uintptr_t e = atomic_load_explicit(&shim_cache[(ra >> SHIM_PAGE_SHIFT) &
	    ((1u << SHIM_CACHE_BITS) - 1)], memory_order_relaxed);
	if (KP_LIKELY(((e ^ ra) >> SHIM_PAGE_SHIFT) == 0))
		return (__atomic_load_n(&shim_by_index[e &
		    (((uintptr_t)1 << SHIM_PAGE_SHIFT) - 1)], __ATOMIC_RELAXED));
	return (shim_type_slow(ra));
}

/* ---- set-up ------------------------------------------------------------------- */

static void
shim_init(void)
{
	shim_in_init = true;
	pthread_mutex_lock(&shim_init_lock);
	if (!atomic_load(&shim_ready)) {
		/* The statistics thread starts from the constructor (section 4). */
		kms_defer();
		int error = kmem_init();
		if (error == 0 && !kmalloc_init())
			error = ENOMEM;
		if (error != 0) {
			kp_log("preload: kmem cannot be set up (%s); every allocation "
			    "fails", strerror(error));
		} else {
			if (strcmp(kopt.preload_types, "single") == 0) {
				pthread_mutex_lock(&shim_lock);
				shim_single = &shim_types[shim_type_named("preload")];
				shim_single_idx = shim_single->ks_index;
				pthread_mutex_unlock(&shim_lock);
			}
			atomic_store_explicit(&shim_ready, true, memory_order_release);
		}
	}
	pthread_mutex_unlock(&shim_init_lock);
	shim_in_init = false;
}

static void
shim_prefork(void)
{
	pthread_mutex_lock(&shim_init_lock);
	pthread_mutex_lock(&shim_lock);
}

static void
shim_postfork_parent(void)
{
	pthread_mutex_unlock(&shim_lock);
	pthread_mutex_unlock(&shim_init_lock);
}

static void
shim_postfork_child(void)
{
	pthread_mutex_init(&shim_lock, NULL);
	pthread_mutex_init(&shim_init_lock, NULL);
}

/* Whether the LD_PRELOAD entry (s, n) is this library. */
static bool
shim_is_self(const char *s, size_t n)
{
	static const char me[] = "libkmem-preload.so";
	size_t b = n;

	while (b > 0 && s[b - 1] != '/')
		b--;
	return (n - b >= sizeof(me) - 1 && memcmp(s + b, me, sizeof(me) - 1) == 0);
}

/* Removes this library from LD_PRELOAD, in place (section 5). */
static void
shim_scrub_environment(void)
{
	const char *inherit = getenv("KMEM_PRELOAD_INHERIT");
	char *v = getenv("LD_PRELOAD");
	size_t out = 0;

	if (v == NULL || (inherit != NULL && strcmp(inherit, "1") == 0))
		return;
	/* Entries are separated by spaces or colons (ld.so(8)). */
	for (size_t i = 0; v[i] != '\0';) {
		while (v[i] == ' ' || v[i] == ':')
			i++;
		size_t s = i;
		while (v[i] != '\0' && v[i] != ' ' && v[i] != ':')
			i++;
		if (i == s || shim_is_self(v + s, i - s))
			continue;
		if (out > 0)
			v[out++] = ':';
		memmove(v + out, v + s, i - s);
		out += i - s;
	}
	v[out] = '\0';
	if (out == 0)
		unsetenv("LD_PRELOAD");
}

static const struct kp_fork_ops shim_fork_ops = {
	.kfo_prepare = shim_prefork,
	.kfo_parent = shim_postfork_parent,
	.kfo_child = shim_postfork_child,
};

static void __attribute__((constructor))
shim_ctor(void)
{
	/* Outermost in kmem's fork order: the shim calls into kmem holding them. */
	kp_fork_register(KP_FORK_SHIM, &shim_fork_ops);
	if (!atomic_load(&shim_ready))
		shim_init();
	shim_scrub_environment();
	/* No kmem lock is held here, and libc can make threads. */
	kms_start_pending();
}

/* ---- the entry points ----------------------------------------------------------- */

/* Sizes no map can hold: NULL and ENOMEM, without kmem's message. */
static inline bool
shim_too_big(size_t size)
{
	return (size > (size_t)PTRDIFF_MAX || size > kmem_map_store.km_size);
}

static KP_NOINLINE void *
shim_malloc_slow(size_t size, struct malloc_type *t)
{
	if (t == NULL)
		return (shim_boot_alloc(size, 16));
	if (shim_too_big(size)) {
		errno = ENOMEM;
		return (NULL);
	}
	return (kmalloc(size, t, M_NOWAIT));
}

/* malloc() of a caller the cache does not know yet, and of large sizes. */
static KP_NOINLINE void *
shim_malloc_miss(size_t size, uintptr_t ra)
{
	struct malloc_type *t = shim_type(ra);

	if (t == NULL || size > KM_MAXSMALL)
		return (shim_malloc_slow(size, t));
	return (kmalloc_inline(size, t, M_NOWAIT));
}

SHIM_EXPORT void *
malloc(size_t size)
{
	uintptr_t ra = SHIM_RA();
	uint32_t k = shim_single_idx;

	/* shim_index(), with a miss going straight to shim_malloc_miss() */
	if (k == 0) {
		uintptr_t e = atomic_load_explicit(&shim_cache[(ra >>
		    SHIM_PAGE_SHIFT) & ((1u << SHIM_CACHE_BITS) - 1)],
		    memory_order_relaxed);
		if (KP_UNLIKELY(((e ^ ra) >> SHIM_PAGE_SHIFT) != 0))
			return (shim_malloc_miss(size, ra));
		k = (uint32_t)e & ((1u << SHIM_PAGE_SHIFT) - 1); /* never 0 */
	}
	if (KP_UNLIKELY(size > KM_MAXSMALL))
		return (shim_malloc_miss(size, ra));
	return (kmalloc_fast(size, NULL, k, M_NOWAIT));
}

/* free()'s everything but the fast path: bootstrap blocks, then kmem's. */
static KP_NOINLINE void
shim_free_slow(void *addr, const char *fn)
{
	if (shim_is_boot(addr))
		return;
	kfree_any_slow(addr, fn);
}

SHIM_EXPORT void
free(void *addr)
{
	/* A bootstrap block is outside the map: the fast path turns it away. */
	kfree_any_inline(addr, shim_free_slow);
}

static void *
shim_calloc(size_t n, size_t size, struct malloc_type *t)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return (NULL);
	}
	if (t == NULL)
		return (shim_boot_alloc(total, 16));
	if (shim_too_big(total)) {
		errno = ENOMEM;
		return (NULL);
	}
	if (total > KM_MAXSMALL) /* fresh pages: M_ZERO costs nothing */
		return (kmalloc(total, t, M_NOWAIT | M_ZERO));
	void *p = kmalloc(total, t, M_NOWAIT);
	if (p != NULL)
		memset(p, 0, total);
	return (p);
}

SHIM_EXPORT void *
calloc(size_t n, size_t size)
{
	return (shim_calloc(n, size, shim_type(SHIM_RA())));
}

static void *
shim_realloc(void *addr, size_t size, struct malloc_type *t)
{
	if (addr == NULL) {
		if (t == NULL)
			return (shim_boot_alloc(size, 16));
		return (shim_malloc_slow(size, t));
	}
	if (size == 0) {
		free(addr);
		return (NULL);
	}
	if (shim_is_boot(addr)) {
		size_t have = shim_boot_size(addr);
		void *n = t == NULL ? shim_boot_alloc(size, 16) :
		    shim_malloc_slow(size, t);
		if (n != NULL)
			memcpy(n, addr, have < size ? have : size);
		return (n);
	}
	if (t == NULL) {
		/* A kmem block while kmem is set up again on this thread: copy. */
		size_t have = kmalloc_usable_size(addr);
		void *n = shim_boot_alloc(size, 16);
		if (n != NULL)
			memcpy(n, addr, have < size ? have : size);
		return (n);
	}
	if (shim_too_big(size)) {
		errno = ENOMEM;
		return (NULL);
	}
	return (krealloc_any(addr, size, t, M_NOWAIT));
}

SHIM_EXPORT void *
realloc(void *addr, size_t size)
{
	return (shim_realloc(addr, size, shim_type(SHIM_RA())));
}

SHIM_EXPORT void *
reallocarray(void *addr, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return (NULL);
	}
	return (shim_realloc(addr, total, shim_type(SHIM_RA())));
}

/* align is a power of two. */
static void *
shim_aligned(size_t align, size_t size, struct malloc_type *t)
{
	if (t == NULL)
		return (shim_boot_alloc(size, align));
	if (shim_too_big(size) || align > kmem_map_store.km_size / 2) {
		errno = ENOMEM;
		return (NULL);
	}
	return (kmalloc_aligned(size, align, t, M_NOWAIT));
}

SHIM_EXPORT int
posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return (EINVAL);
	int saved = errno;
	void *p = shim_aligned(align, size, shim_type(SHIM_RA()));
	if (p == NULL)
		return (ENOMEM);
	errno = saved;
	*out = p;
	return (0);
}

/* glibc 2.36's memalign: a non-power of two rounds up to one. */
static void *
shim_memalign(size_t align, size_t size, struct malloc_type *t)
{
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return (NULL);
	}
	if ((align & (align - 1)) != 0) {
		size_t a = 1;
		while (a < align)
			a <<= 1;
		align = a;
	}
	return (shim_aligned(align, size, t));
}

SHIM_EXPORT void *
memalign(size_t align, size_t size)
{
	return (shim_memalign(align, size, shim_type(SHIM_RA())));
}

SHIM_EXPORT void *
aligned_alloc(size_t align, size_t size)
{
	return (shim_memalign(align, size, shim_type(SHIM_RA())));
}

SHIM_EXPORT void *
valloc(size_t size)
{
	return (shim_aligned(kmem_page_size(), size, shim_type(SHIM_RA())));
}

SHIM_EXPORT void *
pvalloc(size_t size)
{
	size_t ps = kmem_page_size();

	if (size > SIZE_MAX - ps) {
		errno = ENOMEM;
		return (NULL);
	}
	size = (size + ps - 1) & ~(ps - 1);
	return (shim_aligned(ps, size == 0 ? ps : size, shim_type(SHIM_RA())));
}

SHIM_EXPORT size_t
malloc_usable_size(void *addr)
{
	if (addr == NULL)
		return (0);
	if (shim_is_boot(addr))
		return ((shim_boot_size(addr) + 15) & ~(size_t)15);
	return (kmalloc_usable_size(addr));
}

/* ---- dlclose -------------------------------------------------------------------- */

/*
 * The object's addresses may serve another object next: forget every
 * address-to-type entry (the types and their counts stay).
 */
SHIM_EXPORT int
dlclose(void *handle)
{
	static int (*_Atomic real)(void *);
	int (*fn)(void *) = atomic_load(&real);

	if (fn == NULL) {
		fn = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
		if (fn == NULL)
			return (-1);
		atomic_store(&real, fn);
	}
	int rc = fn(handle);
	pthread_mutex_lock(&shim_lock);
	atomic_fetch_add(&shim_gen, 1);
	atomic_store(&shim_nobjs, 0);
	for (size_t i = 0; i < (1u << SHIM_CACHE_BITS); i++)
		atomic_store_explicit(&shim_cache[i], 0, memory_order_relaxed);
	pthread_mutex_unlock(&shim_lock);
	return (rc);
}

/* ---- _exit ------------------------------------------------------------------------ */

/*
 * A program that leaves by _exit() runs no destructor: the statistics file
 * would stay as if the program had been killed.  (exit() reaches the
 * kernel through libc's own _exit, not through this one.)
 */
SHIM_EXPORT void
_exit(int status)
{
	kms_exit_now();
	for (;;)
		(void)syscall(SYS_exit_group, status);
}

SHIM_EXPORT void
_Exit(int status)
{
	_exit(status);
}

/* ---- C++ ------------------------------------------------------------------------ */

/*
 * operator new: the caller's type, and on failure the new-handler or
 * std::bad_alloc (thrown by libstdc++, present whenever C++ calls this).
 */
typedef void (*shim_new_handler)(void);
extern shim_new_handler _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

static KP_NOINLINE void *
shim_new_fail(size_t size, size_t align, bool nothrow, uintptr_t ra)
{
	for (;;) {
		shim_new_handler h = _ZSt15get_new_handlerv != NULL ?
		    _ZSt15get_new_handlerv() : NULL;
		if (h == NULL) {
			if (nothrow)
				return (NULL);
			if (_ZSt17__throw_bad_allocv != NULL)
				_ZSt17__throw_bad_allocv();
			kp_fatal("operator new(%zu): out of memory", size);
		}
		h();
		struct malloc_type *t = shim_type(ra);
		void *p = align <= 16 ? shim_malloc_slow(size, t) :
		    shim_aligned(align, size, t);
		if (p != NULL)
			return (p);
	}
}

static inline void *
shim_new(size_t size, uintptr_t ra, bool nothrow)
{
	struct malloc_type *t = shim_type(ra);
	void *p = KP_UNLIKELY(t == NULL || size > KM_MAXSMALL) ?
	    shim_malloc_slow(size, t) : kmalloc(size, t, M_NOWAIT);

	if (KP_UNLIKELY(p == NULL))
		return (shim_new_fail(size, 0, nothrow, ra));
	return (p);
}

static inline void *
shim_new_aligned(size_t size, size_t align, uintptr_t ra, bool nothrow)
{
	void *p;

	if (align == 0 || (align & (align - 1)) != 0)
		p = NULL; /* undefined behaviour in C++; fail cleanly */
	else
		p = shim_aligned(align, size, shim_type(ra));
	if (KP_UNLIKELY(p == NULL))
		return (shim_new_fail(size, align, nothrow, ra));
	return (p);
}

/* operator new(size_t) and new[](size_t) */
SHIM_EXPORT void *_Znwm(size_t size);
SHIM_EXPORT void *_Znam(size_t size);
SHIM_EXPORT void *_ZnwmRKSt9nothrow_t(size_t size, const void *nt);
SHIM_EXPORT void *_ZnamRKSt9nothrow_t(size_t size, const void *nt);
SHIM_EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t align);
SHIM_EXPORT void *_ZnamSt11align_val_t(size_t size, size_t align);
SHIM_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align,
    const void *nt);
SHIM_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align,
    const void *nt);
SHIM_EXPORT void _ZdlPv(void *p);
SHIM_EXPORT void _ZdaPv(void *p);
SHIM_EXPORT void _ZdlPvm(void *p, size_t size);
SHIM_EXPORT void _ZdaPvm(void *p, size_t size);
SHIM_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t align);
SHIM_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t align);
SHIM_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align);
SHIM_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align);
SHIM_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt);
SHIM_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt);
SHIM_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align,
    const void *nt);
SHIM_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align,
    const void *nt);

void *_Znwm(size_t size) { return (shim_new(size, SHIM_RA(), false)); }
void *_Znam(size_t size) { return (shim_new(size, SHIM_RA(), false)); }
void *_ZnwmRKSt9nothrow_t(size_t size, const void *nt)
{ return (shim_new(size, SHIM_RA(), true)); }
void *_ZnamRKSt9nothrow_t(size_t size, const void *nt)
{ return (shim_new(size, SHIM_RA(), true)); }
void *_ZnwmSt11align_val_t(size_t size, size_t align)
{ return (shim_new_aligned(size, align, SHIM_RA(), false)); }
void *_ZnamSt11align_val_t(size_t size, size_t align)
{ return (shim_new_aligned(size, align, SHIM_RA(), false)); }
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align,
    const void *nt)
{ return (shim_new_aligned(size, align, SHIM_RA(), true)); }
void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align,
    const void *nt)
{ return (shim_new_aligned(size, align, SHIM_RA(), true)); }
void _ZdlPv(void *p) { free(p); }
void _ZdaPv(void *p) { free(p); }
void _ZdlPvm(void *p, size_t size) { free(p); }
void _ZdaPvm(void *p, size_t size) { free(p); }
void _ZdlPvSt11align_val_t(void *p, size_t align) { free(p); }
void _ZdaPvSt11align_val_t(void *p, size_t align) { free(p); }
void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align) { free(p); }
void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align) { free(p); }
void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { free(p); }
void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { free(p); }
void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align,
    const void *nt) { free(p); }
void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align,
    const void *nt) { free(p); }
