/* trash=1: an item of a caller's zone written after its free.
 * WRONG_NOASAN: AddressSanitizer reports the access first. */
#include "wrong.h"

int
main(void)
{
	wrong_setup("trash");
	uma_zone_t z = uma_zcreate("wrong", 128, NULL, NULL, NULL, NULL, 0, 0);
	char *p = uma_zalloc(z, M_WAITOK);
	uma_zfree(z, p);
	expect("memory modified after free %p (128, wrong) + 124 = 0x00adc0de",
	    (void *)p);
	wrong_store(p, 127, 0);
	p = uma_zalloc(z, M_WAITOK);
	return (0);
}
