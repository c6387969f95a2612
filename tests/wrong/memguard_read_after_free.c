/* memguard=wrong: a read of a freed block faults at the read, and the
 * fault handler names the block.  WRONG_SIGSEGV */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_opt("memguard", "wrong");
	wrong_setup("");
	volatile char *p = kmalloc(100, M_WRONG, M_WAITOK);
	p[40] = 1;
	kfree((void *)p, M_WRONG);
	expect("memguard: use after free of %p (100 bytes, type wrong) at %p+40",
	    (void *)p, (void *)p);
	(void)p[40];
	return (1);
}
