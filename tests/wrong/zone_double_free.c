/*
 * No debug mode: a double free of a zone's item aborts at the second
 * uma_zfree(), which finds the free key in the item (uma_int.h, section
 * 11); the first free only put the item in the thread's cache.  Where
 * zones have no per-thread caches (the AddressSanitizer build) the slab's
 * free bit catches it, with the same line.
 */
#include "wrong.h"

int
main(void)
{
	wrong_setup("");
	uma_zone_t z = uma_zcreate("wrong", 128, NULL, NULL, NULL, NULL, 0, 0);
	void *keep = uma_zalloc(z, M_WAITOK);
	void *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p);
	expect("uma_zfree: %p: double free in zone wrong", p);
	uma_zfree(z, p);
	uma_zfree(z, keep);
	return (0);
}
