/*
 * No debug mode: a double free of a zone's item goes unnoticed by
 * uma_zfree()'s fast path (it pushes the item on the thread's bucket
 * twice) and is caught when the bucket drains to the slab (at once where
 * zones have no per-thread caches: the AddressSanitizer build).
 */
#include "wrong.h"

int
main(void)
{
	wrong_setup("");
	uma_zone_t z = uma_zcreate("wrong", 128, NULL, NULL, NULL, NULL, 0, 0);
	void *keep = uma_zalloc(z, M_WAITOK);
	void *p = uma_zalloc(z, M_WAITOK);
	/* Said first: without caches (the ASan build) the free itself aborts. */
	expect("uma_zfree: %p: double free in zone wrong", p);
	uma_zfree(z, p);
	uma_zfree(z, p);
	uma_zone_reclaim(z, UMA_RECLAIM_DRAIN_CPU);
	uma_zfree(z, keep);
	return (0);
}
