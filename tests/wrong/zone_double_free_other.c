/*
 * No debug mode: free(a); free(b); free(a) on a zone.  The free between
 * makes no difference: a holds the free key until it is handed out again.
 */
#include "wrong.h"

int
main(void)
{
	wrong_setup("");
	uma_zone_t z = uma_zcreate("wrong", 64, NULL, NULL, NULL, NULL, 0, 0);
	void *a = uma_zalloc(z, M_WAITOK);
	void *b = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, a);
	uma_zfree(z, b);
	expect("uma_zfree: %p: double free in zone wrong", a);
	uma_zfree(z, a);
	return (0);
}
