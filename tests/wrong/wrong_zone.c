/* uma_zfree() of an item to a zone it does not come from. */
#include "wrong.h"

int
main(void)
{
	wrong_setup("trash");
	uma_zone_t a = uma_zcreate("wrong a", 128, NULL, NULL, NULL, NULL, 0, 0);
	uma_zone_t b = uma_zcreate("wrong b", 128, NULL, NULL, NULL, NULL, 0, 0);
	void *p = uma_zalloc(a, M_WAITOK);
	expect("uma_zfree: %p was not allocated from zone wrong b", p);
	uma_zfree(b, p);
	return (0);
}
