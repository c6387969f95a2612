/* kfree() of memory kmem never gave. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

static char buf[64];

int
main(void)
{
	wrong_setup("");
	(void)kmalloc(10, M_WRONG, M_WAITOK);
	expect("kfree: %p (type wrong): not the start of a kmalloc allocation; "
	    "it is not an address kmem gave", (void *)buf);
	kfree(buf, M_WRONG);
	return (0);
}
