/* trash=1: a kmalloc block written after its free is caught when it is handed out again.
 * WRONG_NOASAN: AddressSanitizer reports the access first. */
#include "wrong.h"

MALLOC_DEFINE(M_WRONG, "wrong", "misuse tests");

int
main(void)
{
	wrong_setup("trash");
	char *p = kmalloc(64, M_WRONG, M_WAITOK);
	kfree(p, M_WRONG);
	expect("memory modified after free %p (64, 64) + 8 = 0xde41c0de, last used "
	    "by type wrong", (void *)p);
	wrong_store(p, 10, 0x41);
	p = kmalloc(64, M_WRONG, M_WAITOK);
	return (0);
}
