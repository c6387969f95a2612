/*
 * kmem_redzone.c -- redzones around kmalloc blocks (kmem_debug.h, section 3).
 *
 * The records of the live blocks are kept in a hash table by item address,
 * off the items: an underflow cannot reach them.  The table is the list of
 * live blocks that kmem_check() walks.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <string.h>

#include "../malloc/malloc_int.h"
#include "../platform/prim.h"
#include "kmem_debug.h"

#define RZ_HASH 4096 /* buckets of the table (a power of 2) */

struct kdbg_rz {
	struct kdbg_rz *kr_next;        /* hash chain */
	char *kr_item;                  /* the item (block - KDBG_RZ_FRONT) */
	size_t kr_size;                 /* bytes asked for */
	size_t kr_rsize;                /* bytes of the item */
	uint32_t kr_type;               /* type index */
	uint32_t kr_nframes;            /* frames in kr_frames */
	void *kr_frames[KDBG_RZ_FRAMES]; /* the allocation's call stack */
};

static kp_mutex_t rz_lock = KP_MUTEX_INITIALIZER;

/* fork(): rz_lock is a leaf, taken after the malloc types' lock. */
static void
rz_prefork(void)
{
	kp_mutex_lock(&rz_lock);
}

static void
rz_postfork(void)
{
	kp_mutex_unlock(&rz_lock);
}

static const struct kp_fork_ops rz_fork_ops = {
	.kfo_prepare = rz_prefork,
	.kfo_parent = rz_postfork,
	.kfo_child = rz_postfork,
};

static void __attribute__((constructor))
rz_fork_register(void)
{
	kp_fork_register(KP_FORK_DEBUG, &rz_fork_ops);
}
static struct kdbg_rz *rz_table[RZ_HASH];
static uma_zone_t rz_zone;

static inline size_t
rz_hash(const void *item)
{
	uintptr_t a = (uintptr_t)item >> 4;

	return ((a ^ (a >> 12) ^ (a >> 24)) & (RZ_HASH - 1));
}

bool
kdbg_rz_init(void)
{
	void *f[2];

	rz_zone = uma_zcreate_internal("kmalloc redzones", sizeof(struct kdbg_rz),
	    15, UMA_ZONE_NOBUCKET | UMA_ZFLAG_INTERNAL, 0);
	/* backtrace(3) loads what it needs on its first call: now. */
	(void)backtrace(f, 2);
	return (rz_zone != NULL);
}

void *
kdbg_rz_arm(void *item, size_t rsize, size_t size, uint32_t type, int flags)
{
	struct kdbg_rz *r = uma_zalloc(rz_zone, flags & (M_NOWAIT | M_WAITOK));
	void *frames[KDBG_RZ_FRAMES + 2];
	int n;

	if (r == NULL)
		return (NULL);
	r->kr_item = item;
	r->kr_size = size;
	r->kr_rsize = rsize;
	r->kr_type = type;
	/* Leave out this function and kmalloc's slow path. */
	n = backtrace(frames, KDBG_RZ_FRAMES + 2);
	n = n > 2 ? n - 2 : 0;
	memcpy(r->kr_frames, frames + 2, (size_t)n * sizeof(void *));
	r->kr_nframes = (uint32_t)n;
	memset(item, KDBG_RZ_BYTE, KDBG_RZ_FRONT);
	memset((char *)item + KDBG_RZ_FRONT + size, KDBG_RZ_BYTE,
	    rsize - KDBG_RZ_FRONT - size);
	size_t h = rz_hash(item);
	kp_mutex_lock(&rz_lock);
	r->kr_next = rz_table[h];
	rz_table[h] = r;
	kp_mutex_unlock(&rz_lock);
	return ((char *)item + KDBG_RZ_FRONT);
}

/* The record of item, or NULL; rz_lock held.  *prevp: its link. */
static struct kdbg_rz *
rz_find(const void *item, struct kdbg_rz ***prevp)
{
	struct kdbg_rz **pp = &rz_table[rz_hash(item)];

	for (; *pp != NULL; pp = &(*pp)->kr_next)
		if ((*pp)->kr_item == item) {
			if (prevp != NULL)
				*prevp = pp;
			return (*pp);
		}
	return (NULL);
}

/* The call stack of r, "f+0x1a g+0x33 ...", into buf. */
static const char *
rz_stack(const struct kdbg_rz *r, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < r->kr_nframes && o + 1 < len; i++) {
		Dl_info di;
		const char *sep = i == 0 ? "" : " ";
		int k;
		if (dladdr(r->kr_frames[i], &di) != 0 && di.dli_sname != NULL)
			k = snprintf(buf + o, len - o, "%s%s+0x%zx", sep, di.dli_sname,
			    (size_t)((char *)r->kr_frames[i] - (char *)di.dli_saddr));
		else if (dladdr(r->kr_frames[i], &di) != 0 && di.dli_fname != NULL) {
			const char *b = strrchr(di.dli_fname, '/');
			k = snprintf(buf + o, len - o, "%s%s+0x%zx", sep,
			    b != NULL ? b + 1 : di.dli_fname,
			    (size_t)((char *)r->kr_frames[i] - (char *)di.dli_fbase));
		} else
			k = snprintf(buf + o, len - o, "%s%p", sep, r->kr_frames[i]);
		if (k < 0)
			break;
		o += (size_t)k;
	}
	return (buf);
}

/*
 * Checks r's guards.  On damage prints (fatal: aborts with) one line
 * "FN: ADDR (type T): N byte(s) written past the end of the S-byte block
 * (redzone); allocated at STACK", or "... before the start ..."; returns
 * whether they are whole.
 */
static bool
rz_verify(const char *fn, const struct kdbg_rz *r, bool fatal)
{
	const unsigned char *p = (const unsigned char *)r->kr_item;
	size_t end = KDBG_RZ_FRONT + r->kr_size, under = 0, over = 0;
	char stack[640];

	/* The guards are outside the block: no access to the tools. */
	kdbg_mem_open(p, KDBG_RZ_FRONT, true);
	kdbg_mem_open(p + end, r->kr_rsize - end, true);
	for (size_t i = 0; i < KDBG_RZ_FRONT; i++)
		if (p[i] != KDBG_RZ_BYTE) {
			under = KDBG_RZ_FRONT - i;
			break;
		}
	for (size_t i = r->kr_rsize; i > end; i--)
		if (p[i - 1] != KDBG_RZ_BYTE) {
			over = i - end;
			break;
		}
	kdbg_mem_noaccess(p, KDBG_RZ_FRONT);
	kdbg_mem_noaccess(p + end, r->kr_rsize - end);
	if (under == 0 && over == 0)
		return (true);
	const char *tn = mt_name_of(r->kr_type);
	void (*say)(const char *, ...) = fatal ? kp_fatal : kp_log;
	size_t n = over != 0 ? over : under;
	say("%s: %p (type %s): %zu byte%s written %s the %zu-byte block "
	    "(redzone); allocated at %s", fn, (void *)(p + KDBG_RZ_FRONT),
	    tn != NULL ? tn : "?", n, n == 1 ? "" : "s",
	    over != 0 ? "past the end of" : "before the start of", r->kr_size,
	    rz_stack(r, stack, sizeof(stack)));
	return (false);
}

void *
kdbg_rz_disarm(const char *fn, void *addr)
{
	char *item = (char *)addr - KDBG_RZ_FRONT;
	struct kdbg_rz **pp, *r;

	kp_mutex_lock(&rz_lock);
	r = rz_find(item, &pp);
	if (r == NULL) {
		kp_mutex_unlock(&rz_lock);
		kp_fatal("%s: %p: a kmalloc block without its redzone record", fn,
		    addr);
	}
	*pp = r->kr_next;
	kp_mutex_unlock(&rz_lock);
	(void)rz_verify(fn, r, true);
	uma_zfree(rz_zone, r);
	return (item);
}

size_t
kdbg_rz_size(const void *addr)
{
	const char *item = (const char *)addr - KDBG_RZ_FRONT;
	struct kdbg_rz *r;
	size_t size;

	kp_mutex_lock(&rz_lock);
	r = rz_find(item, NULL);
	size = r != NULL ? r->kr_size : 0;
	kp_mutex_unlock(&rz_lock);
	return (size);
}

int
km_check_redzones(void)
{
	int bad = 0;

	kp_mutex_lock(&rz_lock);
	for (size_t h = 0; h < RZ_HASH; h++)
		for (struct kdbg_rz *r = rz_table[h]; r != NULL; r = r->kr_next)
			if (!rz_verify("kmem_check", r, false))
				bad++;
	kp_mutex_unlock(&rz_lock);
	return (bad);
}
