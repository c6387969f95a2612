/*
 * No debug mode: uma_zfree() of an item to a zone it does not come from
 * passes the fast path and is caught when the bucket drains to the slab
 * (at once where zones have no per-thread caches: the ASan build).
 */
#include "wrong.h"

int
main(void)
{
	wrong_setup("");
	uma_zone_t a = uma_zcreate("wrong a", 128, NULL, NULL, NULL, NULL, 0, 0);
	uma_zone_t b = uma_zcreate("wrong b", 128, NULL, NULL, NULL, NULL, 0, 0);
	void *keep = uma_zalloc(b, M_WAITOK);
	void *p = uma_zalloc(a, M_WAITOK);
	/* Said first: without caches (the ASan build) the free itself aborts. */
	expect("uma_zfree: %p was not allocated from zone wrong b", p);
	uma_zfree(b, p);
	uma_zone_reclaim(b, UMA_RECLAIM_DRAIN_CPU);
	uma_zfree(b, keep);
	return (0);
}
