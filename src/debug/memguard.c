/*
 * memguard.c -- guarded blocks for chosen malloc types and zones
 * (kmem_debug.h, section 6; the zones' side is uma_int.h, section 10).
 */
#include "kmem_debug.h"

#include <errno.h>
#include <string.h>

#include "../malloc/malloc_int.h"
#include "../platform/options.h"
#include "../platform/prim.h"
#include "../uma/uma_int.h"

#define MG_ALIGN 16 /* alignment of a guarded block, as kmalloc gives */

/* A freed guarded run whose pages stay inaccessible. */
struct mg_entry {
	void *me_rec;                 /* its record: km_large or uma_slab */
	void (*me_release)(void *);   /* gives its pages back */
};

/* The FIFO of freed runs, oldest at mg_head. */
static kp_mutex_t mg_lock = KP_MUTEX_INITIALIZER;
static struct mg_entry mg_fifo[65536 + 1];
static size_t mg_head;  /* oldest entry */
static size_t mg_count; /* entries */

bool
kdbg_guarded(const char *name)
{
	const char *list = kopt.memguard;
	size_t n = strlen(name);

	if (!atomic_load_explicit(&kdbg_memguard_on, memory_order_relaxed))
		return (false);
	while (*list != '\0') {
		const char *bar = strchr(list, '|');
		size_t len = bar != NULL ? (size_t)(bar - list) : strlen(list);
		if (len == n && memcmp(list, name, n) == 0)
			return (true);
		if (bar == NULL)
			break;
		list = bar + 1;
	}
	return (false);
}

void *
memguard_alloc(struct km_large *rec, size_t size, int flags)
{
	size_t ps = kmem_page_size();
	size_t pages = (size + ps - 1) / ps;
	size_t usable = (size + MG_ALIGN - 1) & ~(size_t)(MG_ALIGN - 1);
	char *base, *guard, *addr;

	if (pages == 0)
		pages = 1;
	if (usable == 0)
		usable = MG_ALIGN;
	base = kmem_region_alloc(kmem_map_arena(), (pages + 1) * ps, flags,
	    KMC_LARGE, "memguard");
	if (base == NULL)
		return (NULL);
	if (kopt.memguard_before) {
		guard = base;
		addr = base + ps;
		usable = pages * ps;
	} else {
		guard = base + pages * ps;
		addr = guard - usable;
	}
	if (kp_protect(guard, ps, KP_PROT_NONE) != 0) {
		kmem_region_free(kmem_map_arena(), base, (pages + 1) * ps, KMC_LARGE);
		errno = ENOMEM;
		return (NULL);
	}
	rec->kl_addr = addr;
	rec->kl_base = base;
	rec->kl_pages = pages + 1;
	rec->kl_usable = usable;
	rec->kl_guard = KL_GUARD_LIVE;
	/* Every page, the guard's too, leads to the record. */
	kmem_pt_set_ptr(base, pages + 1, KMC_LARGE, rec);
	return (addr);
}

void
memguard_large_release(struct km_large *rec)
{
	kmem_region_free(kmem_map_arena(), rec->kl_base,
	    rec->kl_pages * kmem_page_size(), KMC_LARGE);
}

void
memguard_defer(void *rec, void (*release)(void *rec))
{
	size_t delay = (size_t)kopt.memguard_delay;
	struct mg_entry old = {NULL, NULL};

	if (delay == 0) {
		release(rec);
		return;
	}
	kp_mutex_lock(&mg_lock);
	if (mg_count == delay) {
		old = mg_fifo[mg_head];
		mg_fifo[mg_head] = (struct mg_entry){rec, release};
		mg_head = (mg_head + 1) % delay;
	} else {
		mg_fifo[(mg_head + mg_count) % delay] =
		    (struct mg_entry){rec, release};
		mg_count++;
	}
	kp_mutex_unlock(&mg_lock);
	if (old.me_rec != NULL)
		old.me_release(old.me_rec);
}

void
memguard_purge(void (*release)(void *rec), bool (*take)(void *rec,
    void *arg), void *arg)
{
	size_t delay = (size_t)kopt.memguard_delay, kept = 0;

	if (delay == 0)
		return;
	kp_mutex_lock(&mg_lock);
	/* Keep the others in order: slot kept never passes slot i. */
	for (size_t i = 0; i < mg_count; i++) {
		struct mg_entry e = mg_fifo[(mg_head + i) % delay];
		if (e.me_release == release && take(e.me_rec, arg))
			continue;
		mg_fifo[(mg_head + kept) % delay] = e;
		kept++;
	}
	mg_count = kept;
	kp_mutex_unlock(&mg_lock);
}

void
memguard_free(struct km_large *rec, void (*release)(void *rec))
{
	(void)kp_protect(rec->kl_base, rec->kl_pages * kmem_page_size(),
	    KP_PROT_NONE);
	__atomic_store_n(&rec->kl_guard, KL_GUARD_FREED, __ATOMIC_RELEASE);
	memguard_defer(rec, release);
}

/* The fault handler's question for a slab page: a guarded zone item? */
static bool
memguard_fault_zone(uintptr_t e, uintptr_t a)
{
	const struct uma_slab *slab = KPT_PTR(e);
	const struct uma_keg *keg;
	uintptr_t start, end;
	const char *name;

	if (!kmem_in_map(slab))
		return (false);
	keg = slab->us_keg;
	if (!kmem_in_map(keg) || !keg->uk_guard)
		return (false);
	name = keg->uk_primary->uz_name;
	start = (uintptr_t)slab->us_data;
	end = start + keg->uk_size;
	if (__atomic_load_n(&slab->us_flags, __ATOMIC_ACQUIRE) &
	    UMA_SLAB_GUARD_FREED)
		kp_log("memguard: use after free of %p (%u bytes, zone %s) at "
		    "%p%+td", (void *)start, keg->uk_size, name, (void *)start,
		    (ptrdiff_t)(a - start));
	else if (a >= end)
		kp_log("memguard: overflow past %p (%u bytes, zone %s) by %zu "
		    "bytes", (void *)start, keg->uk_size, name,
		    (size_t)(a - end + 1));
	else if (a < start)
		kp_log("memguard: underflow before %p (%u bytes, zone %s) by %zu "
		    "bytes", (void *)start, keg->uk_size, name,
		    (size_t)(start - a));
	else
		return (false);
	return (true);
}

/* The fault handler's question: is addr in a guarded run?  Says so. */
static bool
memguard_fault(void *addr)
{
	uintptr_t e = kmem_pt_get(addr);
	const struct km_large *rec;
	uintptr_t a = (uintptr_t)addr, start, end;

	if (KPT_IS_SLAB(e))
		return (memguard_fault_zone(e, a));
	if (KPT_CLASS(e) != KMC_LARGE || (e & KPT_TAIL) != 0)
		return (false);
	rec = KPT_PTR(e);
	if (!kmem_in_map(rec))
		return (false);
	switch (__atomic_load_n(&rec->kl_guard, __ATOMIC_ACQUIRE)) {
	case KL_GUARD_LIVE:
	case KL_GUARD_FREED:
		break;
	default:
		return (false);
	}
	start = (uintptr_t)rec->kl_addr;
	end = start + rec->kl_size;
	if (rec->kl_guard == KL_GUARD_FREED)
		kp_log("memguard: use after free of %p (%zu bytes, type %s) at "
		    "%p%+td", rec->kl_addr, rec->kl_size, mt_name_of(rec->kl_type),
		    rec->kl_addr, (ptrdiff_t)(a - start));
	else if (a >= end)
		kp_log("memguard: overflow past %p (%zu bytes, type %s) by %zu "
		    "bytes", rec->kl_addr, rec->kl_size, mt_name_of(rec->kl_type),
		    (size_t)(a - end + 1));
	else if (a < start)
		kp_log("memguard: underflow before %p (%zu bytes, type %s) by %zu "
		    "bytes", rec->kl_addr, rec->kl_size, mt_name_of(rec->kl_type),
		    (size_t)(start - a));
	else
		return (false);
	return (true);
}

void memguard_init(void);

void
memguard_init(void)
{
	int error = kp_fault_handler(memguard_fault);

	if (error != 0)
		kp_log("memguard: cannot install the fault handler: %s",
		    strerror(error));
}
