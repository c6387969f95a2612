/* trash=1: a double free of a zone's item (the zone has no caches then). */
#include "wrong.h"

int
main(void)
{
	wrong_setup("trash");
	uma_zone_t z = uma_zcreate("wrong", 128, NULL, NULL, NULL, NULL, 0, 0);
	void *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p);
	expect("uma_zfree: %p: double free in zone wrong", p);
	uma_zfree(z, p);
	return (0);
}
