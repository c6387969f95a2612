/* memguard=wrong: krealloc() of a freed guarded block is a use after
 * free, not a double free. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_opt("memguard", "wrong");
	wrong_setup("");
	char *p = kmalloc(100, M_WRONG, M_WAITOK);
	kfree(p, M_WRONG);
	expect("krealloc: %p (type wrong): a free block (use after free) "
	    "(memguard)", (void *)p);
	p = krealloc(p, 200, M_WRONG, M_WAITOK);
	return (1);
}
