/*
 * kmem_debug.c -- the debug layer: trash fill and check, kmem_check().  The
 * design is described at the top of kmem_debug.h.
 */
#include <stdio.h>
#include <string.h>

#include <kmem/kmem.h>

#include "../malloc/malloc_int.h"
#include "../platform/prim.h"
#include "kmem_debug.h"

/* The byte of KDBG_JUNK at byte offset i of an item (little-endian words). */
static inline unsigned char
junk_byte(size_t i)
{
	uint32_t w = KDBG_JUNK;
	unsigned char b[4];

	memcpy(b, &w, sizeof(b));
	return (b[i & 3]);
}

void
kdbg_trash_fill(void *item, size_t size, bool mtype, uint32_t lastuse)
{
	unsigned char *p = item;
	uint32_t w = KDBG_JUNK;
	size_t n = size & ~(size_t)3;

	kdbg_mem_open(item, size, false);
	for (size_t i = 0; i < n; i += 4)
		memcpy(p + i, &w, 4);
	for (size_t i = n; i < size; i++)
		p[i] = junk_byte(i);
	if (mtype && size >= KDBG_TRASH_TAIL) {
		uint64_t t = lastuse;
		memcpy(p + size - KDBG_TRASH_TAIL, &t, sizeof(t));
	}
	kdbg_mem_noaccess(item, size);
}

static bool trash_check(const void *item, size_t size, const char *zone,
    bool mtype, bool fatal);

/* The item is no access to the tools but to this check (section 8). */
bool
kdbg_trash_check(const void *item, size_t size, const char *zone, bool mtype,
    bool fatal)
{
	bool ok;

	kdbg_mem_open(item, size, true);
	ok = trash_check(item, size, zone, mtype, fatal);
	kdbg_mem_noaccess(item, size);
	return (ok);
}

static bool
trash_check(const void *item, size_t size, const char *zone, bool mtype,
    bool fatal)
{
	const unsigned char *p = item;
	size_t n = mtype && size >= KDBG_TRASH_TAIL ? size - KDBG_TRASH_TAIL : size;
	size_t i = 0;
	uint64_t jj = (uint64_t)KDBG_JUNK << 32 | KDBG_JUNK, v8;

	for (; i + 8 <= n; i += 8) {
		memcpy(&v8, p + i, 8);
		if (v8 != jj)
			break;
	}
	for (; i < n; i++)
		if (p[i] != junk_byte(i))
			break;
	if (i >= n)
		return (true);

	size_t off = i & ~(size_t)3;
	uint32_t v = 0;
	memcpy(&v, p + off, size - off < 4 ? size - off : 4);
	char last[MT_NAME_MAX + 32] = "";
	if (mtype && size >= KDBG_TRASH_TAIL) {
		uint64_t t;
		memcpy(&t, p + size - KDBG_TRASH_TAIL, sizeof(t));
		const char *name = t != 0 && t < MT_MAX ? mt_name_of((uint32_t)t) :
		    NULL;
		snprintf(last, sizeof(last), ", last used by type %s",
		    name != NULL ? name : "(none)");
	}
	if (fatal)
		kp_fatal("memory modified after free %p (%zu, %s) + %zu = 0x%08x%s",
		    item, size, zone, off, v, last);
	kp_log("memory modified after free %p (%zu, %s) + %zu = 0x%08x%s", item,
	    size, zone, off, v, last);
	return (false);
}

int
kmem_check(void)
{
	int bad = 0;

	if (kopt.trash)
		bad += uma_check_trash();
	if (kopt.redzone)
		bad += km_check_redzones();
	return (bad);
}
