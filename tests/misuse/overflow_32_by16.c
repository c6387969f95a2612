/* A write of 16 bytes past a 32-byte block. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(32);

	memset(p, 'a', 32);
	for (long i = 32; i < 48; i++)
		m_store(p, i, 'x');
	m_free(p);
	m_churn(32, 64);
	return (m_done());
}
