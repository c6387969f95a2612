/* trash=1: kmem_check() finds a write to a free item.  WRONG_PREFIX
 * WRONG_NOASAN: AddressSanitizer reports the access first. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_setup("trash");
	char *p = kmalloc(200, M_WRONG, M_WAITOK);
	kfree(p, M_WRONG);
	if (kmem_check() != 0)
		return (1);
	expect("memory modified after free %p (224, 224) + 0 = 0xdeadc000, last "
	    "used by type wrong", (void *)p);
	wrong_store(p, 0, 0);
	if (kmem_check() != 1)
		return (1);
	abort();
}
