/* A write one byte past a 32-byte block (a kmem class size). */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(32);

	memset(p, 'a', 32);
	m_store(p, 32, 'x');
	m_free(p);
	m_churn(32, 64);
	return (m_done());
}
