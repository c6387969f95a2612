/* memguard=pkt: a write to a freed item of zone pkt faults at the write.
 * WRONG_SIGSEGV */
#include "wrong.h"

int
main(void)
{
	wrong_opt("memguard", "pkt");
	wrong_setup("");
	uma_zone_t z = uma_zcreate("pkt", 64, NULL, NULL, NULL, NULL, 0, 0);
	char *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p);
	expect("memguard: use after free of %p (64 bytes, zone pkt) at %p+8",
	    (void *)p, (void *)p);
	wrong_store(p, 8, 1);
	return (1);
}
