/*
 * No debug mode: a double free in a zone with an init and a fini, whose
 * free items keep what init made, so nothing is written into them: the
 * item's state byte in its slab header says it is free (uma_int.h,
 * section 11).  The item went back to its slab in between.
 */
#include "wrong.h"

static int
init(void *mem, int size, int flags)
{
	(void)size;
	(void)flags;
	memset(mem, 0x11, 8);
	return (0);
}

static void
fini(void *mem, int size)
{
	(void)mem;
	(void)size;
}

int
main(void)
{
	wrong_setup("");
	uma_zone_t z = uma_zcreate("wrong", 96, NULL, NULL, init, fini, 0, 0);
	void *keep = uma_zalloc(z, M_WAITOK);
	void *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	expect("uma_zfree: %p: double free in zone wrong", p);
	uma_zfree(z, p);
	uma_zfree(z, keep);
	return (0);
}
