/* memguard=wrong: a second kfree() of a guarded block, waiting out its
 * delay with no access. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_opt("memguard", "wrong");
	wrong_setup("");
	char *p = kmalloc(100, M_WRONG, M_WAITOK);
	kfree(p, M_WRONG);
	expect("kfree: %p (type wrong): double free (memguard)", (void *)p);
	kfree(p, M_WRONG);
	return (1);
}
