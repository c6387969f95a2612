/* redzone=1: one byte written past the end of a block.  WRONG_PREFIX
 * WRONG_NOASAN: AddressSanitizer reports the access first. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_setup("redzone");
	char *p = kmalloc(100, M_WRONG, M_WAITOK);
	if (kmalloc_usable_size(p) != 100)
		return (1);
	expect("kfree: %p (type wrong): 1 byte written past the end of the "
	    "100-byte block (redzone); allocated at main+0x", (void *)p);
	wrong_store(p, 100, 0);
	kfree(p, M_WRONG);
	return (0);
}
