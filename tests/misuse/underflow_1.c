/* A write one byte before a 32-byte block. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(32);

	memset(p, 'a', 32);
	m_store(p, -1, 'x');
	m_free(p);
	m_churn(32, 64);
	return (m_done());
}
