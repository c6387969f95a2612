/* kfree() with another type than the block was allocated with. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");
MALLOC_DEFINE(M_OTHER, "other", "misuse tests");

int
main(void)
{
	wrong_setup("");
	void *p = kmalloc(10, M_WRONG, M_WAITOK);
	(void)kmalloc(10, M_OTHER, M_WAITOK);
	expect("kfree: %p: allocated as type wrong, freed as type other (zone 16)",
	    p);
	kfree(p, M_OTHER);
	return (0);
}
