/* redzone=1: a double free. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_setup("redzone");
	void *p = kmalloc(100, M_WRONG, M_WAITOK);
	kfree(p, M_WRONG);
	expect("kfree: %p (type wrong): double free (zone 160)", p);
	kfree(p, M_WRONG);
	return (0);
}
