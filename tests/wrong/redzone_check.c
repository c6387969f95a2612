/*
 * redzone=1: kmem_check() finds an overflow of a live block and returns
 * how many problems it saw; the program then aborts itself.  WRONG_PREFIX
 * WRONG_NOASAN: AddressSanitizer reports the access first.
 */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_setup("redzone,trash");
	char *p = kmalloc(64, M_WRONG, M_WAITOK);
	char *q = kmalloc(64, M_WRONG, M_WAITOK);
	if (kmem_check() != 0)
		return (1);
	expect("kmem_check: %p (type wrong): 5 bytes written past the end "
	    "of the 64-byte block (redzone); allocated at main+0x", (void *)q);
	wrong_store(q, 68, 1);
	if (kmem_check() != 1)
		return (1);
	kfree(p, M_WRONG);
	abort();
}
