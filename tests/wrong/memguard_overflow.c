/* memguard=wrong: a write one byte past a block faults at the write, on
 * the guard page that follows it (a size that is a multiple of 16: a
 * smaller overflow of another lands in the rounding).  WRONG_SIGSEGV */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_opt("memguard", "wrong");
	wrong_setup("");
	char *p = kmalloc(112, M_WRONG, M_WAITOK);
	expect("memguard: overflow past %p (112 bytes, type wrong) by 1 bytes",
	    (void *)p);
	wrong_store(p, 112, 1);
	return (1);
}
