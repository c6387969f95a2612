/* A free of a pointer 16 bytes into a 64-byte block. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(64);

	memset(p, 'a', 64);
	m_free(p + 16);
	m_churn(48, 64);
	return (m_done());
}
