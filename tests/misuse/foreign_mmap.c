/* A free of a pointer into a page of the program's own mmap(). */
#include <sys/mman.h>

#include "misuse.h"

int
main(void)
{
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return (2);
	m_free(m + 64);
	m_churn(48, 64);
	return (m_done());
}
