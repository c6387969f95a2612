/* A write of 8 bytes into the middle of a 32-byte block after its free. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(32);

	memset(p, 'a', 32);
	m_free(p);
	for (long i = 8; i < 16; i++)
		m_store(p, i, 'x');
	m_churn(32, 64);
	return (m_done());
}
