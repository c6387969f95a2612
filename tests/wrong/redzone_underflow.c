/* redzone=1: bytes written before the start of a block.  WRONG_PREFIX
 * WRONG_NOASAN: AddressSanitizer reports the access first. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_setup("redzone");
	char *p = kmalloc(30, M_WRONG, M_WAITOK);
	expect("kfree: %p (type wrong): 3 bytes written before the start of the "
	    "30-byte block (redzone); allocated at main+0x", (void *)p);
	wrong_store(p, -3, 0);
	kfree(p, M_WRONG);
	return (0);
}
